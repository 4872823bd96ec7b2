// A local cluster: N `cdl node` processes on loopback (Node, Bun and Deno mixed as asked), each one
// node of the same run, started together on a shared clock, optionally killed and restarted from
// their checkpoints (--kill-every), and their outputs merged into one run directory like a
// simulated run's: metrics.jsonl, summary.json, report.html with the same kind of charts.
// No coordinator in the algorithm: this file only starts processes and reads their files.
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, existsSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { parseTopology } from "../consensus/topology.ts";
import { ConfigError } from "../errors.ts";
import { prepareDir, writeAtomic } from "../io/dirs.ts";
import { htmlReport, lineChart, PALETTE, type Series } from "../report/svg.ts";
import { Rng } from "../rng.ts";
import { cores, runtimeInfo } from "../runtime.ts";
import { generateKey, importKey, writeKeyFile } from "../transport/key.ts";
import { Transport } from "../transport/links.ts";
import { modelFingerprint } from "../transport/wire.ts";
import { learn } from "../node/program.ts";
import { runCommandLine, SETTING_KEYS, type RunConfig } from "../experiment/config.ts";
import { avg } from "../experiment/recorder.ts";
import { buildWorld } from "../experiment/world.ts";
import { compressProblem, LIVE_ALGORITHMS, type LiveRecord, type LiveSummary } from "./live.ts";

export const RUNTIMES = ["node", "bun", "deno"] as const;
export type RuntimeName = (typeof RUNTIMES)[number];

export interface ClusterOptions {
  runtimes: RuntimeName[];
  /** Kill a random node process every this many wall seconds and restart it from its checkpoint (0: never). */
  killEvery: number;
  /** Where each node runs its transport (cdl node --transport-thread). */
  transportThread?: "main" | "worker";
  /** Give up (and stop every process) after this many wall seconds. */
  timeout: number;
  /** Seconds between the processes' start and the shared clock's origin (time to load), or "auto":
   * the origin is set READY_LEAD s after every node has loaded (each wrote node-I/ready). */
  startDelay: number | "auto";
  /** Each node's --linger (cdl node's default when absent). */
  linger?: number;
  /** Each node's --pace (cdl node's default, full speed, when absent), or "auto": see autoPace. */
  pace?: number | "auto";
  quiet: boolean;
  log: (line: string) => void;
  /** Asked every 100 ms: true stops the nodes (they checkpoint and write their summaries). */
  shouldStop: () => boolean;
}

export interface ClusterSummary {
  live: true;
  config: RunConfig;
  runtimes: RuntimeName[];
  interrupted: boolean;
  versions: ReturnType<typeof runtimeInfo>;
  topology: { name: string; nodes: number; edges: number };
  accuracy: { mean: number; min: number; max: number; perNode: number[] };
  meanModelAccuracy: number;
  consensusDistance: { mean: number; max: number };
  testEvaluated: number;
  steps: { perNode: number[]; budget: number };
  /** Per node: the transport's counters (sent, delivered and their bytes, received, rejected by reason, reconnects) and injected drops. */
  messages: { perNode: { node: number; runtime: RuntimeName; sent: number; delivered: number; bytes: number; received: number; rejected: Record<string, number>; reconnects: number; injectedDrops: number; replaced: number }[] };
  kills: { t: number; node: number; restartedAt: number | null }[];
  /** Nodes whose final process started fresh (not resumed) and had not loaded by the shared start (LiveSummary.readyAt ≥ 0), and when they were ready. */
  late: { node: number; readyAt: number }[];
  /** Each node's --pace: the least wall seconds of a step (0: full speed). */
  pace: number;
  /** Under --pace auto, what it chose and the measurements it chose from (null: --pace given). */
  paceAuto: AutoPace | null;
  /** The simulator's reading of this run, on the clock its nodes measured (null: nobody learned). */
  twin: Twin | null;
  wallSeconds: number;
  out: string;
}

/**
 * A simulated twin of a live run: the cluster's own settings on the clock its nodes measured —
 * `--step-cost` the median node's wall seconds per learning step (waits for the CPU between steps
 * included: 8 processes on 2 cores step slower than one alone), `--latency` the 5th percentile of the
 * ages of the snapshots the nodes received and `--jitter` (exponential) their mean beyond it, with
 * `--bandwidth inf` (the measured ages include transfer), and `--drop` raised by the share of the
 * snapshots sent while learning that passed the fault injection but never reached the neighbour
 * (a newer one replaced it in the send slot, or it was still in flight when the receiver stopped):
 * `loss`. The simulator's defaults model another
 * network (10 ms latency, 100 MB/s) against a 1 ms mlp step, so that "same flags" run sees snapshots
 * about 14 steps old where loopback delivers them within a step; the twin asks the simulator about
 * the network the cluster actually had. `accuracy` once it has run (cdl cluster --twin).
 */
export interface Twin {
  stepCost: number;
  latency: number;
  jitter: number;
  /** Share of the snapshots offered while learning that did not arrive, beyond the injected drops. */
  loss: number;
  drop: number;
  /** The twin's settings (kebab-case, as in a --config file) and the equivalent command. */
  settings: Record<string, unknown>;
  command: string;
  accuracy?: { mean: number; min: number; max: number };
}

/** The twin of a cluster whose nodes wrote `nodes` (see Twin). */
export function twinOf(cfg: RunConfig, nodes: readonly Pick<LiveSummary, "clock">[]): Twin | null {
  const per = nodes.filter((s) => s.clock.learnSteps >= 2).map((s) => s.clock.learnSeconds / s.clock.learnSteps).sort((a, b) => a - b);
  if (!per.length) return null;
  const stepCost = per[Math.floor(per.length / 2)];
  const ages = nodes.flatMap((s) => s.clock.ages).filter((a) => Number.isFinite(a) && a >= 0).sort((a, b) => a - b);
  const latency = ages.length ? ages[Math.floor(0.05 * ages.length)] : 0;
  const jitter = ages.length ? Math.max(0, avg(ages) - latency) : 0;
  const offered = nodes.reduce((a, s) => a + s.clock.offered, 0), received = nodes.reduce((a, s) => a + s.clock.received, 0);
  const loss = offered > 0 ? Math.min(1, Math.max(0, 1 - received / offered)) : 0;
  const round = (x: number) => Number(x.toPrecision(3));
  const drop = Math.min(0.99, round(1 - (1 - cfg.drop) * (1 - loss)));
  const settings = { ...settingsOf(cfg), "step-cost": round(stepCost), latency: round(latency), jitter: round(jitter), bandwidth: "inf", drop };
  const command = runCommandLine(Object.entries(settings).map(([k, v]): [string, string] => [k, String(v)]));
  return { stepCost: round(stepCost), latency: round(latency), jitter: round(jitter), loss: round(loss), drop, settings, command };
}

/** How many times a node's CPU per step `--pace auto` gives each step on a machine with more nodes
 * than cores: twice, so the cores are at most half busy and a frame finds a core free. */
export const PACE_HEADROOM = 2;

/** What `cdl cluster --pace auto` chose, and from what (ms). */
export interface AutoPace {
  pace: number;
  cores: number;
  /** One learning step of the run's model and batch. */
  learnMs: number;
  /** One θ frame end to end over loopback: encode, HMAC-SHA256, send, receive, verify, decode. */
  frameMs: number;
  /** A node's step: learning and a frame for each neighbour (the most of any node). */
  stepMs: number;
  why: string;
}

/** Process CPU in ms since `from` (every thread: WebCrypto's HMAC may run on a pool). */
const cpuMs = (from: ReturnType<typeof process.cpuUsage>) => { const c = process.cpuUsage(from); return (c.user + c.system) / 1000; };

/**
 * `cdl cluster --pace auto`. With no more nodes than cores: full speed (0). With more, the OS shares
 * the cores among the processes unevenly (8 mlp nodes on 2 cores learned the same 32 steps in 0.52
 * to 1.27 s of one another) and a node's frames wait for a core while its neighbours compute, so the
 * run is neither the network nor the equal-speed nodes its flags describe. Then every node's steps
 * are paced to PACE_HEADROOM × (nodes ÷ cores) × a node's CPU per step, one value for all (a node
 * pacing itself on its own CPU made nodes that happened to receive more frames slower, which then
 * received still more per step: 0.9 to 2.4 s for the same 32 steps). The CPU is measured here
 * before the nodes start: the median wall time of 7 learning steps of the run's model, and the
 * process CPU (every thread) of θ frames sent both ways between two transports on loopback (key, framing and HMAC as
 * the nodes'; f32 frames, an upper bound for --compress f16/int8).
 */
export async function autoPace(cfg: RunConfig, machineCores = cores()): Promise<AutoPace> {
  const n = cfg.nodes;
  if (n <= machineCores) return { pace: 0, cores: machineCores, learnMs: 0, frameMs: 0, stepMs: 0, why: `${n} nodes on ${machineCores} cores: full speed` };
  const w = await buildWorld(cfg, undefined, 0);
  const s = w.nodes[0];
  learn(w, s, 0); // the first step compiles code paths
  // Learning is synchronous on this thread: its wall time (the process CPU clock would also count
  // other threads' work, e.g. the collector's after the dataset's load).
  const learnMs = Array.from({ length: 7 }, (_, k) => { const t0 = performance.now(); learn(w, s, k + 1); return performance.now() - t0; }).sort((a, b) => a - b)[3];
  const key = await importKey(generateKey());
  const P = w.plan.numParams, fingerprint = modelFingerprint(cfg.model, P, w.plan.layers.map((l) => l.spec));
  let got = 0;
  const opts = { key, fingerprint, numParams: P, tensors: w.tensors, onSnapshot: () => { got++; } };
  const a = await Transport.start({ ...opts, id: 0, peers: new Map([[1, null]]) });
  const b = await Transport.start({ ...opts, id: 1, peers: new Map([[0, `127.0.0.1:${a.address().port}`]]) });
  const until = async (ok: () => boolean, what: string) => {
    for (const t0 = Date.now(); !ok();) {
      if (Date.now() - t0 > 5000) throw new ConfigError(`--pace auto: ${what} over loopback within 5 s; give --pace SECONDS instead`);
      await new Promise((r) => setTimeout(r, 1));
    }
  };
  const theta = s.params.theta.view;
  const exchange = async (step: number) => {
    const before = got;
    a.send(1, step, Date.now(), theta);
    b.send(0, step, Date.now(), theta);
    await until(() => got === before + 2, "no frame came back");
  };
  let frameMs: number;
  try {
    await until(() => a.stats().connected.length > 0 && b.stats().connected.length > 0, "the two test transports did not connect");
    for (let k = 1; k <= 2; k++) await exchange(k); // warm-up
    const rounds = 8, c0 = process.cpuUsage();
    for (let k = 3; k < 3 + rounds; k++) await exchange(k);
    frameMs = cpuMs(c0) / (2 * rounds);
  } finally {
    await a.close();
    await b.close();
  }
  const degree = Math.max(...w.topology.adj.map((x) => x.length));
  const stepMs = learnMs + degree * frameMs;
  const pace = Math.ceil(PACE_HEADROOM * (n / machineCores) * stepMs) / 1000;
  return {
    pace, cores: machineCores, learnMs, frameMs, stepMs,
    why: `${n} nodes on ${machineCores} cores; a node's step measured at ${stepMs.toFixed(1)} ms of CPU (learning ${learnMs.toFixed(1)} ms + ${degree} frames of ${frameMs.toFixed(1)} ms), ` +
      `so every step takes at least ${PACE_HEADROOM} × ${+(n / machineCores).toPrecision(3)} × ${stepMs.toFixed(1)} ms = ${(1000 * pace).toFixed(0)} ms (--pace 0: full speed)`,
  };
}

/** Bytes as MiB with one decimal. */
const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

/** Seconds from the last node's ready to the shared clock's origin under --start-delay auto: time for
 * every node to see the start file (they poll every 10 ms) and send its warm-up frame. */
const READY_LEAD = 0.5;

const root = fileURLToPath(new URL(import.meta.url.includes("/dist/") ? "../../../" : "../../", import.meta.url));

/** The command that runs `cdl …` on a runtime: Node the compiled CLI, Bun and Deno the sources. */
export function cdlCommand(rt: RuntimeName, args: readonly string[]): [string, string[]] {
  const bin = (name: string) => join(root, "node_modules", ".bin", name);
  const onNode = !(globalThis as { Bun?: unknown }).Bun && !(globalThis as { Deno?: unknown }).Deno;
  if (rt === "node") return [onNode ? process.execPath : "node", [join(root, "dist/src/cli/main.js"), ...args]];
  if (rt === "bun") return [bin("bun"), [join(root, "src/cli/main.ts"), ...args]];
  return [bin("deno"), ["run", "-A", "--quiet", join(root, "src/cli/main.ts"), ...args]];
}

/** Free TCP ports on 127.0.0.1, asked of the OS one by one (then released for the nodes to take). */
async function freePorts(n: number): Promise<number[]> {
  const ports: number[] = [];
  const servers = [];
  for (let i = 0; i < n; i++) {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    ports.push((srv.address() as { port: number }).port);
    servers.push(srv);
  }
  for (const s of servers) await new Promise((r) => s.close(r));
  return ports;
}

/** The run's settings as a --config file every node reads (so every node has the same run). */
function settingsOf(cfg: RunConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(cfg)) {
    const kebab = k.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
    if (v === undefined || kebab === "out" || !SETTING_KEYS.includes(kebab)) continue;
    out[kebab] = v === Infinity ? "inf" : v;
  }
  return out;
}

export async function runCluster(cfg: RunConfig, o: ClusterOptions): Promise<ClusterSummary> {
  const wall0 = performance.now();
  if (!(LIVE_ALGORITHMS as readonly string[]).includes(cfg.algorithm)) {
    throw new ConfigError(`--algorithm ${cfg.algorithm} runs only in the simulator (cdl run): a cluster runs ${LIVE_ALGORITHMS.join(", ")}`);
  }
  const codec = compressProblem(cfg);
  if (codec) throw new ConfigError(codec);
  const out = prepareDir(cfg.out ?? join("runs", `cluster-${new Date().toISOString().replace(/[:.]/g, "-")}`), "--out");
  if (existsSync(join(out, "summary.json"))) throw new ConfigError(`--out ${out} already holds a run (summary.json); choose another directory or remove it`);
  const n = cfg.nodes;
  const topology = parseTopology(cfg.topology, n, new Rng(cfg.seed).fork(1)); // the same graph every node builds
  const keyFile = join(out, "cluster.key");
  if (!existsSync(keyFile)) writeKeyFile(keyFile, generateKey());
  const configFile = join(out, "config.json");
  writeAtomic(configFile, JSON.stringify(settingsOf(cfg), null, 2) + "\n");
  const paceAuto = o.pace === "auto" ? await autoPace(cfg) : null;
  const pace = paceAuto ? paceAuto.pace : o.pace ?? 0;
  if (paceAuto && !o.quiet) o.log(`--pace auto: ${paceAuto.why}`);
  const ports = await freePorts(n);
  // The shared clock's origin: fixed now, or (auto) written into startFile once every node is ready.
  const startFile = join(out, "start-at");
  let startAt: number | null = o.startDelay === "auto" ? null : Date.now() + o.startDelay * 1000;
  const checkpointEvery = o.killEvery > 0 ? (cfg.checkpointEvery ?? Math.max(0.5, o.killEvery / 4)) : cfg.checkpointEvery;
  // --heal sends past a silent neighbour to any node: every node gets every address.
  const peersOf = (i: number) => (cfg.heal > 0 ? Array.from({ length: n }, (_, j) => j).filter((j) => j !== i) : topology.adj[i]);
  const argsOf = (i: number, resume: boolean): string[] => [
    "node", "--id", String(i), "--listen", `127.0.0.1:${ports[i]}`, "--key", keyFile, ...(startAt === null ? ["--start-file", startFile] : ["--start-at", String(startAt)]),
    "--peers", peersOf(i).map((j) => `${j}=127.0.0.1:${ports[j]}`).join(","),
    ...(resume ? ["--resume", join(out, `node-${i}`)] : ["--config", configFile, "--out", join(out, `node-${i}`),
      ...(checkpointEvery ? ["--checkpoint-every", String(checkpointEvery)] : []), ...(cfg.evalEvery ? [] : ["--eval-every", "1"])]),
    "--transport-thread", o.transportThread ?? "main", ...(o.linger === undefined ? [] : ["--linger", String(o.linger)]), ...(pace ? ["--pace", String(pace)] : []), "--quiet", "--json",
  ];
  const runtimeOf = (i: number) => o.runtimes[i % o.runtimes.length];
  const procs: (ChildProcess | null)[] = new Array(n).fill(null);
  const exits: (number | null | undefined)[] = new Array(n).fill(undefined);
  const start = (i: number, resume: boolean) => {
    const [cmd, argv] = cdlCommand(runtimeOf(i), argsOf(i, resume));
    prepareDir(join(out, `node-${i}`), "--out");
    const logFile = createWriteStream(join(out, `node-${i}`, "log.txt"), { flags: "a" });
    const p = spawn(cmd, argv, { cwd: root, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
    p.stdout!.pipe(logFile, { end: false });
    p.stderr!.pipe(logFile, { end: false });
    exits[i] = undefined;
    p.on("close", (code, sig) => {
      logFile.end(`-- exited ${code ?? sig}\n`);
      if (procs[i] === p) { exits[i] = code ?? -1; procs[i] = null; }
    });
    procs[i] = p;
  };
  o.log(`cdl cluster: ${n} node processes (${[...new Set(topology.adj.map((_, i) => runtimeOf(i)))].join(", ")}) on 127.0.0.1, ${topology.name}, ` +
    `${cfg.algorithm}, ${cfg.model} on ${cfg.dataset}, split ${cfg.split}, drop ${cfg.drop}${o.killEvery ? `, a node killed every ${o.killEvery} s` : ""}${pace ? `, steps of at least ${pace} s` : ""}, ` +
    `transport on ${o.transportThread === "worker" ? "a worker thread" : "the training thread"}; files in ${out}`);
  for (let i = 0; i < n; i++) start(i, false);

  const kills: ClusterSummary["kills"] = [];
  const rng = new Rng(cfg.seed).fork(7);
  // The first kill comes --kill-every s after the origin (t: seconds since the processes started).
  const killsFrom = (tOrigin: number) => (o.killEvery > 0 ? tOrigin + o.killEvery : Infinity);
  let nextKill = o.startDelay === "auto" ? Infinity : killsFrom(o.startDelay), interrupted = false, lastReport = 0;
  const pendingRestart: { i: number; at: number }[] = [];
  const finished = (i: number) => exits[i] === 0 && existsSync(join(out, `node-${i}`, "summary.json"));
  for (;;) {
    await new Promise((r) => setTimeout(r, 100));
    const t = (performance.now() - wall0) / 1000;
    if (startAt === null && procs.every((_, i) => existsSync(join(out, `node-${i}`, "ready")))) {
      startAt = Date.now() + READY_LEAD * 1000;
      writeAtomic(startFile, `${startAt}\n`);
      nextKill = killsFrom(t + READY_LEAD);
      if (!o.quiet) o.log(`t=${t.toFixed(1)}s  every node has loaded; the shared clock starts in ${READY_LEAD} s`);
    }
    if (o.shouldStop() && !interrupted) {
      interrupted = true;
      for (const p of procs) p?.kill("SIGINT");
      pendingRestart.length = 0;
    }
    for (const r of pendingRestart.splice(0).filter((r) => { if (r.at > t) { pendingRestart.push(r); return false; } return true; })) {
      const resume = existsSync(join(out, `node-${r.i}`, "checkpoint.cdl"));
      start(r.i, resume);
      kills.filter((k) => k.node === r.i && k.restartedAt === null).forEach((k) => { k.restartedAt = t; });
      o.log(`t=${t.toFixed(1)}s  node ${r.i} restarted${resume ? " from its checkpoint" : " from the start (no checkpoint yet)"}`);
    }
    const running = procs.map((p, i) => (p ? i : -1)).filter((i) => i >= 0);
    // Kills fall in the learning phase: once a node has finished learning (it wrote node-I/learned,
    // and lingers), the run is ending; a node killed while lingering would resume done and wait
    // --linger s for neighbours that had left.
    const anyFinished = exits.some((_, i) => finished(i) || existsSync(join(out, `node-${i}`, "learned")));
    if (!interrupted && t >= nextKill && running.length > 1 && !anyFinished) {
      const i = running[rng.int(running.length)];
      procs[i]!.kill("SIGKILL");
      procs[i] = null;
      kills.push({ t, node: i, restartedAt: null });
      pendingRestart.push({ i, at: t + o.killEvery / 2 });
      o.log(`t=${t.toFixed(1)}s  killed node ${i} (SIGKILL); restart in ${(o.killEvery / 2).toFixed(1)} s`);
      nextKill = t + o.killEvery;
    }
    const failed = exits.map((c, i) => (c !== undefined && c !== 0 && c !== 130 && c !== 143 && !pendingRestart.some((r) => r.i === i) ? i : -1)).filter((i) => i >= 0);
    if (failed.length) {
      for (const p of procs) p?.kill("SIGKILL");
      const logFile = join(out, `node-${failed[0]}`, "log.txt");
      const last = readFileSync(logFile, "utf8").split("\n").filter((l) => l && !l.startsWith("--") && !l.startsWith("{")).pop() ?? "";
      throw new ConfigError(`node${failed.length > 1 ? "s" : ""} ${failed.join(", ")} failed (exit ${failed.map((i) => exits[i]).join(", ")}): ${last.slice(0, 300)}; see ${logFile}`);
    }
    if (procs.every((p) => p === null) && pendingRestart.length === 0) break;
    if (t > o.timeout) {
      for (const p of procs) p?.kill("SIGKILL");
      throw new ConfigError(`the cluster did not finish within --timeout ${o.timeout} s (nodes still running: ${running.join(", ")}); every process was stopped; see ${out}/node-*/log.txt`);
    }
    if (!o.quiet && t - lastReport >= 5) {
      lastReport = t;
      o.log(`t=${t.toFixed(1)}s  ${running.length} of ${n} nodes running, ${exits.filter((_, i) => finished(i)).length} finished`);
    }
  }
  const merged = await mergeCluster(cfg, out, o.runtimes, kills, interrupted, (performance.now() - wall0) / 1000, paceAuto);
  if (merged.late.length) {
    o.log(`warning: node${merged.late.length > 1 ? "s" : ""} ${merged.late.map((x) => `${x.node} (${x.readyAt.toFixed(1)} s)`).join(", ")} had not loaded by the shared start, so ` +
      `${merged.late.length > 1 ? "they" : "it"} sent no warm-up frame and began late; raise --start-delay (now ${o.startDelay === "auto" ? "auto" : `${o.startDelay} s`})`);
  }
  return merged;
}

/** Reads every node's files and writes the run's: metrics.jsonl, summary.json (last), report.html. */
async function mergeCluster(cfg: RunConfig, out: string, runtimes: RuntimeName[], kills: ClusterSummary["kills"], interrupted: boolean, wallSeconds: number, paceAuto: AutoPace | null): Promise<ClusterSummary> {
  const n = cfg.nodes;
  const nodes: LiveSummary[] = [];
  for (let i = 0; i < n; i++) {
    const f = join(out, `node-${i}`, "summary.json");
    if (!existsSync(f)) throw new ConfigError(`node ${i} left no summary (${f}); see ${join(out, `node-${i}`, "log.txt")}`);
    nodes.push(JSON.parse(readFileSync(f, "utf8")) as LiveSummary);
  }
  const records: LiveRecord[] = [];
  for (let i = 0; i < n; i++) {
    for (const line of readFileSync(join(out, `node-${i}`, "metrics.jsonl"), "utf8").split("\n")) if (line) records.push(JSON.parse(line) as LiveRecord);
  }
  records.sort((a, b) => a.t - b.t || a.node - b.node);
  // The mean model and each node's distance to it, from the final models.
  const w = await buildWorld(cfg, undefined, 0);
  const k = w.net.engine.kernels, P = w.plan.numParams, theta = w.nodes[0].params.theta;
  const load = (i: number) => theta.view.set(new Float32Array(new Uint8Array(readFileSync(join(out, `node-${i}`, "theta.f32"))).buffer));
  w.mean.view.fill(0);
  for (let i = 0; i < n; i++) { load(i); k.axpy_f32(w.mean.ptr, theta.ptr, P, 1 / n); }
  const dist: number[] = [];
  for (let i = 0; i < n; i++) { load(i); dist.push(Math.sqrt(k.sqdist_f32(theta.ptr, w.mean.ptr, P))); }
  const testCount = Math.min(cfg.testLimit ?? w.ds.test.count, w.ds.test.count);
  const meanModel = w.net.evaluate(w.mean, w.ds, w.ds.test, { limit: testCount });
  const acc = nodes.map((s) => s.accuracy);
  const summary: ClusterSummary = {
    live: true, config: cfg, runtimes, interrupted: interrupted || nodes.some((s) => s.interrupted), versions: runtimeInfo(),
    topology: { name: w.topology.name, nodes: n, edges: w.topology.edges.length },
    accuracy: { mean: avg(acc), min: Math.min(...acc), max: Math.max(...acc), perNode: acc },
    meanModelAccuracy: meanModel.accuracy, consensusDistance: { mean: avg(dist), max: Math.max(...dist) },
    testEvaluated: Math.min(...nodes.map((s) => s.testEvaluated)),
    steps: { perNode: nodes.map((s) => s.steps), budget: nodes[0].budget },
    messages: {
      perNode: nodes.map((s, i) => ({
        node: i, runtime: runtimes[i % runtimes.length], sent: s.transport.sent, delivered: s.transport.delivered, bytes: s.transport.bytes ?? 0, received: s.transport.received,
        rejected: s.transport.rejected as Record<string, number>, reconnects: s.transport.reconnects, injectedDrops: s.injected.dropped, replaced: s.transport.replaced,
      })),
    },
    kills, pace: Math.max(0, ...nodes.map((s) => s.pace ?? 0)), paceAuto, late: nodes.flatMap((s) => (s.readyAt !== null && s.readyAt >= 0 ? [{ node: s.node, readyAt: s.readyAt }] : [])), twin: twinOf(cfg, nodes), wallSeconds, out,
  };
  // Evaluation points: every node evaluates at the same clock times; one eval line per time.
  const byTime = new Map<number, LiveRecord[]>();
  for (const r of records) { const key = Math.round(r.t * 10) / 10; byTime.set(key, [...(byTime.get(key) ?? []), r]); }
  const evals = [...byTime].map(([t, rs]) => ({ type: "eval", t, nodes: rs.length, meanAccuracy: avg(rs.map((r) => r.testAccuracy)), minAccuracy: Math.min(...rs.map((r) => r.testAccuracy)), maxAccuracy: Math.max(...rs.map((r) => r.testAccuracy)) }));
  writeAtomic(join(out, "metrics.jsonl"), [...records.map((r) => JSON.stringify(r)), ...evals.map((e) => JSON.stringify(e))].join("\n") + "\n");
  const perNode: Series[] = Array.from({ length: n }, (_, i) => ({
    name: `node ${i}`, points: records.filter((r) => r.node === i).map((r) => [r.t, 100 * r.testAccuracy] as [number, number]),
    color: PALETTE[i % PALETTE.length], width: 1, opacity: 0.6,
  }));
  const chart = lineChart({
    title: `Test accuracy (${w.evalIndices.length} test samples) — live ${cfg.algorithm}, ${n} processes, ${w.topology.name}, ${cfg.split}, drop ${cfg.drop}`,
    xLabel: "wall time on the shared clock (s)", yLabel: "accuracy (%)", yRange: [0, 100],
    series: [...perNode, { name: "mean over nodes", points: evals.map((e) => [e.t, 100 * e.meanAccuracy]), color: "#000", width: 3, legend: true }],
  });
  writeAtomic(join(out, "accuracy.svg"), chart);
  const table = summary.messages.perNode.map((m) => `node ${m.node} (${m.runtime}): sent ${m.sent}, delivered ${m.delivered} (${mib(m.bytes)} MiB, ${cfg.compress}), received ${m.received}, ` +
    `rejected ${Object.entries(m.rejected).map(([r, c]) => `${r} ${c}`).join(" ") || "0"}, reconnects ${m.reconnects}, dropped by --drop/--link-mtbf ${m.injectedDrops}, replaced unsent ${m.replaced}`).join("\n");
  writeAtomic(join(out, "report.html"), htmlReport(`live ${cfg.algorithm} on ${w.ds.name}: ${n} processes, ${w.topology.name}, ${cfg.split}`, [
    { heading: "Test accuracy over time", svg: chart },
    { heading: "Final accuracy on the test set", text: acc.map((a, i) => `node ${i}: ${(100 * a).toFixed(2)}%`).join("\n") + `\nmean ${(100 * summary.accuracy.mean).toFixed(2)}%  mean model θ̄ ${(100 * meanModel.accuracy).toFixed(2)}%  consensus distance ${summary.consensusDistance.mean.toPrecision(3)}` },
    { heading: "Messages per node", text: table },
    { heading: "The simulated twin", text: summary.twin ? `The simulator on the clock the nodes measured (step ${(1000 * summary.twin.stepCost).toFixed(2)} ms, snapshot age ${(1000 * summary.twin.latency).toFixed(2)} ms + ${(1000 * summary.twin.jitter).toFixed(2)} ms on average, ${(100 * summary.twin.loss).toFixed(1)}% of the snapshots lost beyond --drop), run by cdl cluster --twin:\n${summary.twin.command}` : "no node learned: no twin" },
    { heading: "Kills and restarts", text: kills.map((k) => `t=${k.t.toFixed(1)}s node ${k.node} killed, restarted ${k.restartedAt === null ? "never" : `at ${k.restartedAt.toFixed(1)}s`}`).join("\n") || "none" },
    { heading: "Configuration", text: JSON.stringify(cfg, null, 2) },
  ]));
  writeAtomic(join(out, "summary.json"), JSON.stringify(summary, null, 2) + "\n");
  return summary;
}
