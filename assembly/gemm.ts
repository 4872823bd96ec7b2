// GEMM: C = op(A)·op(B) + beta·C in f32, row-major, no packing and no scratch memory.
// Glossary: M rows of C, N columns of C, K the reduced dimension; beta is 0 (overwrite C) or
// 1 (accumulate into C). lda/ldb/ldc are row strides in bytes.
// Layouts: nn  A[M,K] · B[K,N]      (dense backward dx, conv forward W·col)
//          nt  A[M,K] · B[N,K]ᵀ     (dense forward x·Wᵀ, conv dW = dy·colᵀ)
//          tn  A[K,M]ᵀ · B[K,N]     (dense dW = dyᵀ·x, conv dcol = Wᵀ·dy)
// C[M,N] is dense (ldc = N). Pointers are byte offsets, 16-byte aligned for speed only: v128
// loads and stores in wasm have no alignment requirement, so any offset is correct.
//
// Blocking scheme (SIMD build)
// nn and tn: "broadcast A, stream B". A 4×8 register tile of C (8 f32x4 accumulators) is held
//   over a K-block: at each k, two f32x4 loads of B[k, j..j+8] and four 32-bit broadcast loads
//   A[i..i+4, k], then 8 mul + 8 add. 8 accumulators + 2 B vectors + broadcast + product = 12
//   of V8's 15 allocatable xmm registers: a taller or wider tile spills (measured: 6×8 and
//   3×16 run at 60% of 4×8 with data in L1), and 8 independent add chains still cover the
//   3-cycle add latency at 2 adds/cycle. Wasm has no FMA on Node 20, hence mul + add.
//   Cache blocks: K in blocks of KC rows and N in blocks of NC columns, so that the KC×NC block
//   of B (256 KB) stays in L2 while every 4-row strip of C sweeps it, and the 4×KC panel of A
//   (2 KB) stays in L1 across the whole sweep. C is loaded/stored once per K-block per tile.
//   Known limit: without scratch memory B cannot be packed, so when a row of B is a multiple of
//   4 KB (N = 1024, 2048) the KC rows of a B panel all map to one L1 set and B streams from L2
//   (measured: 16 GFLOP/s at 1024³ against 28 at 1008³; KC, NC and tile shape barely matter).
//   The two layouts differ only in how A is addressed: nn walks 4 row pointers along k
//   (stride 4 bytes); tn reads A[k, i..i+4] from one pointer with constant offsets, which saves
//   3 integer adds per k (the loop is bound by instruction issue, not by the FP units).
// nt: "dot products". Both operands are contiguous along K, so a 4×2 tile of C keeps 8 f32x4
//   partial dot products; per 4 k it loads A[i..i+4, k..k+4] and B[j..j+2, k..k+4] (6 loads for
//   8 mul + 8 add) and reduces each accumulator horizontally once per K-block. K is blocked by
//   KC_NT and N by NC_NT so that the block of B rows stays in L2 and the 4 A rows in L1.
// Edges (M % 4, N % 8 or N % 2, K % 4) use one-row or one-column variants of the same loops.
// Scalar build: the same traversals with one f32 at a time (row-axpy for nn/tn, dot for nt).

/** K-block of nn/tn: the 4×KC A panel (2 KB) stays in L1; C is read and written once per KC k-steps. */
// @ts-ignore: decorator
@inline const KC: i32 = 128;
/** N-block of nn/tn: KC×NC×4 bytes = 256 KB of B, half of a 512 KB L2. */
// @ts-ignore: decorator
@inline const NC: i32 = 512;
/** K-block of nt: 4 A rows × KC_NT × 4 bytes = 4 KB in L1. */
// @ts-ignore: decorator
@inline const KC_NT: i32 = 256;
/** N-block of nt: NC_NT B rows × KC_NT × 4 bytes = 128 KB in L2. */
// @ts-ignore: decorator
@inline const NC_NT: i32 = 128;

/** C[M,N] = 0 (beta·C with beta = 0 when K = 0). */
function zeroC(c: usize, n: i32): void {
  for (let i = 0; i < n; i++) store<f32>(c + (<usize>i << 2), 0);
}

// ---------------------------------------------------------------------------------------------
// nn / tn, SIMD. Arguments of every tile: c = &C[i, j]; a = &op(A)[i, k0]; ars = bytes between
// consecutive i of op(A), aks = bytes between consecutive k; b = &B[k0, j]; ldb, ldc row
// strides; kc k-steps; acc: add to the current C (beta = 1 or a later K-block) or overwrite.

/** C[i..i+4, j..j+8] (+)= A[i..i+4, k0..k0+kc]·B[k0..k0+kc, j..j+8], A rows contiguous in k (nn). */
// @ts-ignore: decorator
@inline function tileNN4x8(c: usize, ldc: usize, a: usize, ars: usize, b: usize, ldb: usize, kc: i32, acc: bool): void {
  let c00 = f32x4.splat(0), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  const c1 = c + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
  if (acc) {
    c00 = v128.load(c); c01 = v128.load(c, 16);
    c10 = v128.load(c1); c11 = v128.load(c1, 16);
    c20 = v128.load(c2); c21 = v128.load(c2, 16);
    c30 = v128.load(c3); c31 = v128.load(c3, 16);
  }
  let a0 = a, a1 = a + ars, a2 = a1 + ars, a3 = a2 + ars;
  // Loop on a pointer end rather than a counter: one integer op fewer per k.
  const aEnd = a + (<usize>kc << 2);
  while (a0 < aEnd) {
    const b0 = v128.load(b), b1 = v128.load(b, 16);
    let x = v128.load32_splat(a0);
    c00 = f32x4.add(c00, f32x4.mul(x, b0)); c01 = f32x4.add(c01, f32x4.mul(x, b1));
    x = v128.load32_splat(a1);
    c10 = f32x4.add(c10, f32x4.mul(x, b0)); c11 = f32x4.add(c11, f32x4.mul(x, b1));
    x = v128.load32_splat(a2);
    c20 = f32x4.add(c20, f32x4.mul(x, b0)); c21 = f32x4.add(c21, f32x4.mul(x, b1));
    x = v128.load32_splat(a3);
    c30 = f32x4.add(c30, f32x4.mul(x, b0)); c31 = f32x4.add(c31, f32x4.mul(x, b1));
    a0 += 4; a1 += 4; a2 += 4; a3 += 4; b += ldb;
  }
  v128.store(c, c00); v128.store(c, c01, 16);
  v128.store(c1, c10); v128.store(c1, c11, 16);
  v128.store(c2, c20); v128.store(c2, c21, 16);
  v128.store(c3, c30); v128.store(c3, c31, 16);
}

/** C[i..i+4, j..j+8] (+)= A[k0..k0+kc, i..i+4]ᵀ·B[k0..k0+kc, j..j+8]: the 4 A values of one k are adjacent (tn). */
// @ts-ignore: decorator
@inline function tileTN4x8(c: usize, ldc: usize, a: usize, aks: usize, b: usize, ldb: usize, kc: i32, acc: bool): void {
  let c00 = f32x4.splat(0), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  const c1 = c + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
  if (acc) {
    c00 = v128.load(c); c01 = v128.load(c, 16);
    c10 = v128.load(c1); c11 = v128.load(c1, 16);
    c20 = v128.load(c2); c21 = v128.load(c2, 16);
    c30 = v128.load(c3); c31 = v128.load(c3, 16);
  }
  const bEnd = b + <usize>kc * ldb;
  while (b < bEnd) {
    const b0 = v128.load(b), b1 = v128.load(b, 16);
    let x = v128.load32_splat(a);
    c00 = f32x4.add(c00, f32x4.mul(x, b0)); c01 = f32x4.add(c01, f32x4.mul(x, b1));
    x = v128.load32_splat(a, 4);
    c10 = f32x4.add(c10, f32x4.mul(x, b0)); c11 = f32x4.add(c11, f32x4.mul(x, b1));
    x = v128.load32_splat(a, 8);
    c20 = f32x4.add(c20, f32x4.mul(x, b0)); c21 = f32x4.add(c21, f32x4.mul(x, b1));
    x = v128.load32_splat(a, 12);
    c30 = f32x4.add(c30, f32x4.mul(x, b0)); c31 = f32x4.add(c31, f32x4.mul(x, b1));
    a += aks; b += ldb;
  }
  v128.store(c, c00); v128.store(c, c01, 16);
  v128.store(c1, c10); v128.store(c1, c11, 16);
  v128.store(c2, c20); v128.store(c2, c21, 16);
  v128.store(c3, c30); v128.store(c3, c31, 16);
}

/** One row: C[i, j..j+8] (+)= Σ_k A(i,k)·B[k, j..j+8] (M % 4 edge rows). */
function row8(c: usize, a: usize, aks: usize, b: usize, ldb: usize, kc: i32, acc: bool): void {
  let c0 = f32x4.splat(0), c1 = c0;
  if (acc) { c0 = v128.load(c); c1 = v128.load(c, 16); }
  for (let k = 0; k < kc; k++) {
    const x = v128.load32_splat(a);
    c0 = f32x4.add(c0, f32x4.mul(x, v128.load(b)));
    c1 = f32x4.add(c1, f32x4.mul(x, v128.load(b, 16)));
    a += aks; b += ldb;
  }
  v128.store(c, c0); v128.store(c, c1, 16);
}

/** One row, columns [j, jEnd) with jEnd − j < 8 (N % 8 edge): 4-wide, then one at a time. */
function rowTail(c: usize, a: usize, aks: usize, b: usize, ldb: usize, kc: i32, acc: bool, n: i32): void {
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const cj = c + (<usize>j << 2);
    let ap = a, bp = b + (<usize>j << 2);
    let s = acc ? v128.load(cj) : f32x4.splat(0);
    for (let k = 0; k < kc; k++) {
      s = f32x4.add(s, f32x4.mul(v128.load32_splat(ap), v128.load(bp)));
      ap += aks; bp += ldb;
    }
    v128.store(cj, s);
  }
  for (; j < n; j++) {
    const cj = c + (<usize>j << 2);
    let ap = a, bp = b + (<usize>j << 2);
    let s: f32 = acc ? load<f32>(cj) : 0;
    for (let k = 0; k < kc; k++) {
      s += load<f32>(ap) * load<f32>(bp);
      ap += aks; bp += ldb;
    }
    store<f32>(cj, s);
  }
}

/** nn (tn = false) or tn (tn = true, a compile-time constant) with the SIMD tiles; see the header. */
// @ts-ignore: decorator
@inline function broadcastSimd(c: usize, a: usize, b: usize, M: i32, N: i32, K: i32, accumulate: bool, tn: bool): void {
  const ldc = <usize>N << 2, ldb = <usize>N << 2;
  // op(A)[i, k] is at a + i·ars + k·aks.
  const ars: usize = tn ? 4 : <usize>K << 2;
  const aks: usize = tn ? <usize>M << 2 : 4;
  for (let k0 = 0; k0 < K; k0 += KC) {
    const kc = min(KC, K - k0);
    const acc = accumulate || k0 > 0;
    const ak = a + <usize>k0 * aks, bk = b + <usize>k0 * ldb;
    for (let j0 = 0; j0 < N; j0 += NC) {
      const nc = min(NC, N - j0);
      const j8 = j0 + (nc & ~7);
      let i = 0;
      for (; i + 4 <= M; i += 4) {
        const ci = c + <usize>i * ldc, ai = ak + <usize>i * ars;
        for (let j = j0; j < j8; j += 8) {
          const cij = ci + (<usize>j << 2), bj = bk + (<usize>j << 2);
          if (tn) tileTN4x8(cij, ldc, ai, aks, bj, ldb, kc, acc);
          else tileNN4x8(cij, ldc, ai, ars, bj, ldb, kc, acc);
        }
        if (j8 < j0 + nc) {
          for (let r = 0; r < 4; r++) {
            rowTail(ci + <usize>r * ldc + (<usize>j8 << 2), ai + <usize>r * ars, aks, bk + (<usize>j8 << 2), ldb, kc, acc, j0 + nc - j8);
          }
        }
      }
      for (; i < M; i++) {
        const ci = c + <usize>i * ldc, ai = ak + <usize>i * ars;
        for (let j = j0; j < j8; j += 8) row8(ci + (<usize>j << 2), ai, aks, bk + (<usize>j << 2), ldb, kc, acc);
        if (j8 < j0 + nc) rowTail(ci + (<usize>j8 << 2), ai, aks, bk + (<usize>j8 << 2), ldb, kc, acc, j0 + nc - j8);
      }
    }
  }
}

/** Scalar nn/tn: per row of C, C[i,:] += op(A)[i,k]·B[k,:] for each k (contiguous inner loop). */
function broadcastScalar(c: usize, a: usize, b: usize, M: i32, N: i32, K: i32, accumulate: bool, ars: usize, aks: usize): void {
  const ldc = <usize>N << 2, ldb = <usize>N << 2;
  for (let i = 0; i < M; i++) {
    const ci = c + <usize>i * ldc;
    if (!accumulate) zeroC(ci, N);
    let ap = a + <usize>i * ars, bp = b;
    for (let k = 0; k < K; k++) {
      const x = load<f32>(ap);
      for (let j = 0; j < N; j++) {
        const p = ci + (<usize>j << 2);
        store<f32>(p, load<f32>(p) + x * load<f32>(bp + (<usize>j << 2)));
      }
      ap += aks; bp += ldb;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// nt, SIMD: dot-product tiles over a K-block. a = &A[i, k0], b = &B[j, k0]; lda/ldb row strides;
// kc k-steps, of which the first kc & ~3 run 4-wide; acc as above.

/** Horizontal sum of the 4 lanes. */
// @ts-ignore: decorator
@inline function hsum(v: v128): f32 {
  const s = f32x4.add(v, v128.shuffle<f32>(v, v, 2, 3, 0, 1));
  return f32x4.extract_lane(f32x4.add(s, v128.shuffle<f32>(s, s, 1, 0, 3, 2)), 0);
}

/** C[c] = (acc ? C[c] : 0) + s. */
// @ts-ignore: decorator
@inline function put(c: usize, s: f32, acc: bool): void {
  store<f32>(c, acc ? load<f32>(c) + s : s);
}

/** C[i..i+4, j..j+2] (+)= A[i..i+4, k-block]·B[j..j+2, k-block]ᵀ. */
// @ts-ignore: decorator
@inline function tileNT4x2(c: usize, ldc: usize, a: usize, lda: usize, b: usize, ldb: usize, kc: i32, acc: bool): void {
  let s00 = f32x4.splat(0), s01 = s00, s10 = s00, s11 = s00, s20 = s00, s21 = s00, s30 = s00, s31 = s00;
  let a0 = a, a1 = a + lda, a2 = a1 + lda, a3 = a2 + lda, b0 = b, b1 = b + ldb;
  const aEnd = a + (<usize>(kc & ~3) << 2);
  while (a0 < aEnd) {
    const y0 = v128.load(b0), y1 = v128.load(b1);
    let x = v128.load(a0);
    s00 = f32x4.add(s00, f32x4.mul(x, y0)); s01 = f32x4.add(s01, f32x4.mul(x, y1));
    x = v128.load(a1);
    s10 = f32x4.add(s10, f32x4.mul(x, y0)); s11 = f32x4.add(s11, f32x4.mul(x, y1));
    x = v128.load(a2);
    s20 = f32x4.add(s20, f32x4.mul(x, y0)); s21 = f32x4.add(s21, f32x4.mul(x, y1));
    x = v128.load(a3);
    s30 = f32x4.add(s30, f32x4.mul(x, y0)); s31 = f32x4.add(s31, f32x4.mul(x, y1));
    a0 += 16; a1 += 16; a2 += 16; a3 += 16; b0 += 16; b1 += 16;
  }
  let t00 = hsum(s00), t01 = hsum(s01), t10 = hsum(s10), t11 = hsum(s11);
  let t20 = hsum(s20), t21 = hsum(s21), t30 = hsum(s30), t31 = hsum(s31);
  for (let k = kc & ~3; k < kc; k++) {
    const y0 = load<f32>(b0), y1 = load<f32>(b1);
    let x = load<f32>(a0); t00 += x * y0; t01 += x * y1;
    x = load<f32>(a1); t10 += x * y0; t11 += x * y1;
    x = load<f32>(a2); t20 += x * y0; t21 += x * y1;
    x = load<f32>(a3); t30 += x * y0; t31 += x * y1;
    a0 += 4; a1 += 4; a2 += 4; a3 += 4; b0 += 4; b1 += 4;
  }
  const c1 = c + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
  put(c, t00, acc); put(c + 4, t01, acc);
  put(c1, t10, acc); put(c1 + 4, t11, acc);
  put(c2, t20, acc); put(c2 + 4, t21, acc);
  put(c3, t30, acc); put(c3 + 4, t31, acc);
}

/** C[i..i+rows, j] (+)= A[i..i+rows, k-block]·B[j, k-block]ᵀ for rows ≤ 4 (the N % 2 column and M % 4 rows). */
function dotColumn(c: usize, ldc: usize, a: usize, lda: usize, b: usize, kc: i32, acc: bool, rows: i32): void {
  for (let r = 0; r < rows; r++) {
    let ap = a + <usize>r * lda, bp = b;
    // Two accumulators: one add chain would be latency-bound at a third of the add throughput.
    let s0 = f32x4.splat(0), s1 = s0;
    let k = 0;
    for (; k + 8 <= kc; k += 8) {
      s0 = f32x4.add(s0, f32x4.mul(v128.load(ap), v128.load(bp)));
      s1 = f32x4.add(s1, f32x4.mul(v128.load(ap, 16), v128.load(bp, 16)));
      ap += 32; bp += 32;
    }
    for (; k + 4 <= kc; k += 4) {
      s0 = f32x4.add(s0, f32x4.mul(v128.load(ap), v128.load(bp)));
      ap += 16; bp += 16;
    }
    let t = hsum(f32x4.add(s0, s1));
    for (; k < kc; k++) { t += load<f32>(ap) * load<f32>(bp); ap += 4; bp += 4; }
    put(c + <usize>r * ldc, t, acc);
  }
}

function ntSimd(c: usize, a: usize, b: usize, M: i32, N: i32, K: i32, accumulate: bool): void {
  const ldc = <usize>N << 2, lda = <usize>K << 2, ldb = <usize>K << 2;
  for (let k0 = 0; k0 < K; k0 += KC_NT) {
    const kc = min(KC_NT, K - k0);
    const acc = accumulate || k0 > 0;
    const ak = a + (<usize>k0 << 2), bk = b + (<usize>k0 << 2);
    for (let j0 = 0; j0 < N; j0 += NC_NT) {
      const nc = min(NC_NT, N - j0);
      const j2 = j0 + (nc & ~1);
      let i = 0;
      for (; i + 4 <= M; i += 4) {
        const ci = c + <usize>i * ldc, ai = ak + <usize>i * lda;
        for (let j = j0; j < j2; j += 2) {
          tileNT4x2(ci + (<usize>j << 2), ldc, ai, lda, bk + <usize>j * ldb, ldb, kc, acc);
        }
        if (j2 < j0 + nc) dotColumn(ci + (<usize>j2 << 2), ldc, ai, lda, bk + <usize>j2 * ldb, kc, acc, 4);
      }
      if (i < M) {
        const ci = c + <usize>i * ldc, ai = ak + <usize>i * lda;
        for (let j = j0; j < j0 + nc; j++) {
          dotColumn(ci + (<usize>j << 2), ldc, ai, lda, bk + <usize>j * ldb, kc, acc, M - i);
        }
      }
    }
  }
}

/** Scalar nt: one dot product per C element, two partial sums to halve the add-latency chain. */
function ntScalar(c: usize, a: usize, b: usize, M: i32, N: i32, K: i32, accumulate: bool): void {
  const lda = <usize>K << 2, ldb = <usize>K << 2;
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let ap = a + <usize>i * lda, bp = b + <usize>j * ldb;
      let s0: f32 = 0, s1: f32 = 0;
      let k = 0;
      for (; k + 2 <= K; k += 2) {
        s0 += load<f32>(ap) * load<f32>(bp);
        s1 += load<f32>(ap, 4) * load<f32>(bp, 4);
        ap += 8; bp += 8;
      }
      if (k < K) s0 += load<f32>(ap) * load<f32>(bp);
      put(c + ((<usize>i * <usize>N + <usize>j) << 2), s0 + s1, accumulate);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Exports. Shapes: see src/wasm/kernels.ts. M, N, K ≥ 0; K = 0 gives C = beta·C.

/** C[M,N] = A[M,K] · B[K,N] + beta·C */
export function gemm_nn_f32(cPtr: usize, aPtr: usize, bPtr: usize, M: i32, N: i32, K: i32, beta: f32): void {
  if (M <= 0 || N <= 0) return;
  const accumulate = beta != 0;
  if (K <= 0) { if (!accumulate) zeroC(cPtr, M * N); return; }
  if (ASC_FEATURE_SIMD) broadcastSimd(cPtr, aPtr, bPtr, M, N, K, accumulate, false);
  else broadcastScalar(cPtr, aPtr, bPtr, M, N, K, accumulate, <usize>K << 2, 4);
}

/** C[M,N] = A[M,K] · B[N,K]ᵀ + beta·C */
export function gemm_nt_f32(cPtr: usize, aPtr: usize, bPtr: usize, M: i32, N: i32, K: i32, beta: f32): void {
  if (M <= 0 || N <= 0) return;
  const accumulate = beta != 0;
  if (K <= 0) { if (!accumulate) zeroC(cPtr, M * N); return; }
  if (ASC_FEATURE_SIMD) ntSimd(cPtr, aPtr, bPtr, M, N, K, accumulate);
  else ntScalar(cPtr, aPtr, bPtr, M, N, K, accumulate);
}

/** C[M,N] = A[K,M]ᵀ · B[K,N] + beta·C */
export function gemm_tn_f32(cPtr: usize, aPtr: usize, bPtr: usize, M: i32, N: i32, K: i32, beta: f32): void {
  if (M <= 0 || N <= 0) return;
  const accumulate = beta != 0;
  if (K <= 0) { if (!accumulate) zeroC(cPtr, M * N); return; }
  if (ASC_FEATURE_SIMD) broadcastSimd(cPtr, aPtr, bPtr, M, N, K, accumulate, true);
  else broadcastScalar(cPtr, aPtr, bPtr, M, N, K, accumulate, 4, <usize>M << 2);
}
