// The simulator on several threads. The event loop (src/experiment/algorithms.ts) stays on this
// thread and decides everything in its one order, as on one thread; what a node computes (learn,
// snapshot, agree, evaluate) goes to the worker thread that owns the node (contiguous blocks of
// node ids), in a queue per worker. Each worker runs its queue in order, so every node does exactly
// what it does on one thread, in the same order, with the same numbers: results are byte-identical
// for every worker count, and the event order needs no change.
//
// Snapshots travel through shared memory: a slot is a SharedArrayBuffer [16-byte head | θ]; the head
// holds the slot's generation, which the writer stores (Atomics) after writing θ and a reader waits
// for. A consensus step can only name snapshots sent earlier in the loop's order, and a worker runs
// its queue in that order, so a wait always ends. A slot no one holds any more is reused once every
// worker has run past the commands issued while it was held (a shared counter per worker).
// The loop runs ahead of the workers by at most AHEAD commands per worker, and waits for them at
// evaluation points, checkpoints and the end, where the nodes' state comes back into the world.
//
// Workers are node:worker_threads (Node, Bun and Deno all have it). The difference codecs stay on
// one thread (their encoder state and message sizes belong to the loop), and so do the round-based
// baselines. Rare divergence difference: a node whose θ turns non-finite fails the run here when it
// shares it; on one thread its neighbours reject the snapshot and the run fails at its next step.
import { Worker } from "node:worker_threads";
import type { Dataset, Split } from "../data/dataset.ts";
import { ConfigError } from "../errors.ts";
import type { Executor, Hooks } from "../experiment/algorithms.ts";
import type { RunConfig } from "../experiment/config.ts";
import type { NodeState, Snapshot, World } from "../experiment/world.ts";
import type { EvalResult } from "../nn/net.ts";
import type { RngState } from "../rng.ts";
import type { WeightRule } from "../consensus/weights.ts";

/** Command codes in a worker's queue: [code, node, …]. */
export const OP = { learn: 1, snapshot: 2, agree: 3, evaluate: 4, sync: 5, final: 6 } as const;
export const RULES: readonly WeightRule[] = ["laplacian", "metropolis", "uniform"];
/** Bytes before a slot's θ: its generation (one Int32), padded to 16 for aligned θ. */
export const SLOT_HEAD = 16;
/** Commands a worker's queue may hold before the loop waits, and per message. */
const AHEAD = 256, BATCH = 24;

interface SharedSplit { images: SharedArrayBuffer; labels: SharedArrayBuffer; count: number }
export interface SharedData { meta: Omit<Dataset, "train" | "test">; train: SharedSplit; test: SharedSplit }

/** A node's whole state as a worker starts from it or gives it back. */
export interface NodeImage {
  id: number; cursor: number; order: Int32Array; rngs: RngState[]; steps: number; lossSum: number; lossCount: number;
}

export type ToWorker =
  | { type: "init"; cfg: RunConfig; data: SharedData; index: number; control: SharedArrayBuffer; nodes: NodeImage[]; homes: { theta: SharedArrayBuffer; momentum: SharedArrayBuffer }[] }
  | { type: "run"; slots: { id: number; sab: SharedArrayBuffer }[]; cmds: number[] };

export type FromWorker =
  | { type: "ready" }
  | { type: "progress" }
  | { type: "evaluated"; req: number; nodes: (EvalResult & { id: number; lossSum: number; lossCount: number })[]; trainMs: number; evalMs: number }
  | { type: "synced"; req: number; nodes: NodeImage[]; trainMs: number }
  | { type: "finals"; req: number; nodes: (EvalResult & { id: number })[] }
  | { type: "failed"; name: string; message: string };

/** The dataset in shared memory: every worker reads the same bytes, none copies or parses them. */
export function shareDataset(ds: Dataset): SharedData {
  const size = ds.shape[0] * ds.shape[1] * ds.shape[2];
  const split = (sp: Split): SharedSplit => {
    const images = new SharedArrayBuffer(sp.count * size), labels = new SharedArrayBuffer(sp.count);
    new Uint8Array(images).set(sp.images.subarray(0, sp.count * size));
    new Uint8Array(labels).set(sp.labels.subarray(0, sp.count));
    return { images, labels, count: sp.count };
  };
  const { train, test, ...meta } = ds;
  return { meta, train: split(train), test: split(test) };
}

export function sharedDataset(d: SharedData): Dataset {
  const split = (s: SharedSplit): Split => ({ images: new Uint8Array(s.images), labels: new Uint8Array(s.labels), count: s.count });
  return { ...d.meta, train: split(d.train), test: split(d.test) };
}

/** The state of node s as a worker needs it (θ and momentum travel through shared homes). */
export function nodeImage(s: NodeState): NodeImage {
  return {
    id: s.id, cursor: s.cursor, order: s.order.slice(), rngs: [s.shuffleRng.state(), s.dropoutRng.state(), s.augRng.state()],
    steps: s.steps, lossSum: s.lossSum, lossCount: s.lossCount,
  };
}

/** Applies an image to node s (not θ and momentum). */
export function applyImage(s: NodeState, m: NodeImage): void {
  s.cursor = m.cursor;
  s.order = m.order;
  s.shuffleRng.restore(m.rngs[0]);
  s.dropoutRng.restore(m.rngs[1]);
  s.augRng.restore(m.rngs[2]);
  s.lossSum = m.lossSum;
  s.lossCount = m.lossCount;
}

/** The worker that owns node i of n: contiguous blocks of ids, so on a ring, a line or a torus
 * most neighbours share a worker and their snapshots need no wait for another thread. */
export const ownerOf = (i: number, n: number, threads: number): number => Math.floor((i * threads) / n);

/** The worker entry next to this file: .js in the compiled build (dist/), .ts from sources (Bun, Deno). */
const entry = () => new URL(import.meta.url.endsWith(".js") ? "./workers-main.js" : "./workers-main.ts", import.meta.url);

interface Slot { sab: SharedArrayBuffer; theta: Float32Array; gen: number }

class WorkerPool implements Executor {
  readonly threads: number;
  private readonly owner: Int32Array;
  private readonly cmds: number[][];
  private readonly fresh: { id: number; sab: SharedArrayBuffer }[][];
  private readonly issued: number[];
  private readonly done: Int32Array;
  private readonly slots: Slot[] = [];
  private readonly slotOf = new Map<Float32Array, number>();
  private readonly free: number[] = [];
  private readonly quarantined: { slot: number; tag: number[] }[] = [];
  private readonly waiting: (() => void)[] = [];
  private readonly replies = new Map<number, FromWorker[]>();
  private readonly trainMsOf: number[];
  private readonly trainMs0: number;
  private failure: Error | null = null;
  private req = 0;

  constructor(private readonly w: World, private readonly h: Hooks, private readonly workers: Worker[], control: SharedArrayBuffer,
    private readonly homes: { theta: Float32Array; momentum: Float32Array }[]) {
    this.threads = workers.length;
    this.owner = Int32Array.from(w.nodes, (s) => ownerOf(s.id, w.nodes.length, workers.length));
    this.cmds = workers.map(() => []);
    this.fresh = workers.map(() => []);
    this.issued = workers.map(() => 0);
    this.done = new Int32Array(control);
    this.trainMsOf = workers.map(() => 0);
    this.trainMs0 = h.trainMs;
    workers.forEach((wk) => {
      wk.on("message", (m: FromWorker) => this.message(m));
      wk.on("error", (e: Error) => this.fail(e));
      wk.on("exit", (code: number) => { if (code !== 0) this.fail(new Error(`a simulation worker exited with code ${code}`)); });
    });
  }

  private message(m: FromWorker): void {
    if (m.type === "failed") this.fail(m.name === "ConfigError" ? new ConfigError(m.message) : new Error(m.message));
    else if (m.type === "evaluated" || m.type === "synced" || m.type === "finals") {
      const got = this.replies.get(m.req) ?? [];
      got.push(m);
      this.replies.set(m.req, got);
    }
    this.wake();
  }

  private fail(e: Error): void {
    this.failure ??= e;
    this.wake();
  }

  private wake(): void {
    for (const r of this.waiting.splice(0)) r();
  }

  private check(): void {
    if (this.failure) throw this.failure;
  }

  private push(node: number, cmd: number[]): void {
    const k = this.owner[node];
    for (const c of cmd) this.cmds[k].push(c);
    this.issued[k]++;
  }

  private flush(): void {
    this.workers.forEach((wk, k) => {
      if (!this.cmds[k].length && !this.fresh[k].length) return;
      const m: ToWorker = { type: "run", slots: this.fresh[k], cmds: this.cmds[k] };
      wk.postMessage(m);
      this.cmds[k] = [];
      this.fresh[k] = [];
    });
  }

  private takeSlot(): number {
    while (this.quarantined.length) {
      const q = this.quarantined[0];
      if (!q.tag.every((n, k) => Atomics.load(this.done, k) >= n)) break;
      this.free.push(q.slot);
      this.quarantined.shift();
    }
    const reused = this.free.pop();
    if (reused !== undefined) return reused;
    const P = this.w.plan.numParams, sab = new SharedArrayBuffer(SLOT_HEAD + 4 * P), id = this.slots.length;
    const theta = new Float32Array(sab, SLOT_HEAD, P);
    this.slots.push({ sab, theta, gen: 0 });
    this.slotOf.set(theta, id);
    for (const f of this.fresh) f.push({ id, sab });
    return id;
  }

  learn(s: NodeState, at: number): void {
    this.push(s.id, [OP.learn, s.id, at]);
    s.steps++;
  }

  snapshot(s: NodeState, t: number): Snapshot {
    const id = this.takeSlot(), slot = this.slots[id];
    slot.gen++;
    this.push(s.id, [OP.snapshot, s.id, id, slot.gen]);
    return { from: s.id, step: s.steps + s.agreeSteps, sentAt: t, theta: slot.theta, finite: true, holders: 0 };
  }

  /** A slot for a snapshot taken before the workers started (restored from a checkpoint): its θ
   * is known here, so it is copied in and marked written at once. */
  private adopt(theta: Float32Array): number {
    const id = this.takeSlot(), slot = this.slots[id];
    slot.theta.set(theta);
    slot.gen++;
    Atomics.store(new Int32Array(slot.sab, 0, 1), 0, slot.gen);
    this.slotOf.set(theta, id);
    return id;
  }

  agree(s: NodeState, got: readonly Snapshot[], rule: WeightRule, own?: Snapshot): void {
    // [agree, node, rule, k, own slot (−1: none), its generation, then k × (slot, generation, sender)]
    const mine = own ? this.slotOf.get(own.theta)! : -1;
    const cmd = [OP.agree, s.id, RULES.indexOf(rule), got.length, mine, mine < 0 ? 0 : this.slots[mine].gen];
    for (const g of got) {
      const id = this.slotOf.get(g.theta) ?? this.adopt(g.theta);
      cmd.push(id, this.slots[id].gen, g.from);
    }
    this.push(s.id, cmd);
    s.consensusSteps++;
  }

  release(snap: Snapshot): void {
    const id = this.slotOf.get(snap.theta);
    if (id === undefined) return; // restored from a checkpoint and never mixed here
    if (this.slots[id].theta !== snap.theta) this.slotOf.delete(snap.theta);
    this.quarantined.push({ slot: id, tag: this.issued.slice() });
  }

  /** Sends `op` (with `args`) to every worker and waits for every worker's reply to it. */
  private async all<T extends FromWorker>(op: number, ...args: number[]): Promise<T[]> {
    const req = ++this.req;
    this.workers.forEach((_, k) => { this.cmds[k].push(op, -1, req, ...args); this.issued[k]++; });
    this.flush();
    for (;;) {
      this.check();
      const got = this.replies.get(req);
      if (got && got.length === this.workers.length) {
        this.replies.delete(req);
        return got as T[];
      }
      await new Promise<void>((r) => this.waiting.push(r));
    }
  }

  private trained(k: number, ms: number): void {
    this.trainMsOf[k] = ms;
    this.h.trainMs = this.trainMs0 + this.trainMsOf.reduce((a, b) => a + b, 0);
  }

  async point(t: number): Promise<void> {
    const replies = await this.all<Extract<FromWorker, { type: "evaluated" }>>(OP.evaluate);
    const evals: EvalResult[] = new Array(this.w.nodes.length);
    replies.forEach((r) => {
      for (const n of r.nodes) {
        const s = this.w.nodes[n.id];
        s.params.theta.view.set(this.homes[n.id].theta);
        s.lossSum = n.lossSum;
        s.lossCount = n.lossCount;
        evals[n.id] = { accuracy: n.accuracy, loss: n.loss, count: n.count };
      }
      this.trained(this.owner[r.nodes[0].id], r.trainMs);
    });
    // The workers evaluated at once: the wall time that took is the longest of theirs.
    this.h.recorder.evalMs += Math.max(...replies.map((r) => r.evalMs));
    this.h.recorder.point(t, evals);
  }

  async sync(): Promise<void> {
    const replies = await this.all<Extract<FromWorker, { type: "synced" }>>(OP.sync);
    for (const r of replies) {
      for (const n of r.nodes) {
        const s = this.w.nodes[n.id];
        s.params.theta.view.set(this.homes[n.id].theta);
        s.params.momentum.view.set(this.homes[n.id].momentum);
        applyImage(s, n);
      }
      this.trained(this.owner[r.nodes[0].id], r.trainMs);
    }
  }

  async evaluate(testCount: number): Promise<EvalResult[]> {
    const out: EvalResult[] = new Array(this.w.nodes.length);
    for (const r of await this.all<Extract<FromWorker, { type: "finals" }>>(OP.final, testCount)) {
      for (const { id, ...ev } of r.nodes) out[id] = ev;
    }
    return out;
  }

  pace(): Promise<void> | null {
    this.check();
    if (this.cmds.some((c) => c.length >= BATCH * 4)) this.flush();
    const behind = () => this.issued.some((n, k) => n - Atomics.load(this.done, k) > AHEAD);
    if (!behind()) return null;
    this.flush();
    return (async () => {
      while (behind()) {
        this.check();
        await new Promise<void>((r) => this.waiting.push(r));
      }
    })();
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((wk) => wk.terminate()));
  }
}

/** Starts `threads` workers for the nodes of w, each with its own engine and the node states of
 * the world as they are now (a fresh run or one restored from a checkpoint). */
export async function startWorkers(w: World, h: Hooks, threads: number): Promise<Executor> {
  const P = w.plan.numParams;
  const homes = w.nodes.map((s) => {
    const theta = new Float32Array(new SharedArrayBuffer(4 * P)), momentum = new Float32Array(new SharedArrayBuffer(4 * P));
    theta.set(s.params.theta.view);
    momentum.set(s.params.momentum.view);
    return { theta, momentum };
  });
  const control = new SharedArrayBuffer(4 * threads);
  const data = shareDataset(w.ds);
  const workers: Worker[] = [];
  try {
    const ready: Promise<void>[] = [];
    for (let k = 0; k < threads; k++) {
      const wk = new Worker(entry());
      workers.push(wk);
      const mine = w.nodes.filter((s) => ownerOf(s.id, w.nodes.length, threads) === k);
      ready.push(new Promise<void>((ok, fail) => {
        const onMessage = (m: FromWorker) => {
          if (m.type === "ready") { wk.off("message", onMessage); wk.off("error", fail); ok(); }
          else if (m.type === "failed") fail(m.name === "ConfigError" ? new ConfigError(m.message) : new Error(m.message));
        };
        wk.on("message", onMessage);
        wk.once("error", fail);
      }));
      const init: ToWorker = {
        type: "init", cfg: w.cfg, data, index: k, control, nodes: mine.map(nodeImage),
        homes: mine.map((s) => ({ theta: homes[s.id].theta.buffer as SharedArrayBuffer, momentum: homes[s.id].momentum.buffer as SharedArrayBuffer })),
      };
      wk.postMessage(init);
    }
    await Promise.all(ready);
  } catch (e) {
    await Promise.all(workers.map((wk) => wk.terminate()));
    throw e;
  }
  return new WorkerPool(w, h, workers, control, homes);
}
