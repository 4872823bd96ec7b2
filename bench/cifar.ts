// cifar-cnn training throughput: the `cifar-cnn` preset (2×conv3×3×32, pool, 2×conv3×3×64, pool,
// dense 256, dense 10, padding same) on synthetic-cifar, batch 32, one thread, our SIMD build vs
// TensorFlow.js's wasm backend training the same layers from the same initial weights (the
// machinery is in lenet.ts). Dropout is left out of BOTH models: this compares throughput, and
// tfjs and we would draw different masks anyway. Not a test: nothing gates on absolute time.
// Usage: npm run build && node dist/bench/cifar.js
import os from "node:os";
import { pathToFileURL } from "node:url";
import { loadDataset } from "../src/data/registry.ts";
import { planModel, PRESETS, type LayerSpec, type ModelPlan } from "../src/nn/spec.ts";
import { BATCH, LR, compareTraining, formatThroughput, loadTfjsForTraining, makeBatches, type Throughput } from "./lenet.ts";

/** cifar-cnn without its dropout layer. */
export const CIFAR_PLAN = (): ModelPlan =>
  planModel((PRESETS["cifar-cnn"] as readonly LayerSpec[]).filter((l) => l.type !== "dropout"), [3, 32, 32], 10);

export interface CifarResult { rows: Throughput[]; convGradError: number }

export async function runCifarBench(opts: { maxTime?: number } = {}): Promise<CifarResult> {
  const { tf, convGradError } = await loadTfjsForTraining();
  // 1,024 generated samples are enough for 8 distinct batches and take a fraction of a second.
  const ds = await loadDataset("synthetic-cifar", { synthetic: { train: 1024, test: 32 } });
  const batches = makeBatches(ds, 8, BATCH, 2);
  const rows = await compareTraining("cifar-cnn", CIFAR_PLAN(), batches, ["simd"], tf, { seed: 2, warmup: 2, maxTime: opts.maxTime ?? 5 });
  return { rows, convGradError };
}

export function formatCifar(r: CifarResult): string {
  const get = (impl: string) => r.rows.find((x) => x.impl === impl)!.samplesPerSecond;
  return [
    `cifar-cnn training (dropout left out of both), batch ${BATCH}, one thread, synthetic-cifar, plain SGD lr ${LR}`,
    formatThroughput(r.rows),
    `simd/tfjs-wasm ${(get("simd") / get("tfjs-wasm")).toFixed(2)}×`
      + ` (vs tfjs-wasm with an XNNPACK conv for dx instead of its shipped loop: ${(get("simd") / get("tfjs-wasm fast dx")).toFixed(2)}×)`,
  ].join("\n");
}

const direct = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (direct) {
  console.log(`runtime ${process.version}, CPU ${os.cpus()[0]?.model ?? "?"}, one thread`);
  console.log(formatCifar(await runCifarBench()));
}
