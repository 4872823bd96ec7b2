// `cdl train`: centralized training of one model on a whole dataset.
import { DATASET_NAMES, loadDataset } from "../data/registry.ts";
import { PRESET_NAMES, type PresetName } from "../nn/spec.ts";
import { runtimeInfo } from "../runtime.ts";
import { LR_SCHEDULES, trainCentralized, type LrSchedule } from "../train.ts";
import type { InitScheme } from "../nn/net.ts";
import { FLAVORS, type Flavor } from "../wasm/loader.ts";
import { INIT_SCHEMES } from "../experiment/config.ts";
import { helpText, parseFlags, UsageError, type FlagTable } from "./args.ts";
import { Progress } from "./progress.ts";
import { stopOnSignals } from "./signals.ts";

// Numbers are finite unless a flag says `infinite` (none here: a run needs a finite budget).
export const TRAIN_FLAGS: FlagTable = {
  dataset: { type: "string", default: "mnist-10k", allowed: DATASET_NAMES, help: "dataset" },
  "data-dir": { type: "string", help: "directory holding the dataset files" },
  model: { type: "string", default: "lenet", allowed: PRESET_NAMES, help: "model preset" },
  epochs: { type: "number", default: 1, min: 0.001, help: "passes over the training set (fractions allowed)" },
  batch: { type: "int", default: 32, min: 1, max: 4096, help: "minibatch size" },
  lr: { type: "number", default: 0.05, min: 0, help: "SGD learning rate" },
  "lr-schedule": { type: "string", default: "constant", allowed: LR_SCHEDULES, help: "learning rate over the run: constant, or linear decay to 0" },
  warmup: { type: "number", default: 0, min: 0, max: 1, help: "fraction of the run over which the learning rate ramps up from 0" },
  momentum: { type: "number", default: 0, min: 0, max: 0.999, help: "SGD momentum" },
  "weight-decay": { type: "number", default: 0, min: 0, help: "L2 weight decay" },
  init: { type: "string", default: "pytorch", allowed: INIT_SCHEMES, help: "weight initialisation (pytorch = torch.nn defaults)" },
  augment: { type: "bool", default: false, help: "random crop + flip (CIFAR-10)" },
  seed: { type: "int", default: 1, min: 0, max: 2 ** 32 - 1, help: "seed of every random choice" },
  engine: { type: "string", default: "simd", allowed: FLAVORS, help: "kernel build" },
  "train-limit": { type: "int", min: 1, help: "use only the first N training samples" },
  "test-limit": { type: "int", min: 1, help: "evaluate on the first N test samples" },
  json: { type: "bool", default: false, help: "print one JSON object on the last line" },
  quiet: { type: "bool", default: false, help: "no progress line" },
};

export async function trainCommand(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(helpText("train", "Centralized training of one model on all the data.", TRAIN_FLAGS));
    return 0;
  }
  const { flags: f, positional } = parseFlags("cdl train", argv, TRAIN_FLAGS);
  if (positional.length) {
    const p = positional[0], hint = (DATASET_NAMES as readonly string[]).includes(p) ? `; did you mean --dataset ${p}?` : "";
    throw new UsageError(`cdl train: unexpected argument '${p}' (flags start with --${hint})`);
  }
  const wall0 = performance.now();
  const ds = await loadDataset(f.dataset as string, { dataDir: f["data-dir"] as string | undefined });
  const epochsInt = Math.ceil(f.epochs as number);
  const fraction = (f.epochs as number) / epochsInt;
  // A fractional last epoch is modelled as every epoch over that fraction of the (limited) training set.
  const limit = f["train-limit"] as number | undefined;
  const trainLimit = fraction < 1 ? Math.max(1, Math.round(Math.min(limit ?? ds.train.count, ds.train.count) * fraction)) : limit;
  const progress = new Progress(!(f.quiet as boolean));
  // SIGINT/SIGTERM: finish the current step, report the model so far, exit (a second signal: at once).
  const stop = stopOnSignals();
  if (!f.json) console.log(`cdl train: ${f.model} on ${ds.name} (${ds.train.count} train / ${ds.test.count} test, from ${ds.source}), batch ${f.batch}, lr ${f.lr}${f["lr-schedule"] === "linear" ? " (linear decay)" : ""}, seed ${f.seed}, engine ${f.engine}`);
  const res = await trainCentralized(ds, {
    model: f.model as PresetName, epochs: epochsInt, batch: f.batch as number,
    sgd: { lr: f.lr as number, momentum: f.momentum as number, weightDecay: f["weight-decay"] as number },
    seed: f.seed as number, flavor: f.engine as Flavor, init: f.init as InitScheme,
    trainLimit, testLimit: f["test-limit"] as number | undefined, augment: f.augment as boolean,
    lrSchedule: f["lr-schedule"] as LrSchedule, warmup: f.warmup as number,
  }, (p) => progress.update(
    `epoch ${p.epoch}/${p.epochs}  step ${p.step}/${p.stepsPerEpoch}  loss ${p.loss.toFixed(4)}  ${Math.round(p.samplesPerSecond)} samples/s`,
    p.step === p.stepsPerEpoch), stop.requested).finally(() => stop.release());
  progress.done();
  if (res.interrupted) {
    console.error(`${stop.signal}: training stopped after ${res.samples} samples; the model so far: test accuracy ${(100 * res.testAccuracy).toFixed(2)}% on ${res.testSamples} test samples. ` +
      `cdl train keeps no run directory; for a run that writes a checkpoint and resumes, use cdl run --algorithm centralized`);
    if (f.json) console.log(JSON.stringify({ command: "train", interrupted: true, samples: res.samples, testAccuracy: res.testAccuracy, testSamples: res.testSamples }));
    return stop.exitCode();
  }
  const wallSeconds = (performance.now() - wall0) / 1000;
  const info = runtimeInfo();
  if (f.json) {
    console.log(JSON.stringify({
      command: "train", dataset: ds.name, model: f.model, epochs: f.epochs, batch: f.batch, lr: f.lr, lrSchedule: f["lr-schedule"], warmup: f.warmup, momentum: f.momentum, seed: f.seed,
      testAccuracy: res.testAccuracy, testLoss: res.testLoss, trainLoss: res.trainLoss, testSamples: res.testSamples,
      samples: res.samples, samplesPerSecond: res.samplesPerSecond, trainSeconds: res.trainSeconds, wallSeconds, numParams: res.numParams,
      engine: f.engine, build: res.build, ...info,
    }));
  } else {
    console.log(`test accuracy ${(100 * res.testAccuracy).toFixed(2)}%  test loss ${res.testLoss.toFixed(4)}  ` +
      `train ${Math.round(res.samplesPerSecond)} samples/s  wall ${wallSeconds.toFixed(1)} s  (${info.runtime} ${info.runtimeVersion}, ${f.engine})`);
  }
  return 0;
}
