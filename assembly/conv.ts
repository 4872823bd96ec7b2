// Convolution lowering: im2row, its adjoint row2im, and the outer-dims transpose that turns
// the GEMM output [OC, B, OH·OW] into NCHW [B, OC, OH·OW].
// Glossary: B batch, C channels, H/W input height/width, KH/KW kernel height/width,
// OH/OW output height/width (passed in: normally (H + 2·pad − KH) / stride + 1), CKK = C·KH·KW,
// P = B·OH·OW.
// Layout: x/dx are NCHW [B,C,H,W]; colT/dcolT are [P, CKK] row-major ("im2row", the transpose of
// the classic im2col matrix): row (b·OH + oh)·OW + ow is the receptive field of one output pixel,
// column (c·KH + kh)·KW + kw. Input pixel of (kh,kw,oh,ow): ih = oh·stride − pad + kh,
// iw = ow·stride − pad + kw; outside [0,H)×[0,W) it is padding (zero). All pointers are byte
// offsets, 16-byte aligned.
// Why rows, not columns: the convolution's backward pass multiplies by a sparse output gradient
// (max pooling passes at most one pixel of each window back; ReLU zeroes more), and a sparse ×
// dense product wants the dense factor's rows contiguous: dW[oc,:] += dy[oc,p] · colT[p,:]
// (assembly/sparse.ts). The forward product W·col is the same GEMM either way (nt instead of nn).
// Speed: a row of colT is C·KH runs of KW contiguous input pixels (one per (c, kh)), written front
// to back while the one input image it reads stays in cache. Windows inside the image (all of
// lenet's, all but the border of a 3×3 "same" conv) copy each run with one or two moves sized
// for KW (copyKernelRow) and no bounds test; a border window zeroes its row and copies the valid
// [hLo, hHi) × [wLo, wHi) part. (The generic zero-run/copy/zero-run path for every window cost
// ~29 cycles a run: 68 ms of cifar-cnn's 258 ms step.)
import { addRun, copyRun } from "./runs";

/** Valid kernel offsets [lo, hi) of output position o: o·stride − pad + k inside [0, n), k < K. */
// @ts-ignore: decorator
@inline function kLo(o: i32, stride: i32, pad: i32): i32 {
  return max(0, pad - o * stride);
}
// @ts-ignore: decorator
@inline function kHi(o: i32, stride: i32, pad: i32, n: i32, K: i32): i32 {
  return min(K, n + pad - o * stride);
}

/** Copies one kernel row of KW floats of a window inside the image: 3 (3×3 kernels) as a 2-float
 * and a 1-float move, 4–8 as two overlapping 4-float moves, others float by float. */
// @ts-ignore: decorator
@inline function copyKernelRow(dst: usize, src: usize, KW: i32): void {
  if (KW == 3) {
    store<u64>(dst, load<u64>(src));
    store<f32>(dst, load<f32>(src, 8), 8);
  } else if (ASC_FEATURE_SIMD && KW >= 4 && KW <= 8) {
    const tail = <usize>(KW - 4) << 2;
    v128.store(dst, v128.load(src));
    v128.store(dst + tail, v128.load(src + tail));
  } else {
    copyRun(dst, src, KW);
  }
}

/**
 * Walks every (output pixel, c, kh) of the lowering: colT is visited front to back, one row of
 * C·KH·KW floats per output pixel, together with the input pixels of that row's window. `toRows`
 * (a compile-time constant at both call sites) picks the direction: im2row copies the image into
 * colT (zero in the padding); row2im adds colT into the image (padding entries dropped). One walk
 * for both makes row2im the exact adjoint of im2row by construction.
 */
// @ts-ignore: decorator
@inline function lowering(colPtr: usize, imgPtr: usize, B: i32, C: i32, H: i32, W: i32,
  KH: i32, KW: i32, stride: i32, pad: i32, OH: i32, OW: i32, toRows: bool): void {
  const plane = <usize>(H * W) << 2, kwBytes = <usize>KW << 2, rowBytes = <usize>W << 2;
  const rowOfCol = <usize>(C * KH * KW) << 2;
  let col = colPtr;
  for (let b = 0; b < B; b++) {
    const image = imgPtr + <usize>b * <usize>C * plane;
    for (let oh = 0; oh < OH; oh++) {
      const ih0 = oh * stride - pad;
      const hLo = min(KH, kLo(oh, stride, pad)), hHi = max(hLo, kHi(oh, stride, pad, H, KH));
      for (let ow = 0; ow < OW; ow++) {
        const iw0 = ow * stride - pad;
        const wLo = min(KW, kLo(ow, stride, pad)), wHi = max(wLo, kHi(ow, stride, pad, W, KW)), n = wHi - wLo;
        // Image pixel (c = 0, kh = hLo, kw = wLo); only dereferenced when the run is non-empty.
        let px = image + (<usize>((ih0 + hLo) * W + iw0 + wLo) << 2);
        if (n == KW && hHi - hLo == KH) {
          // The window is inside the image (lenet: always; 3×3 same: all but the border).
          for (let c = 0; c < C; c++) {
            let q = px;
            for (let kh = 0; kh < KH; kh++) {
              if (toRows) copyKernelRow(col, q, KW); else addRun(q, col, KW);
              col += kwBytes; q += rowBytes;
            }
            px += plane;
          }
          continue;
        }
        // A border window: only its [hLo, hHi) × [wLo, wHi) part is inside the image.
        if (toRows) memory.fill(col, 0, rowOfCol);
        if (n > 0) {
          let r = col + (<usize>(hLo * KW + wLo) << 2);
          for (let c = 0; c < C; c++) {
            let q = px, rr = r;
            for (let kh = hLo; kh < hHi; kh++) {
              if (toRows) copyRun(rr, q, n); else addRun(q, rr, n);
              rr += kwBytes; q += rowBytes;
            }
            px += plane; r += <usize>(KH * KW) << 2;
          }
        }
        col += rowOfCol;
      }
    }
  }
}

/** colT[P, CKK] from x[B,C,H,W]: row p = (b,oh,ow) is the receptive field of output pixel p, zero in the padding. */
export function im2row_f32(colPtr: usize, xPtr: usize, B: i32, C: i32, H: i32, W: i32,
  KH: i32, KW: i32, stride: i32, pad: i32, OH: i32, OW: i32): void {
  lowering(colPtr, xPtr, B, C, H, W, KH, KW, stride, pad, OH, OW, true);
}

/** dx[B,C,H,W] = row2im(dcolT[P, CKK]), the adjoint of im2row: each dcolT entry is added to the
 * input pixel it was copied from; padding entries are dropped. Overwrites dx. */
export function row2im_f32(dxPtr: usize, dcolPtr: usize, B: i32, C: i32, H: i32, W: i32,
  KH: i32, KW: i32, stride: i32, pad: i32, OH: i32, OW: i32): void {
  memory.fill(dxPtr, 0, <usize>(B * C * H * W) << 2);
  lowering(dcolPtr, dxPtr, B, C, H, W, KH, KW, stride, pad, OH, OW, false);
}

/** dst[Bd, A, inner] from src[A, Bd, inner]: dst[b,a,:] = src[a,b,:], each inner run copied whole. */
export function transpose01_f32(dstPtr: usize, srcPtr: usize, A: i32, Bd: i32, inner: i32): void {
  for (let a = 0; a < A; a++) {
    for (let b = 0; b < Bd; b++) {
      copyRun(dstPtr + (<usize>((b * A + a) * inner) << 2), srcPtr + (<usize>((a * Bd + b) * inner) << 2), inner);
    }
  }
}
