// STUB: placeholder so the build links; replaced by the real kernels.
export function maxpool2d_fwd_f32(yPtr: usize, argPtr: usize, xPtr: usize, BC: i32, H: i32, W: i32, KH: i32, KW: i32, stride: i32, OH: i32, OW: i32): void { }
export function maxpool2d_bwd_f32(dxPtr: usize, dyPtr: usize, argPtr: usize, BC: i32, H: i32, W: i32, OH: i32, OW: i32): void { }
