// Whole-vector kernels: the operations consensus averaging and optimizers need.
// Glossary: n = number of f32 elements. All pointers are byte offsets, 16-byte aligned.
export function scale_f32(xPtr: usize, n: i32, a: f32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const va = f32x4.splat(a);
    for (; i + 4 <= n; i += 4) {
      const p = xPtr + (<usize>i << 2);
      v128.store(p, f32x4.mul(v128.load(p), va));
    }
  }
  for (; i < n; i++) {
    const p = xPtr + (<usize>i << 2);
    store<f32>(p, load<f32>(p) * a);
  }
}
// STUB: placeholder so the build links; replaced by the real kernels.
export function axpy_f32(yPtr: usize, xPtr: usize, n: i32, a: f32): void {}
export function axpby_f32(yPtr: usize, xPtr: usize, n: i32, a: f32, b: f32): void {}
export function sqdist_f32(aPtr: usize, bPtr: usize, n: i32): f64 { return 0; }
export function nonfinite_f32(xPtr: usize, n: i32): i32 { return 0; }
