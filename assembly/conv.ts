// STUB: placeholder so the build links; replaced by the real kernels.
export function im2col_f32(colPtr: usize, xPtr: usize, B: i32, C: i32, H: i32, W: i32, KH: i32, KW: i32, stride: i32, pad: i32, OH: i32, OW: i32): void { }
export function col2im_f32(dxPtr: usize, dcolPtr: usize, B: i32, C: i32, H: i32, W: i32, KH: i32, KW: i32, stride: i32, pad: i32, OH: i32, OW: i32): void { }
export function transpose01_f32(dstPtr: usize, srcPtr: usize, A: i32, Bd: i32, inner: i32): void { }
