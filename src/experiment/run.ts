// A whole consensus run: build the world, run the algorithm, evaluate every node on the full
// test set, and write metrics.jsonl, the class histogram, the charts, report.html and, last,
// summary.json to --out. The output directory is checked before any work; every file is written
// atomically, so a run that fails or is interrupted never leaves a summary that looks complete.
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Dataset } from "../data/dataset.ts";
import { formatHistogram } from "../data/partition.ts";
import { ConfigError } from "../errors.ts";
import { prepareDir, writeAtomic } from "../io/dirs.ts";
import type { EvalResult } from "../nn/net.ts";
import { learnDeadline } from "../node/program.ts";
import { htmlReport, lineChart, PALETTE, type Series } from "../report/svg.ts";
import { runtimeInfo } from "../runtime.ts";
import { runAlgorithm, type Hooks, type SimState } from "./algorithms.ts";
import { applyCheckpoint, CHECKPOINT_FILE, readCheckpoint, writeCheckpoint } from "./checkpoint.ts";
import type { RunConfig } from "./config.ts";
import { avg, Recorder, type EvalRecord } from "./recorder.ts";
import { buildWorld, consensusDistances, messageTotals, type World } from "./world.ts";

export interface RunSummary {
  config: RunConfig;
  seed: number;
  /** true: stopped by an interrupt before its end; `accuracy` and `loss` are then those of the last
   * evaluation point (on the evaluation subset), and a checkpoint continues it (`cdl run --resume`). */
  interrupted: boolean;
  /** Runtime, CPU and versions; engine = the kernel flavor asked for, build = the .wasm that ran it (null: TS reference). */
  versions: ReturnType<typeof runtimeInfo> & { engine: string; build: string | null };
  dataset: { name: string; source: string; train: number; test: number; testEvaluated: number };
  topology: { name: string; nodes: number; edges: number; maxDegree: number; lambda2: number; epsilon: number; weights: string };
  /** Per-node class histogram [node][class] of the training split. */
  histogram: number[][];
  /** Final evaluation of every node on the full test set (or --test-limit). */
  accuracy: { mean: number; min: number; max: number; perNode: number[] };
  loss: { mean: number; perNode: number[] };
  /** Accuracy of the mean model θ̄ on the same test set. */
  meanModelAccuracy: number;
  consensusDistance: { mean: number; max: number };
  /** sent = delivered + dropped + inFlight (messages still travelling when the run ended). Of the
   * delivered, outOfOrder were older than what the receiver held and rejected carried NaN/Inf;
   * tooOld counts inbox entries each consensus step left out as older than --max-staleness. */
  messages: {
    sent: number; delivered: number; dropped: number; droppedBy: Record<string, number>; inFlight: number;
    bytesSent: number; bytesDelivered: number; outOfOrder: number; rejected: number; tooOld: number;
    /** Difference messages (--compress topk/diff-int8) that could not be applied: one before them was lost. */
    gaps: number;
  };
  steps: { perNode: number[]; budget: number; consensusSteps: number };
  virtualSeconds: number;
  stepCostSeconds: number;
  wallSeconds: number;
  /** Wall time in local training steps (forward, backward, update), summed over the worker threads,
   * and the samples they processed per second of it (null: no step was trained). */
  trainSeconds: number;
  evalSeconds: number;
  samplesPerSecond: number | null;
  /** Share of the run's wall time (evaluation excluded) not spent in training steps. */
  simulationOverhead: number;
  /** Threads the nodes ran on (--workers, as the algorithm allows), and the share of their time
   * (threads × the run's wall time, evaluation excluded) spent in training steps. */
  workers: number;
  parallelEfficiency: number;
  out: string;
}

export interface RunOptions {
  /** Live progress: called at each evaluation point. */
  onEval?: (e: EvalRecord, w: World) => void;
  onStart?: (w: World) => void;
  /** Called before the final evaluation of every node on the test set (it can take a while). */
  onFinalEval?: (w: World, testCount: number) => void;
  /** The dataset, already loaded (saves reloading it across runs). */
  dataset?: Dataset;
  /** One line per simulated event (see Hooks.trace). */
  trace?: (line: string) => void;
  /** false: a fresh array per snapshot instead of recycled ones (see Hooks.recycleSnapshots). */
  recycleSnapshots?: boolean;
  /** Asked between events: true interrupts the run (it writes its checkpoint and an interrupted summary). */
  shouldStop?: () => boolean;
  /** Continue the interrupted run in this directory (its config comes from the checkpoint). */
  resume?: string;
  /** Write into --out even if it holds a run already (the paper runner re-runs its grid in place). */
  overwrite?: boolean;
  /** Threads to run the nodes on (--workers; results do not depend on it); "auto" as in
   * asyncThreads. Default 1. */
  workers?: number | "auto";
}

export function defaultOut(): string {
  return join("runs", new Date().toISOString().replace(/[:.]/g, "-").replace(/Z$/, ""));
}

/** The files a finished run leaves; summary.json is written last, so its presence means complete. */
const RUN_FILES = ["summary.json", "metrics.jsonl", CHECKPOINT_FILE];

/** Checks (and creates) the output directory before any work; refuses to overwrite another run. */
function prepareOut(out: string, opts: RunOptions): string {
  prepareDir(out, opts.resume ? "--resume" : "--out");
  if (!opts.resume && !opts.overwrite) {
    const held = RUN_FILES.filter((f) => existsSync(join(out, f)));
    if (held.length) {
      throw new ConfigError(`--out ${out} already holds a run (${held.join(", ")}); choose another directory or remove it` +
        (held.includes(CHECKPOINT_FILE) ? `, or continue it with --resume ${out}` : ""));
    }
  }
  return out;
}

export async function runExperiment(cfg: RunConfig, opts: RunOptions = {}): Promise<RunSummary> {
  const wall0 = performance.now();
  const ck = opts.resume ? readCheckpoint(opts.resume) : null;
  if (ck) cfg = { ...ck.config, out: opts.resume };
  const out = prepareOut(cfg.out ?? defaultOut(), opts);
  const w = await buildWorld(cfg, opts.dataset);
  const evalEvery = evalInterval(w);
  opts.onStart?.(w);
  const recorder = new Recorder(w);
  const hooks: Hooks = {
    recorder, evalEvery, trainMs: 0, trace: opts.trace, recycleSnapshots: opts.recycleSnapshots,
    onEval: () => opts.onEval?.(recorder.evals[recorder.evals.length - 1], w),
    shouldStop: opts.shouldStop, checkpointEvery: cfg.checkpointEvery, workers: opts.workers,
  };
  let wallBefore = 0;
  if (ck) {
    const r = applyCheckpoint(ck, w, recorder);
    hooks.resume = r.sim;
    hooks.trainMs = r.trainMs;
    wallBefore = r.wallMs;
  }
  const wallSoFar = () => wallBefore + performance.now() - wall0;
  hooks.onCheckpoint = (sim) => writeCheckpoint(out, w, sim, recorder, lastTime(sim), { trainMs: hooks.trainMs, wallMs: wallSoFar() });
  const o = await simulate(w, hooks, opts.onFinalEval);
  if (o.interrupted) writeCheckpoint(out, w, o.state!, recorder, o.end, { trainMs: hooks.trainMs, wallMs: wallSoFar() });
  const summary = summarize(w, hooks, out, o, wallSoFar());
  writeResults(w, recorder, out, summary, o.finals);
  if (!o.interrupted) rmSync(join(out, CHECKPOINT_FILE), { force: true }); // the run is complete: nothing left to resume
  return summary;
}

/** Virtual seconds between evaluation points (--eval-every, else about 12 over the run), once the
 * run is known to be feasible (checkFeasible). */
export function evalInterval(w: World): number {
  const evalEvery = w.cfg.evalEvery ?? nominalDuration(w) / 12;
  checkFeasible(w, evalEvery);
  return evalEvery;
}

/** How a simulated run ended: the virtual time reached, and the final evaluation unless interrupted. */
export interface Outcome { end: number; runMs: number; interrupted: boolean; state: SimState | null; finals: Finals | null; threads: number }

/**
 * The run itself, writing nothing (the CLI's runExperiment and the browser lab both call it): the
 * algorithm to the end of its budget, a last evaluation point at the end, then every node and the
 * mean model θ̄ on the full test set (or --test-limit).
 */
export async function simulate(w: World, hooks: Hooks, onFinalEval?: (w: World, testCount: number) => void): Promise<Outcome> {
  const { recorder } = hooks;
  const testCount = Math.min(w.cfg.testLimit ?? w.ds.test.count, w.ds.test.count);
  let f0 = NaN;
  hooks.finalTestCount = testCount; // on worker threads, they evaluate their nodes before stopping
  hooks.onFinalEval = (n) => { f0 = performance.now(); onFinalEval?.(w, n); };
  const run0 = performance.now();
  const res = await runAlgorithm(w, hooks);
  const finalMs = res.finals ? performance.now() - f0 : 0; // done by worker threads, inside the run
  const runMs = performance.now() - run0 - finalMs;
  if (res.interrupted) return { end: res.end, runMs, interrupted: true, state: res.state, finals: null, threads: res.threads };
  const end = res.end;
  if (!recorder.evals.length || recorder.evals[recorder.evals.length - 1].t < end) hooks.onEval?.(recorder.point(end).t);
  if (!res.finals) hooks.onFinalEval(testCount);
  const e0 = performance.now();
  const nodes = res.finals ?? w.nodes.map((s) => w.net.evaluate(s.params.theta, w.ds, w.ds.test, { limit: testCount }));
  const dist = consensusDistances(w);
  const meanModel = w.net.evaluate(w.mean, w.ds, w.ds.test, { limit: testCount });
  return { end, runMs, interrupted: false, state: null, finals: { nodes, dist, meanModel, testCount, ms: finalMs + performance.now() - e0 }, threads: res.threads };
}

function lastTime(sim: SimState): number {
  return sim.kind === "async" ? sim.queue.clock : sim.t;
}

interface Finals { nodes: EvalResult[]; dist: number[]; meanModel: EvalResult; testCount: number; ms: number }

/** The run's summary.json (without finals, i.e. interrupted, the figures of the last evaluation point). */
export function summarize(w: World, hooks: Hooks, out: string, o: Outcome, wallMs: number): RunSummary {
  const { cfg } = w, recorder = hooks.recorder;
  const last = recorder.evals[recorder.evals.length - 1];
  const lastNodes = recorder.nodeSeries.map((s) => s[s.length - 1]);
  const f = o.finals;
  const acc = f ? f.nodes.map((x) => x.accuracy) : lastNodes.map((x) => x?.testAccuracy ?? NaN);
  const loss = f ? f.nodes.map((x) => x.loss) : lastNodes.map((x) => x?.testLoss ?? NaN);
  const tot = messageTotals(w);
  const dropped = tot.dropped.drop + tot.dropped["link-down"] + tot.dropped.crashed;
  const samples = w.nodes.reduce((a, s) => a + s.steps, 0) * cfg.batch;
  const evalMs = recorder.evalMs + (f?.ms ?? 0);
  const sum = (k: "outOfOrder" | "tooOld" | "rejected" | "gaps") => w.nodes.reduce((a, s) => a + s[k], 0);
  return {
    config: cfg, seed: cfg.seed, interrupted: o.interrupted, versions: { ...runtimeInfo(), engine: cfg.engine, build: w.net.engine.build },
    dataset: { name: w.ds.name, source: w.ds.source, train: w.trainCount, test: w.ds.test.count, testEvaluated: f ? f.testCount : w.evalIndices.length },
    topology: { name: w.topology.name, nodes: w.topology.n, edges: w.topology.edges.length, maxDegree: w.topology.maxDegree, lambda2: w.lambda2, epsilon: w.epsilon, weights: weightsName(cfg) },
    histogram: w.histogram,
    accuracy: { mean: avg(acc), min: Math.min(...acc), max: Math.max(...acc), perNode: acc },
    loss: { mean: avg(loss), perNode: loss },
    meanModelAccuracy: f ? f.meanModel.accuracy : last?.meanModelAccuracy ?? NaN,
    consensusDistance: f ? { mean: avg(f.dist), max: Math.max(...f.dist) } : { mean: last?.meanDistance ?? NaN, max: last?.maxDistance ?? NaN },
    messages: {
      sent: tot.sent, delivered: tot.delivered, dropped, droppedBy: { ...tot.dropped }, inFlight: tot.sent - tot.delivered - dropped,
      bytesSent: tot.bytesSent, bytesDelivered: tot.bytesDelivered, outOfOrder: sum("outOfOrder"), rejected: sum("rejected"), tooOld: sum("tooOld"), gaps: sum("gaps"),
    },
    steps: { perNode: w.nodes.map((s) => s.steps), budget: w.nodes[0].budgetSteps, consensusSteps: w.nodes.reduce((a, s) => a + s.consensusSteps, 0) },
    virtualSeconds: o.end, stepCostSeconds: w.stepCost,
    wallSeconds: wallMs / 1000,
    trainSeconds: hooks.trainMs / 1000, evalSeconds: evalMs / 1000,
    samplesPerSecond: samples > 0 ? samples / (hooks.trainMs / 1000) : null,
    simulationOverhead: Math.max(0, 1 - hooks.trainMs / o.threads / Math.max(1e-9, o.runMs - recorder.evalMs)),
    workers: o.threads, parallelEfficiency: Math.min(1, hooks.trainMs / o.threads / Math.max(1e-9, o.runMs - recorder.evalMs)),
    out,
  };
}

/** metrics.jsonl: one line per evaluation record, in order. */
export const metricsText = (r: Recorder): string => r.lines.join("\n") + "\n";

/** Writes the run's files, summary.json last (atomically). */
function writeResults(w: World, recorder: Recorder, out: string, summary: RunSummary, f: Finals | null): void {
  const { cfg } = w;
  const acc = summary.accuracy.perNode;
  writeAtomic(join(out, "metrics.jsonl"), metricsText(recorder));
  const missing = w.histogram[0].map((_, c) => c).filter((c) => w.histogram.every((row) => row[c] === 0));
  const histText = formatHistogram(w.histogram, w.ds.classNames) +
    (missing.length ? `\nclasses on no node: ${missing.map((c) => w.ds.classNames?.[c] ?? c).join(", ")} (the test set still has them)` : "");
  writeAtomic(join(out, "histogram.txt"), histText + "\n");
  const charts = drawCharts(recorder, w);
  writeAtomic(join(out, "accuracy.svg"), charts.accuracy);
  writeAtomic(join(out, "consensus.svg"), charts.consensus);
  const finalText = f
    ? acc.map((a, i) => `node ${i}: ${(100 * a).toFixed(2)}%`).join("\n") + `\nmean ${(100 * summary.accuracy.mean).toFixed(2)}%  mean model θ̄ ${(100 * summary.meanModelAccuracy).toFixed(2)}%`
    : `interrupted at virtual time ${summary.virtualSeconds.toFixed(2)} s: no final evaluation; continue with cdl run --resume ${out}`;
  writeAtomic(join(out, "report.html"), htmlReport(`${cfg.algorithm} on ${w.ds.name}: ${w.topology.n} nodes, ${w.topology.name}, ${cfg.split}${summary.interrupted ? " (interrupted)" : ""}`, [
    { heading: "Test accuracy over virtual time", svg: charts.accuracy },
    { heading: "Consensus distance ‖θᵢ − θ̄‖", svg: charts.consensus },
    { heading: f ? "Final accuracy on the full test set" : "Interrupted", text: finalText },
    { heading: "Per-node class histogram", text: histText },
    { heading: "Configuration", text: JSON.stringify(cfg, null, 2) },
    { heading: "Where it ran", text: `${summary.versions.runtime} ${summary.versions.runtimeVersion}, ${summary.versions.cpu}; ${summary.workers} thread${summary.workers > 1 ? "s" : ""} computing the nodes, ` +
      `${(100 * summary.parallelEfficiency).toFixed(0)}% of ${summary.workers > 1 ? "their" : "its"} time in training steps; wall ${summary.wallSeconds.toFixed(1)} s` },
  ]));
  writeAtomic(join(out, "summary.json"), JSON.stringify(summary, null, 2) + "\n");
}

/** The consensus weights a run uses, as reports name them. */
function weightsName(cfg: RunConfig): string {
  switch (cfg.algorithm) {
    case "dpsgd": return "metropolis";
    case "fedavg": return "server mean by shard size";
    case "isolated": case "centralized": return "none";
    default: return cfg.weights;
  }
}

/** Most up/down changes of links and nodes, and evaluation points, a run may draw. */
const MAX_TOGGLES = 2e6, MAX_EVAL_POINTS = 1e5;

/**
 * Refuses, before any training, runs that could not end or would do nothing useful: steps that
 * almost never survive the crash rate, link or crash processes with hundreds of millions of
 * changes, more evaluation points than anyone can read, augmentation that changes digits.
 */
function checkFeasible(w: World, evalEvery: number): void {
  const { cfg } = w;
  const slowest = w.stepCost * (cfg.stragglers > 0 ? cfg.stragglerFactor : 1) * (1 + cfg.stepJitter);
  const survive = Math.exp(-cfg.crashRate * slowest);
  if (cfg.crashRate > 0 && survive < 0.01) {
    throw new ConfigError(`--crash-rate ${cfg.crashRate}: a step of ${slowest.toPrecision(3)} virtual s survives it with probability ${survive.toExponential(1)}, so the nodes would almost never complete a step; lower --crash-rate or --step-cost`);
  }
  const d = Math.min(nominalDuration(w), cfg.timeLimit);
  const linkChanges = Number.isFinite(cfg.linkMtbf) ? (w.topology.edges.length * d) / (cfg.linkMtbf + cfg.linkMttr) : 0;
  if (linkChanges > MAX_TOGGLES) {
    throw new ConfigError(`--link-mtbf ${cfg.linkMtbf} / --link-mttr ${cfg.linkMttr} over a ${d.toPrecision(3)} s run would draw about ${linkChanges.toExponential(1)} link failures and recoveries (at most ${MAX_TOGGLES.toExponential(0)}): use longer mean up and down times`);
  }
  const crashChanges = cfg.crashRate * d * w.nodes.length;
  if (crashChanges > MAX_TOGGLES) {
    throw new ConfigError(`--crash-rate ${cfg.crashRate} over a ${d.toPrecision(3)} s run would draw about ${crashChanges.toExponential(1)} crashes (at most ${MAX_TOGGLES.toExponential(0)}): lower --crash-rate`);
  }
  if (d / evalEvery > MAX_EVAL_POINTS) {
    throw new ConfigError(`--eval-every ${evalEvery} gives about ${(d / evalEvery).toExponential(1)} evaluation points over the run's ${d.toPrecision(3)} virtual s (at most ${MAX_EVAL_POINTS}): raise --eval-every`);
  }
  if (cfg.augment && (cfg.dataset === "mnist" || cfg.dataset === "mnist-10k")) {
    throw new ConfigError(`--augment flips images left–right and shifts them, which turns digits into other shapes (MNIST then reaches about 50%): it is meant for cifar10; drop --augment`);
  }
}

/** Expected virtual length of the run without failures, to place about 12 evaluation points. */
export function nominalDuration(w: World): number {
  const { cfg } = w;
  const rounds = cfg.algorithm === "dpsgd" || cfg.algorithm === "fedavg";
  // The learning phase only, as under --budget steps, so runs of equal-speed nodes evaluate at the same times.
  if (cfg.budget === "time" && !rounds) return Number.isFinite(learnDeadline(w)) ? learnDeadline(w) : cfg.timeLimit;
  const slow = cfg.stragglers > 0 ? cfg.stragglerFactor : 1;
  const compute = w.nodes[0].budgetSteps * w.stepCost * slow;
  if (!Number.isFinite(compute)) return cfg.timeLimit;
  const n = Math.ceil(w.nodes[0].budgetSteps / w.localSteps);
  const transfer = w.network.transferTime(w.messageBytes) + cfg.jitter;
  if (cfg.algorithm === "dpsgd") return compute + n * transfer;
  if (cfg.algorithm === "fedavg") return compute + 2 * n * transfer;
  return compute;
}

function drawCharts(r: Recorder, w: World): { accuracy: string; consensus: string } {
  const thin = (i: number): Partial<Series> => ({ color: PALETTE[i % PALETTE.length], width: 1, opacity: 0.55 });
  const perNode: Series[] = r.nodeSeries.map((recs, i) => ({ name: `node ${i}`, points: recs.map((x) => [x.t, 100 * x.testAccuracy] as [number, number]), ...thin(i) }));
  const accuracy = lineChart({
    title: `Test accuracy (${w.evalIndices.length} test samples) — ${w.cfg.algorithm}, ${w.topology.n} nodes, ${w.topology.name}, ${w.cfg.split}, drop ${w.cfg.drop}`,
    xLabel: "virtual time (s)", yLabel: "accuracy (%)", yRange: [0, 100],
    series: [...perNode,
      { name: "mean over nodes", points: r.evals.map((e) => [e.t, 100 * e.meanAccuracy]), color: "#000", width: 3, legend: true },
      { name: "mean model θ̄", points: r.evals.map((e) => [e.t, 100 * e.meanModelAccuracy]), color: "#000", width: 1.5, dash: "5 4", legend: true }],
  });
  const consensus = lineChart({
    title: `Consensus distance ‖θᵢ − θ̄‖ — ${w.cfg.algorithm}, ${w.topology.name}`,
    xLabel: "virtual time (s)", yLabel: "distance", logY: true,
    series: [
      { name: "mean over nodes", points: r.evals.map((e) => [e.t, e.meanDistance]), color: "#1f77b4", width: 2.5 },
      { name: "max over nodes", points: r.evals.map((e) => [e.t, e.maxDistance]), color: "#d62728", width: 1.5, dash: "5 4" },
    ],
  });
  return { accuracy, consensus };
}
