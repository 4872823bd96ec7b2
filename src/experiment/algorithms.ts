// The simulator: the driver that runs the node program (src/node/program.ts) of every node on a
// virtual clock over the simulated unreliable network. It owns the clock, the event queue, message
// delivery and snapshot memory; what a node does at each step lives in the node program.
//   cdl             learn K steps → consensus with the fresh inbox → share every S steps (async)
//   cdl-on-receive  learn; apply the pairwise update the moment a snapshot arrives (async)
//   isolated        learn only (ε = 0, nothing sent)
//   centralized     one model on all the data, the whole network's sample budget
//   fedavg          a server averages the clients' models each round (synchronous rounds)
//   dpsgd           synchronous neighbour averaging with Metropolis weights after each K steps
// The asynchronous ones run on a discrete-event queue: no barrier, no round, no node waits.
// The two baselines with a barrier or a server (fedavg, dpsgd) run in rounds and count their
// budget in steps; they exist only here, in the simulator.
//
// A run can stop between two events (an interrupt) and hand back its state, and take a state to
// continue from: with the world's node and network state (src/experiment/checkpoint.ts), that is
// everything, so a resumed run continues exactly as the uninterrupted one.
import { fromEdges } from "../consensus/topology.ts";
import { ConfigError } from "../errors.ts";
import type { WeightRule } from "../consensus/weights.ts";
import { startWorkers } from "../drivers/workers.ts";
import { agree, agreeDeadline, clockStep, due, fresh, heldBack, learn, ownCopy, receive, snapshot, targets, type Received } from "../node/program.ts";
import { EventQueue, type QueueState } from "../sim/events.ts";
import { Network, type NetworkState, type SendResult } from "../sim/network.ts";
import type { EvalResult } from "../nn/net.ts";
import { cores } from "../runtime.ts";
import type { Recorder } from "./recorder.ts";
import { macsPerSample, type NodeState, type Snapshot, type World } from "./world.ts";

export type Event =
  | { kind: "step"; node: number; start: number }
  | { kind: "msg"; to: number; snap: Snapshot }
  | { kind: "eval" }
  /** --max-lead: a held node looks again (and re-sends its snapshot, in case it was lost); `gen` matches its hold. */
  | { kind: "wake"; node: number; gen: number };

/** --max-lead: a node held back before its next step, of time dt (already drawn); its wake-ups carry gen. */
export interface Hold { dt: number; gen: number; /** --lead-mode *-defer: its consensus step waits for the release. */ mix?: boolean }

/** What the simulator holds beyond the world's nodes and network, at a point between two events. */
export type SimState =
  | { kind: "async"; queue: QueueState<Event>; end: number; nextCheckpoint: number; lostSteps: number; held?: [number, Hold][]; wakeGen?: number }
  | { kind: "rounds"; t: number; nextEval: number; nextCheckpoint: number; global: Float32Array | null; star: NetworkState | null }
  /** A live node (src/drivers/live.ts): its clock position and next evaluation and checkpoint times. */
  | { kind: "live"; t: number; nextEval: number; nextCheckpoint: number };

/** Watches a run without changing it (the browser lab draws messages and a node's consensus steps). */
export interface Observer {
  sent?(from: number, to: number, t: number, r: SendResult): void;
  arrived?(snap: Snapshot, to: number, t: number, outcome: Received): void;
  /** Just before and just after node s's consensus step over `got`. */
  agreeing?(s: NodeState, got: readonly Snapshot[], t: number, rule: WeightRule): void;
  agreed?(s: NodeState, t: number): void;
}

export interface Hooks {
  recorder: Recorder;
  evalEvery: number;
  /** Called after each evaluation point (live progress). */
  onEval?: (t: number) => void;
  /** Wall-clock milliseconds spent in local training steps (forward, backward, update). */
  trainMs: number;
  /** Receives one line per simulated event (for golden event-trace tests and debugging). */
  trace?: (line: string) => void;
  /** false: every snapshot gets a fresh array, none is recycled (the reference the tests compare
   * recycling against). Default true. */
  recycleSnapshots?: boolean;
  /** Asked between events: true stops the run there (an interrupt); it returns its state. */
  shouldStop?: () => boolean;
  /** Virtual seconds between checkpoints (undefined: none); each is handed to onCheckpoint. */
  checkpointEvery?: number;
  onCheckpoint?: (state: SimState) => void;
  /** Continue from this state (with the world restored to the same point). */
  resume?: SimState;
  observer?: Observer;
  /** Asked after every event (round) with the virtual time reached; a promise holds the run there
   * until it settles (the lab's pause, single step and speed). Without it the run yields to the
   * runtime about every 100 ms. */
  gate?: (t: number) => Promise<void> | null;
  /** Worker threads to run the nodes' computations on (src/drivers/workers.ts); 1 or absent: this
   * thread; "auto": this machine's cores for runs with enough work (see asyncThreads). */
  workers?: number | "auto";
  /** Test samples of the final evaluation: worker threads evaluate their nodes on them before they
   * stop (onFinalEval is told first); on one thread the caller does it. */
  finalTestCount?: number;
  onFinalEval?: (testCount: number) => void;
}

/**
 * Where the nodes' computations run. The simulator's event loop decides what every node does and
 * when, in one order; an executor carries it out: here, at once (`serialExecutor`), or on worker
 * threads (src/drivers/workers.ts), each node's computations in the same order, so the numbers are
 * the same. Between `sync()` calls the world's nodes may lag behind the loop (their θ, data cursor,
 * training loss); the counters the loop reads (steps, inbox, message counts) never do.
 */
export interface Executor {
  /** Threads computing (1: this one). */
  readonly threads: number;
  learn(s: NodeState, at: number): void;
  /** A snapshot of node s's θ now, in a buffer of the executor's. */
  snapshot(s: NodeState, t: number): Snapshot;
  /** The consensus step of s over `got`; `own`: s's snapshot of this step to take differences against (program.ts ownCopy). */
  agree(s: NodeState, got: readonly Snapshot[], rule: WeightRule, own?: Snapshot): void;
  /** No one holds this snapshot any more: its buffer may be reused. */
  release(snap: Snapshot): void;
  /** Records an evaluation point at t (the nodes brought up to date first). */
  point(t: number): Promise<void> | void;
  /** Brings every node's state in the world up to date with the loop. */
  sync(): Promise<void> | void;
  /** Every node's evaluation on the first `testCount` test samples, where the executor does it
   * faster than the caller would (worker threads: in parallel); absent: the caller evaluates. */
  evaluate?(testCount: number): Promise<EvalResult[]>;
  /** Holds the loop when it runs too far ahead of the computations (null: go on). */
  pace(): Promise<void> | null;
  close(): Promise<void> | void;
}

/** The executor of one thread: every computation at once, snapshot buffers recycled (unless
 * h.recycleSnapshots is false). */
export function serialExecutor(w: World, h: Hooks): Executor {
  const pool: Float32Array[] | undefined = h.recycleSnapshots === false ? undefined : [];
  return {
    threads: 1,
    learn: (s, at) => timedLearn(w, s, at, h),
    snapshot: (s, t) => snapshot(w, s, t, pool?.pop()),
    agree: (s, got, rule, own) => agree(w, s, got, rule, own?.theta),
    release: (snap) => { pool?.push(snap.theta); },
    point: (t) => { h.recorder.point(t); },
    sync: () => {},
    pace: () => null,
    close: () => {},
  };
}

export interface RunEnd {
  /** The virtual time reached. */
  end: number;
  /** Stopped by shouldStop before the end; `state` continues it. */
  interrupted: boolean;
  state: SimState | null;
  /** Threads the nodes' computations ran on. */
  threads: number;
  /** Every node's final evaluation on the first `testCount` test samples, when worker threads did it
   * (Hooks.finalTestCount); null: the caller evaluates. */
  finals?: EvalResult[] | null;
}

/** Runs the configured algorithm to the end of its budget (or until stopped). */
export function runAlgorithm(w: World, h: Hooks): Promise<RunEnd> {
  switch (w.cfg.algorithm) {
    case "cdl": case "cdl-on-receive": case "isolated": case "centralized": return runAsync(w, h);
    case "fedavg": return runFedAvg(w, h);
    case "dpsgd": return runDpsgd(w, h);
  }
}

/** Lets the runtime run its timers and signal handlers about every 100 ms of a synchronous loop. */
function yielder(): () => Promise<void> | null {
  let last = performance.now();
  return () => {
    const now = performance.now();
    if (now - last < 100) return null;
    last = now;
    return new Promise((r) => setTimeout(r, 0));
  };
}

/** The consensus step of node s, seen by the observer (whose view of θ is exact on one thread only). */
function mix(w: World, h: Hooks, x: Executor, s: NodeState, got: readonly Snapshot[], t: number, rule: WeightRule = w.cfg.weights, own?: Snapshot | null): void {
  h.observer?.agreeing?.(s, got, t, rule);
  x.agree(s, got, rule, own && ownCopy(w, own) ? own : undefined);
  h.observer?.agreed?.(s, t);
}

function timedLearn(w: World, s: NodeState, at: number, h: Hooks): void {
  const t0 = performance.now();
  learn(w, s, at);
  h.trainMs += performance.now() - t0;
}

/** Next checkpoint time after t (checkpoints fall on multiples of checkpointEvery). */
function checkpointAfter(h: Hooks, t: number): number {
  const every = h.checkpointEvery;
  return every ? (Math.floor(t / every) + 1) * every : Infinity;
}

async function runAsync(w: World, h: Hooks): Promise<RunEnd> {
  const threads = asyncThreads(w, h.workers ?? 1);
  const x = threads > 1 ? await startWorkers(w, h, threads) : serialExecutor(w, h);
  try {
    return await runEvents(w, h, x);
  } finally {
    await x.close();
  }
}

/** The worker threads an asynchronous run can use: one per node at most; one for the difference
 * codecs (their encoder state and message sizes live with the loop). "auto": the cores, unless the
 * run's training is under about a second of one core's work (at ~5 GFLOP/s, what lenet steps run
 * at here), where starting the threads (~0.15 s) would cost more than they save. */
export function asyncThreads(w: World, requested: number | "auto"): number {
  if (w.compression.kind === "delta") return 1;
  if (requested === "auto") {
    const flops = w.nodes.length * w.nodes[0].budgetSteps * 6 * macsPerSample(w.plan) * w.cfg.batch;
    requested = flops < 5e9 ? 1 : cores();
  }
  return Math.max(1, Math.min(requested, w.nodes.length));
}


async function runEvents(w: World, h: Hooks, x: Executor): Promise<RunEnd> {
  const { cfg, network, nodes } = w;
  const alg = cfg.algorithm;
  const timeBudget = cfg.budget === "time";
  const lastEnd = agreeDeadline(w) * (1 + 1e-9);
  // A snapshot no longer held by any scheduled delivery or inbox gives its buffer back.
  const letGo = (snap: Snapshot) => { if (--snap.holders === 0) x.release(snap); };
  const q = new EventQueue<Event>();
  // A node's step ends one step time after it starts (at 0, or when it rejoins after a crash);
  // under --budget time a node that cannot finish a step before the deadline is done.
  const scheduleStep = (i: number, from: number) => {
    let t = from;
    while (!network.isUp(i, t) && t <= cfg.timeLimit) t = network.nextNodeChange(i, t);
    if (t > cfg.timeLimit) return;
    if (t > from) nodes[i].upSince = t; // rejoined after a crash
    const end = t + network.stepTime(i, w.stepCost, t);
    if (timeBudget && end > lastEnd) { nodes[i].done = true; return; }
    q.schedule(end, { kind: "step", node: i, start: t });
  };
  let end = 0, lostSteps = 0, nextCheckpoint = checkpointAfter(h, 0);
  // --max-lead (bounded staleness): the nodes held back before their next learning step. A held
  // node starts its step when an arrival lets it (heldBack), and wakes every two message times to
  // look again and re-send its snapshot (two held nodes whose last messages were lost would
  // otherwise wait for each other until --max-staleness ages them out).
  const holds = new Map<number, Hold>();
  let wakeGen = 0;
  const leadAgree = cfg.algorithm === "cdl" && (cfg.leadMode?.endsWith("-agree") ?? false);
  const leadDefer = cfg.algorithm === "cdl" && (cfg.leadMode?.endsWith("-defer") ?? false);
  const wakeEvery = 2 * (network.transferTime(w.messageBytes) + cfg.jitter);
  const hold = (i: number, t: number, dt: number, mix: boolean) => {
    const gen = ++wakeGen;
    holds.set(i, mix ? { dt, gen, mix } : { dt, gen });
    q.schedule(t + wakeEvery, { kind: "wake", node: i, gen });
  };
  // A released node's step runs from t; under --budget time, one that cannot end by the end of the agreement phase is done.
  const release = (i: number, t: number, dt: number) => {
    if (holds.get(i)?.mix) mix(w, h, x, nodes[i], fresh(w, nodes[i], t), t);
    holds.delete(i);
    if (timeBudget && t + dt > lastEnd) { nodes[i].done = true; return; }
    q.schedule(t + dt, { kind: "step", node: i, start: t });
  };
  const share = (s: NodeState, snap: Snapshot, t: number) => {
    snap.holders++; // the sender's own hold while it sends
    for (const j of targets(w, s, t)) {
      const r = network.send(s.id, j, snap.bytes ?? w.messageBytes, t);
      h.observer?.sent?.(s.id, j, t, r);
      if (r.delivered) { snap.holders++; q.schedule(r.arrival, { kind: "msg", to: j, snap }); }
    }
    letGo(snap);
  };
  if (h.resume) {
    if (h.resume.kind !== "async") throw new Error(`runAsync: a ${h.resume.kind} state cannot resume a simulated asynchronous run`);
    q.restore(h.resume.queue, (e) => e);
    ({ end, lostSteps, nextCheckpoint } = h.resume);
    for (const [i, hd] of h.resume.held ?? []) holds.set(i, hd);
    wakeGen = h.resume.wakeGen ?? 0;
  } else {
    nodes.forEach((s) => scheduleStep(s.id, 0));
    q.schedule(0, { kind: "eval" });
  }
  const state = (): SimState => ({ kind: "async", queue: q.state((e) => e), end, nextCheckpoint, lostSteps,
    ...(cfg.maxLead !== undefined ? { held: [...holds].map(([i, hd]): [number, Hold] => [i, { ...hd }]), wakeGen } : {}) });
  const pause = yielder();
  // A run in --budget steps where nodes crash faster than they complete steps would never end.
  const maxLost = 20 * nodes.reduce((a, s) => a + s.budgetSteps, 0) + 1000;
  for (;;) {
    if (h.shouldStop?.()) {
      await x.sync();
      return { end: Math.min(end, cfg.timeLimit), interrupted: true, state: state(), threads: x.threads };
    }
    const ev = q.next();
    if (!ev) break;
    const t = ev.time, e = ev.event;
    if (t > cfg.timeLimit) break;
    h.trace?.(`${t} ${e.kind} ${e.kind === "step" || e.kind === "wake" ? e.node : e.kind === "msg" ? `${e.snap.from}>${e.to}@${e.snap.step}` : ""}`);
    if (e.kind === "eval") {
      await x.point(t);
      h.onEval?.(t);
      if (nodes.some((s) => !s.done)) q.schedule(t + h.evalEvery, { kind: "eval" });
    } else if (e.kind === "msg") {
      const s = nodes[e.to], snap = e.snap;
      network.arrive(snap.from, s.id, snap.bytes ?? w.messageBytes);
      // The delivery's hold on snap passes to the inbox, or ends here.
      const r = receive(s, snap);
      h.observer?.arrived?.(snap, s.id, t, r.outcome);
      if (r.outcome !== "kept") letGo(snap);
      else {
        if (r.displaced) letGo(r.displaced);
        if (alg === "cdl-on-receive" && !s.done && network.isUp(s.id, t) && t - snap.sentAt <= cfg.maxStaleness) mix(w, h, x, s, [snap], t);
        const hd = holds.get(s.id);
        if (hd && network.isUp(s.id, t)) {
          if (leadAgree && t - snap.sentAt <= cfg.maxStaleness) mix(w, h, x, s, [snap], t);
          if (!heldBack(w, s, t, t + hd.dt)) release(s.id, t, hd.dt);
        }
      }
    } else if (e.kind === "wake") {
      const s = nodes[e.node], hd = holds.get(s.id);
      if (hd && hd.gen === e.gen) {
        if (!network.isUp(s.id, t)) { holds.delete(s.id); scheduleStep(s.id, t); } // crashed while held: rejoins as after any crash
        else if (!heldBack(w, s, t, t + hd.dt)) release(s.id, t, hd.dt);
        else {
          share(s, x.snapshot(s, t), t);
          hd.gen = ++wakeGen;
          q.schedule(t + wakeEvery, { kind: "wake", node: s.id, gen: hd.gen });
        }
      }
    } else {
      const s = nodes[e.node];
      if (!network.isUp(s.id, t)) { // crashed mid-step: the step is lost
        if (!timeBudget && ++lostSteps > maxLost) {
          throw new ConfigError(`the nodes crash faster than they complete steps (${lostSteps} steps lost): lower --crash-rate (now ${cfg.crashRate}) or --step-cost, or use --budget time`);
        }
        scheduleStep(s.id, t);
      } else {
        const dt = network.stepTime(s.id, w.stepCost, t); // the next step's time (drawn once per step, in order)
        const d = due(w, s, t, t + dt);
        // After the learning budget a node keeps agreeing and sharing, learning nothing: the agreement phase.
        if (d.learn) x.learn(s, timeBudget ? clockStep(w, e.start) : s.steps);
        else s.agreeSteps++;
        end = t;
        // The snapshot is taken after learning and before agreeing (--snapshot post-learn, the
        // default): a neighbour then mixes in this step's gradient at full weight. Taken after the
        // consensus step instead (post-agree), it carries the gradient already scaled by w_ii, and
        // the network average learns at w_ii·lr rather than lr (1/10 of it on a 10-node complete graph).
        const early = d.share && cfg.snapshot === "post-learn" ? x.snapshot(s, t) : null;
        const holding = !d.last && heldBack(w, s, t, t + dt);
        const defer = holding && leadDefer && d.agree; // --lead-mode *-defer: mix at the release instead, with what has arrived by then
        if (d.agree && !defer) mix(w, h, x, s, fresh(w, s, t), t, w.cfg.weights, early);
        if (d.share) share(s, early ?? x.snapshot(s, t), t);
        if (d.last) s.done = true;
        else if (holding) hold(s.id, t, dt, defer);
        else q.schedule(t + dt, { kind: "step", node: s.id, start: t });
      }
    }
    if (t >= nextCheckpoint) {
      nextCheckpoint = checkpointAfter(h, t);
      await x.sync();
      h.onCheckpoint?.(state());
    }
    const held = x.pace();
    if (held) await held;
    const p = h.gate ? h.gate(t) : pause();
    if (p) await p;
  }
  await x.sync();
  let finals: EvalResult[] | null = null;
  if (x.evaluate && h.finalTestCount !== undefined) {
    h.onFinalEval?.(h.finalTestCount);
    finals = await x.evaluate(h.finalTestCount);
  }
  return { end: Math.min(end, cfg.timeLimit), interrupted: false, state: null, threads: x.threads, finals };
}

/** Time for node i to run `steps` local steps from t, or null if it crashes on the way. */
function trainFor(w: World, net: Network, s: NodeState, steps: number, t: number, h: Hooks): number | null {
  for (let k = 0; k < steps && s.steps < s.budgetSteps; k++) {
    t += net.stepTime(s.id, w.stepCost, t);
    if (!net.isUp(s.id, t)) return null;
    timedLearn(w, s, s.steps, h);
  }
  return t;
}

/** Evaluation points up to (and including) virtual time t. */
function evalUpTo(h: Hooks, next: { t: number }, t: number): void {
  while (next.t <= t) {
    h.recorder.point(next.t);
    h.onEval?.(next.t);
    next.t += h.evalEvery;
  }
}

/**
 * The loop of the round-based baselines: `round(t)` runs one round from t and returns its end.
 * Stops, checkpoints and resumes at round boundaries; refuses to spin when no round does anything.
 */
async function runRounds(w: World, h: Hooks, more: () => boolean, round: (t: number) => number,
  extra: () => { global: Float32Array | null; star: NetworkState | null }): Promise<RunEnd> {
  const { cfg } = w;
  const r = h.resume;
  if (r && r.kind !== "rounds") throw new Error(`runRounds: a ${r.kind} state cannot resume a round-based run`);
  let t = r ? r.t : 0, nextCheckpoint = r ? r.nextCheckpoint : checkpointAfter(h, 0);
  const nextEval = { t: r ? r.nextEval : 0 };
  const state = (): SimState => ({ kind: "rounds", t, nextEval: nextEval.t, nextCheckpoint, ...extra() });
  if (!r) evalUpTo(h, nextEval, t);
  const pause = yielder();
  let idle = 0;
  const steps = () => w.nodes.reduce((a, s) => a + s.steps + s.agreeSteps, 0);
  while (more() && t <= cfg.timeLimit) {
    if (h.shouldStop?.()) return { end: Math.min(t, cfg.timeLimit), interrupted: true, state: state(), threads: 1 };
    const before = steps();
    const roundEnd = round(t);
    idle = steps() > before ? 0 : idle + 1;
    if (idle > 100000) {
      throw new ConfigError(`${cfg.algorithm}: 100,000 rounds in a row in which no node completed a step (nodes crash faster than they train): lower --crash-rate (now ${cfg.crashRate}) or --step-cost`);
    }
    t = roundEnd > t ? roundEnd : t + w.stepCost; // a round where nobody could work still takes time
    evalUpTo(h, nextEval, Math.min(t, cfg.timeLimit));
    if (t >= nextCheckpoint) {
      nextCheckpoint = checkpointAfter(h, t);
      h.onCheckpoint?.(state());
    }
    const p = h.gate ? h.gate(t) : pause();
    if (p) await p;
  }
  return { end: t, interrupted: false, state: null, threads: 1 };
}

function runFedAvg(w: World, h: Hooks): Promise<RunEnd> {
  const { cfg, nodes } = w;
  const n = nodes.length, k = w.net.engine.kernels, P = w.plan.numParams;
  // The server is node n of a star whose links share the run's failure model; the server's own
  // crash process is drawn like a node's, and a message to or from a crashed server is lost.
  const star = new Network(fromEdges(n + 1, nodes.map((s) => [s.id, n] as [number, number]), "fedavg-star"), w.network.config, cfg.seed);
  w.serverNetwork = star;
  const global = w.net.newParams().theta;
  const r = h.resume;
  if (r?.kind === "rounds" && r.global && r.star) { global.view.set(r.global); star.restore(r.star); }
  else global.view.set(nodes[0].params.theta.view);
  const round = (t: number): number => {
    let roundEnd = t;
    const arrived: NodeState[] = [];
    for (const s of nodes) {
      if (s.steps >= s.budgetSteps || !w.network.isUp(s.id, t)) continue;
      const down = star.send(n, s.id, w.messageBytes, t);
      let start = t;
      if (down.delivered) { star.arrive(n, s.id, w.messageBytes); s.params.theta.view.set(global.view); start = down.arrival; }
      const done = trainFor(w, w.network, s, w.localSteps, start, h);
      if (done === null) continue;
      roundEnd = Math.max(roundEnd, done);
      const up = star.send(s.id, n, w.messageBytes, done);
      if (up.delivered) { star.arrive(s.id, n, w.messageBytes); arrived.push(s); roundEnd = Math.max(roundEnd, up.arrival); }
    }
    h.trace?.(`${t} round ${roundEnd} ${arrived.map((s) => s.id).join(",")}`);
    if (arrived.length) {
      const total = arrived.reduce((a, s) => a + s.shard.length, 0);
      global.view.fill(0);
      for (const s of arrived) k.axpy_f32(global.ptr, s.params.theta.ptr, P, s.shard.length / total);
    }
    return roundEnd;
  };
  return runRounds(w, h, () => nodes.some((s) => s.steps < s.budgetSteps), round,
    () => ({ global: global.view.slice(), star: star.state() })).then((res) => {
    if (res.interrupted) return res;
    // The final broadcast: a client keeps the global model only if it reaches it.
    for (const s of nodes) {
      if (star.send(n, s.id, w.messageBytes, res.end).delivered) { star.arrive(n, s.id, w.messageBytes); s.params.theta.view.set(global.view); }
    }
    return res;
  });
}

function runDpsgd(w: World, h: Hooks): Promise<RunEnd> {
  const { cfg, nodes, network, topology } = w;
  const x = serialExecutor(w, h); // the round-based baselines run on one thread
  const learning = () => nodes.some((s) => s.steps < s.budgetSteps);
  const round = (t: number): number => {
    // After the learning budgets, --agree-steps rounds of exchange and mixing without learning.
    const agreeing = !learning();
    let barrier = t;
    const alive: NodeState[] = [];
    for (const s of nodes) {
      if (agreeing) s.agreeSteps++;
      if (!network.isUp(s.id, t)) continue;
      const done = trainFor(w, network, s, w.localSteps, t, h);
      if (done === null) continue;
      alive.push(s);
      barrier = Math.max(barrier, done);
    }
    // Synchronous exchange: everyone sends θ at the barrier, then mixes what arrived.
    const snaps = new Map(alive.map((s) => [s.id, snapshot(w, s, barrier)]));
    const inbound: Snapshot[][] = nodes.map(() => []);
    let roundEnd = barrier;
    for (const s of alive) {
      for (const j of topology.adj[s.id]) {
        const r = network.send(s.id, j, w.messageBytes, barrier);
        h.observer?.sent?.(s.id, j, barrier, r);
        if (r.delivered) { network.arrive(s.id, j, w.messageBytes); inbound[j].push(snaps.get(s.id)!); roundEnd = Math.max(roundEnd, r.arrival); }
      }
    }
    h.trace?.(`${t} round ${roundEnd} ${alive.map((s) => `${s.id}:${inbound[s.id].length}`).join(",")}`);
    for (const s of alive) mix(w, h, x, s, inbound[s.id].filter((x) => x.finite || (s.rejected++, false)), roundEnd, "metropolis", snaps.get(s.id));
    return roundEnd;
  };
  return runRounds(w, h, () => learning() || nodes[0].agreeSteps < cfg.agreeSteps, round, () => ({ global: null, star: null }));
}
