// Activations and elementwise products.
// Glossary: n = number of f32 elements.
// Layout: every pointer is a byte offset to n contiguous f32, 16-byte aligned. In-place use
// (output pointer equal to an input pointer) is allowed: each element is read before it is
// written and lanes never overlap. 4-lane SIMD body under ASC_FEATURE_SIMD, scalar tail.

/** y[n] = max(x[n], 0); NaN stays NaN. */
export function relu_fwd_f32(yPtr: usize, xPtr: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const zero = f32x4.splat(0);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(yPtr + o, f32x4.max(v128.load(xPtr + o), zero));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(yPtr + o, max<f32>(load<f32>(xPtr + o), 0));
  }
}

/** dx[n] = y[n] > 0 ? dy[n] : 0, with y the forward output. */
export function relu_bwd_f32(dxPtr: usize, dyPtr: usize, yPtr: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    // y > 0 gives an all-ones lane mask: AND keeps dy where the unit was active.
    const zero = f32x4.splat(0);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(dxPtr + o, v128.and(v128.load(dyPtr + o), f32x4.gt(v128.load(yPtr + o), zero)));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(dxPtr + o, load<f32>(yPtr + o) > 0 ? load<f32>(dyPtr + o) : 0);
  }
}

/** out[n] = a[n] · b[n] */
export function mul_f32(outPtr: usize, aPtr: usize, bPtr: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(outPtr + o, f32x4.mul(v128.load(aPtr + o), v128.load(bPtr + o)));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(outPtr + o, load<f32>(aPtr + o) * load<f32>(bPtr + o));
  }
}
