// GEMM: C = op(A)·op(B) + beta·C in f32, row-major.
// Glossary: M rows of C, N columns of C, K the reduced dimension; beta is 0 (overwrite C) or
// 1 (accumulate into C).
// Layouts: nn  A[M,K] · B[K,N]      (dense backward dx, conv forward W·col)
//          nt  A[M,K] · B[N,K]ᵀ     (dense forward x·Wᵀ, conv dW = dy·colᵀ)
//          tn  A[K,M]ᵀ · B[K,N]     (dense dW = dyᵀ·x, conv dcol = Wᵀ·dy)
// C[M,N] is dense. Pointers are byte offsets; 16-byte alignment helps speed only (wasm v128
// loads and stores have no alignment requirement).
// SIMD build: packed GEMM with one 4×8 micro-kernel (see "packed GEMM" below), using a
// caller-supplied workspace of GEMM_WS_FLOATS f32 (src/wasm/kernels.ts).
// Scalar build: the same products without packing, one f32 at a time (row-axpy for nn/tn, dot
// products for nt); it ignores the workspace.

/** C[M,N] = 0 (beta·C with beta = 0 when K = 0). */
function zeroC(c: usize, n: i32): void {
  for (let i = 0; i < n; i++) store<f32>(c + (<usize>i << 2), 0);
}

// ---------------------------------------------------------------------------------------------
// Scalar build. op(A)[i, k] is at a + i·ars + k·aks (byte strides).

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


/** C[c] = (acc ? C[c] : 0) + s. */
// @ts-ignore: decorator
@inline function put(c: usize, s: f32, acc: bool): void {
  store<f32>(c, acc ? load<f32>(c) + s : s);
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
// SIMD: packed GEMM (BLIS-style), one micro-kernel for all three layouts.
// Loops: jc over N in NC blocks → pc over K in KC blocks → pack the KC×NC block of op(B) →
// ic over M in MC blocks → pack the MC×KC block of op(A) → jb over JB=128 columns → ir over MR=4
// rows → jr over NR=8 columns within the jb block → micro-kernel. Packing copies op(B) into panels
// [NC/8][KC][8] and op(A) into panels [MC/4][KC][4], zero-padded to whole panels, so the
// micro-kernel reads two contiguous streams:
// - it removes the 4 KB-aliasing collapse of the unpacked kernels (rows of B a multiple of 4 KB
//   apart all map to one L1 set: 16 GFLOP/s at 1024³ unpacked);
// - the transposes of nt (op(B) = Bᵀ) and nn/nt (op(A) rows strided by K) happen once per block,
//   in the packing, with 4×4 SIMD transposes; the micro-kernel never sees a stride;
// - partial tiles at the M/N edges compute a full 4×8 tile into a scratch tile and copy back
//   the valid part, so there is one micro-kernel and no edge variants.
// Sizes: a 4×KC A micro-panel (4 KB) stays in L1 (32 KB) while it meets the 16 8×KC B
// micro-panels (8 KB each, 128 KB, in L2, 512 KB) of a jb block; the MC×KC A block (64 KB) is in L2
// too and the KC×NC B block (1 MB) only needs L3. NC = 1024 rather than 256 packs op(A) once
// instead of four times at 1024³: +4–5% at 1024³ (e.g. 40.9 → 43.3 GFLOP/s in one A/B), no change
// on lenet's shapes. What is left below the micro-kernel's own speed is mostly C (writing every
// tile to one L1 scratch tile instead gains ~5%): a tile's 4 rows are N floats apart, on different
// pages. BLIS's order (jr outside ir) walks C down MC rows, 64 pages, where no hardware prefetcher
// follows; with ir outside jr, each of the tile's 4 rows is walked along 512 contiguous bytes per
// jb block, which the prefetchers do follow: +3% at 1024³ in one A/B (9 medians, 8 better), more
// in the host's slow spells, bit-identical (the same products in the same order per element).
// The micro-kernel keeps the 4×8 tile of C in 8 f32x4 accumulators (12 of V8's 15 allocatable
// xmm registers with the 2 B vectors and the A splat).
// Measured on the 2.45 GHz EPYC here at 1024³: 27–28 GFLOP/s with mul + add (≈ 70% of the
// ~40 GFLOP/s peak: 22 instructions per k, issue-bound), 42–44 GFLOP/s with fused multiply-add
// (the -fma builds, 14 per k; ~90% of the 46–51 GFLOP/s FMA peak, bench/peak.ts); unrolling k
// by two lets binaryen interleave the halves and spill (17 GFLOP/s).
// Workspace (caller-supplied, wsPtr): packed B [KC·NC] + packed A [MC·KC] + one tile [MR·NR] f32.

// @ts-ignore: decorator
@inline const MR: i32 = 4;
// @ts-ignore: decorator
@inline const NR: i32 = 8;
// @ts-ignore: decorator
@inline const KC: i32 = 256;
// @ts-ignore: decorator
@inline const NC: i32 = 1024;
// @ts-ignore: decorator
@inline const MC: i32 = 64;
// Columns of a macro-kernel block: 16 B micro-panels (128 KB, in L2), see the loop order above.
// @ts-ignore: decorator
@inline const JB: i32 = 16 * NR;

// The workspace needs KC·NC + MC·KC + MR·NR f32: GEMM_WS_FLOATS in src/wasm/kernels.ts.

/** 4×4 transpose of the rows r0..r3 (each 4 f32) stored as 4 rows at dst with a row stride of `ld` bytes. */
// @ts-ignore: decorator
@inline function transpose4(dst: usize, ld: usize, r0: v128, r1: v128, r2: v128, r3: v128): void {
  const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5);
  const t1 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
  const t2 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
  const t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
  v128.store(dst, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
  v128.store(dst + ld, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7));
  v128.store(dst + 2 * ld, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5));
  v128.store(dst + 3 * ld, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7));
}

/**
 * Packs W lanes (4 or 8) of a panel: dst[k·W + l] = src[l·ls + k·ks] for k < kc, l < lanes
 * (zero for lanes ≤ l < W). `ks` = 4 means the lane rows are contiguous in k (needs a transpose),
 * `ls` = 4 means the lanes are contiguous (a straight copy).
 */
// @ts-ignore: decorator
@inline function packPanel(dst: usize, src: usize, ls: usize, ks: usize, kc: i32, lanes: i32, W: i32): void {
  const dk = <usize>W << 2;
  if (lanes == W && ls == 4) {
    for (let k = 0; k < kc; k++) {
      v128.store(dst, v128.load(src));
      if (W == 8) v128.store(dst, v128.load(src, 16), 16);
      dst += dk; src += ks;
    }
    return;
  }
  if (lanes == W && ks == 4) {
    let k = 0;
    for (; k + 4 <= kc; k += 4) {
      const s = src + (<usize>k << 2), d = dst + <usize>k * dk;
      transpose4(d, dk, v128.load(s), v128.load(s + ls), v128.load(s + 2 * ls), v128.load(s + 3 * ls));
      if (W == 8) transpose4(d + 16, dk, v128.load(s + 4 * ls), v128.load(s + 5 * ls), v128.load(s + 6 * ls), v128.load(s + 7 * ls));
    }
    for (; k < kc; k++) {
      for (let l = 0; l < W; l++) store<f32>(dst + <usize>k * dk + (<usize>l << 2), load<f32>(src + <usize>l * ls + (<usize>k << 2)));
    }
    return;
  }
  for (let k = 0; k < kc; k++) {
    const d = dst + <usize>k * dk, s = src + <usize>k * ks;
    for (let l = 0; l < W; l++) store<f32>(d + (<usize>l << 2), l < lanes ? load<f32>(s + <usize>l * ls) : 0);
  }
}

// How the micro-kernel broadcasts A. Default: four load32_splat (one broadcast load each), best
// on Node. Built with `--use GEMM_A_SHUFFLE=1` (asconfig targets simd-bc, simd-fma-bc): one v128
// load and four shuffles, three loads per k instead of six. On runtimes that compile an explicit
// bounds check into every wasm memory access (Deno, which does not enable V8's trap handler;
// Bun/JSC also gains) that is ~25% faster on lenet; on Node it is ~4% slower. Same products in the
// same order, so the two choices give bit-identical results.
// @ts-ignore: compile-time constant from --use, absent in the default builds
const A_SHUFFLE: bool = isDefined(GEMM_A_SHUFFLE) ? GEMM_A_SHUFFLE != 0 : false;

// How the micro-kernel accumulates. Default: f32x4.mul then f32x4.add (two roundings per step, as
// in the scalar build and the TS reference). Built with `--use GEMM_FMA=1 --enable relaxed-simd`
// (asconfig targets simd-fma, simd-fma-bc): f32x4.relaxed_madd, which V8 compiles to one fused
// vfmadd231ps on x86-64 with FMA3 (one rounding) and JavaScriptCore to mul + add. Half the
// arithmetic instructions: at 1024³ on the 2.45 GHz Zen 3 here, 27–28 → 38–41 GFLOP/s on Node,
// i.e. the kernel is no longer issue-bound. Results differ from the non-FMA builds in the last bits.
// src/wasm/loader.ts picks the build by runtime and by whether relaxed SIMD validates.
// @ts-ignore: compile-time constant from --use, absent in the default builds
const FMA: bool = isDefined(GEMM_FMA) ? GEMM_FMA != 0 : false;

/** c + a·b, fused or not per build (FMA above). */
// @ts-ignore: decorator
@inline export function madd(a: v128, b: v128, c: v128): v128 {
  return FMA ? f32x4.relaxed_madd(a, b, c) : f32x4.add(c, f32x4.mul(a, b));
}

/** C[4,8] (tile at c, row stride ldc bytes) = or += the product of packed panels pa [kc][4] and pb [kc][8]. */
// @ts-ignore: decorator
@inline function micro4x8(c: usize, ldc: usize, pa: usize, pb: usize, kc: i32, acc: bool): void {
  let c00 = f32x4.splat(0), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  const end = pa + (<usize>kc << 4);
  while (pa < end) {
    const b0 = v128.load(pb), b1 = v128.load(pb, 16);
    // A_SHUFFLE and FMA are compile-time constants: each build keeps one arm of every `?:`.
    const av = A_SHUFFLE ? v128.load(pa) : b0;
    let a = A_SHUFFLE ? v128.shuffle<f32>(av, av, 0, 0, 0, 0) : v128.load32_splat(pa);
    c00 = madd(a, b0, c00); c01 = madd(a, b1, c01);
    a = A_SHUFFLE ? v128.shuffle<f32>(av, av, 1, 1, 1, 1) : v128.load32_splat(pa, 4);
    c10 = madd(a, b0, c10); c11 = madd(a, b1, c11);
    a = A_SHUFFLE ? v128.shuffle<f32>(av, av, 2, 2, 2, 2) : v128.load32_splat(pa, 8);
    c20 = madd(a, b0, c20); c21 = madd(a, b1, c21);
    a = A_SHUFFLE ? v128.shuffle<f32>(av, av, 3, 3, 3, 3) : v128.load32_splat(pa, 12);
    c30 = madd(a, b0, c30); c31 = madd(a, b1, c31);
    pa += 16; pb += 32;
  }
  const c1 = c + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
  if (acc) {
    c00 = f32x4.add(c00, v128.load(c)); c01 = f32x4.add(c01, v128.load(c, 16));
    c10 = f32x4.add(c10, v128.load(c1)); c11 = f32x4.add(c11, v128.load(c1, 16));
    c20 = f32x4.add(c20, v128.load(c2)); c21 = f32x4.add(c21, v128.load(c2, 16));
    c30 = f32x4.add(c30, v128.load(c3)); c31 = f32x4.add(c31, v128.load(c3, 16));
  }
  v128.store(c, c00); v128.store(c, c01, 16);
  v128.store(c1, c10); v128.store(c1, c11, 16);
  v128.store(c2, c20); v128.store(c2, c21, 16);
  v128.store(c3, c30); v128.store(c3, c31, 16);
}

/**
 * Packs the whole panels of a B block whose rows are contiguous (nn, tn): panels [n/8][kc][8] from
 * rows src + k·bks, n a multiple of 8. Eight rows at a time across all panels, so the rows are read
 * front to back and each panel receives 256 contiguous bytes (whole cache lines) per visit.
 */
function packRowsB(dst: usize, src: usize, bks: usize, kc: i32, n: i32, panel: usize): void {
  for (let k = 0; k < kc; k += 8) {
    const rows = min(8, kc - k);
    const s0 = src + <usize>k * bks;
    let d = dst + (<usize>k << 5);
    for (let j = 0; j < n; j += 8) {
      let s = s0 + (<usize>j << 2), dd = d;
      for (let r = 0; r < rows; r++) {
        v128.store(dd, v128.load(s)); v128.store(dd, v128.load(s, 16), 16);
        s += bks; dd += 32;
      }
      d += panel;
    }
  }
}

/**
 * C[M,N] (+)= op(A)·op(B) with op(A)[i,k] at a + i·ars + k·aks and op(B)[k,j] at b + k·bks + j·bjs
 * (byte strides). Every layout goes through the same packing and micro-kernel.
 */
function packedGemm(c: usize, a: usize, b: usize, M: i32, N: i32, K: i32, accumulate: bool,
  ars: usize, aks: usize, bks: usize, bjs: usize, ws: usize): void {
  const ldc = <usize>N << 2;
  const pB = ws, pA = ws + (<usize>(KC * NC) << 2), tile = pA + (<usize>(MC * KC) << 2);
  for (let j0 = 0; j0 < N; j0 += NC) {
    const nc = min(NC, N - j0);
    for (let k0 = 0; k0 < K; k0 += KC) {
      const kc = min(KC, K - k0);
      const acc = accumulate || k0 > 0;
      const panelB = <usize>kc * (NR << 2);
      const bBlock = b + <usize>k0 * bks + <usize>j0 * bjs;
      const full = bjs == 4 ? nc & ~(NR - 1) : 0;
      if (full > 0) packRowsB(pB, bBlock, bks, kc, full, panelB);
      for (let jr = full; jr < nc; jr += NR) {
        packPanel(pB + <usize>(jr / NR) * panelB, bBlock + <usize>jr * bjs, bjs, bks, kc, min(NR, nc - jr), NR);
      }
      for (let i0 = 0; i0 < M; i0 += MC) {
        const mc = min(MC, M - i0);
        const panelA = <usize>kc * (MR << 2);
        for (let ir = 0; ir < mc; ir += MR) {
          packPanel(pA + <usize>(ir / MR) * panelA, a + <usize>(i0 + ir) * ars + <usize>k0 * aks, ars, aks, kc, min(MR, mc - ir), MR);
        }
        for (let jb = 0; jb < nc; jb += JB) {
          const jend = min(nc, jb + JB);
          for (let ir = 0; ir < mc; ir += MR) {
            const pa = pA + <usize>(ir / MR) * panelA;
            const mr = min(MR, mc - ir);
            for (let jr = jb; jr < jend; jr += NR) {
              const pb = pB + <usize>(jr / NR) * panelB;
              const nr = min(NR, nc - jr);
              const cij = c + <usize>(i0 + ir) * ldc + (<usize>(j0 + jr) << 2);
              if (mr == MR && nr == NR) {
                micro4x8(cij, ldc, pa, pb, kc, acc);
              } else {
                micro4x8(tile, NR << 2, pa, pb, kc, false);
                for (let r = 0; r < mr; r++) {
                  for (let q = 0; q < nr; q++) {
                    const cp = cij + <usize>r * ldc + (<usize>q << 2);
                    const v = load<f32>(tile + (<usize>(r * NR + q) << 2));
                    store<f32>(cp, acc ? load<f32>(cp) + v : v);
                  }
                }
              }
            }
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Exports. Shapes: see src/wasm/kernels.ts. M, N, K ≥ 0; K = 0 gives C = beta·C. wsPtr: a
// workspace of GEMM_WS_FLOATS f32 (used by the SIMD build; the scalar build ignores it).

/** C[M,N] = A[M,K] · B[K,N] + beta·C */
export function gemm_nn_f32(cPtr: usize, aPtr: usize, bPtr: usize, M: i32, N: i32, K: i32, beta: f32, wsPtr: usize): void {
  if (M <= 0 || N <= 0) return;
  const accumulate = beta != 0;
  if (K <= 0) { if (!accumulate) zeroC(cPtr, M * N); return; }
  if (ASC_FEATURE_SIMD) packedGemm(cPtr, aPtr, bPtr, M, N, K, accumulate, <usize>K << 2, 4, <usize>N << 2, 4, wsPtr);
  else broadcastScalar(cPtr, aPtr, bPtr, M, N, K, accumulate, <usize>K << 2, 4);
}

/** C[M,N] = A[M,K] · B[N,K]ᵀ + beta·C */
export function gemm_nt_f32(cPtr: usize, aPtr: usize, bPtr: usize, M: i32, N: i32, K: i32, beta: f32, wsPtr: usize): void {
  if (M <= 0 || N <= 0) return;
  const accumulate = beta != 0;
  if (K <= 0) { if (!accumulate) zeroC(cPtr, M * N); return; }
  if (ASC_FEATURE_SIMD) packedGemm(cPtr, aPtr, bPtr, M, N, K, accumulate, <usize>K << 2, 4, 4, <usize>K << 2, wsPtr);
  else ntScalar(cPtr, aPtr, bPtr, M, N, K, accumulate);
}

/** C[M,N] = A[K,M]ᵀ · B[K,N] + beta·C */
export function gemm_tn_f32(cPtr: usize, aPtr: usize, bPtr: usize, M: i32, N: i32, K: i32, beta: f32, wsPtr: usize): void {
  if (M <= 0 || N <= 0) return;
  const accumulate = beta != 0;
  if (K <= 0) { if (!accumulate) zeroC(cPtr, M * N); return; }
  if (ASC_FEATURE_SIMD) packedGemm(cPtr, aPtr, bPtr, M, N, K, accumulate, 4, <usize>M << 2, <usize>N << 2, 4, wsPtr);
  else broadcastScalar(cPtr, aPtr, bPtr, M, N, K, accumulate, 4, <usize>M << 2);
}
