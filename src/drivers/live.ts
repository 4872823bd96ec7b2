// The live driver: one node of a run as its own OS process, on the wall clock, talking to its
// neighbours over a real network (src/transport). It runs the same node program as the simulator
// (src/node/program.ts) — the same shard, Rng streams, initial model, schedule, consensus step and
// snapshot rules — and owns only what a driver owns: the clock, the sockets, snapshot memory,
// fault injection and files. Only the asynchronous algorithms run live (cdl, cdl-on-receive,
// isolated); fedavg and dpsgd need a server or a barrier and stay in the simulator.
//
// The clock is shared: every node of a cluster counts seconds from the same origin (--start-at,
// ms since 1970), so snapshot ages (--max-staleness) and --budget time deadlines mean the same on
// every node of one machine (across machines, keep their clocks synchronised, e.g. NTP).
// Budgets: --budget steps counts each node's own steps; --budget time needs the wall time of a
// normal node's step (--step-cost SECONDS) or a --time-limit, since the simulator's modelled step
// cost is not a wall time.
//
// Fault injection uses the simulator's network model on the wall clock, at the sender: a message
// it drops (--drop, a link down under --link-mtbf/--link-mttr) is not sent; one it delivers is sent
// after its modelled latency + size/bandwidth + jitter, on top of the real network's own delay
// (cdl node and cdl cluster default to --latency 0 --bandwidth inf: the real network's delay only).
import { join } from "node:path";
import process from "node:process";
import { ConfigError } from "../errors.ts";
import { prepareDir, writeAtomic } from "../io/dirs.ts";
import { levelBytes, parseCompression } from "../node/compress.ts";
import { agree, agreeDeadline, clockStep, due, fresh, learn, ownCopy, receive, snapshot, targets } from "../node/program.ts";
import { cores, runtimeInfo } from "../runtime.ts";
import { importKey } from "../transport/key.ts";
import { Transport, type TransportStats } from "../transport/links.ts";
import { WorkerTransport } from "../transport/worker.ts";
import { modelFingerprint, toHex, type EncodedTheta } from "../transport/wire.ts";
import type { Dataset } from "../data/dataset.ts";
import { applyCheckpoint, readCheckpoint, writeCheckpoint } from "../experiment/checkpoint.ts";
import type { RunConfig } from "../experiment/config.ts";
import { buildWorld, type Snapshot, type World } from "../experiment/world.ts";

export const LIVE_ALGORITHMS = ["cdl", "cdl-on-receive", "isolated"] as const;

export interface LiveOptions {
  id: number;
  /** Address to listen on. */
  host: string;
  port: number;
  /** Neighbour id → "host:port" (every neighbour of `id` in the topology must have one). */
  peers: ReadonlyMap<number, string>;
  /** The cluster key (32 bytes). */
  key: Uint8Array;
  /** Origin of the shared clock, ms since 1970 (ignored when awaitStart is given to a fresh start). */
  startAt: number;
  /** Once loaded (world built, transport listening), a fresh node writes `ready` into `out` and
   * awaits this for the origin (cdl cluster starts the clock when every node is ready). */
  awaitStart?: () => Promise<number>;
  /** This node's directory: metrics.jsonl, summary.json, theta.f32, checkpoint.cdl. */
  out: string;
  /** Wall seconds between evaluations of this node's model on the evaluation subset. */
  evalEvery: number;
  /** After its last step, wait at most this many seconds for a silent neighbour (see neighboursBusy). */
  linger: number;
  /** --pace: every step takes at least this many wall seconds (the node sleeps the rest, its
   * sockets running meanwhile); 0 or absent: full speed. */
  pace?: number;
  /** Run the transport on a worker thread (WorkerTransport) instead of the training thread. */
  transportWorker?: boolean;
  /** Asked between steps: true stops the node (checkpoint, summary marked interrupted). */
  shouldStop?: () => boolean;
  /** Continue from the checkpoint in `out`. */
  resume?: boolean;
  log?: (line: string) => void;
  /** The dataset, already loaded. */
  dataset?: Dataset;
  /** Called when the node is listening (the address it got). */
  onListening?: (addr: { host: string; port: number }) => void;
}

/** One line of a live node's metrics.jsonl. */
export interface LiveRecord {
  type: "node"; t: number; node: number; steps: number; testAccuracy: number; testLoss: number; trainLoss: number | null;
  sent: number; delivered: number; received: number; rejected: number; outOfOrder: number; tooOld: number;
}

export interface LiveSummary {
  node: number;
  interrupted: boolean;
  config: RunConfig;
  versions: ReturnType<typeof runtimeInfo>;
  accuracy: number;
  loss: number;
  testEvaluated: number;
  steps: number;
  agreeSteps: number;
  budget: number;
  consensusSteps: number;
  /** Wall seconds on the shared clock when the node ended, and seconds it ran (this process). */
  t: number;
  wallSeconds: number;
  samplesPerSecond: number | null;
  /** Fault injection at the sender (simulated drops), and the transport's own counters. */
  injected: { dropped: number; delayed: number };
  /** The clock this node ran on, measured: its learning steps in this process and the wall seconds
   * they spanned (first start to last end, waits between steps included), and the age of every
   * snapshot it received (arrival − send time on the shared clock, injected delay included), at
   * most MAX_AGES of them; and of the snapshots sent while learning (step ≤ the budget), how many
   * this node offered its neighbours past the fault-injection model and how many it received from
   * theirs. A simulated twin of the cluster runs on these (cdl cluster --twin). */
  clock: { learnSteps: number; learnSeconds: number; ages: number[]; offered: number; received: number };
  transport: TransportStats;
  /** Seconds on the shared clock at which this process had loaded and was ready to start (negative:
   * before the origin, as a cluster's --start-delay intends); null for a process resumed from a
   * checkpoint. A node ready after the origin sent no warm-up frame and missed the run's start. */
  readyAt: number | null;
  /** --pace: the least wall seconds of a step (0: full speed). */
  pace: number;
  /** This process's CPU seconds (all threads: learning, framing, HMAC, sockets, the runtime's own)
   * per learning step, from the end of the WARM_STEPS-th step to the last (null: too few steps). */
  cpuPerStep: number | null;
  /** A process restarted from a checkpoint that found a neighbour finished stops learning: the step it stopped at (null: it did not). */
  stoppedEarly: number | null;
  /** --heal: snapshots this node offered to nodes past a silent neighbour, and received from nodes that are not its neighbours. */
  healed: { sent: number; received: number };
}

/** Learning steps a node takes before it measures its CPU per step (they compile code paths and meet every neighbour's first frame). */
const WARM_STEPS = 2;

/** How many times a finished node offers its last snapshot again to a neighbour the fault injection dropped it for. */
const FINAL_REPEATS = 3;

/** Snapshot ages a node keeps for its summary (the first ones; enough for a median). */
const MAX_AGES = 20000;

/** setImmediate where the runtime has it (a macrotask that lets sockets run), else a 0 ms timer. */
const yieldToIo = (): Promise<void> =>
  new Promise((r) => (typeof setImmediate === "function" ? setImmediate(r) : setTimeout(r, 0)));

/**
 * Sleeps until performance.now() reaches `deadline` (ms). Timers may fire a fraction of a
 * millisecond early (Deno rounds the delay), so --pace's floor on a step would not hold with one
 * setTimeout; this sleeps again for what is left.
 */
async function sleepUntil(deadline: number): Promise<void> {
  for (let left = deadline - performance.now(); left > 0; left = deadline - performance.now())
    await new Promise((r) => setTimeout(r, Math.max(1, Math.ceil(left))));
}

/**
 * --transport-thread auto: the transport on a worker thread when this machine has a core for it, i.e.
 * at least two cores per node process it runs (one training, one for sockets, framing and HMAC);
 * otherwise on the training thread, since a worker on an oversubscribed machine only adds work.
 * On this 2-core machine: one node (cdl node) → worker; a cluster of 3 or 8 → main.
 */
export function transportThreadFor(choice: "auto" | "main" | "worker", nodesOnThisMachine: number, machineCores = cores()): "main" | "worker" {
  if (choice !== "auto") return choice;
  return machineCores >= 2 * nodesOnThisMachine ? "worker" : "main";
}

/** Why a live node cannot send θ as --compress says, or null: live frames carry the level codecs only. */
export function compressProblem(cfg: RunConfig): string | null {
  const c = cfg.compress ?? "f32";
  return parseCompression(c).kind === "level" ? null
    : `--compress ${c} runs only in the simulator: a difference codec needs every message of a link in order, and a live link skips to the newest snapshot; live nodes send f32, f16 or int8`;
}

/** Checks a config for a live node; returns the problems (empty: fine). */
export function liveProblems(cfg: RunConfig, o: Pick<LiveOptions, "id" | "peers">, adj: readonly number[]): string[] {
  const p: string[] = [];
  if (!(LIVE_ALGORITHMS as readonly string[]).includes(cfg.algorithm)) {
    p.push(`--algorithm ${cfg.algorithm} runs only in the simulator (cdl run): a live node runs ${LIVE_ALGORITHMS.join(", ")}`);
  }
  if (cfg.budget === "time" && cfg.stepCost === undefined && !Number.isFinite(cfg.timeLimit)) {
    p.push("--budget time on the wall clock needs --step-cost SECONDS (a normal node's step time) or a --time-limit; or use --budget steps");
  }
  const c = compressProblem(cfg);
  if (c) p.push(c);
  if (cfg.maxLead !== undefined) p.push("--max-lead runs only in the simulator (cdl run): a live node never waits for a neighbour");
  const missing = adj.filter((j) => !o.peers.has(j));
  if (missing.length) p.push(`--peers has no address for neighbour${missing.length > 1 ? "s" : ""} ${missing.join(", ")} of node ${o.id} on ${cfg.topology}`);
  // --heal may send to any node past a silent neighbour: it needs every node's address.
  const unknown = cfg.heal > 0 ? Array.from({ length: cfg.nodes }, (_, j) => j).filter((j) => j !== o.id && !adj.includes(j) && !o.peers.has(j)) : [];
  if (unknown.length) p.push(`--heal ${cfg.heal} may send past a silent neighbour to any node: --peers needs every node's address (missing: ${unknown.join(", ")})`);
  const strangers = [...o.peers.keys()].filter((j) => !adj.includes(j) && !(cfg.heal > 0 && j !== o.id && j < cfg.nodes));
  if (strangers.length) p.push(`--peers names ${strangers.join(", ")}, not neighbour${strangers.length > 1 ? "s" : ""} of node ${o.id} on ${cfg.topology} (neighbours: ${adj.join(", ") || "none"})`);
  return p;
}

/** Runs one live node to the end of its budget (or until stopped); writes its files; returns its summary. */
export async function runLiveNode(cfg: RunConfig, o: LiveOptions): Promise<LiveSummary> {
  const wall0 = performance.now();
  prepareDir(o.out, "--out");
  const ck = o.resume ? readCheckpoint(o.out) : null;
  if (ck) cfg = { ...ck.config };
  const w = await buildWorld(cfg, o.dataset, o.id);
  const problems = liveProblems(cfg, o, w.topology.adj[o.id]);
  if (problems.length) throw new ConfigError(problems.join("\n"));
  const s = w.nodes[0];
  const lines: string[] = [];
  let nextEval = 0, nextCheckpoint = cfg.checkpointEvery ?? Infinity;
  if (ck) {
    const r = applyCheckpoint(ck, w, { restore: (l) => { lines.push(...l); } });
    if (r.sim.kind !== "live") throw new ConfigError(`--resume ${o.out}: the checkpoint is a simulated run's; continue it with cdl run --resume`);
    ({ nextEval, nextCheckpoint } = r.sim);
  }
  // The origin of the shared clock: given, or (awaitStart) known once every node has loaded; until
  // then NaN, and frames that arrive are dropped (they can only be warm-ups).
  let origin = o.awaitStart && !ck ? NaN : o.startAt;
  const now = () => (Date.now() - origin) / 1000;
  const log = o.log ?? (() => {});
  const sends = cfg.algorithm !== "isolated";
  const fingerprint = modelFingerprint(cfg.model, w.plan.numParams, w.plan.layers.map((l) => l.spec));
  const pool: Float32Array[] = [];
  const letGo = (snap: Snapshot) => { if (--snap.holders === 0) pool.push(snap.theta); };
  const epochs = new Map<number, number>(); // each neighbour's newest transport epoch (its process start)
  /** When each neighbour was last heard from (shared clock) and where it was then. */
  const heard = new Map<number, { at: number; step: number; sentAt: number }>();
  const ages: number[] = [];
  const healed = { sent: 0, received: 0 };
  let learnSteps = 0, learnFrom = NaN, learnTo = NaN, offered = 0, receivedLearning = 0;
  // The transport on the training thread, or (--transport-thread worker) on a worker thread of its
  // own, so that framing, HMAC and verification leave the training loop when a core is free.
  const startTransport = o.transportWorker
    ? (opts: Omit<Parameters<typeof WorkerTransport.start>[0], "key">) => WorkerTransport.start({ ...opts, key: o.key })
    : async (opts: Omit<Parameters<typeof Transport.start>[0], "key">) => Transport.start({ ...opts, key: await importKey(o.key) });
  const transport = await startTransport({
    id: o.id, fingerprint, numParams: w.plan.numParams, tensors: w.tensors, host: o.host, port: o.port,
    peers: new Map([...o.peers].map(([j, a]) => [j, a] as [number, string | null])), log,
    onSnapshot: (m) => {
      if (!(m.sentAt >= origin)) return; // a neighbour's warm-up frame (see below): not a snapshot of the run
      const snap: Snapshot = { from: m.from, step: m.step, sentAt: (m.sentAt - origin) / 1000, theta: m.theta, finite: true, holders: 1 };
      // A neighbour that restarted (a new transport epoch) counts its steps again from where it
      // resumed: its new snapshots replace the old process's whatever their step.
      if ((epochs.get(m.from) ?? m.epoch) < m.epoch) {
        const old = s.inbox.get(m.from);
        if (old) { s.inbox.delete(m.from); letGo(old); }
      }
      epochs.set(m.from, Math.max(epochs.get(m.from) ?? 0, m.epoch));
      heard.set(m.from, { at: now(), step: m.step, sentAt: snap.sentAt });
      if (!w.topology.adj[o.id].includes(m.from)) healed.received++;
      if (ages.length < MAX_AGES) ages.push(now() - snap.sentAt);
      if (m.step <= s.budgetSteps) receivedLearning++;
      const r = receive(s, snap);
      if (r.outcome !== "kept") return;
      if (r.displaced) letGo(r.displaced);
      if (cfg.algorithm === "cdl-on-receive" && !s.done && now() - snap.sentAt <= cfg.maxStaleness) agree(w, s, [snap]);
    },
  });
  o.onListening?.(transport.address());
  log(`node ${o.id}: listening on ${transport.address().host}:${transport.address().port}, neighbours ${w.topology.adj[o.id].join(", ")}, model ${cfg.model} (${toHex(fingerprint)})`);

  // A neighbour is done when a snapshot shows it past its last step (its step count under --budget
  // steps, its clock under --budget time); one not heard from for --linger seconds is given up on.
  const finalStep = s.budgetSteps + cfg.agreeSteps;
  const neighbourDone = (h: { step: number; sentAt: number }) =>
    cfg.budget === "time" ? h.sentAt >= agreeDeadline(w) * (1 - 1e-9) : h.step >= finalStep;
  const neighboursBusy = (t: number) => sends && w.topology.adj[o.id].some((j) => {
    const h = heard.get(j);
    return h ? !neighbourDone(h) && t - h.at < o.linger : t - lingerFrom < o.linger;
  });
  let lingerFrom = Infinity;
  /** Per neighbour, the snapshot a lingering node mixed last. */
  const mixed = new Map<number, Snapshot>();
  const injected = { dropped: 0, delayed: 0 };
  const timers = new Set<ReturnType<typeof setTimeout>>();
  // Under --compress f16/int8, snapshot() encodes θ into w.wire (and gives the node what its
  // neighbours decode, for agree's `own`): those bytes are what the frame carries. They stay
  // valid until the node's next snapshot, i.e. through this step's share.
  const codec = w.compression.kind === "level" ? w.compression.codec : "f32";
  const encoded = (): EncodedTheta => ({ codec, bytes: w.wire.subarray(0, levelBytes(codec, w.tensors)) });
  /** The neighbours the last snapshot shared was dropped for by the fault injection (never sent), and its step. */
  let unsent = { step: -1, to: [] as number[] };
  /**
   * Sends node s's snapshot (taken this step) to its targets (its neighbours, and with --heal the
   * nodes past a silent one), or as a repeat to `to` (not counted as offered), through the
   * fault-injection model.
   */
  const share = (snap: Snapshot, t: number, to?: readonly number[]) => {
    const sentAt = origin + snap.sentAt * 1000, direct: number[] = [];
    const now = codec === "f32" ? snap.theta : encoded();
    const repeat = to !== undefined;
    to ??= targets(w, s, t);
    if (!repeat) healed.sent += to.length - w.topology.adj[o.id].length;
    unsent = { step: snap.step, to: [] };
    let injectedNow = 0, later: Float32Array | EncodedTheta | undefined; // a delayed send's θ: encoded bytes outlive w.wire only as a copy
    for (const j of to) {
      const r = w.network.send(o.id, j, w.messageBytes, t);
      if (!r.delivered) { injected.dropped++; unsent.to.push(j); continue; }
      const delay = (r.arrival - t) * 1000;
      if (delay < 1) { direct.push(j); continue; } // sent together below: θ is framed and signed once
      injected.delayed++;
      injectedNow++;
      snap.holders++;
      const theta = (later ??= now instanceof Float32Array ? now : { codec, bytes: now.bytes.slice() });
      const timer = setTimeout(() => { timers.delete(timer); transport.send(j, snap.step, sentAt, theta); letGo(snap); }, delay);
      timers.add(timer);
    }
    if (direct.length) transport.send(direct, snap.step, sentAt, now);
    if (snap.step <= s.budgetSteps && !repeat) offered += direct.length + injectedNow;
  };
  const testCount = Math.min(cfg.testLimit ?? w.ds.test.count, w.ds.test.count);
  const record = (t: number) => {
    const ev = w.net.evaluate(s.params.theta, w.ds, w.ds.test, { indices: w.evalIndices });
    const st = transport.stats();
    const r: LiveRecord = {
      type: "node", t, node: o.id, steps: s.steps, testAccuracy: ev.accuracy, testLoss: ev.loss, trainLoss: s.lossCount ? s.lossSum / s.lossCount : null,
      sent: st.sent, delivered: st.delivered, received: st.received, rejected: Object.values(st.rejected).reduce((a, b) => a + (b ?? 0), 0),
      outOfOrder: s.outOfOrder, tooOld: s.tooOld,
    };
    s.lossSum = 0; s.lossCount = 0;
    lines.push(JSON.stringify(r));
  };
  let trainMs = 0, lastStep = cfg.stepCost ?? 0, interrupted = false;
  const pace = 1000 * (o.pace ?? 0); // ms: the least wall time of a step (--pace)
  /** A restarted process that found a neighbour finished: the step it stopped learning at, and the steps its snapshots skip to say it is done. */
  let stoppedEarly: number | null = null, skipped = 0;
  const snapshotNow = (t: number, into?: Float32Array): Snapshot => {
    const x = snapshot(w, s, t, into);
    return skipped ? { ...x, step: x.step + skipped } : x;
  };
  let cpuFrom: ReturnType<typeof process.cpuUsage> | null = null, cpuPerStep: number | null = null;
  /** The node has learned its last step (or stopped early): it lingers from t, agreeing ten times a
   * second (enough to pull, light on the CPU), and says so in `learned` (a cluster kills no node after it). */
  const doneLearning = (t: number) => {
    s.done = true;
    writeAtomic(join(o.out, "learned"), `${t}\n`);
    lingerFrom = t;
    lastStep = Math.max(lastStep, 0.1);
  };
  const checkpoint = (t: number) => writeCheckpoint(o.out, w, { kind: "live", t, nextEval, nextCheckpoint }, { lines }, t, { trainMs, wallMs: performance.now() - wall0 });

  // Loaded: under a cluster's --start-delay auto, say so and learn the origin (every node ready).
  if (Number.isNaN(origin)) {
    writeAtomic(join(o.out, "ready"), `${Date.now()}\n`);
    origin = await o.awaitStart!();
  }
  const readyAt = ck ? null : now();
  if (ck) { s.upSince = now(); s.heal.clear(); } // back from a crash: its neighbours get --heal s to be heard again
  if (readyAt !== null && readyAt >= 0) {
    log(`ready ${readyAt.toFixed(2)} s after the shared start (--start-at): no warm-up frame, and the run began without this node; give the nodes more time to load (cdl cluster --start-delay)`);
  }
  // Before the shared start (a cluster starts every node at the same moment), while waiting:
  // evaluate the initial model for the t = 0 record, and send each neighbour one warm-up frame (θ
  // as it is, step 0, sent before the origin, which receivers drop) so that the connection, the
  // sockets' buffers and both ends' framing and HMAC have run once. Without them the first
  // snapshots of a run arrived ~200 ms late (8 processes on 2 cores), a third of a 1-epoch run.
  if (now() < 0) {
    record(0);
    nextEval = o.evalEvery;
    if (sends && !ck) {
      if (codec !== "f32") snapshot(w, s, now()); // encodes θ into w.wire
      transport.send(w.topology.adj[o.id], 0, Date.now(), codec === "f32" ? s.params.theta.view : encoded());
    }
  }
  while (now() < 0 && !o.shouldStop?.()) await new Promise((r) => setTimeout(r, Math.min(50, -now() * 1000)));
  for (;;) {
    if (o.shouldStop?.()) { interrupted = true; break; }
    const t = now();
    if (t >= nextEval) { record(t); while (nextEval <= t) nextEval += o.evalEvery; }
    if (t > cfg.timeLimit) break;
    // After its own last step a node lingers — agreeing and sharing, learning nothing — while a
    // neighbour is still at work (e.g. restarted late from a checkpoint), so that neighbour is
    // pulled towards the others instead of finishing alone on its own data.
    if (s.done && lingerFrom === Infinity) lingerFrom = t; // resumed after its last step
    if (s.done && !neighboursBusy(t)) break;
    // A node restarted from its checkpoint (behind the others by the time it was down) that finds a
    // neighbour finished stops learning and lingers: its remaining steps, on its own shard with
    // finished neighbours mixing it in, would pull them towards its classes (8 nodes, 40 epochs,
    // --kill-every 5: the mean fell from 87% to 78% in the last 8 s as late nodes finished alone).
    // From now on its snapshots carry the final step, so that its neighbours see it done; this
    // step mixes what its inbox holds and shares.
    if (ck && !s.done && sends && w.topology.adj[o.id].some((j) => { const h = heard.get(j); return h !== undefined && neighbourDone(h); })) {
      stoppedEarly = s.steps;
      skipped = finalStep - (s.steps + s.agreeSteps);
      doneLearning(t);
      log(`node ${o.id}: a neighbour has finished; stopping at step ${s.steps} of ${s.budgetSteps} (restarted from a checkpoint) and agreeing with them`);
    }
    // Lingering, a node mixes only snapshots it has not mixed yet (and then shares the result): mixing
    // a departed neighbour's last snapshot ten times a second would drag it back to where that
    // neighbour was (a neighbour whose final snapshot was lost is waited for up to --linger s).
    const got = s.done ? fresh(w, s, t).filter((x) => mixed.get(x.from) !== x) : null;
    const d = got ? { learn: false, agree: sends && got.length > 0, share: sends && got.length > 0, last: false } : due(w, s, t, t + lastStep);
    const t0 = performance.now();
    if (d.learn) {
      learn(w, s, cfg.budget === "time" ? clockStep(w, t) : s.steps);
      if (!learnSteps++) learnFrom = t;
    } else if (!got || d.agree) s.agreeSteps++; // lingering, only a step that mixes counts
    const early = sends && d.share && cfg.snapshot === "post-learn" ? snapshotNow(t, pool.pop()) : null;
    if (d.agree) agree(w, s, got ?? fresh(w, s, t), cfg.weights, ownCopy(w, early));
    for (const x of got ?? []) mixed.set(x.from, x);
    if (sends && d.share) {
      const snap = early ?? snapshotNow(t, pool.pop());
      snap.holders++;
      share(snap, t);
      letGo(snap);
    }
    const ms = performance.now() - t0;
    if (d.learn) {
      trainMs += ms; learnTo = now();
      if (learnSteps === WARM_STEPS) cpuFrom = process.cpuUsage();
      else if (learnSteps > WARM_STEPS) {
        const cpu = process.cpuUsage(cpuFrom!);
        cpuPerStep = (cpu.user + cpu.system) / 1e6 / (learnSteps - WARM_STEPS);
      }
    }
    lastStep = cfg.stepCost ?? Math.max(ms, pace) / 1000;
    if (now() >= nextCheckpoint) {
      checkpoint(now());
      while (nextCheckpoint <= now()) nextCheckpoint += cfg.checkpointEvery ?? Infinity;
    }
    if (d.last) {
      for (const x of s.inbox.values()) mixed.set(x.from, x); // mixed by this last step
      doneLearning(now());
    }
    if (s.done) await new Promise((r) => setTimeout(r, 100));
    else if (pace > ms) await sleepUntil(t0 + pace); // --pace: the rest of the step is the sockets'
    else await yieldToIo(); // the sockets' turn: frames in and out between two steps
  }
  const tEnd = now();
  // A neighbour learns that this node is done from its last snapshot. If the fault injection dropped
  // that one for a neighbour (it never left: no replay for the receiver), the neighbour would linger
  // up to --linger s waiting for it, so it is offered again, through the same model, up to
  // FINAL_REPEATS times 50 ms apart: θ as it is now, under the last snapshot's step.
  for (let k = 0; k < FINAL_REPEATS && sends && !interrupted && s.done && unsent.to.length; k++) {
    await new Promise((r) => setTimeout(r, 50));
    const snap = snapshotNow(now(), pool.pop());
    if (snap.step !== unsent.step) { pool.push(snap.theta); break; }
    snap.holders++;
    share(snap, now(), unsent.to);
    letGo(snap);
  }
  // Let the last snapshots leave: injected delays run out, slots drain (bounded: 2 s).
  for (const t0 = Date.now(); (timers.size > 0) && Date.now() - t0 < 2000;) await new Promise((r) => setTimeout(r, 20));
  for (const timer of timers) clearTimeout(timer);
  await new Promise((r) => setTimeout(r, interrupted ? 0 : 200));
  record(tEnd);
  await transport.close();
  const stats = transport.stats(); // after close: the worker's final counters
  if (interrupted) checkpoint(tEnd);
  const final = interrupted
    ? w.net.evaluate(s.params.theta, w.ds, w.ds.test, { indices: w.evalIndices })
    : w.net.evaluate(s.params.theta, w.ds, w.ds.test, { limit: testCount });
  const samples = s.steps * cfg.batch;
  const summary: LiveSummary = {
    node: o.id, interrupted, config: cfg, versions: runtimeInfo(), accuracy: final.accuracy, loss: final.loss,
    testEvaluated: interrupted ? w.evalIndices.length : testCount, steps: s.steps, agreeSteps: s.agreeSteps, budget: s.budgetSteps,
    consensusSteps: s.consensusSteps, t: tEnd, wallSeconds: (performance.now() - wall0) / 1000,
    samplesPerSecond: samples > 0 && trainMs > 0 ? samples / (trainMs / 1000) : null, injected, transport: stats,
    clock: { learnSteps, learnSeconds: learnSteps ? learnTo - learnFrom : 0, ages, offered, received: receivedLearning }, readyAt,
    pace: pace / 1000, cpuPerStep, stoppedEarly, healed,
  };
  writeAtomic(join(o.out, "metrics.jsonl"), lines.join("\n") + "\n");
  writeAtomic(join(o.out, "theta.f32"), new Uint8Array(s.params.theta.view.buffer, s.params.theta.view.byteOffset, s.params.theta.view.byteLength).slice());
  writeAtomic(join(o.out, "summary.json"), JSON.stringify(summary, null, 2) + "\n");
  return summary;
}

export type { World };
