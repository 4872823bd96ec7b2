// TypeScript reference of assembly/bias.ts: same signatures, same meaning (see src/wasm/kernels.ts).
import type { Kernels } from "../kernels.ts";
import type { Mem } from "./mem.ts";

type BiasKernels = Pick<Kernels, "bias_add_f32" | "bias_grad_f32">;

export function biasRef({ f32 }: Mem): BiasKernels {
  return {
    bias_add_f32(yPtr, bPtr, outer, C, inner) {
      const y = yPtr >> 2, b = bPtr >> 2;
      for (let o = 0; o < outer; o++)
        for (let c = 0; c < C; c++)
          for (let i = 0; i < inner; i++) f32[y + (o * C + c) * inner + i] += f32[b + c];
    },
    bias_grad_f32(dbPtr, dyPtr, outer, C, inner) {
      const db = dbPtr >> 2, dy = dyPtr >> 2;
      for (let c = 0; c < C; c++) {
        let s = 0;
        for (let o = 0; o < outer; o++)
          for (let i = 0; i < inner; i++) s += f32[dy + (o * C + c) * inner + i];
        f32[db + c] = s;
      }
    },
  };
}
