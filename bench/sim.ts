// Simulation cost (issue 3's targets): how much a consensus run costs beyond the training it does,
// and whether large networks fit in memory.
//   overhead   a 16-node `cdl` run (ring, iid, drop 0.2, link MTBF 20 s / MTTR 5 s) against
//              single-model training (trainCentralized: same model, batch, dataset, lr) in the
//              same process. cdl throughput = all nodes' samples / (wall − evaluation) of the run,
//              i.e. everything but evaluation counts against it: building the world, scheduling,
//              snapshots, mixing, writing the outputs. Three cdl runs alternate with four single-model
//              blocks, so drift on a shared machine hits both sides. Overhead = 1 − cdl / single;
//              target < 10% for lenet; mlp (tiny steps) for information. The cdl runs' non-step
//              share, 1 − train / (wall − eval), is the same split within one time window.
//   workers    the 16-node lenet run (3 epochs) on 1, 2, … worker threads (--workers, up to the cores), rounds
//              alternating the counts: samples / (wall − eval) per count, speedup over one, parallel
//              efficiency = speedup / threads, and whether every count wrote the same metrics.jsonl.
//   memory     child processes (`--child lenet100`, `--child lenet100w2`, `--child mlp1000`) that
//              run a 100-node lenet (one thread, and 2 worker threads) and a 1,000-node mlp on a tiny
//              budget and print their peak RSS (maxRSS, the whole process: its threads included).
// Not a test: nothing here gates on absolute time.
// Usage: npm run build && node dist/bench/sim.js        (--child NAME: a child's job)
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Dataset } from "../src/data/dataset.ts";
import { loadDataset } from "../src/data/registry.ts";
import { runConfig, type RunConfig } from "../src/experiment/config.ts";
import { runExperiment, type RunSummary } from "../src/experiment/run.ts";
import type { PresetName } from "../src/nn/spec.ts";
import { trainCentralized } from "../src/train.ts";

const BATCH = 32;
const LR = 0.05;
/** A child that has not finished in this many seconds counts as not completing. */
export const CHILD_TIMEOUT_S = 900;

/** The unreliable 16-node network of the overhead measurement; the budget is set per model. */
const NETWORK: Partial<RunConfig> = {
  dataset: "mnist-10k", nodes: 16, topology: "ring", split: "iid", algorithm: "cdl",
  drop: 0.2, linkMtbf: 20, linkMttr: 5, batch: BATCH, lr: LR, seed: 1,
  // Two evaluation points (t = 0 and the end) on 100 samples, final evaluation on 200: all excluded anyway.
  evalEvery: 1e9, evalSamples: 100, testLimit: 200,
};

/** Per-model budget of one cdl run: 7,680 = 16 × 480 training samples, so every node's batches
 * are full. Each single-model block trains on the same 7,680 samples for the same epochs. */
const BUDGET: Record<"lenet" | "mlp", { trainLimit: number; epochs: number }> = {
  lenet: { trainLimit: 7680, epochs: 1 },
  mlp: { trainLimit: 7680, epochs: 10 },
};
/** cdl runs per model, alternating with ROUNDS + 1 single-model blocks (S C S C S C S): on a shared
 * machine the speed drifts by ±15% over tens of seconds, and alternating puts both sides in it
 * (with two runs against three blocks, four measurements of the lenet overhead spread over
 * −3.5% … 14.0% while the runs' non-step share stayed at 6.5–7.1%). */
const ROUNDS = 3;

export interface OverheadResult {
  model: string;
  nodes: number;
  samples: number;
  /** Single-model training samples/s (trainCentralized, evaluation excluded), all blocks pooled. */
  singleSamplesPerSecond: number;
  /** Each single-model block's and each cdl run's samples/s, in order, to show the drift. */
  singleBlocks: number[];
  cdlRuns: number[];
  /** All nodes' samples / (wallSeconds − evalSeconds), the cdl runs pooled. */
  cdlSamplesPerSecond: number;
  /** The runs' own figure: samples per second of their training steps alone, pooled. */
  cdlStepSamplesPerSecond: number;
  wallSeconds: number;
  evalSeconds: number;
  trainSeconds: number;
  /** 1 − cdl / single. */
  overhead: number;
  /** 1 − trainSeconds / (wall − eval) of the cdl runs: the share of their wall time outside training
   * steps. Same time window on both sides, so far less noisy than `overhead`. */
  nonStepOverhead: number;
  /** The summaries' simulationOverhead (algorithm loop only, evaluation excluded), mean of the runs. */
  summaryOverhead: number;
  messages: { sent: number; delivered: number; dropped: number };
}

/** A scratch output directory for runExperiment, removed by the caller. */
function scratchOut(): string {
  return mkdtempSync(join(os.tmpdir(), "cdl-bench-sim-"));
}

async function singleModel(ds: Dataset, model: PresetName, trainLimit: number, epochs: number): Promise<{ sps: number; seconds: number; samples: number }> {
  const r = await trainCentralized(ds, {
    model, epochs, batch: BATCH, sgd: { lr: LR, momentum: 0, weightDecay: 0 }, seed: 1, flavor: "simd",
    trainLimit, testLimit: 1, augment: false,
  });
  return { sps: r.samplesPerSecond, seconds: r.trainSeconds, samples: r.samples };
}

/** ROUNDS 16-node cdl runs of `model`, alternating with single-model blocks. */
export async function measureOverhead(ds: Dataset, model: "lenet" | "mlp"): Promise<OverheadResult> {
  const budget = BUDGET[model];
  const out = scratchOut();
  try {
    const cfg = runConfig({ ...NETWORK, model, ...budget, out });
    const samplesPerNode = Math.round((cfg.epochs * budget.trainLimit) / cfg.nodes);
    if (samplesPerNode % BATCH !== 0) throw new Error(`sim bench: ${samplesPerNode} samples per node is not a whole number of batches`);
    await singleModel(ds, model, 4 * BATCH, 1); // warm-up: compile the engine's code paths once
    const singles = [await singleModel(ds, model, budget.trainLimit, budget.epochs)];
    const runs: RunSummary[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      runs.push(await runExperiment({ ...cfg, out: join(out, `r${r}`) }, { dataset: ds })); // a run refuses a directory holding one
      singles.push(await singleModel(ds, model, budget.trainLimit, budget.epochs));
    }
    const sum = (xs: number[]) => xs.reduce((x, y) => x + y, 0);
    const samplesOf = (s: RunSummary) => sum(s.steps.perNode) * BATCH;
    const samples = sum(runs.map(samplesOf));
    const wall = sum(runs.map((s) => s.wallSeconds)), evalS = sum(runs.map((s) => s.evalSeconds)), train = sum(runs.map((s) => s.trainSeconds));
    const single = sum(singles.map((x) => x.samples)) / sum(singles.map((x) => x.seconds));
    const cdl = samples / (wall - evalS);
    return {
      model, nodes: cfg.nodes, samples, singleSamplesPerSecond: single, singleBlocks: singles.map((x) => x.sps),
      cdlRuns: runs.map((s) => samplesOf(s) / (s.wallSeconds - s.evalSeconds)),
      cdlSamplesPerSecond: cdl, cdlStepSamplesPerSecond: samples / train,
      wallSeconds: wall, evalSeconds: evalS, trainSeconds: train,
      overhead: 1 - cdl / single, nonStepOverhead: 1 - train / (wall - evalS),
      summaryOverhead: sum(runs.map((s) => s.simulationOverhead)) / runs.length,
      messages: { sent: sum(runs.map((s) => s.messages.sent)), delivered: sum(runs.map((s) => s.messages.delivered)), dropped: sum(runs.map((s) => s.messages.dropped)) },
    };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Worker threads: the same run on 1, 2, … threads

export interface ScalingResult {
  model: string;
  nodes: number;
  cores: number;
  /** What this machine gives independent work: k single-thread trainings at once (separate
   * processes, `cdl train`), their combined samples/s ÷ one alone's, per k; the ceiling of any speedup here. */
  ceiling: { workers: number; ratio: number; runs: number[] }[];
  /** Per thread count: samples / (wall − eval) of each run, in order, and pooled. */
  rows: { workers: number; runs: number[]; samplesPerSecond: number; speedup: number; efficiency: number }[];
  /** Every run wrote the same metrics.jsonl. */
  identical: boolean;
}

export async function measureScaling(ds: Dataset, model: "lenet" | "mlp", counts: number[]): Promise<ScalingResult> {
  const out = scratchOut();
  try {
    // Three times the overhead runs' budget: a thread's start (its module graph, engine and world,
    // about 0.15 s) is paid once per run, and a run of a few seconds would mostly measure that.
    const cfg = runConfig({ ...NETWORK, model, ...BUDGET[model], epochs: 3 * BUDGET[model].epochs });
    await singleModel(ds, model, 4 * BATCH, 1); // warm-up
    const runs = new Map<number, RunSummary[]>(counts.map((k) => [k, []]));
    const metrics = new Set<string>();
    for (let r = 0; r < ROUNDS; r++) {
      for (const workers of counts) {
        const d = join(out, `w${workers}-r${r}`);
        runs.get(workers)!.push(await runExperiment({ ...cfg, out: d }, { dataset: ds, workers }));
        metrics.add(readFileSync(join(d, "metrics.jsonl"), "utf8"));
      }
    }
    const sum = (xs: number[]) => xs.reduce((x, y) => x + y, 0);
    const sps = (ss: RunSummary[]) => sum(ss.map((s) => sum(s.steps.perNode) * BATCH)) / sum(ss.map((s) => s.wallSeconds - s.evalSeconds));
    const one = sps(runs.get(counts[0])!);
    const rows = counts.map((workers) => {
      const ss = runs.get(workers)!, x = sps(ss);
      return { workers, runs: ss.map((s) => sps([s])), samplesPerSecond: x, speedup: x / one, efficiency: x / one / workers };
    });
    const ceiling = counts.filter((k) => k > 1).map((k) => {
      const runs: number[] = [];
      for (let r = 0; r < ROUNDS; r++) runs.push(sum(concurrentTraining(model, k)) / concurrentTraining(model, 1)[0]);
      return { workers: k, ratio: [...runs].sort((a, b) => a - b)[Math.floor(runs.length / 2)], runs };
    });
    return { model, nodes: cfg.nodes, cores: os.cpus().length, ceiling, rows, identical: metrics.size === 1 };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/** samples/s of each of k `cdl train` processes (same model, batch and data as the runs) started together. */
function concurrentTraining(model: string, k: number): number[] {
  const cli = fileURLToPath(new URL("../src/cli/main.js", import.meta.url));
  const args = [cli, "train", "--model", model, "--epochs", model === "lenet" ? "0.4" : "4", "--batch", String(BATCH), "--lr", String(LR), "--test-limit", "100", "--quiet", "--json"];
  const script = `const { spawn } = require("node:child_process"); let left = ${k}; const out = [];
    for (let i = 0; i < ${k}; i++) { let s = ""; const c = spawn(process.execPath, ${JSON.stringify(args)}); c.stdout.on("data", (d) => s += d);
      c.on("close", () => { out.push(JSON.parse(s.trim().split("\\n").pop()).samplesPerSecond); if (--left === 0) console.log(JSON.stringify(out)); }); }`;
  const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", timeout: 300000 });
  if (r.status !== 0) throw new Error(`sim bench: concurrent cdl train failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim()) as number[];
}

export const SPEEDUP_TARGET = 1.8;

export function formatScaling(s: ScalingResult): string {
  const lines = [`worker threads: ${ROUNDS} rounds of the ${s.nodes}-node ${s.model} run (3 epochs) on ${s.rows.map((r) => r.workers).join(", ")} threads (${s.cores} cores here), alternating; samples / (wall − eval)`];
  for (const c of s.ceiling) {
    lines.push(`  this machine's ceiling: ${c.workers} single-thread ${s.model} trainings at once (separate processes) give ${c.ratio.toFixed(2)}× one alone (${c.runs.map((x) => x.toFixed(2)).join(", ")})`);
  }
  for (const r of s.rows) {
    const cap = s.ceiling.find((c) => c.workers === r.workers);
    lines.push(`  --workers ${r.workers}: ${r.samplesPerSecond.toFixed(0)} samples/s (${r.runs.map((x) => x.toFixed(0)).join(", ")}); speedup ${r.speedup.toFixed(2)}×, efficiency ${(100 * r.efficiency).toFixed(0)}%` +
      (cap ? `, ${(100 * r.speedup / cap.ratio).toFixed(0)}% of the machine's ceiling` : "") +
      (r.workers === 2 ? `: ${r.speedup >= SPEEDUP_TARGET ? "PASS" : "MISSED"} (target ≥ ${SPEEDUP_TARGET}×)` : ""));
  }
  lines.push(`  metrics.jsonl of every run: ${s.identical ? "identical" : "DIFFERENT (a bug: results must not depend on the thread count)"}`);
  return lines.join("\n");
}

// ---------------------------------------------------------------------------------------------
// Memory: large networks in child processes

/** The child runs: a tiny budget (one or two steps per node), tiny evaluation. */
const CHILDREN = {
  /** 100 lenet nodes, 32 samples each; and the same on 2 worker threads. */
  lenet100: { dataset: "mnist-10k", model: "lenet", nodes: 100, trainLimit: 3200 },
  lenet100w2: { dataset: "mnist-10k", model: "lenet", nodes: 100, trainLimit: 3200 },
  /** 1,000 mlp nodes, 32 samples each (full MNIST: mnist-10k has only 8,000 training samples). */
  mlp1000: { dataset: "mnist", model: "mlp", nodes: 1000, trainLimit: 32000 },
} satisfies Record<string, Partial<RunConfig>>;
export type ChildName = keyof typeof CHILDREN;
const CHILD_WORKERS: Partial<Record<ChildName, number>> = { lenet100w2: 2 };

export interface ChildResult {
  name: ChildName;
  nodes: number;
  model: string;
  /** Whether the child exited 0 and printed its result. */
  completed: boolean;
  /** Child's whole-life peak resident set (maxRSS), MB; NaN if it failed before printing. */
  peakRssMB: number;
  /** Child's wall time from start to exit, s (spawn included). */
  wallSeconds: number;
  /** runExperiment's own figures, when completed. */
  runWallSeconds: number;
  trainSeconds: number;
  evalSeconds: number;
  /** RSS right after the world is built and at the end of the run, MB. */
  builtRssMB: number;
  /** First lines of the error when it did not complete. */
  error?: string;
}

/** The child's job: one run of CHILDREN[name]; prints its figures and maxRSS as one JSON line. */
async function child(name: ChildName): Promise<void> {
  const spec = CHILDREN[name];
  const out = scratchOut();
  try {
    const ds = await loadDataset(spec.dataset);
    let builtRssMB = NaN;
    const s = await runExperiment(runConfig({
      ...NETWORK, ...spec, epochs: 1, evalSamples: 50, testLimit: 200, out,
    }), { dataset: ds, workers: CHILD_WORKERS[name], onStart: () => { builtRssMB = process.memoryUsage().rss / 2 ** 20; } });
    // maxRSS is in kilobytes.
    console.log(JSON.stringify({
      peakRssMB: (process.resourceUsage().maxRSS * 1024) / 2 ** 20, builtRssMB,
      runWallSeconds: s.wallSeconds, trainSeconds: s.trainSeconds, evalSeconds: s.evalSeconds,
    }));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

export function measureChild(name: ChildName): ChildResult {
  const spec = CHILDREN[name];
  const t0 = performance.now();
  const c = spawnSync(process.execPath, [fileURLToPath(import.meta.url), "--child", name], { encoding: "utf8", timeout: CHILD_TIMEOUT_S * 1000 });
  const wallSeconds = (performance.now() - t0) / 1000;
  const base = { name, nodes: spec.nodes, model: spec.model, wallSeconds };
  const last = c.stdout?.trim().split("\n").pop() ?? "";
  if (c.status === 0 && last.startsWith("{")) return { ...base, completed: true, ...JSON.parse(last) };
  const why = c.error ? c.error.message : c.signal ? `killed by ${c.signal}` : `exit status ${c.status}`;
  const err = (c.stderr ?? "").trim().split("\n").filter((l) => l.trim()).slice(0, 4).join(" | ");
  return { ...base, completed: false, peakRssMB: NaN, runWallSeconds: NaN, trainSeconds: NaN, evalSeconds: NaN, builtRssMB: NaN, error: `${why}${err ? `: ${err}` : ""}` };
}

// ---------------------------------------------------------------------------------------------

export interface SimResult {
  overhead: OverheadResult[];
  scaling: ScalingResult;
  children: ChildResult[];
}

export async function runSimBench(): Promise<SimResult> {
  const ds = await loadDataset("mnist-10k");
  const overhead = [await measureOverhead(ds, "lenet"), await measureOverhead(ds, "mlp")];
  const counts = Array.from({ length: Math.min(os.cpus().length, 16) }, (_, i) => i + 1);
  const scaling = await measureScaling(ds, "lenet", counts.length > 1 ? counts : [1, 2]);
  return { overhead, scaling, children: [measureChild("lenet100"), measureChild("lenet100w2"), measureChild("mlp1000")] };
}

export const RSS_TARGET_MB = 2048;
export const OVERHEAD_TARGET = 0.1;

export function formatSim(r: SimResult): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const head = ["model", "cdl samples", "single samples/s (blocks)", "cdl samples/s (runs)", "cdl/single", "overhead", "non-step share", "summary overhead", "cdl step-only samples/s", "wall / eval / train s"];
  const list = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(", ");
  const body = r.overhead.map((o) => [o.model, String(o.samples),
    `${o.singleSamplesPerSecond.toFixed(0)} (${list(o.singleBlocks)})`, `${o.cdlSamplesPerSecond.toFixed(0)} (${list(o.cdlRuns)})`,
    (o.cdlSamplesPerSecond / o.singleSamplesPerSecond).toFixed(3), pct(o.overhead), pct(o.nonStepOverhead), pct(o.summaryOverhead),
    o.cdlStepSamplesPerSecond.toFixed(0), `${o.wallSeconds.toFixed(1)} / ${o.evalSeconds.toFixed(1)} / ${o.trainSeconds.toFixed(1)}`]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i ? c.padStart(w[i]) : c.padEnd(w[i]))).join("  ");
  const lenet = r.overhead.find((o) => o.model === "lenet");
  const lines = [
    `simulation overhead: ${ROUNDS} runs of 16-node cdl (ring, iid, drop 0.2, link MTBF 20 s / MTTR 5 s, batch ${BATCH}, mnist-10k) alternating with ${ROUNDS + 1} blocks of single-model training`,
    "overhead = 1 − cdl/single, cdl = samples / (wall − eval); non-step share = 1 − train / (wall − eval) of the cdl runs alone",
    line(head), line(w.map((n) => "-".repeat(n))), ...body.map(line),
    lenet ? `lenet overhead ${pct(lenet.overhead)}: ${lenet.overhead < OVERHEAD_TARGET ? "PASS" : "MISSED"} (target < ${pct(OVERHEAD_TARGET)}; mlp for information)` : "",
    "",
    formatScaling(r.scaling),
    "",
    "large networks, one child process each, 32 samples per node, evaluation on 50 / final 200 test samples:",
  ];
  for (const c of r.children) {
    if (!c.completed) { lines.push(`  ${c.name}: ${c.nodes} ${c.model} nodes FAILED after ${c.wallSeconds.toFixed(1)} s: ${c.error}`); continue; }
    lines.push(`  ${c.name}: ${c.nodes} ${c.model} nodes completed in ${c.wallSeconds.toFixed(1)} s (run ${c.runWallSeconds.toFixed(1)} s, eval ${c.evalSeconds.toFixed(1)} s, train ${c.trainSeconds.toFixed(1)} s);`
      + ` peak RSS ${c.peakRssMB.toFixed(0)} MB (after building the world ${c.builtRssMB.toFixed(0)} MB)`
      + (c.name.startsWith("lenet100") ? `: ${c.peakRssMB < RSS_TARGET_MB ? "PASS" : "MISSED"} (target < ${RSS_TARGET_MB} MB)` : ""));
  }
  return lines.join("\n");
}

const direct = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (direct) {
  if (process.argv[2] === "--child") {
    const name = process.argv[3] as ChildName;
    if (!(name in CHILDREN)) throw new Error(`--child: expected one of ${Object.keys(CHILDREN).join(", ")}, got ${name}`);
    await child(name);
  } else {
    console.log(`runtime ${process.version}, CPU ${os.cpus()[0]?.model ?? "?"}, one thread`);
    console.log(`command: node ${process.argv.slice(1).map((a) => a.split("/").slice(-3).join("/")).join(" ")}\n`);
    const t0 = performance.now();
    console.log(formatSim(await runSimBench()));
    console.log(`\n${((performance.now() - t0) / 1000).toFixed(0)} s.`);
  }
}
