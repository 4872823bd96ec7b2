// WorkerTransport: the live driver's Transport (links.ts) moved off the training thread. The
// sockets, framing, HMAC signing and verification run in a worker thread (worker-main.ts, via
// node:worker_threads, which Node, Bun and Deno all provide); the training thread only hands θ
// over and takes snapshots back. Same interface as Transport, except that `key` is the raw
// 32-byte cluster key (a CryptoKey cannot be posted to a worker on every runtime) and stats()
// is the worker's last report (at most statsIntervalMs old; exact after close()).
//
// Glossary: n = numParams (floats in θ).
//
// Outbound: send() copies θ [n] once (as f32, or the bytes a level codec of --compress encoded it
// to), straight to its place in a frame-sized buffer (recycled),
// and transfers it to the worker, whose Transport.sendFrame writes the header and MAC around it
// and sends it: θ is copied once per send. The buffer comes back when every neighbour's socket
// has written it or a newer snapshot replaced it. At most maxInFlight buffers are with the worker
// (two per neighbour — one in its slot, one being written — and two more, so a stalled neighbour
// never blocks the others); beyond that a snapshot waits here in one newest-wins slot per
// neighbour (a newer one replaces it, counted as replaced), so a stalled worker or socket never
// makes send() wait or memory grow.
// Inbound: the worker transfers each good snapshot in the buffer it arrived in (θ is a view at
// byte offset 56 of the frame; or Transport's own copy of θ, made in the worker, when the frame
// shared its memory): no copy on this thread. Main acknowledges it after onSnapshot, and the
// worker keeps at most 2 per sender unacknowledged, holding only the newest beyond that. So a
// training thread busy for a long time (an evaluation) finds at most 3 snapshots per neighbour.
//
// Message protocol (ToWorker from here, FromWorker from the worker):
//   start {opts, key} → ready {address, stats} | failed {name, message}
//   send {to, step, sentAt, encoding, length, buf}  → taken {buf}
//                                   (buf, an f32 frame's room with θ's `length` bytes in place, transferred both ways)
//   snap {from, epoch, step, sentAt, buf, offset, length, stats} → ack {from}
//   peer {id, addr}; stats → stats; log {line}; close → closed {stats}
import { Worker } from "node:worker_threads";
import { ConfigError } from "../errors.ts";
import { KEY_BYTES } from "./key.ts";
import type { InboundSnapshot, TransportOptions, TransportStats } from "./links.ts";
import { checkEncoded, frameBytes, HEADER_BYTES, wholeTheta, type EncodedTheta } from "./wire.ts";
import type { LevelCodec } from "../node/compress.ts";

export interface WorkerTransportOptions extends Omit<TransportOptions, "key"> {
  /** The cluster key's 32 raw bytes (loadClusterKey); imported in the worker. */
  key: Uint8Array;
  /** The worker reports changed counters this often (stats() is at most this old). Default 50 ms. */
  statsIntervalMs?: number;
}

/** The options the worker gets: everything but the callbacks and the key. */
type WorkerOpts = Omit<WorkerTransportOptions, "key" | "onSnapshot" | "log" | "statsIntervalMs"> & { statsIntervalMs: number; wantLog: boolean };

export type ToWorker =
  | { type: "start"; opts: WorkerOpts; key: Uint8Array }
  | { type: "send"; to: number[]; step: number; sentAt: number; encoding: LevelCodec; length: number; buf: ArrayBuffer }
  | { type: "ack"; from: number }
  | { type: "peer"; id: number; addr: string | null }
  | { type: "stats" }
  | { type: "close" };

export type FromWorker =
  | { type: "ready"; address: { host: string; port: number }; stats: TransportStats }
  | { type: "failed"; name: string; message: string }
  | { type: "taken"; buf: ArrayBuffer }
  | { type: "snap"; from: number; epoch: number; step: number; sentAt: number; buf: ArrayBuffer; offset: number; length: number; stats: TransportStats }
  | { type: "stats"; stats: TransportStats }
  | { type: "log"; line: string }
  | { type: "closed"; stats?: TransportStats };

/** Send buffers with the worker at once, per neighbour, plus EXTRA_IN_FLIGHT; more wait here. */
const IN_FLIGHT_PER_PEER = 2, EXTRA_IN_FLIGHT = 2;
/**
 * Send buffers made (and written once) at start: one being filled, one with the worker, one on its
 * way back covers a send per step. A fresh 721 KiB buffer costs ~2 ms of page faults on first write.
 */
const PREALLOCATED = 3;
/** close() waits this long for the worker to close its sockets before terminating it anyway. */
const CLOSE_TIMEOUT_MS = 3000;

/** The worker entry next to this file: .js in the compiled build (dist/), .ts from sources (Bun, Deno). */
const entry = () => new URL(import.meta.url.endsWith(".js") ? "./worker-main.js" : "./worker-main.ts", import.meta.url);

/** A snapshot waiting for room in the worker: its neighbours not yet given a newer one. */
interface Waiting {
  readonly to: Set<number>;
  readonly step: number;
  readonly sentAt: number;
  readonly encoding: LevelCodec;
  /** Bytes of θ at HEADER_BYTES in buf. */
  readonly length: number;
  readonly buf: ArrayBuffer;
}

export class WorkerTransport {
  private readonly free: ArrayBuffer[] = [];
  private readonly waiting: Waiting[] = [];
  private inFlight = 0;
  private readonly maxInFlight: number;
  private sent = 0;
  private replaced = 0;
  private last: TransportStats;
  private closed = false;
  private dead = false;
  private closing?: Promise<void>;
  private onClosed: () => void = () => {};

  /** Starts the worker and its Transport; resolves once the port is bound. Rejects as Transport.start does (ConfigError when it cannot listen). */
  static async start(opts: WorkerTransportOptions): Promise<WorkerTransport> {
    if (opts.key.length !== KEY_BYTES) throw new RangeError(`a cluster key is ${KEY_BYTES} bytes, got ${opts.key.length}`);
    const { key, onSnapshot: _s, log, statsIntervalMs = 50, ...rest } = opts;
    const w = new Worker(entry());
    try {
      const ready = await new Promise<Extract<FromWorker, { type: "ready" }>>((ok, fail) => {
        const onMessage = (m: FromWorker) => {
          if (m.type === "log") log?.(m.line);
          else if (m.type === "ready") done(() => ok(m));
          else if (m.type === "failed") {
            const E = m.name === "ConfigError" ? ConfigError : m.name === "RangeError" ? RangeError : Error;
            done(() => fail(new E(m.message)));
          }
        };
        const onError = (e: Error) => done(() => fail(new Error(`transport worker failed to start: ${e.message}`)));
        const onExit = (code: number) => done(() => fail(new Error(`transport worker exited (${code}) before it was listening`)));
        const done = (then: () => void) => { w.off("message", onMessage); w.off("error", onError); w.off("exit", onExit); then(); };
        w.on("message", onMessage);
        w.on("error", onError);
        w.on("exit", onExit);
        const start: ToWorker = { type: "start", opts: { ...rest, statsIntervalMs, wantLog: log !== undefined }, key: key.slice() };
        w.postMessage(start);
      });
      return new WorkerTransport(w, opts, ready.address, ready.stats);
    } catch (e) {
      await w.terminate();
      throw e;
    }
  }

  private constructor(
    private readonly w: Worker,
    private readonly o: WorkerTransportOptions,
    private readonly addr: { host: string; port: number },
    stats: TransportStats,
  ) {
    this.last = stats;
    this.maxInFlight = IN_FLIGHT_PER_PEER * o.peers.size + EXTRA_IN_FLIGHT;
    for (let i = 0; i < PREALLOCATED; i++) this.free.push(new Uint8Array(frameBytes(o.numParams)).fill(0).buffer);
    w.on("message", (m: FromWorker) => this.onMessage(m));
    w.on("error", (e: Error) => { this.dead = true; this.o.log?.(`transport: worker failed: ${e.message}`); this.onClosed(); });
    w.on("exit", () => { this.dead = true; this.onClosed(); });
  }

  /** The bound address (the real port when started with port 0). */
  address(): { host: string; port: number } {
    return { ...this.addr };
  }

  /** Sets or changes where neighbour `id` listens and dials it now. */
  setPeerAddress(id: number, addr: string | null): void {
    if (!this.o.peers.has(id)) throw new RangeError(`node ${id} is not a neighbour`);
    if (!this.closed && !this.dead) this.post({ type: "peer", id, addr });
  }

  /**
   * Hands θ [numParams] taken at `step` (f32, or encoded by a level codec) to the worker for each
   * neighbour in `to`, without waiting: θ is copied once before this returns; a snapshot not yet
   * written to a neighbour's socket (here or in the worker) is replaced by a newer one.
   */
  send(to: number | readonly number[], step: number, sentAt: number, theta: Float32Array | EncodedTheta): void {
    if (this.closed || this.dead) return;
    const f32 = theta instanceof Float32Array;
    if (!f32) checkEncoded(theta, this.o.tensors ?? wholeTheta(this.o.numParams));
    else if (theta.length !== this.o.numParams) throw new RangeError(`θ has ${theta.length} floats, the model ${this.o.numParams}`);
    const targets = typeof to === "number" ? [to] : to;
    for (const id of targets) if (!this.o.peers.has(id)) throw new RangeError(`send to ${id}: not a neighbour`);
    this.sent += targets.length;
    // Newest wins: these neighbours no longer want any snapshot still waiting here.
    for (let i = this.waiting.length - 1; i >= 0; i--) {
      const wt = this.waiting[i];
      for (const id of targets) if (wt.to.delete(id)) this.replaced++;
      if (wt.to.size === 0) { this.waiting.splice(i, 1); this.recycle(wt.buf); }
    }
    const buf = this.free.pop() ?? new ArrayBuffer(frameBytes(this.o.numParams));
    // θ's one copy: where the frame carries it (f32 on little-endian machines; the worker converts elsewhere).
    if (f32) new Float32Array(buf, HEADER_BYTES, this.o.numParams).set(theta);
    else new Uint8Array(buf, HEADER_BYTES, theta.bytes.length).set(theta.bytes);
    const encoding = f32 ? "f32" : theta.codec, length = f32 ? 4 * this.o.numParams : theta.bytes.length;
    this.waiting.push({ to: new Set(targets), step, sentAt, encoding, length, buf });
    this.pump();
  }

  /** Counters as the worker last reported them (sent and replaced are counted here, at once). */
  stats(): TransportStats {
    const s = this.last;
    const byPeer = Object.fromEntries(Object.entries(s.byPeer).map(([k, v]) => [k, { ...v }]));
    return { ...s, sent: this.sent, replaced: this.replaced + s.replaced, rejected: { ...s.rejected }, byPeer, connected: [...s.connected] };
  }

  /** Closes the worker's connections and listening socket, then ends the worker; stats() is final afterwards. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    this.waiting.length = 0;
    this.closing = (async () => {
      if (!this.dead) {
        const gone = new Promise<void>((r) => { this.onClosed = r; });
        let timer: ReturnType<typeof setTimeout> | undefined;
        this.post({ type: "close" });
        await Promise.race([gone, new Promise<void>((r) => { timer = setTimeout(r, CLOSE_TIMEOUT_MS); })]);
        clearTimeout(timer);
      }
      await this.w.terminate();
    })();
    return this.closing;
  }

  private post(m: ToWorker, transfer: ArrayBuffer[] = []): void {
    this.w.postMessage(m, transfer);
  }

  /** Gives waiting snapshots to the worker while it has room, oldest first. */
  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.waiting.length > 0) {
      const wt = this.waiting.shift()!;
      this.inFlight++;
      this.post({ type: "send", to: [...wt.to], step: wt.step, sentAt: wt.sentAt, encoding: wt.encoding, length: wt.length, buf: wt.buf }, [wt.buf]);
    }
  }

  /** Keeps a returned buffer for the next send, up to one per possible holder. */
  private recycle(buf: ArrayBuffer): void {
    if (this.free.length < this.maxInFlight + this.o.peers.size) this.free.push(buf);
  }

  private onMessage(m: FromWorker): void {
    switch (m.type) {
      case "taken":
        this.inFlight--;
        this.recycle(m.buf);
        if (!this.closed) this.pump();
        return;
      case "snap": {
        this.last = m.stats;
        if (this.closed) return;
        const theta = new Float32Array(m.buf, m.offset, m.length);
        try {
          this.o.onSnapshot({ from: m.from, epoch: m.epoch, step: m.step, sentAt: m.sentAt, theta } satisfies InboundSnapshot);
        } finally {
          this.post({ type: "ack", from: m.from });
        }
        return;
      }
      case "stats":
        this.last = m.stats;
        return;
      case "log":
        this.o.log?.(m.line);
        return;
      case "closed":
        if (m.stats) this.last = m.stats;
        this.onClosed();
        return;
      case "ready":
      case "failed":
        return;
    }
  }
}
