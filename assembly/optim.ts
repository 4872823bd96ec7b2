// STUB: placeholder so the build links; replaced by the real kernels.
export function sgd_momentum_f32(wPtr: usize, gPtr: usize, vPtr: usize, n: i32, lr: f32, momentum: f32, weightDecay: f32): void { }
