// TypeScript reference of assembly/pool.ts: same signatures, same meaning (see src/wasm/kernels.ts).
// Ties keep the first index in window order; a NaN wins (PyTorch semantics).
import type { Kernels } from "../kernels.ts";
import type { Mem } from "./mem.ts";

type PoolKernels = Pick<Kernels, "maxpool2d_fwd_f32" | "maxpool2d_bwd_f32">;

export function poolRef({ f32, i32 }: Mem): PoolKernels {
  return {
    maxpool2d_fwd_f32(yPtr, argPtr, xPtr, BC, H, W, KH, KW, stride, OH, OW) {
      const y = yPtr >> 2, arg = argPtr >> 2, x = xPtr >> 2;
      for (let p = 0; p < BC; p++)
        for (let oh = 0; oh < OH; oh++)
          for (let ow = 0; ow < OW; ow++) {
            let best = -Infinity, bestIdx = -1;
            for (let kh = 0; kh < KH; kh++)
              for (let kw = 0; kw < KW; kw++) {
                const idx = (oh * stride + kh) * W + ow * stride + kw;
                const v = f32[x + p * H * W + idx];
                if (bestIdx < 0 || v > best || Number.isNaN(v)) { best = v; bestIdx = idx; }
              }
            f32[y + (p * OH + oh) * OW + ow] = best;
            i32[arg + (p * OH + oh) * OW + ow] = bestIdx;
          }
    },
    maxpool2d_bwd_f32(dxPtr, dyPtr, argPtr, BC, H, W, OH, OW) {
      const dx = dxPtr >> 2, dy = dyPtr >> 2, arg = argPtr >> 2;
      f32.fill(0, dx, dx + BC * H * W);
      for (let p = 0; p < BC; p++)
        for (let j = 0; j < OH * OW; j++) f32[dx + p * H * W + i32[arg + p * OH * OW + j]] += f32[dy + p * OH * OW + j];
    },
  };
}
