// A whole consensus run: build the world, run the algorithm, evaluate every node on the full
// test set, and write metrics.jsonl, summary.json, the class histogram and the charts to --out.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Dataset } from "../data/dataset.ts";
import { formatHistogram } from "../data/partition.ts";
import { htmlReport, lineChart, PALETTE, type Series } from "../report/svg.ts";
import { runtimeInfo } from "../runtime.ts";
import { runAlgorithm, type Hooks } from "./algorithms.ts";
import type { RunConfig } from "./config.ts";
import { avg, Recorder, type EvalRecord } from "./recorder.ts";
import { buildWorld, consensusDistances, messageTotals, type World } from "./world.ts";

export interface RunSummary {
  config: RunConfig;
  seed: number;
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
  messages: { sent: number; delivered: number; dropped: number; droppedBy: Record<string, number>; bytesSent: number; bytesDelivered: number; stale: number; rejected: number };
  steps: { perNode: number[]; budget: number; consensusSteps: number };
  virtualSeconds: number;
  stepCostSeconds: number;
  wallSeconds: number;
  /** Wall time in local training steps (forward, backward, update), and the samples they processed per second. */
  trainSeconds: number;
  evalSeconds: number;
  samplesPerSecond: number;
  /** Share of the run's wall time (evaluation excluded) not spent in training steps. */
  simulationOverhead: number;
  out: string;
}

export interface RunOptions {
  /** Live progress: called at each evaluation point. */
  onEval?: (e: EvalRecord, w: World) => void;
  onStart?: (w: World) => void;
  /** The dataset, already loaded (saves reloading it across runs). */
  dataset?: Dataset;
  /** One line per simulated event (see Hooks.trace). */
  trace?: (line: string) => void;
  /** false: a fresh array per snapshot instead of recycled ones (see Hooks.recycleSnapshots). */
  recycleSnapshots?: boolean;
}

export function defaultOut(): string {
  return join("runs", new Date().toISOString().replace(/[:.]/g, "-").replace(/Z$/, ""));
}

export async function runExperiment(cfg: RunConfig, opts: RunOptions = {}): Promise<RunSummary> {
  const wall0 = performance.now();
  const w = await buildWorld(cfg, opts.dataset);
  opts.onStart?.(w);
  const recorder = new Recorder(w);
  const evalEvery = cfg.evalEvery ?? nominalDuration(w) / 12;
  const hooks: Hooks = { recorder, evalEvery, trainMs: 0, trace: opts.trace, recycleSnapshots: opts.recycleSnapshots, onEval: (t) => opts.onEval?.(recorder.evals[recorder.evals.length - 1], w) };
  const run0 = performance.now();
  const end = runAlgorithm(w, hooks);
  const runMs = performance.now() - run0;
  if (!recorder.evals.length || recorder.evals[recorder.evals.length - 1].t < end) hooks.onEval?.(recorder.point(end).t);

  // Final evaluation of every node on the full test set.
  const f0 = performance.now();
  const testCount = Math.min(cfg.testLimit ?? w.ds.test.count, w.ds.test.count);
  const finals = w.nodes.map((s) => w.net.evaluate(s.params.theta, w.ds, w.ds.test, { limit: testCount }));
  const dist = consensusDistances(w);
  const meanModel = w.net.evaluate(w.mean, w.ds, w.ds.test, { limit: testCount });
  const finalMs = performance.now() - f0;

  const out = cfg.out ?? defaultOut();
  mkdirSync(out, { recursive: true });
  const acc = finals.map((r) => r.accuracy);
  const tot = messageTotals(w);
  const samples = w.nodes.reduce((a, s) => a + s.steps, 0) * cfg.batch;
  const evalMs = recorder.evalMs;
  const info = runtimeInfo();
  const summary: RunSummary = {
    config: cfg, seed: cfg.seed, versions: { ...info, engine: cfg.engine, build: w.net.engine.build },
    dataset: { name: w.ds.name, source: w.ds.source, train: w.trainCount, test: w.ds.test.count, testEvaluated: testCount },
    topology: { name: w.topology.name, nodes: w.topology.n, edges: w.topology.edges.length, maxDegree: w.topology.maxDegree, lambda2: w.lambda2, epsilon: w.epsilon, weights: cfg.algorithm === "dpsgd" ? "metropolis" : cfg.weights },
    histogram: w.histogram,
    accuracy: { mean: avg(acc), min: Math.min(...acc), max: Math.max(...acc), perNode: acc },
    loss: { mean: avg(finals.map((r) => r.loss)), perNode: finals.map((r) => r.loss) },
    meanModelAccuracy: meanModel.accuracy,
    consensusDistance: { mean: avg(dist), max: Math.max(...dist) },
    messages: {
      sent: tot.sent, delivered: tot.delivered, dropped: tot.dropped.drop + tot.dropped["link-down"] + tot.dropped.crashed,
      droppedBy: { ...tot.dropped }, bytesSent: tot.bytesSent, bytesDelivered: tot.bytesDelivered,
      stale: w.nodes.reduce((a, s) => a + s.stale, 0), rejected: w.nodes.reduce((a, s) => a + s.rejected, 0),
    },
    steps: { perNode: w.nodes.map((s) => s.steps), budget: w.nodes[0].budgetSteps, consensusSteps: w.nodes.reduce((a, s) => a + s.consensusSteps, 0) },
    virtualSeconds: end, stepCostSeconds: w.stepCost,
    wallSeconds: (performance.now() - wall0) / 1000,
    trainSeconds: hooks.trainMs / 1000, evalSeconds: (evalMs + finalMs) / 1000,
    samplesPerSecond: samples / (hooks.trainMs / 1000),
    simulationOverhead: Math.max(0, 1 - hooks.trainMs / (runMs - evalMs)),
    out,
  };
  writeFileSync(join(out, "metrics.jsonl"), recorder.lines.join("\n") + "\n");
  writeFileSync(join(out, "summary.json"), JSON.stringify(summary, null, 2) + "\n");
  const histText = formatHistogram(w.histogram, w.ds.classNames);
  writeFileSync(join(out, "histogram.txt"), histText + "\n");
  const charts = drawCharts(recorder, w);
  writeFileSync(join(out, "accuracy.svg"), charts.accuracy);
  writeFileSync(join(out, "consensus.svg"), charts.consensus);
  writeFileSync(join(out, "report.html"), htmlReport(`${cfg.algorithm} on ${w.ds.name}: ${w.topology.n} nodes, ${w.topology.name}, ${cfg.split}`, [
    { heading: "Test accuracy over virtual time", svg: charts.accuracy },
    { heading: "Consensus distance ‖θᵢ − θ̄‖", svg: charts.consensus },
    { heading: "Final accuracy on the full test set", text: acc.map((a, i) => `node ${i}: ${(100 * a).toFixed(2)}%`).join("\n") + `\nmean ${(100 * summary.accuracy.mean).toFixed(2)}%  mean model θ̄ ${(100 * meanModel.accuracy).toFixed(2)}%` },
    { heading: "Per-node class histogram", text: histText },
    { heading: "Configuration", text: JSON.stringify(cfg, null, 2) },
  ]));
  return summary;
}

/** Expected virtual length of the run without failures, to place about 12 evaluation points. */
export function nominalDuration(w: World): number {
  const { cfg } = w;
  const slow = cfg.stragglers > 0 ? cfg.stragglerFactor : 1;
  const compute = w.nodes[0].budgetSteps * w.stepCost * slow;
  const rounds = Math.ceil(w.nodes[0].budgetSteps / cfg.localSteps);
  const transfer = w.network.transferTime(w.messageBytes) + cfg.jitter;
  if (cfg.algorithm === "dpsgd") return compute + rounds * transfer;
  if (cfg.algorithm === "fedavg") return compute + 2 * rounds * transfer;
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
