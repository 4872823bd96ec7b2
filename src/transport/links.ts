// The socket layer of the live driver: one Transport per node process, on WebSocket (the `ws`
// package on Node and Deno, Bun's built-in `ws` on Bun), so a browser can join later.
//
// A Transport listens on host:port and dials every neighbour that has an address. Each
// connection is authenticated by the handshake in wire.ts (HELLO, AUTH, AUTH) before it carries
// frames; after that it carries snapshot frames both ways, so a neighbour that cannot listen (a
// browser) is reached over the connection it dialed. A lost outbound connection is dialed again
// with exponential backoff.
//
// Sending never blocks the caller: send() copies θ (as f32, or already encoded by a level codec of
// --compress: f16, int8) into a frame at once (sendFrame takes a frame with θ already in it) and
// puts it into one
// newest-wins slot per neighbour; a frame leaves the slot when that neighbour's socket has
// written the previous one (ws's write callback; bufferedAmount as a second check), and a
// newer snapshot replaces an unsent older one. So a slow link holds at most one frame in the
// slot and one in the socket, whatever the caller's pace. Inbound the same: a connection
// verifies one frame at a time and keeps only the newest that arrived meanwhile.
//
// Every refused frame or connection is counted by reason (wire.ts Reason) and by peer (its id,
// or its address before it authenticated) and logged once per peer and reason. Limits against
// strangers: unauthenticated connections per address and in all, a handshake deadline counted
// from the TCP accept (a client that never finishes its handshake, or never even upgrades, is
// cut), ws's maxPayload = one frame of this model (an oversized message is refused from its
// length field, before its payload is buffered), and authenticated connections per peer id.
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { WebSocket, WebSocketServer, type RawData } from "ws";
import { ConfigError } from "../errors.ts";
import {
  checkEncoded, decodeAuth, decodeFrame, decodeHello, encodeAuth, encodedFrameBytes, encodeHello, frameBytes, NONCE_BYTES, prepareEncodedFrame,
  prepareFrame, randomBytes, ReplayGuard, sealFrame, wholeTheta, writeHeader, type EncodedTheta, type FrameHeader, type Reason,
} from "./wire.ts";
import type { LevelCodec, Tensor } from "../node/compress.ts";

/** A snapshot that passed every check, handed to onSnapshot. */
export interface InboundSnapshot {
  from: number;
  /** The sender's epoch (ms since 1970 when its transport started): a new epoch means the sender restarted. */
  epoch: number;
  step: number;
  /** The sender's wall clock when it sent, ms since 1970. */
  sentAt: number;
  /** θ [numParams]; the receiver's to keep. */
  theta: Float32Array;
}

export interface TransportOptions {
  /** This node's id (u32). */
  id: number;
  /** The cluster key, from importKey (key.ts). */
  key: CryptoKey;
  /** 8 bytes from modelFingerprint: peers with another model are refused. */
  fingerprint: Uint8Array;
  /** Floats in θ: sizes the frames and ws's maxPayload. */
  numParams: number;
  /** θ's tensors (compress.ts tensorsOf): int8 frames carry a scale for each. Default: θ as one tensor. */
  tensors?: readonly Tensor[];
  /** Neighbour id → "host:port" to dial ("[::1]:7001" for IPv6), or null to only accept its connections. */
  peers: ReadonlyMap<number, string | null>;
  /** Called once for each good, new snapshot. */
  onSnapshot: (s: InboundSnapshot) => void;
  /** One line per event worth a person's attention; each rejection reason once per peer. Default: none. */
  log?: (line: string) => void;
  /** Interface to listen on. Default "127.0.0.1". */
  host?: string;
  /** Port to listen on; 0 picks a free one (see address()). Default 0. */
  port?: number;
  /** This transport's epoch in frames. Default Date.now() at construction. */
  epoch?: number;
  /** A connection that has not authenticated this long after its TCP accept (or dial) is cut. Default 5000 ms. */
  handshakeTimeoutMs?: number;
  /** Authenticated inbound connections kept per peer id; a newer one closes the oldest. Default 2. */
  maxPerPeer?: number;
  /** Unauthenticated connections at once from one remote address. Default 4. */
  maxPendingPerAddress?: number;
  /** Unauthenticated connections at once in all. Default 64. */
  maxPending?: number;
  /** First redial delay after a lost or failed outbound connection; doubles each failure. Default 100 ms. */
  backoffMs?: number;
  /** Longest redial delay. Default 5000 ms. */
  maxBackoffMs?: number;
  /** Ping authenticated connections this often and cut one that did not answer the last ping; 0: never. Default 10000 ms. */
  pingIntervalMs?: number;
}

/** Counters since start. `rejected` sums `byPeer` over peers. */
export interface TransportStats {
  /** Snapshots given to send(), one per destination. */
  sent: number;
  /** Frames written to a socket (its write completed). */
  delivered: number;
  /** Bytes of those frames (header, θ as encoded, MAC; not WebSocket's or TCP's framing). */
  bytes: number;
  /** Unsent snapshots replaced in a slot by a newer one. */
  replaced: number;
  /** Good snapshots handed to onSnapshot. */
  received: number;
  /** Inbound frames dropped unread because a newer one arrived on the same connection while the previous was verified. */
  superseded: number;
  /** Outbound connection attempts. */
  dials: number;
  /** Outbound connections authenticated again after one to the same peer was lost. */
  reconnects: number;
  rejected: Partial<Record<Reason, number>>;
  /** Peer id (or remote address before authentication) → reason → count. */
  byPeer: Record<string, Partial<Record<Reason, number>>>;
  /** Peer ids with at least one authenticated connection now. */
  connected: number[];
}

/** One WebSocket: the dialed one of a link ("out") or one accepted ("in"). */
interface Conn {
  readonly ws: WebSocket;
  readonly dir: "in" | "out";
  /** Counted-as name: the peer id once known, else the remote address. */
  label: string;
  /** Authenticated peer id, or null until the handshake is done. */
  peer: number | null;
  open: boolean;
  /** A frame is being written: the next waits for its callback. */
  writing: boolean;
  /** A frame is being verified, and the newest one that arrived meanwhile. */
  reading: boolean;
  next: Uint8Array | null;
  /** Answered (or sent anything) since the last ping. */
  alive: boolean;
  timer?: ReturnType<typeof setTimeout>;
}

/** A frame in a slot; ready once its MAC is written. `holds`: the slots and socket writes that
 * still need it; when the last lets go, `release` (sendFrame's caller's) is told. */
interface Outgoing {
  readonly bytes: Uint8Array;
  ready: boolean;
  holds: number;
  release?: () => void;
}

/** Everything about one neighbour. */
interface Link {
  readonly id: number;
  addr: string | null;
  /** The connection we dialed (possibly still in its handshake). */
  out: Conn | null;
  /** Authenticated connections it dialed, oldest first. */
  ins: Conn[];
  slot: Outgoing | null;
  /** Failed dials since the last success (the backoff exponent). */
  failures: number;
  dialTimer?: ReturnType<typeof setTimeout>;
  retryTimer?: ReturnType<typeof setTimeout>;
  /** An outbound connection to it was authenticated once: the next one is a reconnect. */
  wasUp: boolean;
  /** Said "cannot reach" since it was last up (log once per outage). */
  saidDown: boolean;
  /** The connection its frames went out on last (see pick). */
  sending?: Conn;
}

/** Peers and addresses counted apart in stats().byPeer; the rest are counted as "others". */
const MAX_LABELS = 256;

/**
 * The WebSocket mask of our client frames: zero, which ws skips on both ends. Masking keeps a
 * browser's script from writing chosen bytes through proxies; our dialers are not browsers and our
 * frames are signed, while ws's JS XOR loop costs ~1 ms per lenet frame on each side (Node 20
 * has no native mask and we do not install bufferutil). A browser peer masks as it must.
 */
const NO_MASK = (mask: Uint8Array) => { mask.fill(0); };

const toBytes = (d: RawData): Uint8Array =>
  Array.isArray(d) ? new Uint8Array(Buffer.concat(d)) : d instanceof ArrayBuffer ? new Uint8Array(d) : (d as Uint8Array);

/** ws's error for a message longer than maxPayload (raised from the length field, before the payload is read). */
const isOversized = (e: Error) => (e as { code?: string }).code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH" || /max payload/i.test(e.message);

export class Transport {
  private readonly o: Required<Omit<TransportOptions, "log">> & Pick<TransportOptions, "log">;
  private readonly links = new Map<number, Link>();
  private readonly conns = new Set<Conn>();
  private readonly guard = new ReplayGuard();
  /** Unauthenticated TCP connections: their address and handshake deadline. */
  private readonly pending = new Map<Socket, { addr: string; timer: ReturnType<typeof setTimeout> }>();
  private readonly pendingPerAddr = new Map<string, number>();
  private readonly sockets = new Set<Socket>();
  private readonly logged = new Set<string>();
  private readonly wss: WebSocketServer;
  private readonly http: Server;
  private readonly maxFrame: number;
  private pinger?: ReturnType<typeof setInterval>;
  private closed = false;
  private readonly counts = { sent: 0, delivered: 0, bytes: 0, replaced: 0, received: 0, superseded: 0, dials: 0, reconnects: 0 };
  private readonly rejected: Partial<Record<Reason, number>> = {};
  private readonly byPeer: Record<string, Partial<Record<Reason, number>>> = {};

  /** Starts listening and dialing; resolves once the port is bound. Throws ConfigError when it cannot listen. */
  static async start(opts: TransportOptions): Promise<Transport> {
    const t = new Transport(opts);
    await t.listen();
    for (const link of t.links.values()) t.dial(link);
    return t;
  }

  private constructor(opts: TransportOptions) {
    if (!(Number.isInteger(opts.id) && opts.id >= 0 && opts.id <= 0xffff_ffff)) throw new RangeError(`node id must be a u32, got ${opts.id}`);
    this.o = {
      host: "127.0.0.1", port: 0, epoch: Date.now(), handshakeTimeoutMs: 5000, maxPerPeer: 2, maxPendingPerAddress: 4,
      maxPending: 64, backoffMs: 100, maxBackoffMs: 5000, pingIntervalMs: 10_000, tensors: wholeTheta(opts.numParams), ...opts,
    };
    this.maxFrame = frameBytes(opts.numParams);
    for (const [id, addr] of opts.peers) {
      if (id === opts.id) throw new RangeError(`node ${id} lists itself as a neighbour`);
      this.links.set(id, { id, addr, out: null, ins: [], slot: null, failures: 0, wasUp: false, saidDown: false });
    }
    this.http = createServer((_req, res) => { res.writeHead(426, { "content-type": "text/plain" }).end("a cdl node speaks WebSocket\n"); });
    this.wss = new WebSocketServer({ noServer: true, maxPayload: this.maxFrame, perMessageDeflate: false, clientTracking: false });
    this.http.on("connection", (s: Socket) => this.accept(s));
    this.http.on("upgrade", (req: IncomingMessage, s: Duplex, head: Buffer) => this.upgrade(req, s as Socket, head));
    this.http.on("clientError", (_e: Error, s: Duplex) => {
      const p = this.pending.get(s as Socket);
      if (p) this.reject(p.addr, "handshake");
      s.destroy();
    });
  }

  private listen(): Promise<void> {
    return new Promise((done, fail) => {
      const onError = (e: NodeJS.ErrnoException) => fail(new ConfigError(`cannot listen on ${this.o.host}:${this.o.port}: ${e.code ?? e.message}`));
      this.http.once("error", onError);
      this.http.listen(this.o.port, this.o.host, () => {
        this.http.off("error", onError);
        this.http.on("error", (e: Error) => this.o.log?.(`transport: server error: ${e.message}`));
        if (this.o.pingIntervalMs > 0) this.pinger = setInterval(() => this.ping(), this.o.pingIntervalMs);
        done();
      });
    });
  }

  /** The bound address (the real port when started with port 0). */
  address(): { host: string; port: number } {
    const a = this.http.address();
    if (!a || typeof a === "string") throw new Error("transport is not listening");
    return { host: a.address, port: a.port };
  }

  /** Sets or changes where neighbour `id` listens and dials it now (a port learned after start, a moved peer). */
  setPeerAddress(id: number, addr: string | null): void {
    const link = this.links.get(id);
    if (!link) throw new RangeError(`node ${id} is not a neighbour`);
    if (link.addr === addr) return;
    link.addr = addr;
    clearTimeout(link.dialTimer);
    link.dialTimer = undefined;
    link.failures = 0;
    if (link.out) this.drop(link.out); // its close handler dials the new address
    else this.dial(link);
  }

  /**
   * Sends θ [numParams] taken at `step` to each neighbour in `to`, without waiting: θ (f32, or
   * encoded by a level codec) is copied before this returns, and a snapshot not yet written to a
   * neighbour's socket is replaced.
   */
  send(to: number | readonly number[], step: number, sentAt: number, theta: Float32Array | EncodedTheta): void {
    if (this.closed) return;
    if (theta instanceof Float32Array) {
      if (theta.length !== this.o.numParams) throw new RangeError(`θ has ${theta.length} floats, the model ${this.o.numParams}`);
      this.queue(to, prepareFrame(this.header(step, sentAt), theta));
      return;
    }
    checkEncoded(theta, this.o.tensors);
    this.queue(to, prepareEncodedFrame(this.header(step, sentAt), theta));
  }

  /**
   * send() for a caller that wrote θ into the frame itself: `frame` is encodedFrameBytes(encoding,
   * tensors) long with θ at HEADER_BYTES, as little-endian f32 or as `encoding` encodes it (the
   * worker path: the training thread copies θ once, straight into the frame it transfers). The header and MAC are written into it in place; the
   * transport holds it until every neighbour's socket has written it or a newer snapshot replaced
   * it, then calls `release` (the buffer may be reused from then on; not called after close()).
   */
  sendFrame(to: number | readonly number[], step: number, sentAt: number, frame: Uint8Array, release?: () => void, encoding: LevelCodec = "f32"): void {
    if (this.closed) return;
    const want = encodedFrameBytes(encoding, this.o.tensors);
    if (frame.length !== want) throw new RangeError(`a frame of this model's θ as ${encoding} has ${want} bytes, got ${frame.length}`);
    this.queue(to, writeHeader(this.header(step, sentAt, encoding), frame), release);
  }

  private header(step: number, sentAt: number, encoding: LevelCodec = "f32"): FrameHeader {
    return { fingerprint: this.o.fingerprint, from: this.o.id, epoch: this.o.epoch, step, sentAt, encoding };
  }

  /** Puts a prepared frame into each target's slot (replacing an unsent one) and signs it. */
  private queue(to: number | readonly number[], bytes: Uint8Array, release?: () => void): void {
    const targets = typeof to === "number" ? [to] : to;
    const links = targets.map((id) => {
      const l = this.links.get(id);
      if (!l) throw new RangeError(`send to ${id}: not a neighbour`);
      return l;
    });
    // One hold per slot, and one while the MAC is being written (a frame replaced everywhere
    // before then must not go back to its owner with the signature still to come).
    const out: Outgoing = { bytes, ready: false, holds: links.length + 1, release };
    for (const l of links) {
      if (l.slot) { this.counts.replaced++; this.letGo(l.slot); }
      l.slot = out;
      this.counts.sent++;
    }
    sealFrame(this.o.key, out.bytes).then(() => {
      out.ready = true;
      for (const l of links) this.flush(l);
      this.letGo(out);
    }, (e: Error) => { this.o.log?.(`transport: cannot sign a frame: ${e.message}`); this.letGo(out); });
  }

  /** A slot or a socket write is done with f. */
  private letGo(f: Outgoing): void {
    if (--f.holds === 0 && !this.closed) f.release?.();
  }

  /** Counters so far (a copy). */
  stats(): TransportStats {
    const connected = [...this.links.values()].filter((l) => this.pick(l)).map((l) => l.id);
    const byPeer = Object.fromEntries(Object.entries(this.byPeer).map(([k, v]) => [k, { ...v }]));
    return { ...this.counts, rejected: { ...this.rejected }, byPeer, connected };
  }

  /** Closes every connection, timer and the listening socket. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.pinger);
    for (const l of this.links.values()) {
      clearTimeout(l.dialTimer);
      clearTimeout(l.retryTimer);
      l.slot = null;
    }
    for (const c of this.conns) this.drop(c);
    for (const p of this.pending.values()) clearTimeout(p.timer);
    for (const s of this.sockets) s.destroy();
    this.wss.close();
    await new Promise<void>((done) => this.http.close(() => done()));
  }

  // ---- counting -----------------------------------------------------------------------------

  private reject(label: string, reason: Reason): void {
    // Strangers from many addresses must not grow the tables without bound.
    if (!(label in this.byPeer) && Object.keys(this.byPeer).length >= MAX_LABELS) label = "others";
    this.rejected[reason] = (this.rejected[reason] ?? 0) + 1;
    const p = (this.byPeer[label] ??= {});
    p[reason] = (p[reason] ?? 0) + 1;
    const key = `${label}\u0000${reason}`;
    if (!this.logged.has(key)) {
      this.logged.add(key);
      this.o.log?.(`transport: refused ${reason} from ${label} (counted; not logged again for this peer)`);
    }
  }

  // ---- inbound connections --------------------------------------------------------------------

  private accept(s: Socket): void {
    const addr = s.remoteAddress ?? "unknown";
    if (this.closed) { s.destroy(); return; }
    if ((this.pendingPerAddr.get(addr) ?? 0) >= this.o.maxPendingPerAddress || this.pending.size >= this.o.maxPending) {
      this.reject(addr, "address-limit");
      s.destroy();
      return;
    }
    this.sockets.add(s);
    this.pendingPerAddr.set(addr, (this.pendingPerAddr.get(addr) ?? 0) + 1);
    const timer = setTimeout(() => { this.reject(addr, "handshake-timeout"); s.destroy(); }, this.o.handshakeTimeoutMs);
    this.pending.set(s, { addr, timer });
    s.on("close", () => { this.unpend(s); this.sockets.delete(s); });
  }

  /** The socket is no longer a stranger's (authenticated, or gone): it stops counting against its address. */
  private unpend(s: Socket): void {
    const p = this.pending.get(s);
    if (!p) return;
    clearTimeout(p.timer);
    this.pending.delete(s);
    const n = (this.pendingPerAddr.get(p.addr) ?? 1) - 1;
    if (n > 0) this.pendingPerAddr.set(p.addr, n);
    else this.pendingPerAddr.delete(p.addr);
  }

  private upgrade(req: IncomingMessage, s: Socket, head: Buffer): void {
    const p = this.pending.get(s);
    if (this.closed || !p) { s.destroy(); return; }
    this.wss.handleUpgrade(req, s, head, (ws) => this.serve(ws, s, p.addr));
  }

  /** Server side of the handshake, then frames. */
  private serve(ws: WebSocket, s: Socket, addr: string): void {
    const c = this.track(ws, "in", addr);
    const nonce = randomBytes(NONCE_BYTES);
    let stage: "auth" | "verifying" | "open" = "auth";
    ws.on("message", async (data: RawData, isBinary: boolean) => {
      const bytes = toBytes(data);
      c.alive = true;
      if (stage === "open") return this.onFrame(c, bytes, isBinary);
      if (stage === "verifying" || !isBinary) { this.reject(addr, "handshake"); return this.drop(c); }
      stage = "verifying";
      const r = await decodeAuth(this.o.key, bytes, { role: "client", fingerprint: this.o.fingerprint, ourNonce: nonce });
      if (this.closed || ws.readyState !== WebSocket.OPEN) return;
      if (!r.ok) { this.reject(addr, r.reason); return this.drop(c); }
      const link = this.links.get(r.id);
      if (!link) { this.reject(addr, "unknown-peer"); return this.drop(c); }
      const reply = await encodeAuth(this.o.key, { role: "server", id: this.o.id, fingerprint: this.o.fingerprint, nonce, peerNonce: r.nonce });
      if (this.closed || ws.readyState !== WebSocket.OPEN) return;
      ws.send(reply);
      this.unpend(s);
      c.peer = r.id;
      c.label = String(r.id);
      c.open = true;
      stage = "open";
      link.ins.push(c);
      if (link.ins.length > this.o.maxPerPeer) {
        this.reject(c.label, "peer-limit");
        this.drop(link.ins.shift()!);
      }
      this.flush(link);
    });
    ws.send(encodeHello(nonce));
  }

  // ---- outbound connections -------------------------------------------------------------------

  private dial(link: Link): void {
    if (this.closed || !link.addr || link.out) return;
    this.counts.dials++;
    const label = String(link.id);
    const ws = new WebSocket(`ws://${link.addr}/`, { perMessageDeflate: false, maxPayload: this.maxFrame, generateMask: NO_MASK });
    const c = this.track(ws, "out", label);
    link.out = c;
    c.timer = setTimeout(() => { this.reject(label, "handshake-timeout"); this.drop(c); }, this.o.handshakeTimeoutMs);
    let stage: "hello" | "signing" | "auth" | "verifying" | "open" = "hello";
    let nonce: Uint8Array;
    ws.on("message", async (data: RawData, isBinary: boolean) => {
      const bytes = toBytes(data);
      c.alive = true;
      if (stage === "open") return this.onFrame(c, bytes, isBinary);
      // The server may send frames right after its AUTH, before we have checked it: keep the newest.
      if (stage === "verifying") { c.next = bytes; return; }
      if (stage === "signing" || !isBinary) { this.reject(label, "handshake"); return this.drop(c); }
      if (stage === "hello") {
        const h = decodeHello(bytes);
        if (!h.ok) { this.reject(label, h.reason); return this.drop(c); }
        stage = "signing";
        nonce = randomBytes(NONCE_BYTES);
        const auth = await encodeAuth(this.o.key, { role: "client", id: this.o.id, fingerprint: this.o.fingerprint, nonce, peerNonce: h.nonce });
        if (this.closed || ws.readyState !== WebSocket.OPEN) return;
        ws.send(auth);
        stage = "auth";
        return;
      }
      stage = "verifying";
      const r = await decodeAuth(this.o.key, bytes, { role: "server", fingerprint: this.o.fingerprint, ourNonce: nonce });
      if (this.closed || ws.readyState !== WebSocket.OPEN) return;
      if (!r.ok) { this.reject(label, r.reason); return this.drop(c); }
      if (r.id !== link.id) { this.reject(label, "unknown-peer"); return this.drop(c); }
      clearTimeout(c.timer);
      c.peer = link.id;
      c.open = true;
      stage = "open";
      link.failures = 0;
      if (link.wasUp) this.counts.reconnects++;
      if (link.wasUp || link.saidDown) this.o.log?.(`transport: connected to ${link.id} at ${link.addr}`);
      link.wasUp = true;
      link.saidDown = false;
      const early = c.next;
      c.next = null;
      if (early) this.onFrame(c, early, true);
      this.flush(link);
    });
    ws.on("close", () => {
      if (link.out !== c) return;
      link.out = null;
      if (c.peer !== null) { this.o.log?.(`transport: lost connection to ${link.id}; redialing`); link.saidDown = true; }
      this.redial(link);
    });
    ws.on("error", (e: Error) => {
      if (c.open || link.saidDown) return;
      link.saidDown = true;
      const code = (e as NodeJS.ErrnoException).code;
      this.o.log?.(`transport: cannot reach ${link.id} at ${link.addr} (${code ?? e.message}); retrying with backoff`);
    });
  }

  private redial(link: Link): void {
    if (this.closed || !link.addr || link.dialTimer) return;
    const delay = Math.min(this.o.maxBackoffMs, this.o.backoffMs * 2 ** link.failures);
    link.failures = Math.min(link.failures + 1, 30);
    link.dialTimer = setTimeout(() => { link.dialTimer = undefined; this.dial(link); }, delay);
  }

  // ---- both directions --------------------------------------------------------------------------

  /** A new connection's common state and its close / error / pong handlers. */
  private track(ws: WebSocket, dir: "in" | "out", label: string): Conn {
    const c: Conn = { ws, dir, label, peer: null, open: false, writing: false, reading: false, next: null, alive: true };
    this.conns.add(c);
    ws.binaryType = "nodebuffer";
    ws.on("pong", () => { c.alive = true; });
    ws.on("error", (e: Error) => {
      if (isOversized(e)) this.reject(c.label, "oversized");
      else if (c.open || dir === "in") this.reject(c.label, "protocol");
    });
    ws.on("close", () => {
      clearTimeout(c.timer);
      this.conns.delete(c);
      c.open = false;
      if (c.peer !== null) {
        const link = this.links.get(c.peer)!;
        link.ins = link.ins.filter((x) => x !== c);
      }
    });
    return c;
  }

  private drop(c: Conn): void {
    clearTimeout(c.timer);
    c.open = false;
    c.ws.terminate();
  }

  private ping(): void {
    for (const c of this.conns) {
      if (!c.open) continue;
      if (!c.alive) {
        this.o.log?.(`transport: ${c.label} did not answer a ping; closing its connection`);
        this.drop(c);
        continue;
      }
      c.alive = false;
      c.ws.ping();
    }
  }

  /** The connection a link's frames leave by: the one they left by last while it is open, else ours if authenticated, else its newest. */
  private pick(link: Link): Conn | null {
    // The connection used last while it stays open: frames to a peer then travel one TCP stream,
    // in order. Switching (say, from its inbound connection to our outbound one once that has
    // authenticated) let a newer frame overtake an older one, which the receiver then counted as
    // replayed: 1-3 of ~270 between honest nodes on a loaded machine.
    if (link.sending?.open) return link.sending;
    let c: Conn | null = link.out?.open ? link.out : null;
    for (let i = link.ins.length - 1; !c && i >= 0; i--) if (link.ins[i].open) c = link.ins[i];
    if (c) link.sending = c;
    return c;
  }

  /** Writes the link's slot if its frame is signed and its connection is free. */
  private flush(link: Link): void {
    const f = link.slot;
    if (this.closed || !f || !f.ready) return;
    const c = this.pick(link);
    if (!c || c.writing) return; // the write callback (or the next authentication) flushes again
    if (c.ws.bufferedAmount > 0) {
      // Something else (a ping) is still queued without a callback to us: look again shortly.
      if (!link.retryTimer) link.retryTimer = setTimeout(() => { link.retryTimer = undefined; this.flush(link); }, 2);
      return;
    }
    link.slot = null;
    c.writing = true;
    const done = (err?: Error) => {
      c.writing = false;
      if (err && !link.slot && !this.closed) { link.slot = f; return; } // keep it for the next connection unless a newer one came
      if (!err) { this.counts.delivered++; this.counts.bytes += f.bytes.length; }
      this.letGo(f);
      if (!err) this.flush(link);
    };
    try {
      c.ws.send(f.bytes, { binary: true }, done);
    } catch (e) {
      done(e as Error); // a socket closing under us; its close handler picks another
    }
  }

  private onFrame(c: Conn, bytes: Uint8Array, isBinary: boolean): void {
    if (!isBinary) { this.reject(c.label, "magic"); return; }
    if (c.reading) {
      if (c.next) this.counts.superseded++;
      c.next = bytes;
      return;
    }
    void this.read(c, bytes);
  }

  /** Verifies frames of one connection one at a time, the newest arrived next. */
  private async read(c: Conn, first: Uint8Array): Promise<void> {
    c.reading = true;
    try {
      for (let bytes: Uint8Array | null = first; bytes; bytes = c.next, c.next = null) {
        const r = await decodeFrame(this.o.key, bytes, { fingerprint: this.o.fingerprint, numParams: this.o.numParams, tensors: this.o.tensors });
        if (this.closed) return;
        if (!r.ok) this.reject(c.label, r.reason);
        else if (r.from !== c.peer) this.reject(c.label, "sender");
        else if (!this.guard.admit(r.from, r.epoch, r.step)) this.reject(c.label, "replayed");
        else {
          this.counts.received++;
          // θ views the received message; if that shares its memory with more, keep a copy of our own.
          const own = r.theta.buffer !== bytes.buffer || bytes.byteLength === bytes.buffer.byteLength;
          this.o.onSnapshot({ from: r.from, epoch: r.epoch, step: r.step, sentAt: r.sentAt, theta: own ? r.theta : r.theta.slice() });
        }
      }
    } finally {
      c.reading = false;
    }
  }
}
