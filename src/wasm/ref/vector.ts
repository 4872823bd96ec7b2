// TypeScript reference of assembly/vector.ts: same signatures, same meaning (see src/wasm/kernels.ts).
// Scalar arguments are f32 in the ABI, so they are rounded to f32 first, as the .wasm call does.
import type { Kernels } from "../kernels.ts";
import type { Mem } from "./mem.ts";

type VectorKernels = Pick<Kernels, "axpy_f32" | "axpby_f32" | "scale_f32" | "sqdist_f32" | "nonfinite_f32">;

export function vectorRef({ f32 }: Mem): VectorKernels {
  return {
    axpy_f32(yPtr, xPtr, n, a) {
      const y = yPtr >> 2, x = xPtr >> 2;
      a = Math.fround(a);
      for (let i = 0; i < n; i++) f32[y + i] += Math.fround(a * f32[x + i]);
    },
    axpby_f32(yPtr, xPtr, n, a, b) {
      const y = yPtr >> 2, x = xPtr >> 2;
      a = Math.fround(a);
      b = Math.fround(b);
      for (let i = 0; i < n; i++) f32[y + i] = Math.fround(a * f32[x + i]) + Math.fround(b * f32[y + i]);
    },
    scale_f32(xPtr, n, a) {
      const x = xPtr >> 2;
      a = Math.fround(a);
      for (let i = 0; i < n; i++) f32[x + i] *= a;
    },
    sqdist_f32(aPtr, bPtr, n) {
      const a = aPtr >> 2, b = bPtr >> 2;
      let s = 0;
      for (let i = 0; i < n; i++) { const d = f32[a + i] - f32[b + i]; s += d * d; }
      return s;
    },
    nonfinite_f32(xPtr, n) {
      const x = xPtr >> 2;
      for (let i = 0; i < n; i++) if (!Number.isFinite(f32[x + i])) return 1;
      return 0;
    },
  };
}
