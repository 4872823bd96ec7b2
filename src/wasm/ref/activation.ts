// TypeScript reference of assembly/activation.ts: same signatures, same meaning (see src/wasm/kernels.ts).
import type { Kernels } from "../kernels.ts";
import type { Mem } from "./mem.ts";

type ActivationKernels = Pick<Kernels, "relu_fwd_f32" | "relu_bwd_f32" | "mul_f32">;

export function activationRef({ f32 }: Mem): ActivationKernels {
  return {
    relu_fwd_f32(yPtr, xPtr, n) {
      const y = yPtr >> 2, x = xPtr >> 2;
      for (let i = 0; i < n; i++) f32[y + i] = Math.max(f32[x + i], 0);
    },
    relu_bwd_f32(dxPtr, dyPtr, yPtr, n) {
      const dx = dxPtr >> 2, dy = dyPtr >> 2, y = yPtr >> 2;
      for (let i = 0; i < n; i++) f32[dx + i] = f32[y + i] > 0 ? f32[dy + i] : 0;
    },
    mul_f32(outPtr, aPtr, bPtr, n) {
      const out = outPtr >> 2, a = aPtr >> 2, b = bPtr >> 2;
      for (let i = 0; i < n; i++) f32[out + i] = f32[a + i] * f32[b + i];
    },
  };
}
