// The algorithms of a run, all on the same World (engine, data, network model, budgets):
//   cdl             learn K steps → consensus with the fresh inbox → share every S steps (async)
//   cdl-on-receive  learn; apply the pairwise update the moment a snapshot arrives (async)
//   isolated        learn only (ε = 0, nothing sent)
//   centralized     one model on all the data, the whole network's sample budget
//   fedavg          a server averages the clients' models each round (synchronous rounds)
//   dpsgd           synchronous neighbour averaging with Metropolis weights after each K steps
// The asynchronous ones run on a discrete-event queue: no barrier, no round, no node waits.
import { mixingWeights } from "../consensus/weights.ts";
import { fromEdges } from "../consensus/topology.ts";
import { EventQueue } from "../sim/events.ts";
import { Network } from "../sim/network.ts";
import type { Recorder } from "./recorder.ts";
import { letGo, localStep, mix, snapshot, type NodeState, type Snapshot, type World } from "./world.ts";

type Event =
  | { kind: "step"; node: number }
  | { kind: "msg"; to: number; snap: Snapshot }
  | { kind: "eval" };

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
}

/** Runs the configured algorithm to the end of its budget; returns the final virtual time. */
export function runAlgorithm(w: World, h: Hooks): number {
  switch (w.cfg.algorithm) {
    case "cdl": case "cdl-on-receive": case "isolated": case "centralized": return runAsync(w, h);
    case "fedavg": return runFedAvg(w, h);
    case "dpsgd": return runDpsgd(w, h);
  }
}

function timedStep(w: World, s: NodeState, h: Hooks): void {
  const t0 = performance.now();
  localStep(w, s);
  h.trainMs += performance.now() - t0;
}

/** Consensus step of cdl: mix θ_i with every inbox snapshot no older than --max-staleness. */
function consensus(w: World, s: NodeState, now: number): void {
  const fresh: Snapshot[] = [];
  for (const snap of s.inbox.values()) {
    if (now - snap.sentAt <= w.cfg.maxStaleness) fresh.push(snap);
    else s.stale++;
  }
  fresh.sort((a, b) => a.from - b.from); // summation order independent of arrival order
  const m = mixingWeights(w.cfg.weights, { epsilon: w.epsilon }, w.topology.degree(s.id),
    fresh.map((f) => ({ peer: f.from, degree: w.topology.degree(f.from) })));
  mix(w, s, m.self, fresh.map((f, k) => ({ theta: f.theta, weight: m.peers[k] })));
  s.consensusSteps++;
}

function runAsync(w: World, h: Hooks): number {
  const { cfg, network, nodes } = w;
  const alg = cfg.algorithm;
  const q = new EventQueue<Event>();
  const K = cfg.localSteps, S = cfg.shareEvery;
  const sends = alg === "cdl" || alg === "cdl-on-receive";
  // Arrays of snapshots no longer held by any scheduled delivery or inbox, for the next snapshot.
  const pool: Float32Array[] | undefined = h.recycleSnapshots === false ? undefined : [];
  // A node's first step completes one step time after it starts (at 0, or when it first rejoins).
  const scheduleStep = (i: number, from: number) => {
    let t = from;
    while (!network.isUp(i, t)) t = network.nextNodeChange(i, t);
    if (t <= cfg.timeLimit) q.schedule(t + network.stepTime(i, w.stepCost, t), { kind: "step", node: i });
  };
  nodes.forEach((s) => scheduleStep(s.id, 0));
  q.schedule(0, { kind: "eval" });
  let end = 0;
  for (let ev = q.next(); ev; ev = q.next()) {
    const t = ev.time, e = ev.event;
    if (t > cfg.timeLimit) break;
    h.trace?.(`${t} ${e.kind} ${e.kind === "step" ? e.node : e.kind === "msg" ? `${e.snap.from}>${e.to}@${e.snap.step}` : ""}`);
    if (e.kind === "eval") {
      h.recorder.point(t);
      h.onEval?.(t);
      if (nodes.some((s) => !s.done)) q.schedule(t + h.evalEvery, { kind: "eval" });
      continue;
    }
    if (e.kind === "msg") {
      const s = nodes[e.to], snap = e.snap, old = s.inbox.get(snap.from);
      // The delivery's hold on snap passes to the inbox, or ends here.
      if (!snap.finite) { s.rejected++; letGo(snap, pool); continue; }
      if (old && old.step >= snap.step) { s.stale++; letGo(snap, pool); continue; }
      s.inbox.set(snap.from, snap);
      if (old) letGo(old, pool);
      if (alg === "cdl-on-receive" && !s.done && network.isUp(s.id, t)) {
        const m = mixingWeights(cfg.weights, { epsilon: w.epsilon }, w.topology.degree(s.id),
          [{ peer: snap.from, degree: w.topology.degree(snap.from) }]);
        mix(w, s, m.self, [{ theta: snap.theta, weight: m.peers[0] }]);
        s.consensusSteps++;
      }
      continue;
    }
    const s = nodes[e.node];
    if (!network.isUp(s.id, t)) { scheduleStep(s.id, t); continue; } // crashed mid-step: the step is lost
    // After its learning budget a node keeps agreeing and sharing for --agree-steps step times,
    // learning nothing (no samples): the final agreement phase.
    const learning = s.steps < s.budgetSteps;
    if (learning) timedStep(w, s, h);
    else s.agreeSteps++;
    end = t;
    const tick = s.steps + s.agreeSteps;
    const last = s.steps >= s.budgetSteps && (!sends || s.agreeSteps >= cfg.agreeSteps);
    const share = sends && (tick % S === 0 || last || !learning);
    // The snapshot is taken after learning and before agreeing (--snapshot post-learn, the
    // default): a neighbour then mixes in this step's gradient at full weight. Taken after the
    // consensus step instead (post-agree), it carries the gradient already scaled by w_ii, and
    // the network average learns at w_ii·lr rather than lr (1/10 of it on a 10-node complete graph).
    const early = share && cfg.snapshot === "post-learn" ? snapshot(w, s, t, pool) : null;
    if (alg === "cdl" && (tick % K === 0 || last || !learning)) consensus(w, s, t);
    if (share) {
      const snap = early ?? snapshot(w, s, t, pool);
      snap.holders++; // the sender's own hold while it sends
      for (const j of w.topology.adj[s.id]) {
        const r = network.send(s.id, j, w.messageBytes, t);
        if (r.delivered) { snap.holders++; q.schedule(r.arrival, { kind: "msg", to: j, snap }); }
      }
      letGo(snap, pool);
    }
    if (last) s.done = true;
    else q.schedule(t + network.stepTime(s.id, w.stepCost, t), { kind: "step", node: s.id });
  }
  return Math.min(end, cfg.timeLimit);
}

/** Time for node i to run `steps` local steps from t, or null if it crashes on the way. */
function trainFor(w: World, net: Network, s: NodeState, steps: number, t: number, h: Hooks): number | null {
  for (let k = 0; k < steps && s.steps < s.budgetSteps; k++) {
    t += net.stepTime(s.id, w.stepCost, t);
    if (!net.isUp(s.id, t)) return null;
    timedStep(w, s, h);
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

function runFedAvg(w: World, h: Hooks): number {
  const { cfg, nodes } = w;
  const n = nodes.length, k = w.net.engine.kernels, P = w.plan.numParams;
  // The server is node n of a star; its links share the run's failure model (the server never crashes
  // in the sense that its crash process is drawn like any node's; a crashed server loses that round).
  const star = new Network(fromEdges(n + 1, nodes.map((s) => [s.id, n] as [number, number]), "fedavg-star"), w.network.config, cfg.seed);
  w.serverNetwork = star;
  const global = w.net.newParams().theta;
  global.view.set(nodes[0].params.theta.view);
  const nextEval = { t: 0 };
  let t = 0;
  evalUpTo(h, nextEval, t);
  while (nodes.some((s) => s.steps < s.budgetSteps) && t <= cfg.timeLimit) {
    let roundEnd = t;
    const arrived: NodeState[] = [];
    for (const s of nodes) {
      if (s.steps >= s.budgetSteps || !w.network.isUp(s.id, t)) continue;
      const down = star.send(n, s.id, w.messageBytes, t);
      let start = t;
      if (down.delivered) { s.params.theta.view.set(global.view); start = down.arrival; }
      const done = trainFor(w, w.network, s, cfg.localSteps, start, h);
      if (done === null) continue;
      roundEnd = Math.max(roundEnd, done);
      const up = star.send(s.id, n, w.messageBytes, done);
      if (up.delivered) { arrived.push(s); roundEnd = Math.max(roundEnd, up.arrival); }
    }
    h.trace?.(`${t} round ${roundEnd} ${arrived.map((s) => s.id).join(",")}`);
    if (arrived.length) {
      const total = arrived.reduce((a, s) => a + s.shard.length, 0);
      global.view.fill(0);
      for (const s of arrived) k.axpy_f32(global.ptr, s.params.theta.ptr, P, s.shard.length / total);
    }
    t = roundEnd > t ? roundEnd : t + w.stepCost; // a round where nobody could work still takes time
    evalUpTo(h, nextEval, Math.min(t, cfg.timeLimit));
  }
  // The final broadcast: a client keeps the global model only if it reaches it.
  for (const s of nodes) if (star.send(n, s.id, w.messageBytes, t).delivered) s.params.theta.view.set(global.view);
  return t;
}

function runDpsgd(w: World, h: Hooks): number {
  const { cfg, nodes, network, topology } = w;
  const nextEval = { t: 0 };
  let t = 0;
  evalUpTo(h, nextEval, t);
  const learning = () => nodes.some((s) => s.steps < s.budgetSteps);
  // After the learning budgets, --agree-steps rounds of exchange and mixing without learning.
  while ((learning() || nodes[0].agreeSteps < cfg.agreeSteps) && t <= cfg.timeLimit) {
    const agreeing = !learning();
    let barrier = t;
    const alive: NodeState[] = [];
    for (const s of nodes) {
      if (agreeing) s.agreeSteps++;
      if (!network.isUp(s.id, t)) continue;
      const done = trainFor(w, network, s, cfg.localSteps, t, h);
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
        if (r.delivered) { inbound[j].push(snaps.get(s.id)!); roundEnd = Math.max(roundEnd, r.arrival); }
      }
    }
    h.trace?.(`${t} round ${roundEnd} ${alive.map((s) => `${s.id}:${inbound[s.id].length}`).join(",")}`);
    for (const s of alive) {
      const got = inbound[s.id].filter((x) => x.finite || (s.rejected++, false)).sort((a, b) => a.from - b.from);
      const m = mixingWeights("metropolis", {}, topology.degree(s.id), got.map((g) => ({ peer: g.from, degree: topology.degree(g.from) })));
      mix(w, s, m.self, got.map((g, k) => ({ theta: g.theta, weight: m.peers[k] })));
      s.consensusSteps++;
    }
    t = roundEnd > t ? roundEnd : t + w.stepCost;
    evalUpTo(h, nextEval, Math.min(t, cfg.timeLimit));
  }
  return t;
}
