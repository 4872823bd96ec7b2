// The plain TypeScript reference of every kernel, over the same memory and pointer ABI as the
// .wasm builds: the oracle of the conformance suite and the readable version of each kernel.
import type { Kernels } from "./kernels.ts";
import { memViews } from "./ref/mem.ts";
import { vectorRef } from "./ref/vector.ts";

export function referenceKernels(memory: WebAssembly.Memory): Kernels {
  const m = memViews(memory);
  return { ...vectorRef(m) } as Kernels;
}
