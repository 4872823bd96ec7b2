// TypeScript reference of assembly/gemm.ts: same signatures, same meaning (see src/wasm/kernels.ts).
// The naive triple loop, accumulating in float64 and rounding once per element of C.
import type { Kernels } from "../kernels.ts";
import type { Mem } from "./mem.ts";

type GemmKernels = Pick<Kernels, "gemm_nn_f32" | "gemm_nt_f32" | "gemm_tn_f32">;

/** C[M,N] = Σ_k A(i,k)·B(k,j) + beta·C, where the strides say how A and B are laid out. */
function gemm(f32: Float32Array, cPtr: number, aPtr: number, bPtr: number, M: number, N: number, K: number, beta: number,
  aRow: number, aK: number, bK: number, bCol: number): void {
  const c = cPtr >> 2, a = aPtr >> 2, b = bPtr >> 2;
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += f32[a + i * aRow + k * aK] * f32[b + k * bK + j * bCol];
      // beta is 0 or 1: 0 overwrites (even a NaN already in C), 1 accumulates.
      f32[c + i * N + j] = beta === 0 ? s : s + f32[c + i * N + j];
    }
  }
}

export function gemmRef({ f32 }: Mem): GemmKernels {
  return {
    gemm_nn_f32(cPtr, aPtr, bPtr, M, N, K, beta, _wsPtr) { gemm(f32, cPtr, aPtr, bPtr, M, N, K, beta, K, 1, N, 1); },
    gemm_nt_f32(cPtr, aPtr, bPtr, M, N, K, beta, _wsPtr) { gemm(f32, cPtr, aPtr, bPtr, M, N, K, beta, K, 1, 1, K); },
    gemm_tn_f32(cPtr, aPtr, bPtr, M, N, K, beta, _wsPtr) { gemm(f32, cPtr, aPtr, bPtr, M, N, K, beta, 1, M, N, 1); },
  };
}
