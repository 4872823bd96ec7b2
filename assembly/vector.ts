// Whole-vector kernels: the operations consensus averaging and optimizers need.
// Glossary: n = number of f32 elements.
// Layout: every pointer is a byte offset to n contiguous f32, 16-byte aligned (v128 loads are
// unaligned-safe, so alignment is for speed only). Each kernel has a 4-lane SIMD body under
// ASC_FEATURE_SIMD and a scalar tail, which is the whole loop in the scalar build.

/** x[n] *= a */
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

/** y[n] += a · x[n] */
export function axpy_f32(yPtr: usize, xPtr: usize, n: i32, a: f32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const va = f32x4.splat(a);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(yPtr + o, f32x4.add(v128.load(yPtr + o), f32x4.mul(va, v128.load(xPtr + o))));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(yPtr + o, load<f32>(yPtr + o) + a * load<f32>(xPtr + o));
  }
}

/** y[n] = a · x[n] + b · y[n] */
export function axpby_f32(yPtr: usize, xPtr: usize, n: i32, a: f32, b: f32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const va = f32x4.splat(a);
    const vb = f32x4.splat(b);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(yPtr + o, f32x4.add(f32x4.mul(va, v128.load(xPtr + o)), f32x4.mul(vb, v128.load(yPtr + o))));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(yPtr + o, a * load<f32>(xPtr + o) + b * load<f32>(yPtr + o));
  }
}

/** Σ (a[n] − b[n])², with the differences and the sum in f64 (no f32 rounding at all). */
export function sqdist_f32(aPtr: usize, bPtr: usize, n: i32): f64 {
  let i = 0;
  let s: f64 = 0;
  if (ASC_FEATURE_SIMD) {
    // Two f64x2 accumulators: the low and high halves of each f32x4, promoted before subtracting.
    let lo = f64x2.splat(0);
    let hi = f64x2.splat(0);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      const va = v128.load(aPtr + o);
      const vb = v128.load(bPtr + o);
      const dl = f64x2.sub(f64x2.promote_low_f32x4(va), f64x2.promote_low_f32x4(vb));
      const dh = f64x2.sub(
        f64x2.promote_low_f32x4(v128.shuffle<f32>(va, va, 2, 3, 2, 3)),
        f64x2.promote_low_f32x4(v128.shuffle<f32>(vb, vb, 2, 3, 2, 3)));
      lo = f64x2.add(lo, f64x2.mul(dl, dl));
      hi = f64x2.add(hi, f64x2.mul(dh, dh));
    }
    const t = f64x2.add(lo, hi);
    s = f64x2.extract_lane(t, 0) + f64x2.extract_lane(t, 1);
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const d = <f64>load<f32>(aPtr + o) - <f64>load<f32>(bPtr + o);
    s += d * d;
  }
  return s;
}

/** 1 if any of x[n] is NaN or ±Inf, else 0. */
export function nonfinite_f32(xPtr: usize, n: i32): i32 {
  // x·0 is ±0 for finite x and NaN for NaN/±Inf, and NaN survives any sum: one branch-free
  // pass, no early exit (the common answer is 0, which needs the whole pass anyway).
  let i = 0;
  let acc: f32 = 0;
  if (ASC_FEATURE_SIMD) {
    const zero = f32x4.splat(0);
    let va = zero;
    for (; i + 4 <= n; i += 4) va = f32x4.add(va, f32x4.mul(v128.load(xPtr + (<usize>i << 2)), zero));
    acc = f32x4.extract_lane(va, 0) + f32x4.extract_lane(va, 1) + f32x4.extract_lane(va, 2) + f32x4.extract_lane(va, 3);
  }
  for (; i < n; i++) acc += load<f32>(xPtr + (<usize>i << 2)) * 0;
  return acc != acc ? 1 : 0;
}
