// Centralized training: one model, all the data. The `cdl train` job and the `centralized`
// baseline of consensus runs. Evaluation time is excluded from the reported throughput.
import type { Dataset } from "./data/dataset.ts";
import { ConfigError } from "./errors.ts";
import { Net, type InitScheme, type SgdOptions } from "./nn/net.ts";
import { planModel, type LayerSpec, type PresetName } from "./nn/spec.ts";
import { Rng } from "./rng.ts";
import { loadEngine, type Flavor } from "./wasm/loader.ts";

export interface TrainConfig {
  /** A preset name or a layer list. */
  model: PresetName | LayerSpec[];
  /** Passes over the training set, a positive integer. */
  epochs: number;
  /** Minibatch size. */
  batch: number;
  /** SGD settings (PyTorch semantics). */
  sgd: SgdOptions;
  /** Seed of every random choice (init, shuffling, dropout). */
  seed: number;
  /** Kernel implementation: SIMD build, scalar build or TS reference. */
  flavor: Flavor;
  /** Weight initialisation (default pytorch: torch.nn's own for Conv2d and Linear). */
  init?: InitScheme;
  /** Use only the first N training samples (undefined = all). */
  trainLimit?: number;
  /** Evaluate on the first N test samples at the end (undefined = the full test set). */
  testLimit?: number;
  /** Seeded random-crop + flip augmentation (meant for CIFAR-10). */
  augment: boolean;
  /** Learning rate over the run: constant (default) or linear decay to 0; sgd.lr is the peak. */
  lrSchedule?: LrSchedule;
  /** Fraction of the run over which the rate ramps up from 0 (default 0). */
  warmup?: number;
}

export type LrSchedule = "constant" | "linear";
/** The second cycle's peak, as a fraction of lr, under --lr-restart without --lr-restart-peak. */
export const DEFAULT_RESTART_PEAK = 0.5;
export const LR_SCHEDULES: readonly LrSchedule[] = ["constant", "linear"];

/**
 * The learning rate of step `step` (0-based) of a `budget`-step run: warmup ramp, then constant or
 * linear decay to 0. With `lrRestart` F (linear only) the schedule restarts once: the first cycle
 * (warm-up, decay to 0) spans the first F·budget steps, and a second one starts at
 * `lrRestartPeak` (default 0.5) × lr and decays to 0 at the end of the budget, without warm-up.
 */
export function learningRate(s: { lr: number; lrSchedule: LrSchedule; warmup: number; lrRestart?: number; lrRestartPeak?: number }, step: number, budget: number): number {
  if (s.lrRestart !== undefined && s.lrSchedule === "linear") {
    const first = s.lrRestart * budget;
    if (step >= first) return s.lr * (s.lrRestartPeak ?? DEFAULT_RESTART_PEAK) * Math.max(0, 1 - (step - first) / (budget - first));
    budget = first;
  }
  const decay = s.lrSchedule === "linear" ? 1 - step / budget : 1;
  const ramp = s.warmup > 0 ? Math.min(1, (step + 1) / (s.warmup * budget)) : 1;
  return s.lr * Math.min(decay, ramp);
}

export interface TrainProgress {
  epoch: number; epochs: number; step: number; stepsPerEpoch: number; samples: number; loss: number; samplesPerSecond: number;
  /** The learning rate this step ran at (the schedule's value). */
  lr: number;
}

export interface TrainResult {
  testAccuracy: number;
  testLoss: number;
  trainLoss: number;
  /** Training samples per second, forward + backward + update, evaluation excluded. */
  samplesPerSecond: number;
  trainSeconds: number;
  /** Mean training loss of each epoch's minibatches. */
  epochLosses: number[];
  losses: number[];
  numParams: number;
  samples: number;
  /** The .wasm build that ran the kernels (null: the TS reference). */
  build: string | null;
  /** Stopped by shouldStop before the end: the test figures are then on `testSamples` samples only. */
  interrupted: boolean;
  testSamples: number;
}

/** Engine memory in MB for `bytes` of buffers (from Net.bytesNeeded and friends) plus 8 MB of headroom. */
export function memoryMBFor(bytes: number): number {
  return Math.ceil(bytes / 2 ** 20 + 8);
}

function noSamples(name: string, what: string, count: number, flag: string, limit: number | undefined): string {
  return count < 1 ? `dataset ${name} has no ${what} samples` : `${flag} ${limit} leaves no ${what} samples (${name} has ${count}); use at least 1`;
}

/** Test samples an interrupted run is evaluated on, so that it exits within a second or two. */
const INTERRUPTED_TEST_SAMPLES = 1000;

/** `shouldStop` is asked before every step (an interrupt): true ends training there. */
export async function trainCentralized(ds: Dataset, cfg: TrainConfig, onProgress?: (p: TrainProgress) => void,
  shouldStop?: () => boolean): Promise<TrainResult> {
  const n = Math.min(cfg.trainLimit ?? ds.train.count, ds.train.count);
  const testCount = Math.min(cfg.testLimit ?? ds.test.count, ds.test.count);
  if (!(Number.isInteger(cfg.epochs) && cfg.epochs >= 1)) throw new ConfigError(`epochs must be a positive integer, got ${cfg.epochs}`);
  if (!(n >= 1)) throw new ConfigError(noSamples(ds.name, "training", ds.train.count, "--train-limit", cfg.trainLimit));
  if (!(testCount >= 1)) throw new ConfigError(noSamples(ds.name, "test", ds.test.count, "--test-limit", cfg.testLimit));
  const plan = planModel(cfg.model, ds.shape, ds.classes);
  const engine = await loadEngine({ flavor: cfg.flavor, memoryMB: memoryMBFor(Net.bytesNeeded(plan, cfg.batch) + Net.paramSetBytes(plan)) });
  const net = new Net(engine, plan, cfg.batch);
  const params = net.newParams();
  const rng = new Rng(cfg.seed);
  net.init(params.theta, rng.fork(1), cfg.init ?? "pytorch");
  const shuffle = rng.fork(2), dropout = rng.fork(3), aug = rng.fork(4);
  const stepsPerEpoch = Math.ceil(n / cfg.batch);
  const losses: number[] = [], epochLosses: number[] = [];
  let trainMs = 0, samples = 0;
  const schedule = { lr: cfg.sgd.lr, lrSchedule: cfg.lrSchedule ?? "constant", warmup: cfg.warmup ?? 0 };
  const budget = cfg.epochs * stepsPerEpoch;
  const sgd = { ...cfg.sgd }; // its lr follows the schedule, step by step
  let interrupted = false, lastYield = performance.now();
  epochs: for (let epoch = 0; epoch < cfg.epochs; epoch++) {
    const order = shuffle.permutation(ds.train.count).subarray(0, n);
    let epochLoss = 0;
    for (let step = 0; step < stepsPerEpoch; step++) {
      if (shouldStop && performance.now() - lastYield > 100) { // let signal handlers run
        await new Promise((r) => setTimeout(r, 0));
        lastYield = performance.now();
      }
      if (shouldStop?.()) { interrupted = true; break epochs; }
      const t0 = performance.now();
      const from = step * cfg.batch, B = Math.min(cfg.batch, n - from);
      net.loadBatch(ds, ds.train, order, from, B, cfg.augment ? { augment: { rng: aug } } : undefined);
      sgd.lr = learningRate(schedule, epoch * stepsPerEpoch + step, budget);
      const loss = net.trainStep(params, B, sgd, dropout);
      trainMs += performance.now() - t0;
      if (!Number.isFinite(loss)) {
        const wd = cfg.sgd.weightDecay ? ` or --weight-decay (now ${cfg.sgd.weightDecay})` : "";
        throw new ConfigError(`training diverged at epoch ${epoch + 1} step ${step + 1} (loss ${loss}): lower --lr (now ${cfg.sgd.lr})${wd}`);
      }
      samples += B;
      losses.push(loss);
      epochLoss += loss;
      onProgress?.({ epoch: epoch + 1, epochs: cfg.epochs, step: step + 1, stepsPerEpoch, samples, loss, samplesPerSecond: samples / (trainMs / 1000), lr: sgd.lr });
    }
    epochLosses.push(epochLoss / stepsPerEpoch);
  }
  const tested = interrupted ? Math.min(testCount, INTERRUPTED_TEST_SAMPLES) : testCount;
  const test = net.evaluate(params.theta, ds, ds.test, { limit: tested });
  return {
    interrupted, testSamples: tested,
    testAccuracy: test.accuracy, testLoss: test.loss, trainLoss: epochLosses[epochLosses.length - 1] ?? NaN,
    samplesPerSecond: samples / (trainMs / 1000), trainSeconds: trainMs / 1000,
    epochLosses, losses, numParams: plan.numParams, samples, build: engine.build,
  };
}
