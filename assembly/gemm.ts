// STUB: placeholder so the build links; replaced by the real kernels.
export function gemm_nn_f32(cPtr: usize, aPtr: usize, bPtr: usize, M: i32, N: i32, K: i32, beta: f32): void { }
export function gemm_nt_f32(cPtr: usize, aPtr: usize, bPtr: usize, M: i32, N: i32, K: i32, beta: f32): void { }
export function gemm_tn_f32(cPtr: usize, aPtr: usize, bPtr: usize, M: i32, N: i32, K: i32, beta: f32): void { }
