// Convolution lowering: im2col, its adjoint col2im, and the outer-dims transpose that turns
// the GEMM output [OC, B, OH·OW] into NCHW [B, OC, OH·OW].
// Glossary: B batch, C channels, H/W input height/width, KH/KW kernel height/width,
// OH/OW output height/width (passed in: normally (H + 2·pad − KH) / stride + 1), CKK = C·KH·KW,
// P = B·OH·OW.
// Layout: x/dx are NCHW [B,C,H,W]; col/dcol are [CKK, P] row-major, row (c·KH + kh)·KW + kw,
// column (b·OH + oh)·OW + ow. Input pixel of (kh,kw,oh,ow): ih = oh·stride − pad + kh,
// iw = ow·stride − pad + kw; outside [0,H)×[0,W) it is padding (zero). All pointers are byte
// offsets, 16-byte aligned.
// Speed: for a fixed (kh, kw, oh) the OW outputs of a row read input pixels iw = ow·stride + k0,
// so the padding is a prefix and a suffix of the segment; likewise the output rows that read
// padding rows are a prefix and a suffix of the OH rows. We compute the valid [lo, hi) range of
// ow and [ohLo, ohHi) of oh once per (kh, kw) and copy (stride 1: contiguous, 4-lane SIMD) or
// gather (stride > 1) the middle; no per-element or per-row bounds test, and rows without a
// padding column are copied whole (lenet's conv2 has 8-float rows, where the per-row zero-run
// bookkeeping had cost more than the copy: 1.37 → 0.57 ms for its im2col). Loops run over col
// rows (c, kh, kw) outermost, so col is written (col2im: read) front to back, and the B input
// planes of one channel stay in cache; b/c-outermost order was 1.5–2.5× slower (each step wrote
// KH·KW rows P floats apart, which alias in the cache).

/** First ow whose input column iw = ow·stride − pad + kw is ≥ 0, clamped to [0, OW] (also used for oh, kh, H, OH). */
@inline function validLo(kw: i32, stride: i32, pad: i32, OW: i32): i32 {
  const d = pad - kw;
  const lo = d <= 0 ? 0 : (d + stride - 1) / stride;
  return min(lo, OW);
}

/** One past the last ow whose input column is < W, clamped to [lo, OW]. */
@inline function validHi(kw: i32, stride: i32, pad: i32, W: i32, OW: i32, lo: i32): i32 {
  const d = W - 1 + pad - kw;
  const hi = d < 0 ? 0 : d / stride + 1;
  return max(min(hi, OW), lo);
}

@inline function zeroRun(dst: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 4 <= n; i += 4) v128.store(dst + (<usize>i << 2), f32x4.splat(0));
  }
  for (; i < n; i++) store<f32>(dst + (<usize>i << 2), 0);
}

/** dst[i] = src[i·stride] for i < n (stride 1: contiguous SIMD copy). */
@inline function gatherRun(dst: usize, src: usize, n: i32, stride: i32): void {
  let i = 0;
  if (stride == 1) {
    if (ASC_FEATURE_SIMD) {
      for (; i + 4 <= n; i += 4) {
        const o = <usize>i << 2;
        v128.store(dst + o, v128.load(src + o));
      }
    }
    for (; i < n; i++) {
      const o = <usize>i << 2;
      store<f32>(dst + o, load<f32>(src + o));
    }
  } else {
    for (; i < n; i++) store<f32>(dst + (<usize>i << 2), load<f32>(src + (<usize>(i * stride) << 2)));
  }
}

/** dst[i·stride] += src[i] for i < n (stride 1: contiguous SIMD add). */
@inline function scatterAddRun(dst: usize, src: usize, n: i32, stride: i32): void {
  let i = 0;
  if (stride == 1) {
    if (ASC_FEATURE_SIMD) {
      for (; i + 4 <= n; i += 4) {
        const o = <usize>i << 2;
        v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(src + o)));
      }
    }
    for (; i < n; i++) {
      const o = <usize>i << 2;
      store<f32>(dst + o, load<f32>(dst + o) + load<f32>(src + o));
    }
  } else {
    for (; i < n; i++) {
      const q = dst + (<usize>(i * stride) << 2);
      store<f32>(q, load<f32>(q) + load<f32>(src + (<usize>i << 2)));
    }
  }
}

/** col[CKK, P] from x[B,C,H,W]: each column is one receptive field, zero in the padding. */
export function im2col_f32(colPtr: usize, xPtr: usize, B: i32, C: i32, H: i32, W: i32,
  KH: i32, KW: i32, stride: i32, pad: i32, OH: i32, OW: i32): void {
  const P = B * OH * OW;
  const rowStep = <usize>(stride * W) << 2, plane = <usize>(C * H * W) << 2;
  for (let c = 0; c < C; c++) {
    for (let kh = 0; kh < KH; kh++) {
      // Output rows [ohLo, ohHi) read input rows inside the image; the others are all padding.
      const ohLo = validLo(kh, stride, pad, OH);
      const ohHi = validHi(kh, stride, pad, H, OH, ohLo);
      for (let kw = 0; kw < KW; kw++) {
        const lo = validLo(kw, stride, pad, OW);
        const hi = validHi(kw, stride, pad, W, OW, lo);
        const n = hi - lo;
        // Whole valid rows (no padding column, stride 1): OW-float copies, one per output row.
        const whole = stride == 1 && n == OW;
        let dst = colPtr + (<usize>((c * KH + kh) * KW + kw) * <usize>P << 2);
        // Input pixel of (b, ohLo, lo); only dereferenced when the run is non-empty.
        let src = xPtr + (<usize>(c * H * W + (ohLo * stride - pad + kh) * W + lo * stride - pad + kw) << 2);
        for (let b = 0; b < B; b++) {
          zeroRun(dst, ohLo * OW);
          dst += <usize>(ohLo * OW) << 2;
          let s = src;
          if (whole) {
            for (let oh = ohLo; oh < ohHi; oh++) {
              gatherRun(dst, s, OW, 1);
              dst += <usize>OW << 2; s += rowStep;
            }
          } else {
            for (let oh = ohLo; oh < ohHi; oh++) {
              zeroRun(dst, lo);
              gatherRun(dst + (<usize>lo << 2), s, n, stride);
              zeroRun(dst + (<usize>hi << 2), OW - hi);
              dst += <usize>OW << 2; s += rowStep;
            }
          }
          zeroRun(dst, (OH - ohHi) * OW);
          dst += <usize>((OH - ohHi) * OW) << 2;
          src += plane;
        }
      }
    }
  }
}

/** dx[B,C,H,W] = col2im(dcol[CKK, P]), the adjoint of im2col: each dcol entry is added to the
 * input pixel it was copied from; padding entries are dropped. Overwrites dx. */
export function col2im_f32(dxPtr: usize, dcolPtr: usize, B: i32, C: i32, H: i32, W: i32,
  KH: i32, KW: i32, stride: i32, pad: i32, OH: i32, OW: i32): void {
  const P = B * OH * OW;
  const rowStep = <usize>(stride * W) << 2, plane = <usize>(C * H * W) << 2, image = <usize>(OH * OW) << 2;
  memory.fill(dxPtr, 0, <usize>(B * C * H * W) << 2);
  for (let c = 0; c < C; c++) {
    for (let kh = 0; kh < KH; kh++) {
      const ohLo = validLo(kh, stride, pad, OH);
      const ohHi = validHi(kh, stride, pad, H, OH, ohLo);
      if (ohLo == ohHi) continue;
      for (let kw = 0; kw < KW; kw++) {
        const lo = validLo(kw, stride, pad, OW);
        const hi = validHi(kw, stride, pad, W, OW, lo);
        const n = hi - lo;
        if (n == 0) continue;
        let src = dcolPtr + (<usize>((c * KH + kh) * KW + kw) * <usize>P << 2) + (<usize>(ohLo * OW + lo) << 2);
        let dst = dxPtr + (<usize>(c * H * W + (ohLo * stride - pad + kh) * W + lo * stride - pad + kw) << 2);
        for (let b = 0; b < B; b++) {
          let s = src, d = dst;
          for (let oh = ohLo; oh < ohHi; oh++) {
            scatterAddRun(d, s, n, stride);
            s += <usize>OW << 2; d += rowStep;
          }
          src += image; dst += plane;
        }
      }
    }
  }
}

/** dst[Bd, A, inner] from src[A, Bd, inner]: dst[b,a,:] = src[a,b,:], each inner run copied whole. */
export function transpose01_f32(dstPtr: usize, srcPtr: usize, A: i32, Bd: i32, inner: i32): void {
  for (let a = 0; a < A; a++) {
    for (let b = 0; b < Bd; b++) {
      gatherRun(dstPtr + (<usize>((b * A + a) * inner) << 2), srcPtr + (<usize>((a * Bd + b) * inner) << 2), inner, 1);
    }
  }
}
