// The configuration of a consensus run: one typed object, every default named and commented.
// `cdl run` builds it from flags and an optional --config JSON file (flags override the file).
import { readFileSync } from "node:fs";
import { ConfigError } from "../errors.ts";
import { DATASET_NAMES } from "../data/registry.ts";
import { PRESET_NAMES, type PresetName } from "../nn/spec.ts";
import { WEIGHT_RULES, type WeightRule } from "../consensus/weights.ts";
import { FLAVORS, type Flavor } from "../wasm/loader.ts";
import { coerce, parseFlags, UsageError, type FlagTable } from "../cli/args.ts";

export const ALGORITHMS = ["cdl", "cdl-on-receive", "isolated", "centralized", "fedavg", "dpsgd"] as const;
export type Algorithm = (typeof ALGORITHMS)[number];

export interface RunConfig {
  /** Dataset name (registry) and optional directory of its files. */
  dataset: string;
  dataDir?: string;
  /** Model preset. */
  model: PresetName;
  /** Number of compute nodes. */
  nodes: number;
  /** Communication graph spec (see TOPOLOGY_FORMS). [ours] */
  topology: string;
  /** How the training set is split among nodes (see SPLIT_FORMS). [ours, Flower's names] */
  split: string;
  algorithm: Algorithm;
  /** Consensus weight rule. Default laplacian. [ours] */
  weights: WeightRule;
  /** Laplacian step size ε; undefined = 1/(Δ+1). [ours] */
  epsilon?: number;
  /** K: local minibatch steps between consensus steps (and fedavg/dpsgd rounds). Default 1. [ours] */
  localSteps: number;
  /** Send a snapshot of θ to every neighbour every this many local steps. Default 1. [ours] */
  shareEvery: number;
  /** Step times each node keeps agreeing and sharing after its learning budget, learning nothing. Default 0. [ours] */
  agreeSteps: number;
  /** When the shared snapshot of θ is taken: after the local steps (post-learn, default) or after the consensus step (post-agree). [ours] */
  snapshot: "post-learn" | "post-agree";
  /** Ignore a neighbour's snapshot older than this many virtual seconds (by send time). Default 5. [ours] */
  maxStaleness: number;
  /** Network failure model (src/sim/network.ts). [ours] */
  drop: number;
  linkMtbf: number;
  linkMttr: number;
  latency: number;
  bandwidth: number;
  jitter: number;
  stragglers: number;
  stragglerFactor: number;
  stepJitter: number;
  crashRate: number;
  crashDowntime: number;
  /** Virtual seconds one minibatch step takes on a normal node; undefined = FLOPs / nodeGflops. */
  stepCost?: number;
  /** Modelled compute speed of a normal node, GFLOP/s, for the default step cost. */
  nodeGflops: number;
  /** Per-node budget: each node processes epochs × (train size / nodes) samples. */
  epochs: number;
  /** Stop at this virtual time even if budgets remain (Infinity = budgets only). */
  timeLimit: number;
  /** Virtual seconds between evaluation points; undefined = about 12 points over the run. */
  evalEvery?: number;
  /** Size of the fixed test subset used at evaluation points (the final evaluation uses all). */
  evalSamples: number;
  /** Minibatch size and SGD settings of every node. */
  batch: number;
  lr: number;
  /** Learning-rate schedule over each node's budget: constant, or linear decay to 0. [ours] */
  lrSchedule: "constant" | "linear";
  /** Fraction of each node's budget over which the rate ramps up linearly from 0 (large-batch warmup). Default 0. [ours] */
  warmup: number;
  momentum: number;
  weightDecay: number;
  /** Seed of every random choice. */
  seed: number;
  /** Output directory; undefined = runs/<timestamp>. */
  out?: string;
  engine: Flavor;
  /** Train / test subset sizes (undefined = all), for quick runs. */
  trainLimit?: number;
  testLimit?: number;
  /** Seeded random-crop + flip augmentation of every node's batches (meant for CIFAR-10). */
  augment: boolean;
}

export const RUN_FLAGS: FlagTable = {
  config: { type: "string", help: "JSON file with any of these settings (flags override it)" },
  dataset: { type: "string", default: "mnist-10k", allowed: DATASET_NAMES, help: "dataset" },
  "data-dir": { type: "string", help: "directory holding the dataset files" },
  model: { type: "string", default: "lenet", allowed: PRESET_NAMES, help: "model preset" },
  nodes: { type: "int", default: 8, min: 1, max: 100000, help: "number of nodes" },
  topology: { type: "string", default: "ring", help: "complete | ring | line | star | torus | erdos-renyi:p | small-world:k,beta | random-regular:d | file:PATH" },
  split: { type: "string", default: "iid", help: "iid | classes:k | dirichlet:alpha[,min] | shards:s" },
  algorithm: { type: "string", default: "cdl", allowed: ALGORITHMS, help: "algorithm or baseline" },
  weights: { type: "string", default: "laplacian", allowed: WEIGHT_RULES, help: "consensus weight rule" },
  epsilon: { type: "number", help: "laplacian step size ε (default 1/(Δ+1); must satisfy 0 < ε ≤ 1/Δ)" },
  "local-steps": { type: "int", default: 1, min: 1, help: "K: local SGD steps between consensus steps" },
  "share-every": { type: "int", default: 1, min: 1, help: "send θ to neighbours every S local steps" },
  "agree-steps": { type: "int", default: 0, min: 0, help: "after the learning budget, keep agreeing for this many step times (cdl, on-receive, dpsgd)" },
  snapshot: { type: "string", default: "post-learn", allowed: ["post-learn", "post-agree"], help: "take the shared θ after learning or after the consensus step" },
  "max-staleness": { type: "number", default: 5, min: 0, help: "ignore snapshots older than this (virtual s)" },
  drop: { type: "number", default: 0, min: 0, max: 1, help: "per-message drop probability" },
  "link-mtbf": { type: "number", default: Infinity, min: 0, help: "mean link up time, virtual s (inf = never fails)" },
  "link-mttr": { type: "number", default: 0, min: 0, help: "mean link down time, virtual s" },
  latency: { type: "number", default: 0.01, min: 0, help: "base message latency, s" },
  bandwidth: { type: "number", default: 1e8, min: 0, help: "link bandwidth, bytes/s" },
  jitter: { type: "number", default: 0, min: 0, help: "mean extra message delay, s" },
  stragglers: { type: "number", default: 0, min: 0, max: 1, help: "fraction of slow nodes" },
  "straggler-factor": { type: "number", default: 4, min: 1, help: "step-time multiplier of a slow node" },
  "step-jitter": { type: "number", default: 0, min: 0, max: 0.99, help: "per-step speed noise ±fraction" },
  "crash-rate": { type: "number", default: 0, min: 0, help: "node crashes per virtual second of up time" },
  "crash-downtime": { type: "number", default: 10, min: 0, help: "mean downtime before a crashed node rejoins, s" },
  "step-cost": { type: "number", min: 0, help: "virtual seconds per minibatch step (default from FLOPs)" },
  "node-gflops": { type: "number", default: 20, min: 0.001, help: "modelled node speed for the default step cost" },
  epochs: { type: "number", default: 1, min: 0.001, help: "per-node budget in epochs of its share of the data" },
  "time-limit": { type: "number", default: Infinity, min: 0, help: "stop at this virtual time" },
  "eval-every": { type: "number", min: 0.000001, help: "virtual seconds between evaluations (default ≈ run/12)" },
  "eval-samples": { type: "int", default: 1000, min: 1, help: "test subset size at evaluation points" },
  batch: { type: "int", default: 32, min: 1, max: 4096, help: "minibatch size" },
  lr: { type: "number", default: 0.05, min: 0, help: "SGD learning rate" },
  warmup: { type: "number", default: 0, min: 0, max: 1, help: "fraction of the budget over which the learning rate ramps up from 0" },
  "lr-schedule": { type: "string", default: "constant", allowed: ["constant", "linear"], help: "learning rate over each node's budget: constant, or linear decay to 0" },
  momentum: { type: "number", default: 0, min: 0, max: 0.999, help: "SGD momentum (local state, never sent)" },
  "weight-decay": { type: "number", default: 0, min: 0, help: "L2 weight decay" },
  seed: { type: "int", default: 1, min: 0, max: 2 ** 32 - 1, help: "seed of every random choice" },
  out: { type: "string", help: "output directory (default runs/<timestamp>)" },
  engine: { type: "string", default: "simd", allowed: FLAVORS, help: "kernel build" },
  "train-limit": { type: "int", min: 1, help: "use only the first N training samples" },
  "test-limit": { type: "int", min: 1, help: "final evaluation on the first N test samples" },
  augment: { type: "bool", default: false, help: "random crop + flip of training batches (CIFAR-10)" },
  json: { type: "bool", default: false, help: "print the summary as one JSON line last" },
  quiet: { type: "bool", default: false, help: "no live progress" },
};

const camel = (k: string) => k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
const kebab = (k: string) => k.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());

/** A bench/paper manifest: shared settings and named runs that override them. */
export interface Manifest { title: string; claim?: string; base: Record<string, unknown>; runs: ({ name: string } & Record<string, unknown>)[] }

/** The settings of one manifest run (unvalidated): the base, then the run's own, its name dropped. */
export function manifestRunSettings(m: Pick<Manifest, "base">, run: Manifest["runs"][number]): Record<string, unknown> {
  const { name: _name, ...over } = run;
  return { ...m.base, ...over };
}

/** Reads --config FILE (JSON, keys in kebab-case or camelCase), validating every value like a flag. */
export function readConfigFile(path: string): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new ConfigError(`--config ${path}: ${(e as Error).message.split("\n")[0]}`);
  }
  // A bench/paper manifest ({ title, base, runs }) of one run is that run's settings.
  const m = raw as { base?: unknown; runs?: unknown };
  if (m && typeof m === "object" && "base" in m && Array.isArray(m.runs)) {
    if (m.runs.length !== 1) {
      throw new ConfigError(`--config ${path}: a paper manifest of ${m.runs.length} runs; run it with \`npm run paper -- NAME\`, or pass a file of one run's settings`);
    }
    raw = manifestRunSettings(m as Manifest, (m as Manifest).runs[0]);
  }
  return validateSettings(raw, `--config ${path}`);
}

/** Validates a settings object (kebab-case or camelCase keys) like flags; returns kebab-case keys. */
export function validateSettings(raw: unknown, where: string): Record<string, unknown> {
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) throw new ConfigError(`${where}: expected a JSON object of settings`);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    const name = kebab(k);
    const spec = RUN_FLAGS[name];
    if (!spec || name === "config" || name === "json" || name === "quiet") {
      throw new ConfigError(`${where}: unknown setting "${k}" (allowed: ${Object.keys(RUN_FLAGS).filter((f) => f !== "config").join(", ")})`);
    }
    out[name] = coerce(where, name, spec, v === null ? Infinity : v);
  }
  return out;
}

/** Builds a RunConfig from command-line flags (and the --config file they may name). */
export function runConfigFromArgs(argv: readonly string[]): { config: RunConfig; json: boolean; quiet: boolean } {
  const first = parseFlags("cdl run", argv, RUN_FLAGS);
  const base = first.flags.config ? readConfigFile(first.flags.config as string) : {};
  const { flags, positional } = parseFlags("cdl run", argv, RUN_FLAGS, base);
  if (positional.length) throw new UsageError(`cdl run: unexpected argument '${positional[0]}' (flags start with --)`);
  return { config: toRunConfig(flags), json: flags.json as boolean, quiet: flags.quiet as boolean };
}

/** A complete RunConfig from validated settings (kebab-case keys, see validateSettings) over the defaults. */
export function runConfigFromSettings(settings: Record<string, unknown>): RunConfig {
  const flags: Record<string, unknown> = {};
  for (const [k, s] of Object.entries(RUN_FLAGS)) if (s.default !== undefined) flags[k] = s.default;
  return toRunConfig({ ...flags, ...settings });
}

/** A complete RunConfig from a partial one (defaults from RUN_FLAGS), for programmatic use. */
export function runConfig(partial: Partial<RunConfig> = {}): RunConfig {
  const flags: Record<string, unknown> = {};
  for (const [k, s] of Object.entries(RUN_FLAGS)) if (s.default !== undefined) flags[k] = s.default;
  for (const [k, v] of Object.entries(partial)) if (v !== undefined) flags[kebab(k)] = v;
  return toRunConfig(flags);
}

function toRunConfig(f: Record<string, unknown>): RunConfig {
  const c: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(f)) if (k !== "config" && k !== "json" && k !== "quiet") c[camel(k)] = v;
  return c as unknown as RunConfig;
}
