// TypeScript reference of assembly/conv.ts: same signatures, same meaning (see src/wasm/kernels.ts).
// Written per element, with an explicit padding test, for readability.
import type { Kernels } from "../kernels.ts";
import type { Mem } from "./mem.ts";

type ConvKernels = Pick<Kernels, "im2row_f32" | "row2im_f32" | "transpose01_f32">;

export function convRef({ f32 }: Mem): ConvKernels {
  return {
    im2row_f32(colPtr, xPtr, B, C, H, W, KH, KW, stride, pad, OH, OW) {
      const col = colPtr >> 2, x = xPtr >> 2, CKK = C * KH * KW;
      for (let c = 0; c < C; c++)
        for (let kh = 0; kh < KH; kh++)
          for (let kw = 0; kw < KW; kw++) {
            const row = (c * KH + kh) * KW + kw;
            for (let b = 0; b < B; b++)
              for (let oh = 0; oh < OH; oh++)
                for (let ow = 0; ow < OW; ow++) {
                  const ih = oh * stride - pad + kh, iw = ow * stride - pad + kw;
                  const inside = ih >= 0 && ih < H && iw >= 0 && iw < W;
                  f32[col + ((b * OH + oh) * OW + ow) * CKK + row] = inside ? f32[x + ((b * C + c) * H + ih) * W + iw] : 0;
                }
          }
    },
    row2im_f32(dxPtr, dcolPtr, B, C, H, W, KH, KW, stride, pad, OH, OW) {
      const dx = dxPtr >> 2, dcol = dcolPtr >> 2, CKK = C * KH * KW;
      f32.fill(0, dx, dx + B * C * H * W);
      for (let c = 0; c < C; c++)
        for (let kh = 0; kh < KH; kh++)
          for (let kw = 0; kw < KW; kw++) {
            const row = (c * KH + kh) * KW + kw;
            for (let b = 0; b < B; b++)
              for (let oh = 0; oh < OH; oh++)
                for (let ow = 0; ow < OW; ow++) {
                  const ih = oh * stride - pad + kh, iw = ow * stride - pad + kw;
                  if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                  f32[dx + ((b * C + c) * H + ih) * W + iw] += f32[dcol + ((b * OH + oh) * OW + ow) * CKK + row];
                }
          }
    },
    transpose01_f32(dstPtr, srcPtr, A, Bd, inner) {
      const dst = dstPtr >> 2, src = srcPtr >> 2;
      for (let a = 0; a < A; a++)
        for (let b = 0; b < Bd; b++)
          for (let i = 0; i < inner; i++) f32[dst + (b * A + a) * inner + i] = f32[src + (a * Bd + b) * inner + i];
    },
  };
}
