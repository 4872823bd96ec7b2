// The plain TypeScript reference of every kernel, over the same memory and pointer ABI as the
// .wasm builds: the oracle of the conformance suite and the readable version of each kernel.
import type { Kernels } from "./kernels.ts";
import { memViews } from "./ref/mem.ts";
import { activationRef } from "./ref/activation.ts";
import { biasRef } from "./ref/bias.ts";
import { convRef } from "./ref/conv.ts";
import { gemmRef } from "./ref/gemm.ts";
import { lossRef } from "./ref/loss.ts";
import { optimRef } from "./ref/optim.ts";
import { poolRef } from "./ref/pool.ts";
import { sparseRef } from "./ref/sparse.ts";
import { vectorRef } from "./ref/vector.ts";
import { codecRef } from "./ref/codec.ts";

export function referenceKernels(memory: WebAssembly.Memory): Kernels {
  const m = memViews(memory);
  return { ...gemmRef(m), ...convRef(m), ...sparseRef(m), ...biasRef(m), ...activationRef(m), ...poolRef(m), ...lossRef(m), ...optimRef(m), ...vectorRef(m), ...codecRef(m) } as Kernels;
}
