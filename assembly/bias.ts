// STUB: placeholder so the build links; replaced by the real kernels.
export function bias_add_f32(yPtr: usize, bPtr: usize, outer: i32, C: i32, inner: i32): void { }
export function bias_grad_f32(dbPtr: usize, dyPtr: usize, outer: i32, C: i32, inner: i32): void { }
