// TypeScript reference of assembly/sparse.ts: same signatures, same meaning (see src/wasm/kernels.ts).
// spmm accumulates in float64 and rounds once per element of C, like the GEMM reference.
import type { Kernels } from "../kernels.ts";
import type { Mem } from "./mem.ts";

type SparseKernels = Pick<Kernels, "nonzero_f32" | "csr_cols_f32" | "spmm_f32" | "spmm_tn_f32">;

export function sparseRef({ f32, i32 }: Mem): SparseKernels {
  /** Appends the nonzeros of `rows` rows to the CSR at (ptr, idx, val); at(r, q) is the entry, q < cols. */
  function compress(ptrPtr: number, idxPtr: number, valPtr: number, rows: number, cols: number, at: (r: number, q: number) => number) {
    const ptr = ptrPtr >> 2, idx = idxPtr >> 2, val = valPtr >> 2;
    let nnz = 0;
    for (let r = 0; r < rows; r++) {
      i32[ptr + r] = nnz;
      for (let q = 0; q < cols; q++) {
        const v = at(r, q);
        if (v !== 0) { i32[idx + nnz] = q; f32[val + nnz] = v; nnz++; }
      }
    }
    i32[ptr + rows] = nnz;
    return nnz;
  }
  return {
    nonzero_f32(xPtr, n) {
      const x = xPtr >> 2;
      let count = 0;
      for (let i = 0; i < n; i++) if (f32[x + i] !== 0) count++;
      return count;
    },
    csr_cols_f32(ptrPtr, idxPtr, valPtr, srcPtr, A, Bd, inner) {
      const src = srcPtr >> 2;
      return compress(ptrPtr, idxPtr, valPtr, Bd * inner, A,
        (q, a) => f32[src + (Math.floor(q / inner) * A + a) * inner + (q % inner)]);
    },
    spmm_f32(cPtr, ptrPtr, idxPtr, valPtr, bPtr, M, N, beta) {
      const c = cPtr >> 2, ptr = ptrPtr >> 2, idx = idxPtr >> 2, val = valPtr >> 2, b = bPtr >> 2;
      for (let i = 0; i < M; i++)
        for (let j = 0; j < N; j++) {
          let s = 0;
          for (let e = i32[ptr + i]; e < i32[ptr + i + 1]; e++) s += f32[val + e] * f32[b + i32[idx + e] * N + j];
          f32[c + i * N + j] = beta === 0 ? s : s + f32[c + i * N + j];
        }
    },
    spmm_tn_f32(cPtr, ptrPtr, idxPtr, valPtr, bPtr, M, N, K, beta) {
      const c = cPtr >> 2, ptr = ptrPtr >> 2, idx = idxPtr >> 2, val = valPtr >> 2, b = bPtr >> 2;
      const sum = new Float64Array(M * N);
      for (let k = 0; k < K; k++)
        for (let e = i32[ptr + k]; e < i32[ptr + k + 1]; e++)
          for (let j = 0; j < N; j++) sum[i32[idx + e] * N + j] += f32[val + e] * f32[b + k * N + j];
      for (let i = 0; i < M * N; i++) f32[c + i] = beta === 0 ? sum[i] : sum[i] + f32[c + i];
    },
  };
}
