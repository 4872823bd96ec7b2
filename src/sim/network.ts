// The unreliable network of ALGORITHM.md, as seeded, deterministic processes on a virtual clock.
//
// What can go wrong with a message from i to j sent at time t (checked in this order):
//   crashed    i is down at t, or j is down when the message would arrive
//   link-down  the undirected link {i, j} is down at t (Gilbert–Elliott: the link alternates
//              up/down with exponential durations, means linkMtbf and linkMttr)
//   drop       lost with probability `drop`, independently per message
// otherwise it arrives at t + latency + bytes/bandwidth + jitter. Messages can overtake each other.
// The network does not queue anything: the caller schedules the arrival as an event itself, and
// calls arrive() when it happens, so a message still in flight when a run ends is never counted
// as delivered (sent = delivered + dropped + in flight).
//
// Determinism: every process owns an Rng stream derived from (seed, kind, ids), never from the
// order of creation or use. Up/down processes (links, node crashes) are sequences of toggle
// times extended lazily and kept, so the state at time t is the same whatever was queried
// before; per-message draws come from one stream per directed link, and step-time jitter from
// one stream per node, so traffic on one link never perturbs another. All processes start up at t = 0.
// Exponential draws use portableLog rather than Math.log, so a run is bit-identical on Node,
// Bun and Deno, not only within one runtime.
import { ConfigError } from "../errors.ts";
import { portableLog, Rng, type RngState } from "../rng.ts";
import type { Topology } from "../consensus/topology.ts";

export interface NetworkConfig {
  /** Probability that a message is lost in transit, independently per message, 0 ≤ drop ≤ 1 (--drop). Default 0. */
  drop: number;
  /** Mean up time of a link before it fails, virtual s (--link-mtbf); Infinity = links never fail. Default Infinity. */
  linkMtbf: number;
  /** Mean time a failed link stays down, virtual s (--link-mttr). Default 0. */
  linkMttr: number;
  /** Base one-way latency of every message, s (--latency). Default 0.01. */
  latency: number;
  /** Link bandwidth, bytes per virtual second (--bandwidth); transfer time is bytes/bandwidth. Default 1e8 (100 MB/s). */
  bandwidth: number;
  /** Mean extra random delay per message, s (--jitter). Default 0. */
  jitter: number;
  /** Distribution of that delay: exponential with mean `jitter`, or uniform on [0, 2·jitter]. Default "exponential". */
  jitterKind: "exponential" | "uniform";
  /** Fraction of nodes that are stragglers, 0..1, rounded to a node count (--stragglers). Default 0. */
  stragglers: number;
  /** Step-time multiplier of a straggler, ≥ 1 (--straggler-factor). Default 4. */
  stragglerFactor: number;
  /** Per-step speed noise: each step's time is scaled by a uniform factor in [1 − j, 1 + j], 0 ≤ j < 1 (--step-jitter). Default 0. */
  stepJitter: number;
  /** Crash rate of each node, crashes per virtual second of up time (--crash-rate); 0 = never crash. Default 0. */
  crashRate: number;
  /** Mean downtime of a crashed node before it rejoins, virtual s, exponential (--crash-downtime). Default 10. */
  crashDowntime: number;
}

export const DEFAULT_NETWORK: Readonly<NetworkConfig> = Object.freeze({
  drop: 0,
  linkMtbf: Infinity,
  linkMttr: 0,
  latency: 0.01,
  bandwidth: 1e8,
  jitter: 0,
  jitterKind: "exponential",
  stragglers: 0,
  stragglerFactor: 4,
  stepJitter: 0,
  crashRate: 0,
  crashDowntime: 10,
});

/** Defaults overlaid with `partial`, validated; a bad value is a one-line ConfigError naming the flag. */
export function networkConfig(partial: Partial<NetworkConfig> = {}): NetworkConfig {
  const c: NetworkConfig = { ...DEFAULT_NETWORK };
  for (const [k, v] of Object.entries(partial)) if (v !== undefined) (c as unknown as Record<string, unknown>)[k] = v;
  const need = (ok: boolean, flag: string, value: unknown, range: string) => {
    if (!ok) throw new ConfigError(`--${flag} ${value} is out of range; need ${range}`);
  };
  need(c.drop >= 0 && c.drop <= 1, "drop", c.drop, "0 ≤ drop ≤ 1");
  need(c.linkMtbf > 0, "link-mtbf", c.linkMtbf, "a mean up time > 0 seconds (Infinity: links never fail)");
  need(c.linkMttr >= 0 && Number.isFinite(c.linkMttr), "link-mttr", c.linkMttr, "a finite mean down time ≥ 0 seconds");
  need(c.latency >= 0 && Number.isFinite(c.latency), "latency", c.latency, "a finite latency ≥ 0 seconds");
  need(c.bandwidth > 0, "bandwidth", c.bandwidth, "bytes per second > 0 (Infinity: no transfer time)");
  need(c.jitter >= 0 && Number.isFinite(c.jitter), "jitter", c.jitter, "a finite mean delay ≥ 0 seconds");
  need(c.jitterKind === "exponential" || c.jitterKind === "uniform", "jitter-kind", c.jitterKind, "exponential or uniform");
  need(c.stragglers >= 0 && c.stragglers <= 1, "stragglers", c.stragglers, "a fraction 0..1");
  need(c.stragglerFactor >= 1 && Number.isFinite(c.stragglerFactor), "straggler-factor", c.stragglerFactor, "a finite factor ≥ 1");
  need(c.stepJitter >= 0 && c.stepJitter < 1, "step-jitter", c.stepJitter, "0 ≤ j < 1");
  need(c.crashRate >= 0 && Number.isFinite(c.crashRate), "crash-rate", c.crashRate, "a finite rate ≥ 0 per second");
  need(c.crashDowntime >= 0 && Number.isFinite(c.crashDowntime), "crash-downtime", c.crashDowntime, "a finite mean ≥ 0 seconds");
  return c;
}

export type DropReason = "drop" | "link-down" | "crashed";

export type SendResult =
  | { delivered: false; reason: DropReason }
  | { delivered: true; arrival: number };

/** Message counters of one node (as sender, except `received`). */
export interface NodeStats {
  sent: number;
  delivered: number;
  received: number;
  bytesSent: number;
  bytesDelivered: number;
  dropped: Record<DropReason, number>;
}

const newStats = (): NodeStats => ({
  sent: 0, delivered: 0, received: 0, bytesSent: 0, bytesDelivered: 0, dropped: { drop: 0, "link-down": 0, crashed: 0 },
});

/** Counters added up. */
export function sumStats(list: readonly NodeStats[]): NodeStats {
  const t = newStats();
  for (const s of list) {
    t.sent += s.sent; t.delivered += s.delivered; t.received += s.received;
    t.bytesSent += s.bytesSent; t.bytesDelivered += s.bytesDelivered;
    for (const r of ["drop", "link-down", "crashed"] as const) t.dropped[r] += s.dropped[r];
  }
  return t;
}

// Stream kinds, so that e.g. link 3 and node 3 never share a stream.
const LINK = 1, MESSAGE = 2, CRASH = 3, STEP = 4, STRAGGLER = 5;


/** Exponential draw with the given mean from one uniform of `rng` (portable, see portableLog). */
function exponential(rng: Rng, mean: number): number {
  return -portableLog(1 - rng.uniform()) * mean;
}

/** A 32-bit seed for the stream (kind, a) of a run seed; a well-mixed hash, independent of call order. */
function streamSeed(seed: number, kind: number, a: number): number {
  let h = (seed >>> 0) ^ Math.imul(kind + 1, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = (h ^ Math.imul(a + 1, 0xc2b2ae35)) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0x27d4eb2f);
  return (h ^ (h >>> 16)) >>> 0;
}

export interface UpDownState { toggles: number[]; rng: RngState }

/** Everything a Network has drawn or counted, for a checkpoint (see Network.state). */
export interface NetworkState {
  links: (UpDownState | null)[];
  /** Links between nodes that are not neighbours (--heal), by number; absent when there are none. */
  pairLinks?: [number, UpDownState][];
  nodes: (UpDownState | null)[];
  messageRngs: [number, RngState][];
  stepRngs: (RngState | null)[];
  counters: NodeStats[];
}

/**
 * An alternating up/down renewal process starting up at t = 0, with exponential durations.
 * toggles[k] is the time of the k-th change, so the state on [toggles[k−1], toggles[k]) is up
 * iff k is even. Toggle times are drawn in order and kept: queries in any order agree.
 */
export class UpDownProcess {
  private toggles: number[] = [];
  constructor(private readonly rng: Rng, readonly meanUp: number, readonly meanDown: number) {}

  private extend(t: number): void {
    const tg = this.toggles;
    let last = tg.length ? tg[tg.length - 1] : 0;
    while (last <= t) {
      last += exponential(this.rng, tg.length % 2 === 0 ? this.meanUp : this.meanDown);
      tg.push(last);
    }
  }

  /** Toggle times drawn so far and the stream's state, for a checkpoint. */
  state(): UpDownState {
    return { toggles: this.toggles.slice(), rng: this.rng.state() };
  }

  restore(s: UpDownState): this {
    this.toggles = s.toggles.slice();
    this.rng.restore(s.rng);
    return this;
  }

  /** Number of changes at or before t. */
  private changesBy(t: number): number {
    this.extend(t);
    const tg = this.toggles;
    let lo = 0, hi = tg.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (tg[mid] <= t) lo = mid + 1; else hi = mid;
    }
    return lo;
  }

  /** State at virtual time t ≥ 0 (a change at exactly t has happened). */
  isUp(t: number): boolean {
    if (this.meanUp === Infinity) return true;
    return this.changesBy(t) % 2 === 0;
  }

  /** Time of the first change strictly after t (Infinity if the process never changes). */
  nextChange(t: number): number {
    if (this.meanUp === Infinity) return Infinity;
    return this.toggles[this.changesBy(t)];
  }
}

/** The network of one run: `new Network(topology, networkConfig({...}), seed)`. */
export class Network {
  readonly config: NetworkConfig;
  private readonly edgeIndex = new Map<number, number>();
  private readonly links: (UpDownProcess | undefined)[];
  private readonly pairLinks = new Map<number, UpDownProcess>();
  private readonly nodes: (UpDownProcess | undefined)[];
  private readonly messageRngs = new Map<number, Rng>();
  private readonly stepRngs: (Rng | undefined)[];
  private readonly speed: Float64Array;
  private readonly counters: NodeStats[];
  private readonly alwaysUp = new UpDownProcess(new Rng(0), Infinity, 0);

  constructor(readonly topology: Topology, config: Partial<NetworkConfig>, readonly seed: number) {
    this.config = networkConfig(config);
    const n = topology.n;
    topology.edges.forEach(([a, b], e) => { this.edgeIndex.set(a * n + b, e); this.edgeIndex.set(b * n + a, e); });
    this.links = new Array(topology.edges.length);
    this.nodes = new Array(n);
    this.stepRngs = new Array(n);
    this.counters = Array.from({ length: n }, newStats);
    this.speed = new Float64Array(n).fill(1);
    const slow = Math.round(this.config.stragglers * n);
    const order = new Rng(streamSeed(seed, STRAGGLER, 0)).permutation(n);
    for (let k = 0; k < slow; k++) this.speed[order[k]] = this.config.stragglerFactor;
  }

  private edge(a: number, b: number): number {
    const e = this.edgeIndex.get(a * this.topology.n + b);
    if (e === undefined) throw new RangeError(`Network: nodes ${a} and ${b} are not neighbours in ${this.topology.name}`);
    return e;
  }

  /**
   * The link a message from a to b travels: the topology's edge, or for two nodes that are not
   * neighbours (--heal sends past a silent neighbour) a link of their own, numbered after the
   * edges by the pair, with its own up/down process under the same failure model.
   */
  private pathOf(a: number, b: number): number {
    const n = this.topology.n;
    return this.edgeIndex.get(a * n + b) ?? this.topology.edges.length + Math.min(a, b) * n + Math.max(a, b);
  }

  private link(e: number): UpDownProcess {
    if (this.config.linkMtbf === Infinity) return this.alwaysUp;
    const make = () => new UpDownProcess(new Rng(streamSeed(this.seed, LINK, e)), this.config.linkMtbf, this.config.linkMttr);
    if (e < this.links.length) return (this.links[e] ??= make());
    let p = this.pairLinks.get(e);
    if (!p) this.pairLinks.set(e, (p = make()));
    return p;
  }

  private node(i: number): UpDownProcess {
    if (this.config.crashRate === 0) return this.alwaysUp;
    return (this.nodes[i] ??= new UpDownProcess(new Rng(streamSeed(this.seed, CRASH, i)), 1 / this.config.crashRate, this.config.crashDowntime));
  }

  /** Whether node i is running (not crashed) at virtual time t. */
  isUp(i: number, t: number): boolean {
    return this.node(i).isUp(t);
  }

  /** The next time after t at which node i crashes or rejoins (Infinity if never). */
  nextNodeChange(i: number, t: number): number {
    return this.node(i).nextChange(t);
  }

  /** Whether the link between neighbours a and b is up at virtual time t. */
  linkUp(a: number, b: number, t: number): boolean {
    return this.link(this.edge(a, b)).isUp(t);
  }

  /** The next time after t at which link {a, b} fails or recovers (Infinity if never). */
  nextLinkChange(a: number, b: number, t: number): number {
    return this.link(this.edge(a, b)).nextChange(t);
  }

  /** Step-time multiplier of node i: stragglerFactor for stragglers, else 1. */
  speedFactor(i: number): number {
    return this.speed[i];
  }

  /**
   * Virtual duration of node i's next local step starting at t, for a step that costs
   * `baseCost` seconds on a normal node: baseCost × speedFactor × U[1 − j, 1 + j].
   * Draws from node i's own stream, so call it once per step, in step order.
   */
  stepTime(i: number, baseCost: number, t: number): number {
    if (!this.isUp(i, t)) throw new RangeError(`Network.stepTime: node ${i} is crashed at t=${t}`);
    const j = this.config.stepJitter;
    let f = 1;
    if (j > 0) {
      const rng = (this.stepRngs[i] ??= new Rng(streamSeed(this.seed, STEP, i)));
      f = 1 + j * (2 * rng.uniform() - 1);
    }
    return baseCost * this.speed[i] * f;
  }

  /** Transfer time of a message without jitter: latency + bytes/bandwidth. */
  transferTime(bytes: number): number {
    return this.config.latency + bytes / this.config.bandwidth;
  }

  /**
   * Sends `bytes` from `from` to neighbour `to` at virtual time `now` and returns its fate.
   * Always consumes exactly two draws from the (from, to) stream, whatever the outcome.
   */
  send(from: number, to: number, bytes: number, now: number): SendResult {
    if (from === to || !(to >= 0 && to < this.topology.n)) throw new RangeError(`Network.send: no node ${to} to send to from ${from}`);
    const e = this.pathOf(from, to);
    const n = this.topology.n;
    const key = from * n + to;
    let rng = this.messageRngs.get(key);
    if (!rng) this.messageRngs.set(key, (rng = new Rng(streamSeed(this.seed, MESSAGE, from), to)));
    const c = this.config;
    const u = rng.uniform(), v = rng.uniform();
    const jitter = c.jitterKind === "uniform" ? 2 * c.jitter * v : -portableLog(1 - v) * c.jitter;
    const st = this.counters[from];
    st.sent++;
    st.bytesSent += bytes;
    let reason: DropReason | null = null;
    let arrival = 0;
    if (!this.isUp(from, now)) reason = "crashed";
    else if (!this.link(e).isUp(now)) reason = "link-down";
    else if (u < c.drop) reason = "drop";
    else {
      arrival = now + this.transferTime(bytes) + jitter;
      if (!this.isUp(to, arrival)) reason = "crashed";
    }
    if (reason) {
      st.dropped[reason]++;
      return { delivered: false, reason };
    }
    return { delivered: true, arrival };
  }

  /** Counts the arrival of a message that send() delivered: call it when the message arrives. */
  arrive(from: number, to: number, bytes: number): void {
    const st = this.counters[from];
    st.delivered++;
    st.bytesDelivered += bytes;
    this.counters[to].received++;
  }

  /** The processes drawn so far, every stream's state and the counters: a Network restored from
   * it answers every later query and draw exactly as this one would. */
  state(): NetworkState {
    const up = (p: UpDownProcess | undefined) => (p ? p.state() : null);
    return {
      links: Array.from(this.links, up), nodes: Array.from(this.nodes, up),
      ...(this.pairLinks.size ? { pairLinks: [...this.pairLinks].map(([e, p]): [number, UpDownState] => [e, p.state()]) } : {}),
      messageRngs: [...this.messageRngs].map(([k, r]) => [k, r.state()]),
      stepRngs: Array.from(this.stepRngs, (r) => (r ? r.state() : null)),
      counters: this.counters.map((c) => ({ ...c, dropped: { ...c.dropped } })),
    };
  }

  restore(s: NetworkState): this {
    s.links.forEach((p, e) => { if (p) this.link(e).restore(p); });
    for (const [e, p] of s.pairLinks ?? []) this.link(e).restore(p);
    s.nodes.forEach((p, i) => { if (p) this.node(i).restore(p); });
    for (const [key, r] of s.messageRngs) {
      const n = this.topology.n, from = Math.floor(key / n), to = key % n;
      this.messageRngs.set(key, new Rng(streamSeed(this.seed, MESSAGE, from), to).restore(r));
    }
    s.stepRngs.forEach((r, i) => { if (r) this.stepRngs[i] = new Rng(streamSeed(this.seed, STEP, i)).restore(r); });
    s.counters.forEach((c, i) => { this.counters[i] = { ...c, dropped: { ...c.dropped } }; });
    return this;
  }

  /** A copy of node i's counters. */
  stats(i: number): NodeStats {
    const s = this.counters[i];
    return { ...s, dropped: { ...s.dropped } };
  }

  /** Counters summed over all nodes. */
  totals(): NodeStats {
    return sumStats(this.counters);
  }
}
