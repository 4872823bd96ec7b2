// The level codecs of --compress (src/node/compress.ts) on the sender's hot path: θ encoded to f16
// or int8, and in the same pass the copy a receiver decodes from it (the node's own copy, which
// --mix-against sent mixes against). Bit-identical to compress.ts's encode and decode (tested over
// every engine): compress.ts is the specification, this is its speed. 4-lane SIMD body under
// ASC_FEATURE_SIMD, scalar tail; no lane depends on another.

// ---- f16 -------------------------------------------------------------------------------------

/** Bits of the f16 nearest to the f32 with bits u (ties to even; ±65504 beyond; NaN → 0x7e00). */
// @ts-ignore: decorator
@inline function f16Bits(u: u32): u32 {
  const sign = (u >>> 16) & 0x8000, a = u & 0x7fffffff;
  let h: u32;
  if (a > 0x7f800000) h = 0x7e00;
  else if (a == 0x7f800000) h = 0x7c00;
  else if (a >= 0x477ff000) h = 0x7bff;
  else if (a >= 0x38800000) { const r = a - 0x38000000; h = (r + 0xfff + ((r >>> 13) & 1)) >>> 13; }
  // Below 2^-14: units of 2^-24, rounded to nearest even; |x|·2^24 is exact (a power of two).
  else h = <u32>nearest<f32>(abs<f32>(reinterpret<f32>(a)) * 16777216.0);
  return sign | h;
}

/** Bits of the f32 equal to the f16 with bits h; any NaN → 0x7fc00000 (what a JS NaN stores as). */
// @ts-ignore: decorator
@inline function f32OfF16(h: u32): u32 {
  const e = (h >>> 10) & 0x1f, sign = (h & 0x8000) << 16;
  if (e == 31) return (h & 0x3ff) != 0 ? 0x7fc00000 : sign | 0x7f800000;
  if (e == 0) return sign | reinterpret<u32>(<f32>(h & 0x3ff) * 5.9604644775390625e-8); // m · 2^-24, exact
  return sign | (((h & 0x7fff) << 13) + 0x38000000);
}

/** h[n] (u16) = x[n] as f16 bits; own[n] = the f32 value of each (compress.ts f16FromF32Bits, f16ToNumber). */
export function f16_encode_f32(xPtr: usize, n: i32, hPtr: usize, ownPtr: usize): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const absMask = i32x4.splat(0x7fffffff), c7f8 = i32x4.splat(0x7f800000), sat = i32x4.splat(0x477ff000);
    const minNormal = i32x4.splat(0x38800000), rebias = i32x4.splat(0x38000000), fff = i32x4.splat(0xfff), one = i32x4.splat(1);
    const scale = f32x4.splat(16777216.0), ulp = f32x4.splat(5.9604644775390625e-8);
    const x7e00 = i32x4.splat(0x7e00), x7c00 = i32x4.splat(0x7c00), x7bff = i32x4.splat(0x7bff), x8000 = i32x4.splat(0x8000);
    const x3ff = i32x4.splat(0x3ff), x7fff = i32x4.splat(0x7fff), nanBits = i32x4.splat(0x7fc00000), zero = i32x4.splat(0);
    for (; i + 4 <= n; i += 4) {
      const u = v128.load(xPtr + (<usize>i << 2));
      const a = v128.and(u, absMask), sign = v128.and(i32x4.shr_u(u, 16), x8000);
      const r = i32x4.sub(a, rebias);
      const hn = i32x4.shr_u(i32x4.add(i32x4.add(r, fff), v128.and(i32x4.shr_u(r, 13), one)), 13);
      const hs = i32x4.trunc_sat_f32x4_u(f32x4.nearest(f32x4.mul(a, scale))); // a as f32 bits is |x|
      let h = v128.bitselect(hs, hn, i32x4.lt_s(a, minNormal));
      h = v128.bitselect(x7bff, h, i32x4.ge_s(a, sat));
      h = v128.bitselect(x7c00, h, i32x4.eq(a, c7f8));
      h = v128.bitselect(x7e00, h, i32x4.gt_s(a, c7f8));
      h = v128.or(h, sign);
      // Four u16 out: the low halves of the four lanes.
      const packed = i16x8.narrow_i32x4_u(h, h);
      store<u64>(hPtr + (<usize>i << 1), i64x2.extract_lane(packed, 0));
      // The decoded value: normal, subnormal (m · 2^-24), ±Inf, NaN.
      const e = v128.and(i32x4.shr_u(h, 10), i32x4.splat(0x1f)), m = v128.and(h, x3ff), s32 = i32x4.shl(sign, 16);
      let o = i32x4.add(i32x4.shl(v128.and(h, x7fff), 13), rebias);
      o = v128.bitselect(f32x4.mul(f32x4.convert_i32x4_u(m), ulp), o, i32x4.eq(e, zero));
      o = v128.bitselect(c7f8, o, i32x4.eq(e, i32x4.splat(31)));
      o = v128.or(o, s32);
      o = v128.bitselect(nanBits, o, v128.and(i32x4.eq(e, i32x4.splat(31)), i32x4.ne(m, zero)));
      v128.store(ownPtr + (<usize>i << 2), o);
    }
  }
  for (; i < n; i++) {
    const h = f16Bits(load<u32>(xPtr + (<usize>i << 2)));
    store<u16>(hPtr + (<usize>i << 1), <u16>h);
    store<u32>(ownPtr + (<usize>i << 2), f32OfF16(h));
  }
}

// ---- int8 ------------------------------------------------------------------------------------

/** max |x| over x[n]; NaN if any x is NaN (the scale of an int8 tensor, before ÷ 127). */
export function absmax_f32(xPtr: usize, n: i32): f32 {
  let i = 0, m: f32 = 0;
  if (ASC_FEATURE_SIMD) {
    let vm = f32x4.splat(0);
    for (; i + 4 <= n; i += 4) vm = f32x4.max(vm, f32x4.abs(v128.load(xPtr + (<usize>i << 2)))); // max keeps NaN
    m = max<f32>(max<f32>(f32x4.extract_lane(vm, 0), f32x4.extract_lane(vm, 1)), max<f32>(f32x4.extract_lane(vm, 2), f32x4.extract_lane(vm, 3)));
  }
  for (; i < n; i++) m = max<f32>(m, abs<f32>(load<f32>(xPtr + (<usize>i << 2))));
  return m;
}

/**
 * q[n] (i8) = sign(x) · min(127, ⌊|x / s| + 1/2⌋) with x / s in f64, and own[n] = q · s rounded to
 * f32 once (compress.ts encodeInt8 and its decode), for a scale s > 0.
 */
export function int8_encode_f32(xPtr: usize, n: i32, s: f32, qPtr: usize, ownPtr: usize): void {
  let i = 0;
  const sd = <f64>s;
  if (ASC_FEATURE_SIMD) {
    const vs = f64x2.splat(sd), half = f64x2.splat(0.5), cap = i32x4.splat(127), zero = f32x4.splat(0), vsf = f32x4.splat(s);
    for (; i + 4 <= n; i += 4) {
      const x = v128.load(xPtr + (<usize>i << 2));
      const lo = f64x2.add(f64x2.abs(f64x2.div(f64x2.promote_low_f32x4(x), vs)), half);
      const hi = f64x2.add(f64x2.abs(f64x2.div(f64x2.promote_low_f32x4(v128.shuffle<i32>(x, x, 2, 3, 0, 1)), vs)), half);
      const rl = i32x4.trunc_sat_f64x2_s_zero(lo), rh = i32x4.trunc_sat_f64x2_s_zero(hi);
      let r = i32x4.min_s(v128.shuffle<i32>(rl, rh, 0, 1, 4, 5), cap);
      r = v128.bitselect(i32x4.neg(r), r, f32x4.lt(x, zero));
      const q16 = i16x8.narrow_i32x4_s(r, r), q8 = i8x16.narrow_i16x8_s(q16, q16);
      store<i32>(qPtr + <usize>i, i32x4.extract_lane(q8, 0));
      v128.store(ownPtr + (<usize>i << 2), f32x4.mul(f32x4.convert_i32x4_s(r), vsf));
    }
  }
  for (; i < n; i++) {
    const x = load<f32>(xPtr + (<usize>i << 2));
    let r = <i32>min<f64>(abs<f64>(<f64>x / sd) + 0.5, 127); // min first: a conversion out of range would trap
    if (x < 0) r = -r;
    store<i8>(qPtr + <usize>i, <i8>r);
    store<f32>(ownPtr + (<usize>i << 2), <f32>r * s);
  }
}
