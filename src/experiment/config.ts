// The configuration of a consensus run: one typed object, every default named and commented.
// `cdl run` builds it from flags and an optional --config JSON file (flags override the file).
import { INIT_SCHEMES, type InitScheme } from "../nn/net.ts";
import { readFileSync } from "node:fs";
import { ConfigError } from "../errors.ts";
import { DATASET_NAMES } from "../data/registry.ts";
import { PRESET_NAMES, type PresetName } from "../nn/spec.ts";
import { WEIGHT_RULES, type WeightRule } from "../consensus/weights.ts";
import { FLAVORS, type Flavor } from "../wasm/loader.ts";
import { jsonValue, parseFlags, UsageError, type FlagTable } from "../cli/args.ts";

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
  localSteps: number | "auto";
  /** Send a snapshot of θ to every neighbour every this many local steps. Default 1. [ours] */
  shareEvery: number;
  /** Step times each node keeps agreeing and sharing after its learning budget, learning nothing. Default 0. [ours] */
  agreeSteps: number;
  /** How θ travels (src/node/compress.ts): f32 (default, exact), f16, int8 with a scale per tensor,
   *  or CHOCO-style differences (topk:f, diff-int8) against a public copy θ̂ with refreshes.
   *  Neighbours mix what they would decode, and messages count the encoded bytes. [ours] */
  compress: string;
  /** When the shared snapshot of θ is taken: after the local steps (post-learn, default) or after the consensus step (post-agree). [ours] */
  snapshot: "post-learn" | "post-agree";
  /** Under --compress f16 or int8, what the consensus step takes θ_j's differences against: `sent`
   *  (default), the copy of θ_i its neighbours received (θ_i + Σ w_ij (θ̂_j − θ̂_i), as CHOCO-SGD's
   *  gossip), or `exact`, θ_i itself (θ_i + Σ w_ij (θ̂_j − θ_i), the former rule). No difference under f32. [ours] */
  mixAgainst: "sent" | "exact";
  /** Ignore a neighbour's snapshot older than this many virtual seconds (by send time). Default 5. [ours] */
  maxStaleness: number;
  /** --heal H: a node that has heard nothing from a neighbour for more than H virtual s sends to
   *  (and mixes from) the nearest node past it instead (program.ts targets); 0 = off (default). [ours] */
  heal: number;
  /** --max-lead S: a node does not start a learning step while it is more than S steps ahead of
   *  the newest snapshot steps heard from its live neighbours (program.ts heldBack); undefined = off. [ours, experimental] */
  maxLead?: number;
  /** How --max-lead measures "heard" and what a held node does: min or mean over the live
   *  neighbours' newest snapshot steps; wait (idle), agree (mix each snapshot that arrives while
   *  held), or defer (a step's consensus step, when the node is then held, waits until its release
   *  and mixes the inbox as it is then). undefined = min-wait. [ours, experimental] */
  leadMode?: "min-wait" | "min-agree" | "min-defer" | "mean-wait" | "mean-agree" | "mean-defer";
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
  /** How a node's budget and learning-rate schedule are counted: on the shared virtual clock
   *  (time, default: every node learns until T = its budget's steps × the step cost of a normal node)
   *  or in each node's own steps (steps, the former rule; fails with stragglers). [ours] */
  budget: "time" | "steps";
  /** Per-node budget: each node processes epochs × (train size / nodes) samples (Infinity = until timeLimit). */
  epochs: number;
  /** Stop at this virtual time even if budgets remain (Infinity = budgets only). With epochs =
   *  Infinity it is the whole budget (see validateRunConfig: one of them must be finite). */
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
  /** --lr-restart F (linear schedule only): the schedule's first cycle ends at fraction F of the
   * budget and a second one, peaking at lrRestartPeak × lr, decays to 0 at its end. Off when
   * absent. [ours: SGDR's warm restart (Loshchilov & Hutter 2017), once] */
  lrRestart?: number;
  /** --lr-restart-peak: the second cycle's peak as a fraction of lr (default 0.5). */
  lrRestartPeak?: number;
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
  /** [ours] weight initialisation; pytorch = torch.nn defaults. */
  init: InitName;
  /** Write a checkpoint every this many virtual seconds (> 0, finite); undefined = only on interrupt. [ours] */
  checkpointEvery?: number;
  /** A run directory to continue; set by the --resume flag only, never by a config file. [ours] */
  resume?: string;
}

/** Evaluation points a run may have within a finite --time-limit, and the smallest --eval-every
 * (virtual s), so an evaluation schedule can never stall a run. */
export const MAX_EVAL_POINTS = 100000;
export const MIN_EVAL_EVERY = 1e-3;

export { INIT_SCHEMES };
export type InitName = InitScheme;

// Numbers are finite unless a flag says `infinite` (and its help says what inf means).
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
  epsilon: { type: "number", above: 0, help: "laplacian step size ε (default 1/(Δ+1); must satisfy 0 < ε ≤ 1/Δ)" },
  "local-steps": { type: "int", default: 1, min: 1, words: ["auto"], help: "K: local SGD steps between consensus steps (fedavg/dpsgd: per round); auto = cdl: about two message times of steps (1 when a step is slower than a message; helps IID data, hurts highly biased data), rounds: 1" },
  "share-every": { type: "int", default: 1, min: 1, help: "send θ to neighbours every S local steps" },
  "agree-steps": { type: "int", default: 0, min: 0, help: "after the learning budget, keep agreeing for this many step times (cdl, on-receive, dpsgd)" },
  compress: { type: "string", default: "f32", help: "θ on the wire: f32 (4 bytes a parameter), f16 (2), int8 (1, a scale per tensor), or differences with error feedback: topk:FRACTION or diff-int8, with ,every=R (a refresh every R messages, default 32) and ,refresh=f16|int8|f32" },
  snapshot: { type: "string", default: "post-learn", allowed: ["post-learn", "post-agree"], help: "take the shared θ after learning or after the consensus step" },
  "mix-against": { type: "string", default: "sent", allowed: ["sent", "exact"], help: "under --compress f16 or int8, mix θ_j's differences against the copy of θ_i the neighbours received (sent: rounding errors leave the network's average alone) or θ_i itself (exact)" },
  "max-staleness": { type: "number", default: 5, min: 0, infinite: true, help: "ignore snapshots older than this (virtual s; inf = never)" },
  heal: { type: "number", default: 0, min: 0, help: "self-healing overlay (cdl, cdl-on-receive; a live node needs every node's address in --peers): a node that has heard nothing from a neighbour for this many virtual s sends to and mixes from the nearest node past it instead, so that crashed nodes do not cut a ring into arcs; 0 = off" },
  "max-lead": { type: "int", min: 0, help: "bounded staleness (cdl, cdl-on-receive; simulator only): a node does not start a learning step while it is more than S steps ahead of what it has heard from its neighbours (those heard within --max-staleness); default off" },
  "lead-mode": { type: "string", allowed: ["min-wait", "min-agree", "min-defer", "mean-wait", "mean-agree", "mean-defer"], help: "with --max-lead: heard = min or mean over the live neighbours' newest snapshot steps; a held node waits, agrees with each snapshot that arrives, or defers its consensus step to its release (default min-wait)" },
  drop: { type: "number", default: 0, min: 0, max: 1, help: "per-message drop probability" },
  "link-mtbf": { type: "number", default: Infinity, above: 0, infinite: true, help: "mean link up time, virtual s (inf = never fails)" },
  "link-mttr": { type: "number", default: 0, min: 0, help: "mean link down time, virtual s" },
  latency: { type: "number", default: 0.01, min: 0, help: "base message latency, s" },
  bandwidth: { type: "number", default: 1e8, above: 0, infinite: true, help: "link bandwidth, bytes/s (inf = no transfer time)" },
  jitter: { type: "number", default: 0, min: 0, help: "mean extra message delay, s" },
  stragglers: { type: "number", default: 0, min: 0, max: 1, help: "fraction of slow nodes" },
  "straggler-factor": { type: "number", default: 4, min: 1, help: "step-time multiplier of a slow node" },
  "step-jitter": { type: "number", default: 0, min: 0, max: 0.99, help: "per-step speed noise ±fraction" },
  "crash-rate": { type: "number", default: 0, min: 0, help: "node crashes per virtual second of up time" },
  "crash-downtime": { type: "number", default: 10, min: 0, help: "mean downtime before a crashed node rejoins, s" },
  "step-cost": { type: "number", above: 0, help: "virtual seconds per minibatch step (default from FLOPs)" },
  "node-gflops": { type: "number", default: 20, min: 0.001, help: "modelled node speed for the default step cost" },
  budget: { type: "string", default: "time", allowed: ["time", "steps"], help: "count budgets and the lr schedule on the shared clock (time) or in each node's own steps (steps; fedavg/dpsgd always count steps)" },
  epochs: { type: "number", default: 1, min: 0.001, infinite: true, help: "per-node budget in epochs of its share of the data (inf only with a finite --time-limit)" },
  "time-limit": { type: "number", default: Infinity, above: 0, infinite: true, help: "stop at this virtual time (inf = when the budgets are spent)" },
  "eval-every": { type: "number", min: MIN_EVAL_EVERY, help: `virtual seconds between evaluations (default ≈ run/12; at most ${MAX_EVAL_POINTS} points within --time-limit)` },
  "eval-samples": { type: "int", default: 1000, min: 1, help: "test subset size at evaluation points" },
  batch: { type: "int", default: 32, min: 1, max: 4096, help: "minibatch size" },
  lr: { type: "number", default: 0.05, min: 0, help: "SGD learning rate" },
  warmup: { type: "number", default: 0, min: 0, max: 1, help: "fraction of the budget over which the learning rate ramps up from 0" },
  "lr-schedule": { type: "string", default: "constant", allowed: ["constant", "linear"], help: "learning rate over each node's budget: constant, or linear decay to 0" },
  "lr-restart": { type: "number", above: 0, max: 0.99, help: "with --lr-schedule linear: end the schedule's first cycle (warm-up, decay to 0) at this fraction of the budget, then decay again from --lr-restart-peak × lr to 0 at its end (an early model good at that point, a better one at the end); default off" },
  "lr-restart-peak": { type: "number", above: 0, max: 1, help: "with --lr-restart: the second cycle's peak learning rate as a fraction of --lr (default 0.5)" },
  momentum: { type: "number", default: 0, min: 0, max: 0.999, help: "SGD momentum (local state, never sent)" },
  "weight-decay": { type: "number", default: 0, min: 0, help: "L2 weight decay" },
  init: { type: "string", default: "pytorch", allowed: INIT_SCHEMES, help: "weight initialisation (pytorch = torch.nn defaults)" },
  seed: { type: "int", default: 1, min: 0, max: 2 ** 32 - 1, help: "seed of every random choice" },
  out: { type: "string", help: "output directory (default runs/<timestamp>)" },
  engine: { type: "string", default: "simd", allowed: FLAVORS, help: "kernel build" },
  "train-limit": { type: "int", min: 1, help: "use only the first N training samples" },
  "test-limit": { type: "int", min: 1, help: "final evaluation on the first N test samples" },
  augment: { type: "bool", default: false, help: "random crop + flip of training batches (CIFAR-10)" },
  "checkpoint-every": { type: "number", above: 0, help: "write a checkpoint every this many virtual seconds (default: only on interrupt)" },
  resume: { type: "string", help: "continue the run in this directory (a flag only, not a config setting)" },
  workers: { type: "int", default: "auto", min: 1, max: 256, words: ["auto"], help: "threads to run the nodes on; auto = this machine's cores, at most one per node, or 1 for runs under about a second of one core's training (cdl, cdl-on-receive, isolated; fedavg, dpsgd and the difference codecs use 1): results are byte-identical for every count" },
  json: { type: "bool", default: false, help: "print the summary as one JSON line last" },
  quiet: { type: "bool", default: false, help: "no live progress" },
};

/** Flags that are not run settings: never in a config file or manifest. */
const FLAG_ONLY: readonly string[] = ["config", "resume", "json", "quiet", "workers"];
/** The keys a config file may hold (kebab-case; camelCase is read too). */
export const SETTING_KEYS: readonly string[] = Object.keys(RUN_FLAGS).filter((k) => !FLAG_ONLY.includes(k));

const camel = (k: string) => k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
const kebab = (k: string) => k.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());

/** A bench/paper manifest: shared settings and named runs that override them. */
export interface Manifest { title: string; claim?: string; base: Record<string, unknown>; runs: ({ name: string } & Record<string, unknown>)[] }

/** The settings of one manifest run (unvalidated): the base, then the run's own, its name dropped. */
export function manifestRunSettings(m: Pick<Manifest, "base">, run: Manifest["runs"][number]): Record<string, unknown> {
  const { name: _name, ...over } = run;
  return { ...m.base, ...over };
}

/** Reads --config FILE (JSON, keys in kebab-case or camelCase, an optional UTF-8 BOM), validating
 * every value like a flag; every problem of the file is one line of the ConfigError. */
export function readConfigFile(path: string): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8").replace(/^\uFEFF/, ""));
  } catch (e) {
    throw new ConfigError(`--config ${path}: ${(e as Error).message.split("\n")[0]}`);
  }
  // A bench/paper manifest ({ title, base, runs }) of one run is that run's settings.
  const m = raw as { base?: unknown; runs?: unknown };
  if (isObject(m) && "base" in m && Array.isArray(m.runs)) {
    if (m.runs.length !== 1) {
      throw new ConfigError(`--config ${path}: a paper manifest of ${m.runs.length} runs; run it with \`npm run paper -- NAME\`, or pass a file of one run's settings`);
    }
    if (!isObject(m.base) || !isObject(m.runs[0])) throw new ConfigError(`--config ${path}: a paper manifest's "base" and its run must be JSON objects of settings`);
    raw = manifestRunSettings(m as Manifest, (m as Manifest).runs[0]);
  }
  return validateSettings(raw, `--config ${path}`);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Validates a settings object (kebab-case or camelCase keys) like flags, with JSON types taken
 * strictly (see jsonValue); returns kebab-case keys. A ConfigError names every problem, one a line. */
export function validateSettings(raw: unknown, where: string): Record<string, unknown> {
  if (!isObject(raw)) throw new ConfigError(`${where}: expected a JSON object of settings, got ${raw === null ? "null" : Array.isArray(raw) ? "an array" : typeof raw}`);
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [k, v] of Object.entries(raw)) {
    const name = kebab(k);
    if (FLAG_ONLY.includes(name)) { problems.push(`"${k}" is a command-line flag (--${name}), not a setting`); continue; }
    if (name in out) { problems.push(`"${k}" is given twice (as ${name} and ${camel(name)})`); continue; }
    const spec = SETTING_KEYS.includes(name) ? RUN_FLAGS[name] : undefined;
    if (!spec) { problems.push(`unknown setting "${k}" (allowed: ${SETTING_KEYS.join(", ")})`); continue; }
    const r = jsonValue(spec, v);
    if ("problem" in r) problems.push(`"${k}" ${r.problem}`);
    else out[name] = r.value;
  }
  if (problems.length) throw new ConfigError(problems.map((p) => `${where}: ${p}`).join("\n"));
  return out;
}

/** Problems of a whole config that no single setting shows (one line each; empty = fine). */
export function runConfigProblems(c: RunConfig): string[] {
  const problems: string[] = [];
  if (!Number.isFinite(c.epochs) && !Number.isFinite(c.timeLimit)) {
    problems.push("a run needs a finite budget: give --epochs N or --time-limit SECONDS");
  }
  if (c.lrRestart !== undefined && c.lrSchedule !== "linear") {
    problems.push(`--lr-restart ${c.lrRestart} restarts the linear schedule: add --lr-schedule linear (now ${c.lrSchedule})`);
  }
  if (c.lrRestartPeak !== undefined && c.lrRestart === undefined) {
    problems.push(`--lr-restart-peak ${c.lrRestartPeak} is the peak of the schedule's second cycle: add --lr-restart F (where the first cycle ends, a fraction of the budget)`);
  }
  if (c.heal > 0 && c.algorithm !== "cdl" && c.algorithm !== "cdl-on-receive") {
    problems.push(`--heal ${c.heal} is the asynchronous algorithms' (cdl, cdl-on-receive): ${c.algorithm} keeps its topology; drop --heal`);
  }
  if (c.heal > 0 && /^(topk|diff-int8)/.test(c.compress ?? "f32")) {
    problems.push(`--heal ${c.heal} changes whom a node sends to, which a difference codec (--compress ${c.compress}) cannot follow: use f32, f16 or int8`);
  }
  if (c.evalEvery !== undefined && Number.isFinite(c.timeLimit) && c.timeLimit / c.evalEvery > MAX_EVAL_POINTS) {
    problems.push(`--eval-every ${c.evalEvery} gives more than ${MAX_EVAL_POINTS} evaluation points within --time-limit ${c.timeLimit}: ` +
      `use --eval-every ≥ ${c.timeLimit / MAX_EVAL_POINTS}`);
  }
  return problems;
}

/** Throws a ConfigError naming every problem of runConfigProblems, one a line. */
export function validateRunConfig(c: RunConfig): RunConfig {
  const problems = runConfigProblems(c);
  if (problems.length) throw new ConfigError(problems.join("\n"));
  return c;
}

/** Builds a RunConfig from command-line flags (and the --config file they may name). */
const shellWord = (s: string) => (/^[\w.:,=+\/-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/**
 * `cdl run` with these settings (kebab-case name → value as a flag takes it), leaving out those at
 * their default: a command a person can paste. A bool is `--name` when true, `--name=false` when false.
 */
export function runCommandLine(settings: Iterable<[string, string]>): string {
  const parts: string[] = [];
  for (const [k, v] of settings) {
    const spec = RUN_FLAGS[k];
    if (spec && spec.default !== undefined && String(spec.default) === v) continue;
    if (spec?.default === Infinity && (v === "inf" || v === "Infinity")) continue;
    parts.push(spec?.type === "bool" ? (v === "true" ? `--${k}` : `--${k}=${v}`) : `--${k} ${shellWord(v)}`);
  }
  return ["cdl run", ...parts].join(" ");
}

/**
 * The run's config from command-line flags over a --config file over `defaults` (settings, kebab-case,
 * that replace RUN_FLAGS' defaults for a command: cdl node's and cdl cluster's live defaults).
 */
export function runConfigFromArgs(argv: readonly string[], defaults: Record<string, unknown> = {}): { config: RunConfig; json: boolean; quiet: boolean; workers: number | "auto" } {
  const first = parseFlags("cdl run", argv, RUN_FLAGS);
  if (first.positional.length) throw new UsageError(`cdl run: unexpected argument '${first.positional[0]}' (flags start with --)`);
  const base = { ...defaults, ...(first.flags.config ? readConfigFile(first.flags.config as string) : {}) };
  const { flags } = parseFlags("cdl run", argv, RUN_FLAGS, base);
  return { config: toRunConfig(flags), json: flags.json as boolean, quiet: flags.quiet as boolean, workers: flags.workers as number | "auto" };
}

/** A complete RunConfig from validated settings (kebab-case keys, see validateSettings) over the defaults. */
export function runConfigFromSettings(settings: Record<string, unknown>): RunConfig {
  const flags: Record<string, unknown> = {};
  for (const [k, s] of Object.entries(RUN_FLAGS)) if (s.default !== undefined) flags[k] = s.default;
  return toRunConfig({ ...flags, ...settings });
}

/** A complete RunConfig from a partial one (defaults from RUN_FLAGS), for programmatic use; every
 * value is checked like a config file's (Infinity as a number where the flag allows inf). */
export function runConfig(partial: Partial<RunConfig> = {}): RunConfig {
  const flags: Record<string, unknown> = {};
  for (const [k, s] of Object.entries(RUN_FLAGS)) if (s.default !== undefined) flags[k] = s.default;
  const problems: string[] = [];
  for (const [k, v] of Object.entries(partial)) {
    if (v === undefined) continue;
    const name = kebab(k), spec = RUN_FLAGS[name];
    const r = spec && name !== "resume" && FLAG_ONLY.includes(name) ? { problem: `is a command-line flag, not a RunConfig setting${name === "workers" ? " (pass RunOptions.workers)" : ""}` }
      : spec ? jsonValue(spec, v) : { problem: "is not a RunConfig setting" };
    if ("problem" in r) problems.push(`runConfig: ${k} ${r.problem}`);
    else flags[name] = r.value;
  }
  if (problems.length) throw new ConfigError(problems.join("\n"));
  return toRunConfig(flags);
}

function toRunConfig(f: Record<string, unknown>): RunConfig {
  const c: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(f)) if (!FLAG_ONLY.includes(k) || k === "resume") c[camel(k)] = v;
  return validateRunConfig(c as unknown as RunConfig);
}
