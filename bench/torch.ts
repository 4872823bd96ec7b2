// Our lenet training speed against PyTorch's on this machine, at equal thread counts. The issue's
// goal: ours / PyTorch ≥ 1.0× at every thread count.
//   PyTorch, T threads   one model, torch.set_num_threads(T) (and OMP/BLAS threads = T), our `lenet`
//                        preset's layers (bench/torch-lenet.py), plain SGD lr 0.05, batch 32.
//   ours, 1 thread       one model, Net.trainStep: bench/lenet.ts's ourTrainer (the loop lenet.ts times).
//   ours, T ≥ 2 threads  a 16-node cdl run (bench/sim.ts's network) on T worker threads
//                        (RunOptions.workers), samples/s = all nodes' samples / (wall − evaluation),
//                        as sim.ts counts it. Parallel over nodes, where PyTorch's T threads split
//                        each op. The row says "pending" unless the run's summary reports T threads
//                        (a run can use fewer; then the same run on one thread is shown for information).
// Both single-model sides train on the same pre-built batches of full MNIST (fillBatch's
// normalisation; the bytes go to Python in a temp file) from the same initial θ (state_dict order),
// and their losses on batch 0 before any step must agree to 1e-3 or the benchmark stops.
// The machine is shared and its speed drifts by tens of percent, so ours and PyTorch alternate in
// blocks (ABBA: the order flips every round) and the figures are medians, every block printed with
// the CPU other processes used meanwhile; the pair ratios of the rounds where they left our cores
// alone ("quiet") are printed too: a 2-thread PyTorch block collapses when a neighbour takes a core.
// Below the goal it prints where a step's time goes: ours from bench/profile.js (a child process),
// PyTorch's from torch.autograd.profiler.
// Needs a python with torch: CDL_PYTHON, else /usr/bin/python3 (Debian: apt-get install
// python3-torch), else python3; without one it prints "skipped: …" and exits 0.
// Not a test: nothing here gates on absolute time.
// Usage: npm run build && node dist/bench/torch.js [--threads 1,2] [--rounds 3] [--steps 128] [--profile]
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { loadDataset } from "../src/data/registry.ts";
import type { Dataset } from "../src/data/dataset.ts";
import { runConfig, type RunConfig } from "../src/experiment/config.ts";
import { runExperiment } from "../src/experiment/run.ts";
import { repoRoot, runtimeName } from "../src/runtime.ts";
import { simdBuild } from "../src/wasm/loader.ts";
import { BATCH, LENET_PLAN, LR, makeBatches, ourTrainer, type OurTrainer } from "./lenet.ts";

const USAGE = "usage: node dist/bench/torch.js [--threads 1,2] [--rounds N ≥ 1] [--steps N ≥ 1] [--profile]";
const arg = (name: string, def: string) => { const i = process.argv.indexOf(`--${name}`); return i >= 0 ? process.argv[i + 1] ?? "" : def; };
const threads = arg("threads", "1,2").split(",").map(Number);
const rounds = Number(arg("rounds", "3"));
/** Timed steps per single-model block, after WARMUP untimed ones. */
const steps = Number(arg("steps", "128"));
const forceProfile = process.argv.includes("--profile");
if (!threads.every((t) => Number.isInteger(t) && t >= 1) || !(Number.isInteger(rounds) && rounds >= 1) || !(Number.isInteger(steps) && steps >= 1)) {
  console.error(USAGE);
  process.exit(2);
}
const WARMUP = 10;
/** Pre-built batches (4,096 samples of full MNIST), cycled by both sides. */
const BATCHES = 128;
const SEED = 1;
const GOAL = 1.0;
/** A block is "quiet" when other processes used less than the spare cores (cores − threads) plus this. */
const QUIET = 0.25;

/** bench/sim.ts's unreliable 16-node network; 2 epochs of 480 samples a node (30 steps each). */
const NETWORK = {
  dataset: "mnist", model: "lenet", nodes: 16, topology: "ring", split: "iid", algorithm: "cdl",
  drop: 0.2, linkMtbf: 20, linkMttr: 5, batch: BATCH, lr: LR, seed: SEED,
  evalEvery: 1e9, evalSamples: 100, testLimit: 200, trainLimit: 7680, epochs: 2,
};

// ---------------------------------------------------------------------------------------------
// Python

const SCRIPT = join(repoRoot(), "bench", "torch-lenet.py");

interface TorchInfo { torch: string; python: string; executable: string; mkldnn: boolean; blas: string[] }

/** The first candidate python that imports torch and runs the helper's --probe. */
function findPython(): { python: string; info: TorchInfo } | { tried: string[] } {
  const env = process.env.CDL_PYTHON;
  const candidates = env ? [env] : ["/usr/bin/python3", "python3"];
  const tried: string[] = [];
  for (const py of candidates) {
    const r = spawnSync(py, [SCRIPT, "--probe"], { encoding: "utf8", timeout: 120_000 });
    const last = r.stdout?.trim().split("\n").pop() ?? "";
    if (r.status === 0 && last.startsWith("{")) return { python: py, info: JSON.parse(last) };
    const why = r.error ? r.error.message : (r.stderr ?? "").trim().split("\n").pop() ?? `exit status ${r.status}`;
    tried.push(`${env ? "CDL_PYTHON=" : ""}${py}: ${why}`);
  }
  return { tried };
}

/** One bench/torch-lenet.py process: `threads` intra-op threads, JSON lines in and out. */
class TorchChild {
  private readonly child: ChildProcessWithoutNullStreams;
  /** Lines the child printed that nobody has asked for yet, and the askers still waiting. */
  private readonly lines: string[] = [];
  private readonly waiting: ((line: string | null) => void)[] = [];
  private exited: string | null = null;

  get pid(): number | undefined { return this.child.pid; }

  constructor(python: string, dataFile: string, readonly threads: number) {
    const t = String(threads);
    this.child = spawn(python, [SCRIPT, "--data", dataFile, "--batches", String(BATCHES), "--batch", String(BATCH)], {
      env: { ...process.env, OMP_NUM_THREADS: t, OPENBLAS_NUM_THREADS: t, MKL_NUM_THREADS: t, BLIS_NUM_THREADS: t },
    });
    this.child.stderr.on("data", (d: Buffer) => process.stderr.write(d));
    createInterface({ input: this.child.stdout }).on("line", (line) => {
      const w = this.waiting.shift();
      if (w) w(line); else this.lines.push(line);
    });
    this.child.on("exit", (code, signal) => {
      this.exited = `bench/torch-lenet.py exited (${signal ?? code})`;
      for (const w of this.waiting.splice(0)) w(null);
    });
  }

  /** The next JSON line from the child. */
  async next<T>(): Promise<T> {
    const line = this.lines.length ? this.lines.shift()! : this.exited ? null : await new Promise<string | null>((r) => this.waiting.push(r));
    if (line === null) throw new Error(this.exited ?? "bench/torch-lenet.py: no reply");
    if (!line.startsWith("{")) throw new Error(`bench/torch-lenet.py: unexpected output ${JSON.stringify(line)}`);
    return JSON.parse(line) as T;
  }

  ask<T>(cmd: Record<string, unknown>): Promise<T> {
    this.child.stdin.write(JSON.stringify(cmd) + "\n");
    return this.next<T>();
  }

  /** Ends the child (stdin closed: it returns) and waits for it; kills it if it has not gone in 10 s. */
  async close(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((r) => this.child.once("exit", () => r()));
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill(), 10_000);
    await gone;
    clearTimeout(timer);
  }
}

interface TorchHello { firstLoss: number; params: number }
interface TorchBlock { samplesPerSecond: number; seconds: number; loss: number; threads: number }

// ---------------------------------------------------------------------------------------------
// Ours

/** samples/s of `steps` of our single-model training, after WARMUP untimed steps. */
function ourBlock(tr: OurTrainer, at: { i: number }): number {
  for (let k = 0; k < WARMUP; k++) tr.step(at.i++);
  const t0 = performance.now();
  for (let k = 0; k < steps; k++) tr.step(at.i++);
  return (steps * BATCH) / ((performance.now() - t0) / 1000);
}

/** The 16-node run's settings (the thread count is a run option, RunOptions.workers, not a setting). */
function cdlConfig(_workers: number | undefined, budget: { trainLimit: number; epochs: number } = NETWORK): RunConfig {
  return runConfig({ ...NETWORK, ...budget } as Partial<RunConfig>);
}

interface CdlRun { samplesPerSecond: number; threads: number | undefined; parallelEfficiency: number | undefined }

/**
 * One run: all nodes' samples / (wall − evaluation), as bench/sim.ts counts it, and the threads the
 * run says it used (RunSummary `workers`; undefined where the summary has no such field). Each run
 * writes to a fresh directory under `scratch` (runExperiment refuses to overwrite a run).
 */
async function cdlRun(cfg: RunConfig, ds: Dataset, scratch: string, workers: number | undefined): Promise<CdlRun> {
  const s = await runExperiment({ ...cfg, out: mkdtempSync(join(scratch, "cdl-")) }, { dataset: ds, workers });
  const samples = s.steps.perNode.reduce((x, y) => x + y, 0) * BATCH;
  return { samplesPerSecond: samples / (s.wallSeconds - s.evalSeconds), threads: s.workers, parallelEfficiency: s.parallelEfficiency };
}

// ---------------------------------------------------------------------------------------------
// Other processes' load during a block (Linux)

const HZ = 100; // USER_HZ: the unit of /proc's CPU times on Linux
const jiffies = (file: string, fields: (f: string[]) => string[]) => {
  try { return fields(readFileSync(file, "utf8").split(/\s+/)).reduce((a, f) => a + Number(f), 0); } catch { return NaN; }
};
/** All cores' busy and total time (s), this process's (all threads) and the PyTorch child's CPU time (s). */
function cpuNow(childPid: number | undefined) {
  const busy = jiffies("/proc/stat", (f) => [f[1], f[2], f[3], f[6], f[7], f[8]]) / HZ; // user nice system irq softirq steal
  const total = jiffies("/proc/stat", (f) => f.slice(1, 9)) / HZ;
  const child = childPid === undefined ? 0 : jiffies(`/proc/${childPid}/stat`, (f) => {
    const i = f.findIndex((x) => x.endsWith(")")); // fields after "pid (comm)": utime and stime are the 12th and 13th
    return [f[i + 12], f[i + 13]];
  }) / HZ;
  const u = process.cpuUsage();
  return { busy, total, self: (u.user + u.system) / 1e6, child };
}
/**
 * Cores' worth of CPU that processes other than this one and its PyTorch child used while `fn` ran:
 * ~0 in a quiet moment, ~1 when something else kept a core busy. NaN where /proc is not there.
 */
async function othersDuring<T>(childPid: number | undefined, fn: () => Promise<T> | T): Promise<{ value: T; others: number }> {
  const a = cpuNow(childPid);
  const value = await fn();
  const b = cpuNow(childPid);
  const cores = os.cpus().length;
  const others = (b.busy - a.busy - (b.self - a.self) - (b.child - a.child)) / ((b.total - a.total) / cores);
  return { value, others: Math.max(0, others) };
}

// ---------------------------------------------------------------------------------------------
// Where the time goes

/** bench/profile.js in a child (it is a script): its headline and the kernels grouped. */
function ourProfile(): string[] {
  const ext = import.meta.url.endsWith(".ts") ? "ts" : "js";
  const file = fileURLToPath(new URL(`./profile.${ext}`, import.meta.url));
  const { runtime } = runtimeName();
  const args = [...(runtime === "deno" ? ["run", "-A"] : []), file, "--steps", "40"];
  const r = spawnSync(process.execPath, args, { encoding: "utf8", timeout: 300_000 });
  if (r.status !== 0) return [`ours: bench/profile.${ext} failed (${r.error?.message ?? r.status}): ${(r.stderr ?? "").trim().split("\n").pop()}`];
  const lines = r.stdout.trim().split("\n");
  const groups = new Map<string, number>();
  const kernels: string[] = [];
  for (const l of lines) {
    const m = /^\s*([\d.]+)\s+([\d.]+)%\s+([\d.]*)\s+(\S.*)$/.exec(l);
    if (!m) continue;
    const key = m[4];
    const g = key.startsWith("gemm_") ? "GEMM" : key.startsWith("spmm") ? "sparse products" : /^(im2row|row2im|csr_cols|nonzero)/.test(key) ? "im2row/row2im/CSR" : "rest";
    groups.set(g, (groups.get(g) ?? 0) + Number(m[2]));
    if (kernels.length < 5) kernels.push(`    ${l.trim()}`);
  }
  return [
    `ours (bench/profile.${ext} --steps 40, every kernel call timed): ${lines[0].replace(/^.*?: /, "")}`,
    `  ${[...groups].map(([g, s]) => `${g} ${s.toFixed(0)}%`).join(", ")}; largest (ms/step, share, GFLOP/s, kernel):`,
    ...kernels,
  ];
}

async function torchProfile(t: TorchChild): Promise<string[]> {
  const r = await t.ask<{ ops: [string, number, number][]; msPerStep: number }>({ profile: t.threads, steps: 20 });
  return [
    `PyTorch, ${t.threads} thread${t.threads > 1 ? "s" : ""} (torch.autograd.profiler, 20 steps): ${r.msPerStep.toFixed(1)} ms a step; largest ops by self time (ms/step, share):`,
    ...r.ops.slice(0, 6).map(([name, ms, share]) => `    ${ms.toFixed(2).padStart(6)} ${(100 * share).toFixed(0).padStart(3)}%  ${name}`),
  ];
}

// ---------------------------------------------------------------------------------------------

const found = findPython();
if ("tried" in found) {
  console.log(`skipped: no python with torch found (${found.tried.join("; ")}). On Debian: \`apt-get install python3-torch\` `
    + "(it installs for /usr/bin/python3, not a pyenv python3), or set CDL_PYTHON to a python that imports torch.");
  process.exit(0);
}
const { python, info } = found;
const blasKind = (p: string) => /openblas/i.test(p) ? "OpenBLAS" : /blis/i.test(p) ? "BLIS" : /mkl/i.test(p) ? "MKL" : /\/blas\/libblas/.test(p) ? "netlib reference BLAS" : "BLAS";
const blasByKind = new Map<string, string>();
for (const p of info.blas) if (!blasByKind.has(blasKind(p)) || /libblas/.test(p)) blasByKind.set(blasKind(p), p);
const blas = blasByKind.size ? [...blasByKind].map(([k, p]) => `${k} (${p})`).join(", ") : "none found in the process's maps";

const { runtime, runtimeVersion } = runtimeName();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const fmt = (x: number) => Math.round(x).toLocaleString("en-US");
const list = (xs: number[]) => xs.map(fmt).join(", ");
console.log(`lenet training, ours vs PyTorch, batch ${BATCH}, plain SGD lr ${LR}, full MNIST (${BATCHES} pre-built batches, the same bytes on both sides)`);
const load = () => os.loadavg()[0].toFixed(2);
console.log(`runtime ${runtime} ${runtimeVersion}, CPU ${os.cpus()[0]?.model.trim() ?? "?"}, ${os.cpus().length} logical cores (load average ${load()} at the start); our build ${simdBuild()}`);
console.log(`PyTorch ${info.torch} (${info.executable}, Python ${info.python}), oneDNN ${info.mkldnn ? "yes" : "no"}, BLAS: ${blas}`);
console.log(`command: ${[runtime === "node" ? "node" : runtime, ...process.argv.slice(1).map((a) => a.split("/").slice(-3).join("/"))].join(" ")}`);
console.log(`  (PyTorch side: ${python} bench/torch-lenet.py; ${rounds} round${rounds > 1 ? "s" : ""} per thread count, ours and PyTorch alternating, ABBA; ${steps} steps a single-model block after ${WARMUP} warm-up)`);
if (info.blas.some((p) => blasKind(p) === "netlib reference BLAS")) {
  console.log("  note: PyTorch's dense layers (addmm, mm) run on the unoptimised netlib BLAS (Debian's default libblas3). With an optimised one "
    + "(`apt-get install libopenblas0-pthread`, or LD_LIBRARY_PATH=<dir with an OpenBLAS libblas.so.3>) PyTorch is faster: that is the fairer comparison.");
}

const t0 = performance.now();
const dir = mkdtempSync(join(os.tmpdir(), "cdl-bench-torch-"));
const children: TorchChild[] = [];
try {
  const ds = await loadDataset("mnist");
  const batches = makeBatches(ds, BATCHES, BATCH, SEED);
  const ours = await ourTrainer("simd", LENET_PLAN(), batches, SEED);
  const theta0 = ours.params.theta.view.slice();
  const at = { i: 0 };
  const ourFirst = ours.step(at.i++);
  // x [N, B, 1, 28, 28] f32, y [N, B] i32, θ [P] f32, little-endian as this machine is.
  const bytes = (a: Float32Array | Int32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  const dataFile = join(dir, "lenet-batches.bin");
  writeFileSync(dataFile, Buffer.concat([...batches.nchw.map(bytes), ...batches.labels.map(bytes), bytes(theta0)]));

  interface Row {
    threads: number; ours: number[]; torch: number[]; torchLoss: number;
    /** T ≥ 2 and the runs could not use T threads: why, and the same run on one thread, for information. */
    pending?: string; fallback?: number[];
    /** The cdl runs' own parallel efficiency (RunSummary), where they report it. */
    efficiency: number[];
    /** Cores' worth of CPU other processes used during each block (othersDuring). */
    oursOthers: number[]; torchOthers: number[];
  }
  const rows: Row[] = [];
  const firstLosses: string[] = [];
  for (const T of threads) {
    const torch = new TorchChild(python, dataFile, T);
    children.push(torch);
    const hello = await torch.next<TorchHello>();
    if (hello.params !== theta0.length) throw new Error(`PyTorch lenet has ${hello.params} parameters, ours ${theta0.length}: not the same model`);
    if (!(Math.abs(hello.firstLoss - ourFirst) <= 1e-3 * Math.max(1, Math.abs(ourFirst)))) {
      throw new Error(`loss on batch 0 from the same θ: PyTorch ${hello.firstLoss}, ours ${ourFirst}: not the same model`);
    }
    firstLosses.push(`${hello.firstLoss.toFixed(5)}`);
    const row: Row = { threads: T, ours: [], torch: [], torchLoss: NaN, efficiency: [], oursOthers: [], torchOthers: [] };
    // Ours: one model at T = 1; the 16-node run on T workers otherwise. The warm-up run (world
    // building, the workers' code paths; 32 samples a node) also tells whether T threads ran: if
    // not, the row is pending and the same run on one thread is timed for information.
    let cfg: RunConfig | null = null, workers: number | undefined;
    if (T > 1) {
      workers = T;
      try {
        const warm = await cdlRun(cdlConfig(T, { trainLimit: 512, epochs: 1 }), ds, dir, T);
        if (warm.threads !== T) row.pending = `the run ${warm.threads === undefined ? "does not report its threads (RunSummary has no \`workers\`: \`--workers\` has not landed)" : `ran on ${warm.threads} thread(s), not ${T}`}`;
      } catch (e) {
        row.pending = `the run with ${T} workers failed: ${String(e).split("\n")[0]}`;
      }
      if (row.pending) workers = undefined;
      cfg = cdlConfig(workers);
    }
    const name = `${T} thread${T > 1 ? "s" : ""}`;
    const oursOnce = async () => {
      const { value: sps, others } = await othersDuring(torch.pid, async () => {
        if (!cfg) return ourBlock(ours, at);
        const r = await cdlRun(cfg, ds, dir, workers);
        if (r.parallelEfficiency !== undefined) row.efficiency.push(r.parallelEfficiency);
        return r.samplesPerSecond;
      });
      (row.pending ? (row.fallback ??= []) : row.ours).push(sps);
      row.oursOthers.push(others);
      process.stderr.write(`  ${name}: ours${row.pending ? " (16 nodes on 1 thread: workers pending)" : ""} ${fmt(sps)} samples/s, others ${others.toFixed(2)} cores\n`);
    };
    const torchOnce = async () => {
      const { value: b, others } = await othersDuring(torch.pid, () => torch.ask<TorchBlock>({ threads: T, steps, warmup: WARMUP }));
      if (b.threads !== T) throw new Error(`torch.set_num_threads(${T}) left ${b.threads} threads`);
      row.torch.push(b.samplesPerSecond);
      row.torchOthers.push(others);
      row.torchLoss = b.loss;
      process.stderr.write(`  ${name}: PyTorch ${fmt(b.samplesPerSecond)} samples/s (loss ${b.loss.toFixed(3)}), others ${others.toFixed(2)} cores\n`);
    };
    for (let r = 0; r < rounds; r++) {
      if (r % 2 === 0) { await oursOnce(); await torchOnce(); } else { await torchOnce(); await oursOnce(); }
    }
    rows.push(row);
    if (T !== 1) { await torch.close(); children.splice(children.indexOf(torch), 1); }
  }

  console.log(`loss on batch 0 from the same initial θ: ours ${ourFirst.toFixed(5)}, PyTorch ${firstLosses.join(" / ")} (must agree to 1e-3)`);
  console.log("ours: 1 thread = one model (bench/lenet.ts ourTrainer); 2+ threads = 16-node cdl run (bench/sim.ts's network, mnist, 2 epochs of 480 samples a node) "
    + "on that many workers, samples / (wall − eval): parallel over nodes");
  console.log("PyTorch: one model, torch.set_num_threads(T): parallel within each op\n");
  const head = ["threads", "ours samples/s (blocks)", "PyTorch samples/s (blocks)", "ours/PyTorch", `goal ≥ ${GOAL.toFixed(1)}×`];
  const body = rows.map((r) => {
    const pt = median(r.torch);
    if (r.pending) return [String(r.threads), "pending", `${fmt(pt)} (${list(r.torch)})`, "—", "pending"];
    const ratio = median(r.ours) / pt;
    return [String(r.threads), `${fmt(median(r.ours))} (${list(r.ours)})`, `${fmt(pt)} (${list(r.torch)})`, `${ratio.toFixed(2)}×`, ratio >= GOAL ? "PASS" : "MISSED"];
  });
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i ? c.padStart(w[i]) : c.padEnd(w[i]))).join("  ");
  console.log([line(head), line(w.map((n) => "-".repeat(n))), ...body.map(line)].join("\n"));
  for (const r of rows) {
    if (r.pending) {
      const f = median(r.fallback!);
      console.log(`${r.threads} threads, ours pending: ${r.pending}. For information, the same 16-node run on one thread (workers omitted): `
        + `${fmt(f)} samples/s (${list(r.fallback!)}) = ${(f / median(r.torch)).toFixed(2)}× PyTorch on ${r.threads} threads`);
    } else {
      const eff = r.efficiency.length ? `; the runs' parallel efficiency (RunSummary): ${r.efficiency.map((e) => `${(100 * e).toFixed(0)}%`).join(", ")}` : "";
      console.log(`${r.threads} thread${r.threads > 1 ? "s" : ""}: ours/PyTorch of each round's pair: ${r.ours.map((o, i) => (o / r.torch[i]).toFixed(2)).join(", ")}${eff}`);
    }
    const cores = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(", ");
    console.log(`  other processes' CPU during each block, cores: ours ${cores(r.oursOthers)}; PyTorch ${cores(r.torchOthers)}`);
    const spare = os.cpus().length - r.threads + QUIET, isQuiet = (x: number) => x < spare;
    const quiet = r.pending ? [] : r.ours.flatMap((o, i) => (isQuiet(r.oursOthers[i]) && isQuiet(r.torchOthers[i]) ? [o / r.torch[i]] : []));
    const rule = `others < ${spare.toFixed(2)} cores in both blocks, i.e. cores − threads + ${QUIET}`;
    if (quiet.length) console.log(`  quiet rounds, ${rule}: ours/PyTorch ${quiet.map((q) => q.toFixed(2)).join(", ")} (median ${median(quiet).toFixed(2)}×)`);
    else if (!r.pending) console.log(`  no quiet round (${rule})`);
  }

  const missed = rows.some((r) => !r.pending && median(r.ours) / median(r.torch) < GOAL);
  if (missed || forceProfile) {
    console.log("\nwhere a lenet step's time goes (1 thread):");
    for (const l of ourProfile()) console.log(l);
    const one = children.find((c) => c.threads === 1);
    if (one) for (const l of await torchProfile(one)) console.log(l);
  }
} finally {
  for (const c of children) await c.close();
  rmSync(dir, { recursive: true, force: true });
}
console.log(`\n${((performance.now() - t0) / 1000).toFixed(0)} s; load average ${load()} at the end (other processes share these cores: 2-thread figures suffer most).`);
