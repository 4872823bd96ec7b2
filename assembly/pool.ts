// Max pooling, no padding, floor mode, with the argmax kept for the backward pass.
// Glossary: BC = B·C independent planes, H/W input height/width, KH/KW window, OH/OW output
// height/width (passed in: normally (H − KH) / stride + 1).
// Layout: x/dx [BC,H,W], y/dy [BC,OH,OW] f32; arg [BC,OH,OW] i32 holding the flat index h·W + w
// of the max within its plane. All pointers are byte offsets, 16-byte aligned.
// Ties keep the first index in row-major window order; a NaN in the window wins (PyTorch
// semantics), so a diverged activation shows up in the output instead of being hidden.
// The 2×2 stride-2 window of our models has a SIMD path (four outputs per iteration); other
// windows are scalar: they are strided and rare, so lanes would mostly shuffle.

/**
 * 2×2 stride 2, four outputs at a time: two 8-float loads per input row, then the even and odd
 * lanes deinterleaved by a shuffle, so the window's four candidates are four vectors compared
 * in the same order as the scalar loop (same tie and NaN rules, bit-identical argmax).
 */
@inline function maxpool2x2s2_simd(yPtr: usize, argPtr: usize, xPtr: usize, BC: i32, H: i32, W: i32, OH: i32, OW: i32): void {
  const OW4 = OW & ~3;
  const lane = i32x4(0, 2, 4, 6);
  for (let p = 0; p < BC; p++) {
    const plane = xPtr + (<usize>(p * H * W) << 2);
    let o = <usize>(p * OH * OW) << 2;
    for (let oh = 0; oh < OH; oh++) {
      const rowBase = oh * 2 * W;
      const r0 = plane + (<usize>rowBase << 2);
      const r1 = r0 + (<usize>W << 2);
      let ow = 0;
      for (; ow < OW4; ow += 4) {
        const off = <usize>(ow * 2) << 2;
        const a0 = v128.load(r0 + off), a1 = v128.load(r0 + off, 16);
        const b0 = v128.load(r1 + off), b1 = v128.load(r1 + off, 16);
        const tl = v128.shuffle<f32>(a0, a1, 0, 2, 4, 6);
        const tr = v128.shuffle<f32>(a0, a1, 1, 3, 5, 7);
        const bl = v128.shuffle<f32>(b0, b1, 0, 2, 4, 6);
        const br = v128.shuffle<f32>(b0, b1, 1, 3, 5, 7);
        const i0 = i32x4.add(i32x4.splat(rowBase + ow * 2), lane);
        let best = tl;
        let bi = i0;
        let take = v128.or(f32x4.gt(tr, best), f32x4.ne(tr, tr));
        best = v128.bitselect(tr, best, take);
        bi = v128.bitselect(i32x4.add(i0, i32x4.splat(1)), bi, take);
        take = v128.or(f32x4.gt(bl, best), f32x4.ne(bl, bl));
        best = v128.bitselect(bl, best, take);
        bi = v128.bitselect(i32x4.add(i0, i32x4.splat(W)), bi, take);
        take = v128.or(f32x4.gt(br, best), f32x4.ne(br, br));
        best = v128.bitselect(br, best, take);
        bi = v128.bitselect(i32x4.add(i0, i32x4.splat(W + 1)), bi, take);
        v128.store(yPtr + o, best);
        v128.store(argPtr + o, bi);
        o += 16;
      }
      for (; ow < OW; ow++) {
        const i0 = rowBase + ow * 2;
        const q = plane + (<usize>i0 << 2);
        let best = load<f32>(q);
        let bi = i0;
        let v = load<f32>(q, 4);
        let take = v > best || v != v;
        best = select<f32>(v, best, take);
        bi = select<i32>(i0 + 1, bi, take);
        v = load<f32>(q + (<usize>W << 2));
        take = v > best || v != v;
        best = select<f32>(v, best, take);
        bi = select<i32>(i0 + W, bi, take);
        v = load<f32>(q + (<usize>W << 2), 4);
        take = v > best || v != v;
        best = select<f32>(v, best, take);
        bi = select<i32>(i0 + W + 1, bi, take);
        store<f32>(yPtr + o, best);
        store<i32>(argPtr + o, bi);
        o += 4;
      }
    }
  }
}

/** The 2×2 window of our models, unrolled: the generic loops cost more than the four compares. */
@inline function maxpool2x2(yPtr: usize, argPtr: usize, xPtr: usize, BC: i32, H: i32, W: i32, stride: i32, OH: i32, OW: i32): void {
  for (let p = 0; p < BC; p++) {
    const plane = xPtr + (<usize>(p * H * W) << 2);
    let o = <usize>(p * OH * OW) << 2;
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        const i0 = oh * stride * W + ow * stride;
        const q = plane + (<usize>i0 << 2);
        let best = load<f32>(q);
        let bi = i0;
        let v = load<f32>(q, 4);
        let take = v > best || v != v;
        best = select<f32>(v, best, take);
        bi = select<i32>(i0 + 1, bi, take);
        v = load<f32>(q + (<usize>W << 2));
        take = v > best || v != v;
        best = select<f32>(v, best, take);
        bi = select<i32>(i0 + W, bi, take);
        v = load<f32>(q + (<usize>W << 2), 4);
        take = v > best || v != v;
        best = select<f32>(v, best, take);
        bi = select<i32>(i0 + W + 1, bi, take);
        store<f32>(yPtr + o, best);
        store<i32>(argPtr + o, bi);
        o += 4;
      }
    }
  }
}

/** y[BC,OH,OW] = window max of x[BC,H,W]; arg[BC,OH,OW] = its flat index within the plane */
export function maxpool2d_fwd_f32(yPtr: usize, argPtr: usize, xPtr: usize, BC: i32, H: i32, W: i32,
  KH: i32, KW: i32, stride: i32, OH: i32, OW: i32): void {
  if (ASC_FEATURE_SIMD) {
    // The last 8-float load of a row reads up to 2·OW floats, which stays inside the row when 2·OW ≤ W.
    if (KH == 2 && KW == 2 && stride == 2 && 2 * OW <= W) {
      maxpool2x2s2_simd(yPtr, argPtr, xPtr, BC, H, W, OH, OW);
      return;
    }
  }
  if (KH == 2 && KW == 2) {
    maxpool2x2(yPtr, argPtr, xPtr, BC, H, W, stride, OH, OW);
    return;
  }
  for (let p = 0; p < BC; p++) {
    const plane = xPtr + (<usize>(p * H * W) << 2);
    const out = <usize>(p * OH * OW) << 2;
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        const base = oh * stride * W + ow * stride;
        let bi = base;
        let best = load<f32>(plane + (<usize>base << 2));
        for (let kh = 0; kh < KH; kh++) {
          for (let kw = 0; kw < KW; kw++) {
            const idx = base + kh * W + kw;
            const v = load<f32>(plane + (<usize>idx << 2));
            // Branch-free (wasm select): on real activations the comparison is a coin flip, and
            // mispredicted branches made this loop ~30 ns per output.
            const take = v > best || v != v;
            best = select<f32>(v, best, take);
            bi = select<i32>(idx, bi, take);
          }
        }
        const o = out + (<usize>(oh * OW + ow) << 2);
        store<f32>(yPtr + o, best);
        store<i32>(argPtr + o, bi);
      }
    }
  }
}

/** dx[BC,H,W] = dy[BC,OH,OW] scattered (summed) to the argmax positions arg[BC,OH,OW]; overwrites dx */
export function maxpool2d_bwd_f32(dxPtr: usize, dyPtr: usize, argPtr: usize, BC: i32, H: i32, W: i32,
  OH: i32, OW: i32): void {
  const HW = H * W;
  const OHW = OH * OW;
  memory.fill(dxPtr, 0, <usize>(BC * HW) << 2);
  for (let p = 0; p < BC; p++) {
    const plane = dxPtr + (<usize>(p * HW) << 2);
    const out = <usize>(p * OHW) << 2;
    for (let j = 0; j < OHW; j++) {
      const o = out + (<usize>j << 2);
      const q = plane + (<usize>load<i32>(argPtr + o) << 2);
      store<f32>(q, load<f32>(q) + load<f32>(dyPtr + o));
    }
  }
}
