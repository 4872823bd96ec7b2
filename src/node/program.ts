// The node program: what one compute node does, whatever drives it. A driver (the simulator,
// src/experiment/algorithms.ts; a live process, src/drivers/live.ts; the browser lab later) owns
// the clock, the message delivery and snapshot memory, and calls these functions; it holds no
// algorithm logic of its own.
//
//   due(…)      at the end of one step time: learn? agree? share? is this the node's last step?
//   learn(…)    one local SGD step on the node's next minibatch
//   agree(…)    the consensus step θ_i ← w_ii·θ_i + Σ_j w_ij·θ_j over the given snapshots —
//               the only place a node mixes models (cdl, cdl-on-receive and dpsgd all call it)
//   receive(…)  a snapshot arrives: skip a difference after a lost one, reject non-finite,
//               ignore out-of-order, keep the newest
//   fresh(…)    the inbox snapshots young enough to mix (--max-staleness)
//   targets(…)  whom the node sends to: its neighbours, and with --heal the nearest live node
//               past a neighbour that has gone silent
//   heldBack(…) --max-lead: must the node wait before its next learning step (bounded staleness)?
//   snapshot(…) what θ_i's neighbours receive (exact, or as --compress encodes it)
//
// The budget is counted on the shared clock by default (--budget time, ALGORITHM.md "Budget"):
// every node learns until the same virtual time T = (its share of the samples / batch) × step
// cost of a normal node, then agrees until T + agree-steps × step cost, and its learning rate
// follows the schedule on that clock. Fast nodes do more steps, slow ones fewer, and they all stop
// learning together, so no node drifts on its own classes after its neighbours have gone quiet.
// --budget steps is the former rule (each node counts its own steps), kept for comparison.
import { mixingWeights } from "../consensus/weights.ts";
import { ConfigError } from "../errors.ts";
import { learningRate } from "../train.ts";
import { admit, int8Scale, peek, type Tensor } from "./compress.ts";
import type { F32Buf } from "../wasm/arena.ts";
import type { Kernels } from "../wasm/kernels.ts";
import type { NodeState, Snapshot, World } from "../experiment/world.ts";

/** What a node's step does, decided at the end of one step time (see due). */
export interface Due {
  learn: boolean;
  agree: boolean;
  share: boolean;
  /** The node's last step: after it the node is done. */
  last: boolean;
}

/** Tolerance of "the same time" on the virtual clock, relative to the budget (sums of step times carry rounding). */
const SAME_TIME = 1e-9;

/** T: the virtual time at which every node stops learning under --budget time. */
export function learnDeadline(w: World): number {
  return w.nodes[0].budgetSteps * w.stepCost;
}

/** The end of the agreement phase under --budget time. */
export function agreeDeadline(w: World): number {
  return learnDeadline(w) + w.cfg.agreeSteps * w.stepCost;
}

/**
 * Node s's step that ends at virtual time t; `next` is the end of its following step if it takes
 * one (drawn by the driver). Pure: reads the node's counters and the config, changes nothing.
 */
export function due(w: World, s: NodeState, t: number, next: number): Due {
  const { cfg } = w;
  const sends = cfg.algorithm === "cdl" || cfg.algorithm === "cdl-on-receive";
  let learn: boolean, last: boolean;
  if (cfg.budget === "time") {
    const T = learnDeadline(w), E = sends ? agreeDeadline(w) : T;
    learn = t <= T * (1 + SAME_TIME);
    last = next > E * (1 + SAME_TIME);
  } else {
    learn = s.steps < s.budgetSteps;
    const afterLearning = s.steps + (learn ? 1 : 0) >= s.budgetSteps;
    last = afterLearning && (!sends || s.agreeSteps + (learn ? 0 : 1) >= cfg.agreeSteps);
  }
  const tick = s.steps + s.agreeSteps + 1;
  const share = sends && (tick % cfg.shareEvery === 0 || last || !learn);
  const agree = cfg.algorithm === "cdl" && (tick % w.localSteps === 0 || last || !learn);
  return { learn, agree, share, last };
}

/**
 * --max-lead S (bounded staleness): whether node s must wait before a step from `start` to `end`.
 * Only a learning step is held (under --budget time: one that ends by T; under steps: one within
 * the budget). The node is held while its step count exceeds by more than S what it has heard:
 * the min (or mean, --lead-mode mean-*) of the newest snapshot steps in its inbox, over the
 * neighbours whose newest snapshot is no older than --max-staleness (a neighbour never heard
 * from, or silent longer than that, is ignored, so a dead peer never blocks anyone). Off
 * (undefined --max-lead): never held. Pure.
 */
export function heldBack(w: World, s: NodeState, start: number, end: number): boolean {
  const S = w.cfg.maxLead;
  if (S === undefined) return false;
  const learnsNext = w.cfg.budget === "time" ? end <= learnDeadline(w) * (1 + SAME_TIME) : s.steps < s.budgetSteps;
  if (!learnsNext) return false;
  const mean = w.cfg.leadMode?.startsWith("mean") ?? false;
  let min = Infinity, sum = 0, n = 0;
  for (const snap of s.inbox.values()) {
    if (start - snap.sentAt > w.cfg.maxStaleness) continue;
    if (snap.step < min) min = snap.step;
    sum += snap.step;
    n++;
  }
  if (n === 0) return false;
  return s.steps - (mean ? sum / n : min) > S;
}

/**
 * The learning-rate schedule's position of a step that starts at virtual time `start`, in steps
 * of a normal node (start / step cost), under --budget time. Snapped to the nearest whole step
 * within 1e-9, so that nodes of equal speed get exactly the rates --budget steps gives them.
 */
export function clockStep(w: World, start: number): number {
  const x = Math.max(0, start / w.stepCost), k = Math.round(x);
  return Math.abs(x - k) <= SAME_TIME * Math.max(1, k) ? k : x;
}

/** One local SGD step of node s on its next minibatch at schedule position `at` (in steps); returns the loss. */
export function learn(w: World, s: NodeState, at: number): number {
  const { net, ds, cfg } = w;
  if (s.cursor >= s.order.length) {
    s.order = s.shuffleRng.shuffle(s.order);
    s.cursor = 0;
  }
  const B = Math.min(cfg.batch, s.order.length - s.cursor);
  net.loadBatch(ds, ds.train, s.order, s.cursor, B, cfg.augment ? { augment: { rng: s.augRng } } : undefined);
  s.cursor += B;
  const lr = learningRate(cfg, at, s.budgetSteps);
  const loss = net.trainStep(s.params, B, { lr, momentum: cfg.momentum, weightDecay: cfg.weightDecay }, s.dropoutRng);
  if (!Number.isFinite(loss)) {
    const wd = cfg.weightDecay > 0 ? ` or --weight-decay (now ${cfg.weightDecay})` : "";
    throw new ConfigError(`node ${s.id} diverged at local step ${s.steps + 1} (loss ${loss}): lower --lr (now ${cfg.lr})${wd}`);
  }
  s.steps++;
  s.lossSum += loss;
  s.lossCount++;
  return loss;
}

/**
 * The inbox snapshots no older than --max-staleness at `now`, by sender; counts the others as too
 * old. With --heal, only from the nodes of the node's current view (targets) that it has heard from
 * within --heal s: a neighbour gone silent is replaced by the node past it, never mixed beside it,
 * so a node mixes at most one snapshot per neighbour and ε·|S| ≤ 1 holds as without healing.
 */
export function fresh(w: World, s: NodeState, now: number): Snapshot[] {
  const out: Snapshot[] = [];
  const view = w.cfg.heal > 0 ? new Set(targets(w, s, now).filter((k) => !silent(w, s, k, now))) : null;
  for (const snap of s.inbox.values()) {
    if (view && !view.has(snap.from)) continue;
    if (now - snap.sentAt <= w.cfg.maxStaleness) out.push(snap);
    else s.tooOld++;
  }
  return out;
}

/**
 * --heal H: node k has gone silent for s when s has heard nothing from it (no snapshot sent) for
 * more than H s since s started counting on it: since s came up (a neighbour), or since s first
 * sent to it past a silent neighbour.
 */
function silent(w: World, s: NodeState, k: number, now: number): boolean {
  const since = Math.max(s.inbox.get(k)?.sentAt ?? -Infinity, s.heal.get(k) ?? s.upSince);
  return now - since > w.cfg.heal;
}

/**
 * Whom node s sends its snapshot to at `now`, in ascending order: its neighbours in the topology,
 * and with --heal H > 0, for each neighbour silent for more than H s (crashed, cut off by a failed
 * link), the nearest node past it: the walk goes on from the silent node to its neighbours not yet
 * in s's view (the first of them, by id), through nodes that are silent too, until it reaches one
 * that is not (or has not yet been given H s to answer). That node does the same from its side, so
 * the live nodes of a ring stay a ring while nodes are down, instead of falling apart into arcs
 * that each learn only their own classes (a self-healing overlay, as peer-to-peer rings keep with
 * successor lists). A node past a silent one is kept as long as the silent one stays silent; a
 * silent node is still sent to, so that it is heard again as soon as it answers. [ours]
 */
export function targets(w: World, s: NodeState, now: number): readonly number[] {
  const adj = w.topology.adj;
  if (!(w.cfg.heal > 0)) return adj[s.id];
  const view = new Set<number>(adj[s.id]);
  for (const j of adj[s.id]) {
    let at = j;
    while (silent(w, s, at, now)) {
      const past = adj[at].find((k) => k !== s.id && !view.has(k));
      if (past === undefined) break;
      view.add(past);
      if (!s.heal.has(past)) s.heal.set(past, now);
      at = past;
    }
  }
  for (const k of s.heal.keys()) if (!view.has(k)) s.heal.delete(k);
  return [...view].sort((a, b) => a - b);
}

/**
 * The consensus step: θ_i ← w_ii·θ_i + Σ_j w_ij·θ_j over `got`, with the weights of `rule`
 * (ALGORITHM.md "Consensus"). Snapshots are mixed in sender order, so the sum does not depend
 * on arrival order. One scale and one axpy per snapshot, whole-vector kernel calls.
 *
 * `own`: the copy of θ_i the neighbours received this step, when it differs from θ_i (a level
 * --compress; see ownCopy). Then θ_i ← θ_i + Σ_j w_ij (θ̂_j − θ̂_i): every pair's exchange moves
 * the pair's sum by nothing, so the codec's rounding errors stay disagreement between nodes instead
 * of adding up, message after message, in the network's average (CHOCO-SGD's gossip step).
 */
export function agree(w: World, s: NodeState, got: readonly Snapshot[], rule = w.cfg.weights, own?: Float32Array): void {
  const sorted = got.length > 1 ? [...got].sort((a, b) => a.from - b.from) : got;
  const deg = (i: number) => w.topology.degree(i);
  const m = mixingWeights(rule, { epsilon: w.epsilon }, deg(s.id), sorted.map((f) => ({ peer: f.from, degree: deg(f.from) })));
  const k = w.net.engine.kernels, theta = s.params.theta, n = w.plan.numParams;
  if (own) {
    let out = 0;
    for (const p of m.peers) out += p;
    w.scratch.view.set(own);
    k.axpy_f32(theta.ptr, w.scratch.ptr, n, -out);
  } else if (m.self !== 1) k.scale_f32(theta.ptr, n, m.self);
  sorted.forEach((p, j) => {
    w.scratch.view.set(p.theta);
    k.axpy_f32(theta.ptr, w.scratch.ptr, n, m.peers[j]);
  });
  s.consensusSteps++;
}

/**
 * The `own` argument of agree for node s's snapshot taken this step (before the consensus step, of
 * θ_i as it is now), if --mix-against sent and a level codec (f16, int8) rounded it. Not for the
 * difference codecs: their public copy θ̂_i lags θ_i by everything not sent yet (error feedback),
 * and differences against it leave that lag uncorrected; CHOCO-SGD pairs them with a consensus
 * step well below our ε (with topk:0.15 at ε 0.4 every node diverged within 1,400 steps).
 */
export function ownCopy(w: World, early: Snapshot | null): Float32Array | undefined {
  // A config without the key (a checkpoint written before it existed) continues under the rule it began with.
  return early && w.cfg.mixAgainst === "sent" && w.compression.kind === "level" && w.compression.codec !== "f32" ? early.theta : undefined;
}

/** What became of an arriving snapshot. */
export type Received = "kept" | "out-of-order" | "nonfinite" | "gap";

/**
 * A snapshot arrives at node s. A difference message that does not follow the last one applied
 * from its sender is a gap (ignored until the next refresh); non-finite ones are rejected (NaN
 * must not spread), one not newer than the inbox's snapshot from the same sender is ignored,
 * else it replaces it. Returns the
 * outcome and the snapshot it displaced (for the driver's memory).
 */
export function receive(s: NodeState, snap: Snapshot): { outcome: Received; displaced?: Snapshot } {
  if (snap.seq !== undefined) { // a difference message: applicable only right after the one before it
    const a = admit(s.linkSeq.get(snap.from) ?? -1, snap.kind!, snap.seq);
    if (a === "gap" || a === "stale") { s.gaps++; return { outcome: "gap" }; }
    if (!snap.finite) { s.linkSeq.set(snap.from, -1); s.rejected++; return { outcome: "nonfinite" }; }
    s.linkSeq.set(snap.from, snap.seq);
  }
  if (!snap.finite) { s.rejected++; return { outcome: "nonfinite" }; }
  const old = s.inbox.get(snap.from);
  if (old && old.step >= snap.step) { s.outOfOrder++; return { outcome: "out-of-order" }; }
  s.inbox.set(snap.from, snap);
  return { outcome: "kept", displaced: old };
}

/**
 * A snapshot of node s's θ now, in `into` if given (a recycled array) else a fresh copy. Under
 * --compress f16/int8 it holds what a receiver decodes from the encoded message (the sender keeps
 * its exact θ). Finite iff θ is: the codecs keep NaN and Inf non-finite.
 */
export function snapshot(w: World, s: NodeState, now: number, into?: Float32Array): Snapshot {
  const theta = s.params.theta, c = w.compression;
  const out = into ?? new Float32Array(w.plan.numParams);
  const step = s.steps + s.agreeSteps;
  if (c.kind === "delta") {
    // The message updates the node's public copy θ̂ (CHOCO-SGD): receivers that applied every
    // message since the last refresh hold exactly θ̂, so the snapshot carries θ̂ itself.
    const msg = s.sender!.encodeDelta(theta.view, (bytes) => w.wire.subarray(0, bytes)); // encoded into the reused buffer
    const head = peek(msg)!;
    out.set(s.sender!.hat);
    return { from: s.id, step, sentAt: now, theta: out, finite: allFinite(out), holders: 0, bytes: msg.length, kind: head.kind, seq: head.seq };
  }
  const finite = w.net.engine.kernels.nonfinite_f32(theta.ptr, w.plan.numParams) === 0;
  if (c.codec === "f32") out.set(theta.view);
  else {
    encodeLevel(w.net.engine.kernels, c.codec, w.tensors, theta.ptr, w.wire, w.scratch);
    out.set(w.scratch.view);
  }
  return { from: s.id, step, sentAt: now, theta: out, finite, holders: 0 };
}

/**
 * θ [n] at engine pointer `thetaPtr` encoded by f16 or int8 into `wire` (a view of engine memory),
 * and what a receiver decodes from it into `own` [n], in one pass of the codec kernels
 * (assembly/codec.ts): the same bytes and values as compress.ts's encode and decode (tested on every
 * engine), several times faster.
 */
export function encodeLevel(k: Kernels, codec: "f16" | "int8", tensors: readonly Tensor[], thetaPtr: number, wire: Uint8Array, own: F32Buf): void {
  const wirePtr = wire.byteOffset;
  if (codec === "f16") { k.f16_encode_f32(thetaPtr, own.view.length, wirePtr, own.ptr); return; }
  const T = tensors.length, scales = new Float32Array(wire.buffer, wirePtr, T);
  tensors.forEach((t, j) => {
    const s = int8Scale(k.absmax_f32(thetaPtr + 4 * t.offset, t.count));
    scales[j] = s;
    if (s > 0) k.int8_encode_f32(thetaPtr + 4 * t.offset, t.count, s, wirePtr + 4 * T + t.offset, own.ptr + 4 * t.offset);
    else { // all zero (s = 0) or non-finite (s = NaN): q = 0, decoded as 0 · s
      wire.fill(0, 4 * T + t.offset, 4 * T + t.offset + t.count);
      own.view.fill(s === 0 ? 0 : NaN, t.offset, t.offset + t.count);
    }
  });
}

/** Whether every value of x is finite. */
function allFinite(x: Float32Array): boolean {
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i])) return false;
  return true;
}
