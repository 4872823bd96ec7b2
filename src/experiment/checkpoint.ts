// Checkpoints of a simulated run: everything needed to continue it exactly as if it had never
// stopped — every node's θ, momentum, data order and cursor, Rng streams, inbox and counters; the
// snapshots in flight; the event queue (or the round loop's position); the network's drawn
// processes, streams and counters; the metrics recorded so far. The world's fixed parts (data,
// partition, topology, engine) are rebuilt from the config, which the checkpoint carries.
//
// File layout (little-endian): "CDLCKPT1", u32 n, n bytes of JSON (the header), zero padding to a
// multiple of 4, then the arrays the header points at ({ blob: [byteOffset, length, "f32"|"i32"] },
// offsets from the end of the padding). Written atomically (temporary file + rename).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "../errors.ts";
import { writeAtomic } from "../io/dirs.ts";
import type { MessageKind, Sender } from "../node/compress.ts";
import type { RngState } from "../rng.ts";
import type { QueueState } from "../sim/events.ts";
import type { NetworkState } from "../sim/network.ts";
import type { Event, Hold, SimState } from "./algorithms.ts";
import type { RunConfig } from "./config.ts";
import type { Recorder } from "./recorder.ts";
import type { Snapshot, World } from "./world.ts";

export const CHECKPOINT_FILE = "checkpoint.cdl";
const MAGIC = "CDLCKPT1";
const VERSION = 1;

type Blob = { blob: [number, number, "f32" | "i32"] };
type SavedEvent = { kind: "step"; node: number; start: number } | { kind: "msg"; to: number; snap: number } | { kind: "eval" } | { kind: "wake"; node: number; gen: number };

interface SavedNode {
  steps: number; agreeSteps: number; done: boolean; cursor: number; order: Blob;
  rngs: { shuffle: RngState; dropout: RngState; aug: RngState };
  inbox: [number, number][];
  lossSum: number; lossCount: number; outOfOrder: number; tooOld: number; rejected: number; gaps: number; consensusSteps: number;
  theta: Blob; momentum: Blob | null;
  /** Under a difference codec: the encoder's public copy and counters, and each sender's last applied message. */
  sender: { hat: Blob; state: ReturnType<Sender["state"]> } | null;
  linkSeq: [number, number][];
  /** --heal (written only when not the start's): when the node last came up, and the nodes it sends to past a silent neighbour. */
  upSince?: number;
  heal?: [number, number][];
}

interface Header {
  version: number;
  config: RunConfig;
  /** Virtual time reached. */
  t: number;
  sim: { kind: "async"; queue: QueueState<SavedEvent>; end: number; nextCheckpoint: number; lostSteps: number; held?: [number, Hold][]; wakeGen?: number }
    | { kind: "rounds"; t: number; nextEval: number; nextCheckpoint: number; global: Blob | null; star: NetworkState | null }
    | { kind: "live"; t: number; nextEval: number; nextCheckpoint: number };
  nodes: SavedNode[];
  snapshots: { from: number; step: number; sentAt: number; finite: boolean; theta: Blob; bytes?: number; kind?: MessageKind; seq?: number }[];
  network: NetworkState;
  metrics: string[];
  /** Wall-clock totals so far (for the summary's throughput figures; not part of the results). */
  trainMs: number;
  wallMs: number;
}

/** What a checkpoint holds once read: the config to rebuild the world with, and the rest to apply. */
export interface Checkpoint { config: RunConfig; t: number; header: Header; data: Uint8Array }

// JSON has no Infinity or NaN; the config and the queue carry them.
const replacer = (_k: string, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? { $num: String(v) } : v);
const reviver = (_k: string, v: unknown) =>
  v && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length === 1 && "$num" in v ? Number((v as { $num: string }).$num) : v;

/** Writes the run's checkpoint into `dir` (atomically); returns its path. */
export function writeCheckpoint(dir: string, w: World, sim: SimState, recorder: Pick<Recorder, "lines">, t: number, wall: { trainMs: number; wallMs: number }): string {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const blob = (a: Float32Array | Int32Array): Blob => {
    const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    chunks.push(bytes.slice());
    const ref: Blob = { blob: [size, a.length, a instanceof Float32Array ? "f32" : "i32"] };
    size += bytes.length;
    return ref;
  };
  const ids = new Map<Snapshot, number>();
  const snapshots: Header["snapshots"] = [];
  const snapId = (s: Snapshot) => {
    let id = ids.get(s);
    if (id === undefined) {
      ids.set(s, (id = snapshots.length));
      snapshots.push({ from: s.from, step: s.step, sentAt: s.sentAt, finite: s.finite, theta: blob(s.theta), bytes: s.bytes, kind: s.kind, seq: s.seq });
    }
    return id;
  };
  const withMomentum = w.cfg.momentum > 0 || w.cfg.weightDecay > 0; // else it is never written (see Net.sgdStep)
  const nodes: SavedNode[] = w.nodes.map((s) => ({
    steps: s.steps, agreeSteps: s.agreeSteps, done: s.done, cursor: s.cursor, order: blob(s.order),
    rngs: { shuffle: s.shuffleRng.state(), dropout: s.dropoutRng.state(), aug: s.augRng.state() },
    inbox: [...s.inbox].map(([from, snap]) => [from, snapId(snap)]),
    lossSum: s.lossSum, lossCount: s.lossCount, outOfOrder: s.outOfOrder, tooOld: s.tooOld, rejected: s.rejected, gaps: s.gaps, consensusSteps: s.consensusSteps,
    theta: blob(s.params.theta.view), momentum: withMomentum ? blob(s.params.momentum.view) : null,
    sender: s.sender ? { hat: blob(s.sender.hat), state: s.sender.state() } : null,
    linkSeq: [...s.linkSeq],
    ...(s.upSince !== 0 || s.heal.size ? { upSince: s.upSince, heal: [...s.heal] } : {}),
  }));
  const saved: Header["sim"] = sim.kind === "async"
    ? { ...sim, queue: { ...sim.queue, events: sim.queue.events.map((e): SavedEvent => (e.kind === "msg" ? { kind: "msg", to: e.to, snap: snapId(e.snap) } : e)) } }
    : sim.kind === "rounds" ? { ...sim, global: sim.global ? blob(sim.global) : null } : sim;
  const header: Header = {
    version: VERSION, config: w.cfg, t, sim: saved, nodes, snapshots, network: w.network.state(),
    metrics: recorder.lines, trainMs: wall.trainMs, wallMs: wall.wallMs,
  };
  const json = new TextEncoder().encode(JSON.stringify(header, replacer));
  const head = new Uint8Array(8 + 4 + json.length + ((4 - (json.length % 4)) % 4));
  head.set(new TextEncoder().encode(MAGIC));
  new DataView(head.buffer).setUint32(8, json.length, true);
  head.set(json, 12);
  const file = new Uint8Array(head.length + size);
  file.set(head);
  let off = head.length;
  for (const c of chunks) { file.set(c, off); off += c.length; }
  const path = join(dir, CHECKPOINT_FILE);
  writeAtomic(path, file);
  return path;
}

/** Reads `dir`'s checkpoint; a missing, truncated or foreign file is a one-line ConfigError. */
export function readCheckpoint(dir: string): Checkpoint {
  const path = join(dir, CHECKPOINT_FILE);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(path)); // a plain copy: a Buffer's slice() would share its pool
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError(`--resume ${dir}: no checkpoint there (${code === "ENOENT" ? `${CHECKPOINT_FILE} not found` : code}); a run writes one when interrupted or with --checkpoint-every`);
  }
  const bad = (why: string): never => { throw new ConfigError(`--resume ${dir}: ${path} is not a usable checkpoint (${why})`); };
  if (bytes.length < 12 || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) bad("wrong magic: not a cdl checkpoint");
  const n = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(8, true);
  if (12 + n > bytes.length) bad(`truncated: header of ${n} bytes in a ${bytes.length}-byte file`);
  let header: Header;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + n)), reviver) as Header;
  } catch (e) {
    return bad(`header: ${(e as Error).message}`);
  }
  if (header.version !== VERSION) bad(`version ${header.version}, this cdl reads version ${VERSION}`);
  const data = bytes.subarray(12 + n + ((4 - (n % 4)) % 4));
  return { config: header.config, t: header.t, header, data };
}

/** Puts the world and the recorder back where the checkpoint was taken; returns the simulator's state. */
export function applyCheckpoint(ck: Checkpoint, w: World, recorder: Pick<Recorder, "restore">): { sim: SimState; trainMs: number; wallMs: number } {
  const { header: h, data } = ck;
  const view = <T extends Float32Array | Int32Array>(b: Blob): T => {
    const [off, len, type] = b.blob;
    const bytesPer = 4;
    if (off + len * bytesPer > data.length) throw new ConfigError(`checkpoint is truncated: an array at byte ${off} of ${len} values lies past the end`);
    const copy = data.slice(off, off + len * bytesPer);
    return (type === "f32" ? new Float32Array(copy.buffer) : new Int32Array(copy.buffer)) as T;
  };
  if (h.nodes.length !== w.nodes.length) throw new ConfigError(`checkpoint has ${h.nodes.length} nodes, the rebuilt run ${w.nodes.length}`);
  const snaps: Snapshot[] = h.snapshots.map((s) => ({ from: s.from, step: s.step, sentAt: s.sentAt, finite: s.finite, theta: view<Float32Array>(s.theta), holders: 0,
    ...(s.seq !== undefined ? { bytes: s.bytes, kind: s.kind, seq: s.seq } : {}) }));
  h.nodes.forEach((n, i) => {
    const s = w.nodes[i];
    s.steps = n.steps; s.agreeSteps = n.agreeSteps; s.done = n.done; s.cursor = n.cursor;
    s.order = view<Int32Array>(n.order);
    s.shuffleRng.restore(n.rngs.shuffle); s.dropoutRng.restore(n.rngs.dropout); s.augRng.restore(n.rngs.aug);
    s.inbox.clear();
    for (const [from, id] of n.inbox) { s.inbox.set(from, snaps[id]); snaps[id].holders++; }
    s.lossSum = n.lossSum; s.lossCount = n.lossCount; s.outOfOrder = n.outOfOrder; s.tooOld = n.tooOld;
    s.rejected = n.rejected; s.gaps = n.gaps ?? 0; s.consensusSteps = n.consensusSteps;
    if (n.sender && s.sender) s.sender.restore(n.sender.state, view<Float32Array>(n.sender.hat));
    s.linkSeq.clear();
    for (const [from, seq] of n.linkSeq ?? []) s.linkSeq.set(from, seq);
    s.upSince = n.upSince ?? 0;
    s.heal.clear();
    for (const [k, since] of n.heal ?? []) s.heal.set(k, since);
    s.params.theta.view.set(view<Float32Array>(n.theta));
    if (n.momentum) s.params.momentum.view.set(view<Float32Array>(n.momentum));
  });
  w.network.restore(h.network);
  recorder.restore(h.metrics);
  let sim: SimState;
  if (h.sim.kind === "async") {
    const events = h.sim.queue.events.map((e): Event => {
      if (e.kind !== "msg") return e;
      snaps[e.snap].holders++;
      return { kind: "msg", to: e.to, snap: snaps[e.snap] };
    });
    sim = { ...h.sim, queue: { ...h.sim.queue, events } };
  } else if (h.sim.kind === "rounds") {
    sim = { ...h.sim, global: h.sim.global ? view<Float32Array>(h.sim.global) : null };
  } else {
    sim = h.sim;
  }
  return { sim, trainMs: h.trainMs, wallMs: h.wallMs };
}
