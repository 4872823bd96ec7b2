// Sparse × dense products for the backward pass of a convolution whose output gradient is mostly
// zero. A max pool passes back at most one pixel of each window (three quarters of a 2×2 pool's
// input gradient are zero) and a ReLU zeroes the pixels it cut off, so lenet's conv layers get an
// output gradient dy with 10–25% nonzeros. Compressing dy (CSR, one row per output pixel) and
// multiplying only its nonzeros does 4–10× fewer multiply-adds than the dense GEMMs, with the same
// products summed in another order: dW (+)= dy·colT is spmm_tn (S = dyᵀ), dcolT = dyᵀ·W is spmm.
// src/nn/layers.ts decides per chunk from the nonzero count (a dense dy keeps the GEMMs).
// Glossary: CSR = compressed sparse rows: row r's entries are idx/val[ptr[r] .. ptr[r+1]), idx the
// column, in increasing order. Pointers are byte offsets; ptr and idx are i32, val f32.
// The matrix compressed is X[a, b·inner + i] = src[(b·A + a)·inner + i], [A, Bd·inner]: a conv's
// dy in NCHW [Bd, A, inner] seen as [OC, P] without the transpose (Bd = 1: a plain [A, inner]).
// Zero means == 0: a NaN or ±Inf entry is kept, so it propagates as in the dense product.
import { madd } from "./gemm";

/** How many of x[n] are != 0 (NaN counts): the layer's sparse-or-dense test, before building any CSR. */
export function nonzero_f32(xPtr: usize, n: i32): i32 {
  let i = 0, count = 0;
  if (ASC_FEATURE_SIMD) {
    // f32x4.ne is all ones (−1 as i32) per nonzero lane: subtracting it counts, four lanes at a time.
    const zero = f32x4.splat(0);
    let lanes = i32x4.splat(0);
    for (; i + 4 <= n; i += 4) lanes = i32x4.sub(lanes, f32x4.ne(v128.load(xPtr + (<usize>i << 2)), zero));
    count = i32x4.extract_lane(lanes, 0) + i32x4.extract_lane(lanes, 1) + i32x4.extract_lane(lanes, 2) + i32x4.extract_lane(lanes, 3);
  }
  for (; i < n; i++) count += i32(load<f32>(xPtr + (<usize>i << 2)) != 0);
  return count;
}

/** CSR of Xᵀ, i.e. X by columns (Bd·inner rows of A columns). Writes ptr[Bd·inner + 1], idx/val[nnz]; returns nnz. */
export function csr_cols_f32(ptrPtr: usize, idxPtr: usize, valPtr: usize, srcPtr: usize, A: i32, Bd: i32, inner: i32): i32 {
  let nnz = 0;
  const step = <usize>inner << 2;
  for (let b = 0; b < Bd; b++) {
    for (let i = 0; i < inner; i++) {
      store<i32>(ptrPtr + (<usize>(b * inner + i) << 2), nnz);
      let s = srcPtr + (<usize>(b * A * inner + i) << 2);
      // Branch-free: every entry is written at slot nnz and kept only if nonzero (the next one
      // overwrites it otherwise), so an unpredictable zero pattern costs no mispredictions.
      for (let a = 0; a < A; a++) {
        const v = load<f32>(s);
        store<i32>(idxPtr + (<usize>nnz << 2), a);
        store<f32>(valPtr + (<usize>nnz << 2), v);
        nnz += i32(v != 0);
        s += step;
      }
    }
  }
  store<i32>(ptrPtr + (<usize>(Bd * inner) << 2), nnz);
  return nnz;
}

// spmm: C[M,N] = S·B + beta·C with S in CSR (M rows; its column indices are rows of B[·,N]).
// SIMD: C's columns in blocks of 32, 16 and 4 floats (8, 4 or 1 f32x4 accumulators) with a
// scalar tail; per block, each row of C accumulates S's nonzeros of that row times B's row
// segment in registers and is stored once. Block-outer order keeps the B[·, block] slab in L1
// (lenet's conv2 dcolT: W's 64 rows × 128 B = 8 KB) while every row of C visits it.

/** C[i, j0 .. j0 + 4·V) for every row i, V f32x4 accumulators (V = 8, 4 or 1). */
// @ts-ignore: decorator
@inline function spmmBlock(c: usize, ptr: usize, idx: usize, val: usize, b: usize, M: i32, N: i32, j0: i32, acc: bool, V: i32): void {
  const ldb = <usize>N << 2, ldc = <usize>N << 2, off = <usize>j0 << 2;
  let ci = c + off;
  for (let i = 0; i < M; i++) {
    let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    const e1 = load<i32>(ptr + (<usize>i << 2), 4);
    for (let e = load<i32>(ptr + (<usize>i << 2)); e < e1; e++) {
      const v = v128.load32_splat(val + (<usize>e << 2));
      const r = b + <usize>load<i32>(idx + (<usize>e << 2)) * ldb + off;
      a0 = madd(v, v128.load(r), a0);
      if (V >= 4) {
        a1 = madd(v, v128.load(r, 16), a1); a2 = madd(v, v128.load(r, 32), a2); a3 = madd(v, v128.load(r, 48), a3);
      }
      if (V == 8) {
        a4 = madd(v, v128.load(r, 64), a4); a5 = madd(v, v128.load(r, 80), a5);
        a6 = madd(v, v128.load(r, 96), a6); a7 = madd(v, v128.load(r, 112), a7);
      }
    }
    if (acc) {
      a0 = f32x4.add(a0, v128.load(ci));
      if (V >= 4) { a1 = f32x4.add(a1, v128.load(ci, 16)); a2 = f32x4.add(a2, v128.load(ci, 32)); a3 = f32x4.add(a3, v128.load(ci, 48)); }
      if (V == 8) {
        a4 = f32x4.add(a4, v128.load(ci, 64)); a5 = f32x4.add(a5, v128.load(ci, 80));
        a6 = f32x4.add(a6, v128.load(ci, 96)); a7 = f32x4.add(a7, v128.load(ci, 112));
      }
    }
    v128.store(ci, a0);
    if (V >= 4) { v128.store(ci, a1, 16); v128.store(ci, a2, 32); v128.store(ci, a3, 48); }
    if (V == 8) { v128.store(ci, a4, 64); v128.store(ci, a5, 80); v128.store(ci, a6, 96); v128.store(ci, a7, 112); }
    ci += ldc;
  }
}

/** Columns [j0, N) of C, one f32 at a time: per row, C[i,:] (+)= Σ val·B[idx,:] (the SIMD build's
 * tail of 1–3 columns, the scalar build's whole product). */
function spmmScalar(c: usize, ptr: usize, idx: usize, val: usize, b: usize, M: i32, N: i32, j0: i32, acc: bool): void {
  const ld = <usize>N << 2, off = <usize>j0 << 2, n = N - j0;
  let ci = c + off;
  for (let i = 0; i < M; i++) {
    if (!acc) for (let j = 0; j < n; j++) store<f32>(ci + (<usize>j << 2), 0);
    const e1 = load<i32>(ptr + (<usize>i << 2), 4);
    for (let e = load<i32>(ptr + (<usize>i << 2)); e < e1; e++) {
      const v = load<f32>(val + (<usize>e << 2));
      const r = b + <usize>load<i32>(idx + (<usize>e << 2)) * ld + off;
      for (let j = 0; j < n; j++) {
        const q = ci + (<usize>j << 2);
        store<f32>(q, load<f32>(q) + v * load<f32>(r + (<usize>j << 2)));
      }
    }
    ci += ld;
  }
}

/** C[M,N] = S·B + beta·C, S in CSR (ptr[M + 1], idx/val), B row-major with N columns; beta 0 or 1. */
export function spmm_f32(cPtr: usize, ptrPtr: usize, idxPtr: usize, valPtr: usize, bPtr: usize, M: i32, N: i32, beta: f32): void {
  if (M <= 0 || N <= 0) return;
  const acc = beta != 0;
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    for (; j + 32 <= N; j += 32) spmmBlock(cPtr, ptrPtr, idxPtr, valPtr, bPtr, M, N, j, acc, 8);
    for (; j + 16 <= N; j += 16) spmmBlock(cPtr, ptrPtr, idxPtr, valPtr, bPtr, M, N, j, acc, 4);
    for (; j + 4 <= N; j += 4) spmmBlock(cPtr, ptrPtr, idxPtr, valPtr, bPtr, M, N, j, acc, 1);
  }
  if (j < N) spmmScalar(cPtr, ptrPtr, idxPtr, valPtr, bPtr, M, N, j, acc);
}

// spmm_tn: C[M,N] = Sᵀ·B, i.e. for each row k of S and each entry (m, v) of it, C[m,:] += v·B[k,:].
// B's rows are read front to back, whole, which is what makes this order fast for lenet's conv2 dW:
// B is the chunk's colT (800 KB), written in the forward pass and cold by now, and a sequential
// stream is what the hardware prefetcher follows. C (dW, 200 KB) stays in L2. Blocking C's columns
// so that a block stays in L1 (64 floats: 16 KB) read B in 256-byte pieces 3,200 bytes apart
// instead, and was 1.5× slower in the net.

/** C[M,N] = Sᵀ·B + beta·C, S a CSR matrix of K rows (column indices < M), B[K,N] row-major. */
export function spmm_tn_f32(cPtr: usize, ptrPtr: usize, idxPtr: usize, valPtr: usize, bPtr: usize, M: i32, N: i32, K: i32, beta: f32): void {
  if (M <= 0 || N <= 0) return;
  const ld = <usize>N << 2;
  if (beta == 0) memory.fill(cPtr, 0, <usize>M * ld);
  const w16 = ASC_FEATURE_SIMD ? ld & ~15 : 0, w32 = w16 & ~31;
  let br = bPtr;
  for (let k = 0; k < K; k++) {
    const e1 = load<i32>(ptrPtr + (<usize>k << 2), 4);
    for (let e = load<i32>(ptrPtr + (<usize>k << 2)); e < e1; e++) {
      const s = load<f32>(valPtr + (<usize>e << 2));
      const cr = cPtr + <usize>load<i32>(idxPtr + (<usize>e << 2)) * ld;
      let j: usize = 0;
      if (ASC_FEATURE_SIMD) {
        const v = f32x4.splat(s);
        for (; j < w32; j += 32) {
          v128.store(cr + j, madd(v, v128.load(br + j), v128.load(cr + j)));
          v128.store(cr + j, madd(v, v128.load(br + j, 16), v128.load(cr + j, 16)), 16);
        }
        for (; j < w16; j += 16) v128.store(cr + j, madd(v, v128.load(br + j), v128.load(cr + j)));
      }
      for (; j < ld; j += 4) store<f32>(cr + j, load<f32>(cr + j) + s * load<f32>(br + j));
    }
    br += ld;
  }
}
