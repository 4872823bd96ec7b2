// Max pooling, no padding, floor mode, with the argmax kept for the backward pass.
// Glossary: BC = B·C independent planes, H/W input height/width, KH/KW window, OH/OW output
// height/width (passed in: normally (H − KH) / stride + 1).
// Layout: x/dx [BC,H,W], y/dy [BC,OH,OW] f32; arg [BC,OH,OW] i32 holding the flat index h·W + w
// of the max within its plane. All pointers are byte offsets, 16-byte aligned.
// Ties keep the first index in row-major window order; a NaN in the window wins (PyTorch
// semantics), so a diverged activation shows up in the output instead of being hidden.
// Scalar only: windows are strided and tiny (2×2 in our models), so lanes would mostly shuffle.

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
