// TypeScript reference of assembly/loss.ts: same signatures, same meaning (see src/wasm/kernels.ts).
// Computed in float64 and rounded once when stored.
import type { Kernels } from "../kernels.ts";
import type { Mem } from "./mem.ts";

type LossKernels = Pick<Kernels, "softmax_xent_f32">;

export function lossRef({ f32, i32 }: Mem): LossKernels {
  return {
    softmax_xent_f32(dlogitsPtr, logitsPtr, labelsPtr, B, C, scale) {
      const x = logitsPtr >> 2, labels = labelsPtr >> 2, d = dlogitsPtr >> 2;
      scale = Math.fround(scale); // f32 in the ABI
      let total = 0;
      for (let b = 0; b < B; b++) {
        const row = x + b * C, label = i32[labels + b];
        let max = -Infinity;
        for (let j = 0; j < C; j++) max = Math.max(max, f32[row + j]);
        let sum = 0;
        for (let j = 0; j < C; j++) sum += Math.exp(f32[row + j] - max);
        total += Math.log(sum) + max - f32[row + label];
        if (dlogitsPtr === 0) continue;
        const exps = Array.from({ length: C }, (_, j) => Math.exp(f32[row + j] - max));
        for (let j = 0; j < C; j++) f32[d + b * C + j] = scale * (exps[j] / sum - (j === label ? 1 : 0));
      }
      return Math.fround(total);
    },
  };
}
