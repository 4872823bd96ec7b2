// Helpers for the live transport tests: transports on loopback with ephemeral ports, waiting with
// a deadline, and a scripted client that speaks the handshake by hand (to play a peer, a stalled
// peer or a rogue). Every helper's sockets are closed by the test that opened them.
import { connect, type Socket } from "node:net";
import { WebSocket, type RawData } from "ws";
import { generateKey, importKey } from "../../src/transport/key.ts";
import * as assert from "uvu/assert";
import { decode as decodeLevel, encode as encodeLevel, type LevelCodec, type Tensor } from "../../src/node/compress.ts";
import { Transport, type InboundSnapshot, type TransportOptions, type TransportStats } from "../../src/transport/links.ts";
import { decodeAuth, decodeHello, encodeAuth, encodedFrameBytes, modelFingerprint, randomBytes, type EncodedTheta } from "../../src/transport/wire.ts";

export const N = 4096;
export const keyBytes = generateKey();
export const key = await importKey(keyBytes);
export const fingerprint = modelFingerprint("test", N, { layers: "dense" });

/** Resolves when `cond()` holds (polled every 5 ms); rejects naming `what` after `ms`. */
export async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** θ [n] whose values encode (seed, i), so a receiver can tell which snapshot it got. */
export function thetaOf(seed: number, n = N): Float32Array {
  const t = new Float32Array(n);
  for (let i = 0; i < n; i++) t[i] = seed + i / n;
  return t;
}

/** θ [N] in two tensors, as the encoded-frame tests split it (int8 keeps a scale for each). */
export const TENSORS: Tensor[] = [{ offset: 0, count: 3000 }, { offset: 3000, count: N - 3000 }];

/**
 * Node a (a Transport or a WorkerTransport, both started with `tensors: TENSORS`) sends θ to its
 * neighbour 1, b, as f16, int8 and f32: b gets what compress.ts decodes from the bytes a gave
 * send(), bit for bit, and a counts each frame's bytes (header, θ as encoded, MAC) as delivered.
 */
export async function checkEncodedSends(
  a: { t: { send(to: number, step: number, sentAt: number, theta: Float32Array | EncodedTheta): void; stats(): TransportStats } },
  b: { got: InboundSnapshot[]; t: { stats(): TransportStats } },
): Promise<void> {
  const codecs: LevelCodec[] = ["f16", "int8", "f32"];
  let bytes = a.t.stats().bytes;
  const got0 = b.got.length;
  for (const [k, codec] of codecs.entries()) {
    const theta = thetaOf(k + 1).map((x, i) => (i % 7 === 0 ? -x : x) / 3); // mixed signs, not exactly representable
    const payload = codec === "f32" ? theta : { codec, bytes: encodeLevel(codec, theta, TENSORS) };
    a.t.send(1, 10 + k, 1000 + k, payload);
    if (codec !== "f32") theta.fill(NaN); // the encoded bytes are what travels, not θ
    await until(() => b.got.length === got0 + k + 1, `the ${codec} snapshot`);
    const want = new Float32Array(N);
    if (codec === "f32") want.set(thetaOf(k + 1).map((x, i) => (i % 7 === 0 ? -x : x) / 3));
    else decodeLevel(codec, (payload as EncodedTheta).bytes, TENSORS, want);
    const g = b.got[got0 + k];
    assert.equal({ step: g.step, sentAt: g.sentAt }, { step: 10 + k, sentAt: 1000 + k }, codec);
    assert.equal([...new Uint32Array(g.theta.buffer, g.theta.byteOffset, N)], [...new Uint32Array(want.buffer)], `${codec}: bit for bit what compress.ts decodes`);
    bytes += encodedFrameBytes(codec, TENSORS);
    await until(() => a.t.stats().bytes === bytes, `${codec}: ${bytes} bytes counted (have ${a.t.stats().bytes})`);
  }
  assert.equal(b.t.stats().rejected, {});
}

/** A started Transport on 127.0.0.1 with fast test timings, the snapshots it received and its log. */
export async function node(id: number, peers: [number, string | null][], over: Partial<TransportOptions> = {}) {
  const got: InboundSnapshot[] = [];
  const log: string[] = [];
  const t = await Transport.start({
    id, key, fingerprint, numParams: N, peers: new Map(peers), onSnapshot: (s) => got.push(s), log: (l) => log.push(l),
    handshakeTimeoutMs: 400, backoffMs: 20, maxBackoffMs: 200, pingIntervalMs: 0, ...over,
  });
  const a = t.address();
  return { t, got, log, addr: `${a.host.includes(":") ? `[${a.host}]` : a.host}:${a.port}`, port: a.port };
}

/** A WebSocket client to `addr` whose messages queue up for next(). */
export class Client {
  readonly ws: WebSocket;
  private readonly inbox: Uint8Array[] = [];
  private wake: (() => void) | null = null;
  closed = false;
  closeCode = 0;

  constructor(addr: string) {
    this.ws = new WebSocket(`ws://${addr}/`, { perMessageDeflate: false, maxPayload: 64 << 20 });
    this.ws.binaryType = "nodebuffer";
    this.ws.on("message", (d: RawData) => { this.inbox.push(new Uint8Array(d as Buffer)); this.wake?.(); });
    this.ws.on("close", (code: number) => { this.closed = true; this.closeCode = code; this.wake?.(); });
    this.ws.on("error", () => { /* close follows */ });
  }

  opened(): Promise<void> {
    return new Promise((ok, fail) => {
      if (this.ws.readyState === WebSocket.OPEN) return ok();
      this.ws.once("open", () => ok());
      this.ws.once("close", () => fail(new Error("closed before opening")));
    });
  }

  /** The next message, or null once closed; rejects after `ms`. */
  async next(ms = 3000): Promise<Uint8Array | null> {
    const t0 = Date.now();
    while (!this.inbox.length && !this.closed) {
      if (Date.now() - t0 > ms) throw new Error("no message");
      await new Promise<void>((r) => { this.wake = r; setTimeout(r, 20); });
    }
    return this.inbox.shift() ?? null;
  }

  /** Plays the client side of the handshake as node `id`; returns true when the server accepted it. */
  async handshake(id: number, k: CryptoKey = key, fp = fingerprint): Promise<boolean> {
    await this.opened();
    const hello = decodeHello((await this.next())!);
    if (!hello.ok) throw new Error("no HELLO");
    const nonce = randomBytes(16);
    this.ws.send(await encodeAuth(k, { role: "client", id, fingerprint: fp, nonce, peerNonce: hello.nonce }));
    const reply = await this.next();
    if (!reply) return false;
    const r = await decodeAuth(key, reply, { role: "server", fingerprint, ourNonce: nonce });
    if (!r.ok) throw new Error(`bad server AUTH: ${r.reason}`);
    return true;
  }

  send(b: Uint8Array | string): Promise<void> {
    return new Promise((ok) => this.ws.send(b, { binary: typeof b !== "string" }, () => ok()));
  }

  waitClosed(ms = 3000): Promise<void> {
    return until(() => this.closed, "the server to close the connection", ms);
  }

  close(): void {
    this.ws.terminate();
  }
}

/** A raw TCP connection to 127.0.0.1:port (a slowloris, or random bytes). */
export function raw(port: number): Promise<Socket & { gone: boolean }> {
  return new Promise((ok, fail) => {
    const s = connect(port, "127.0.0.1") as Socket & { gone: boolean };
    s.gone = false;
    s.on("close", () => { s.gone = true; });
    s.on("error", () => { /* close follows */ });
    s.once("connect", () => ok(s));
    s.once("error", fail);
  });
}
