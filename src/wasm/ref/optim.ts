// TypeScript reference of assembly/optim.ts: same signatures, same meaning (see src/wasm/kernels.ts).
import type { Kernels } from "../kernels.ts";
import type { Mem } from "./mem.ts";

type OptimKernels = Pick<Kernels, "sgd_momentum_f32">;

export function optimRef({ f32 }: Mem): OptimKernels {
  return {
    sgd_momentum_f32(wPtr, gPtr, vPtr, n, lr, momentum, weightDecay) {
      const w = wPtr >> 2, g = gPtr >> 2, v = vPtr >> 2;
      lr = Math.fround(lr); momentum = Math.fround(momentum); weightDecay = Math.fround(weightDecay); // f32 in the ABI
      for (let i = 0; i < n; i++) {
        // Every product and sum rounded to f32 as the wasm builds do, so this equals them bit for bit.
        const grad = Math.fround(f32[g + i] + Math.fround(weightDecay * f32[w + i]));
        f32[v + i] = Math.fround(momentum * f32[v + i]) + grad;
        f32[w + i] -= Math.fround(lr * f32[v + i]);
      }
    },
  };
}
