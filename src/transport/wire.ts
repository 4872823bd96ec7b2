// The bytes nodes exchange over a live network (ALGORITHM.md "On the wire"): snapshot frames and
// the three handshake messages. Pure: no sockets, no clock, no files; WebCrypto (crypto.subtle,
// the same on Node, Bun and Deno) for HMAC-SHA256 under the cluster key.
//
// Glossary: n = numParams (floats in θ), K = the cluster key (32 bytes, see key.ts).
//
// Frame (every integer little-endian; HEADER_BYTES = 56, so θ starts 8-byte aligned):
//   off size field
//     0    4 magic "CDLW"
//     4    2 version (PROTOCOL_VERSION)
//     6    2 encoding of θ: 0 f32, 1 f16, 2 int8 (--compress; src/node/compress.ts's level codecs)
//     8    8 model fingerprint (modelFingerprint)
//    16    4 sender id (u32)
//    20    4 reserved, 0
//    24    8 sender epoch (f64 ms since 1970 when the sender's transport started; see ReplayGuard)
//    32    8 sender step (u64, < 2^53)
//    40    8 send time (f64 ms since 1970)
//    48    4 payload length in bytes P (f32: 4n; f16: 2n; int8: 4T + n for T tensors)
//    52    4 reserved, 0
//    56    P θ in state_dict order: f32 little-endian, or as compress.ts encodes it (f16, int8)
//  56+P   32 HMAC-SHA256_K(bytes 0 … 56+P)
// Encoding 0 is the f32 frame of protocol version 1 as it always was (the field was reserved, 0).
// A receiver takes any of the three, whatever its own --compress: it decodes to f32 either way.
//
// A receiver (decodeFrame) checks, in this order: magic, version, encoding, the declared length
// against this model (before anything big is buffered: frameBytes(n) is the most a socket may
// accept), the byte count, the HMAC (before parsing the rest), the fingerprint and header fields,
// then finiteness (f16 and int8 keep NaN and Inf non-finite). Replays are the receiver's state:
// ReplayGuard.
//
// Handshake (one authenticated connection; the dialer is the client):
//   server → client  HELLO 24 bytes: "CDLH", version u16, 0 u16, nonce_s (16 random bytes)
//   client → server  AUTH  72 bytes: "CDLA", version u16, role u8 (1), 0 u8, id u32, 0 u32,
//                    fingerprint (8), nonce_c (16), HMAC_K(bytes 0 … 40 ‖ nonce_s)
//   server → client  AUTH  the same with role 2, the server's id and nonce_s, MAC over … ‖ nonce_c
// Each side's MAC covers the other's fresh nonce, so a recorded handshake cannot be replayed.

import { decode, levelBytes, type LevelCodec, type Tensor } from "../node/compress.ts";

/** First four bytes of a snapshot frame, a HELLO and an AUTH. */
export const FRAME_MAGIC = 0x57_4c_44_43; // "CDLW" read as u32 LE
export const HELLO_MAGIC = 0x48_4c_44_43; // "CDLH"
export const AUTH_MAGIC = 0x41_4c_44_43; // "CDLA"
export const PROTOCOL_VERSION = 1;
export const HEADER_BYTES = 56;
export const MAC_BYTES = 32;
export const FINGERPRINT_BYTES = 8;
export const NONCE_BYTES = 16;
export const HELLO_BYTES = 24;
export const AUTH_BYTES = 72;

/**
 * Why a frame, a handshake message or a connection was refused. Counted per reason and per peer.
 * Frames: see decodeFrame; `replayed` not newer than the last from its sender (ReplayGuard);
 * `sender` signed by another node than the one its connection authenticated as.
 * Connections (links.ts): `handshake` not the expected HELLO/AUTH (or anything sent too early),
 * `handshake-timeout` not authenticated in time, `unknown-peer` an id that is not a neighbour
 * (or not the one dialed), `address-limit` too many unauthenticated connections from one address
 * (or in all), `peer-limit` a newer connection from the same peer replaced this one, `protocol`
 * broken WebSocket framing; `unauthenticated`, `fingerprint`, `version` and `oversized` as for frames.
 */
export type Reason =
  | "magic" | "version" | "encoding" | "length" | "truncated" | "oversized" | "unauthenticated" | "fingerprint"
  | "header" | "nonfinite" | "replayed" | "sender"
  | "handshake" | "handshake-timeout" | "unknown-peer" | "address-limit" | "peer-limit" | "protocol";

/** The fields of a frame header that the sender chooses. */
export interface FrameHeader {
  /** 8 bytes, from modelFingerprint. */
  fingerprint: Uint8Array;
  /** Sender node id, a u32. */
  from: number;
  /** ms since 1970 when the sender's transport started: a restarted sender is a new epoch. */
  epoch: number;
  /** The sender's step count when θ was taken (an integer in [0, 2^53)). */
  step: number;
  /** ms since 1970 when θ was sent. */
  sentAt: number;
  /** How θ is encoded in the payload. Default f32. */
  encoding?: LevelCodec;
}

/** The header's code for each encoding of θ (offset 6). */
const ENCODING_CODE: Record<LevelCodec, number> = { f32: 0, f16: 1, int8: 2 };
const ENCODING_OF: readonly LevelCodec[] = ["f32", "f16", "int8"];

/** θ encoded by a level codec (compress.ts encode), ready to be framed: what send() takes besides f32 θ. */
export interface EncodedTheta {
  readonly codec: LevelCodec;
  readonly bytes: Uint8Array;
}

/** Throws a RangeError unless `theta` has the size of a θ split into `tensors` in its codec. */
export function checkEncoded(theta: EncodedTheta, tensors: readonly Tensor[]): void {
  const want = levelBytes(theta.codec, tensors);
  if (theta.bytes.length !== want) throw new RangeError(`θ as ${theta.codec} is ${want} bytes for this model, got ${theta.bytes.length}`);
}

/** A frame that passed every check. `theta` may share memory with the decoded bytes. */
export interface Decoded {
  ok: true;
  from: number;
  epoch: number;
  step: number;
  sentAt: number;
  theta: Float32Array;
  /** How θ travelled (it is decoded to f32 here). */
  encoding: LevelCodec;
}

export type DecodeResult = Decoded | { ok: false; reason: Reason };

/** What the receiver's model is: frames for any other are refused. */
export interface Expect {
  fingerprint: Uint8Array;
  numParams: number;
  /** θ's tensors (compress.ts tensorsOf): int8 frames carry a scale for each. Default: θ as one tensor. */
  tensors?: readonly Tensor[];
}

/** θ [n] as one tensor: the tensors of a receiver that was given none. */
export function wholeTheta(numParams: number): Tensor[] {
  return [{ offset: 0, count: numParams }];
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Bytes of a whole frame carrying n floats as f32: the most a socket needs to accept from a peer. */
export function frameBytes(numParams: number): number {
  return HEADER_BYTES + 4 * numParams + MAC_BYTES;
}

/** Bytes of a whole frame carrying θ split into `tensors` in `encoding`. */
export function encodedFrameBytes(encoding: LevelCodec, tensors: readonly Tensor[]): number {
  return HEADER_BYTES + levelBytes(encoding, tensors) + MAC_BYTES;
}

// ---- model fingerprint ----------------------------------------------------------------------

/** JSON with object keys sorted at every depth, so equal plans give equal text. */
export function canonicalJson(v: unknown): string {
  return JSON.stringify(v, (_k, x) => {
    if (x === null || typeof x !== "object" || Array.isArray(x) || ArrayBuffer.isView(x)) return x;
    const o = x as Record<string, unknown>;
    return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));
  });
}

/** FNV-1a 64 of `bytes` (offset basis 0xcbf29ce484222325, prime 0x100000001b3), 8 bytes big-endian. */
export function fnv1a64(bytes: Uint8Array): Uint8Array {
  // Two 32-bit halves instead of BigInt: the 64-bit product by the prime 2^40 + 0x1b3 is
  // lo·0x1b3 + 2^40·lo + 2^32·hi·0x1b3, reduced mod 2^64.
  let hi = 0xcbf29ce4, lo = 0x84222325;
  for (let i = 0; i < bytes.length; i++) {
    lo = (lo ^ bytes[i]) >>> 0;
    const a = lo * 0x1b3; // < 2^41: exact in a double
    const newLo = a >>> 0;
    const carry = Math.floor(a / 0x1_0000_0000);
    hi = (Math.imul(hi, 0x1b3) + (lo << 8) + carry) >>> 0;
    lo = newLo;
  }
  const out = new Uint8Array(8);
  new DataView(out.buffer).setUint32(0, hi);
  new DataView(out.buffer).setUint32(4, lo);
  return out;
}

/**
 * 8 bytes naming a model's parameter layout: FNV-1a 64 of the canonical JSON (keys sorted) of
 * { preset, numParams, layerPlan }. Not a cryptographic hash — it only tells honest nodes with
 * different models apart; the HMAC is what keeps strangers out. Synchronous, unlike SHA-256 in WebCrypto.
 */
export function modelFingerprint(preset: string, numParams: number, layerPlan: unknown): Uint8Array {
  return fnv1a64(new TextEncoder().encode(canonicalJson({ preset, numParams, layerPlan })));
}

/** Lower-case hex of some bytes (fingerprints, keys). */
export function toHex(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += b[i].toString(16).padStart(2, "0");
  return s;
}

/** WebCrypto's type for bytes: our arrays are never on a SharedArrayBuffer. */
export const source = (b: Uint8Array) => b as Uint8Array<ArrayBuffer>;

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

// ---- frames ---------------------------------------------------------------------------------

function checkHeader(h: FrameHeader): void {
  if (h.fingerprint.length !== FINGERPRINT_BYTES) throw new RangeError(`fingerprint must be ${FINGERPRINT_BYTES} bytes, got ${h.fingerprint.length}`);
  if (!(Number.isInteger(h.from) && h.from >= 0 && h.from <= 0xffff_ffff)) throw new RangeError(`sender id must be a u32, got ${h.from}`);
  if (!(Number.isSafeInteger(h.step) && h.step >= 0)) throw new RangeError(`step must be an integer in [0, 2^53), got ${h.step}`);
  if (!Number.isFinite(h.epoch) || !Number.isFinite(h.sentAt)) throw new RangeError(`epoch and sentAt must be finite, got ${h.epoch}, ${h.sentAt}`);
}

/**
 * A frame with header and θ [n] written and the MAC left zero: θ is copied here, once, so the
 * caller may change it as soon as this returns. sealFrame adds the MAC.
 */
export function prepareFrame(header: FrameHeader, theta: Float32Array): Uint8Array {
  const n = theta.length;
  const frame = writeHeader(header, new Uint8Array(frameBytes(n)));
  const view = payloadView(frame, n);
  if (view) view.set(theta);
  else {
    const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
    for (let i = 0; i < n; i++) dv.setFloat32(HEADER_BYTES + 4 * i, theta[i], true);
  }
  return frame;
}

/** A frame with header and an encoded θ written and the MAC left zero (the bytes are copied). */
export function prepareEncodedFrame(header: FrameHeader, theta: EncodedTheta): Uint8Array {
  const frame = new Uint8Array(HEADER_BYTES + theta.bytes.length + MAC_BYTES);
  frame.set(theta.bytes, HEADER_BYTES);
  return writeHeader({ ...header, encoding: theta.codec }, frame);
}

/** θ's place in a frame of n floats (little-endian f32 at HEADER_BYTES), for a caller that writes
 * θ there itself on a little-endian machine; null elsewhere (prepareFrame converts). */
export function payloadView(frame: Uint8Array, n: number): Float32Array | null {
  return LITTLE_ENDIAN && (frame.byteOffset + HEADER_BYTES) % 4 === 0 ? new Float32Array(frame.buffer, frame.byteOffset + HEADER_BYTES, n) : null;
}

/** Writes the header of a frame whose payload (length − header − MAC bytes, θ in header.encoding) is already in place; returns it. */
export function writeHeader(header: FrameHeader, frame: Uint8Array): Uint8Array {
  checkHeader(header);
  const payload = frame.length - HEADER_BYTES - MAC_BYTES;
  const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  frame.fill(0, 0, HEADER_BYTES); // the padding between fields too: a reused buffer signs the same bytes as a fresh one
  dv.setUint32(0, FRAME_MAGIC, true);
  dv.setUint16(4, PROTOCOL_VERSION, true);
  dv.setUint16(6, ENCODING_CODE[header.encoding ?? "f32"], true);
  frame.set(header.fingerprint, 8);
  dv.setUint32(16, header.from, true);
  dv.setFloat64(24, header.epoch, true);
  dv.setBigUint64(32, BigInt(header.step), true);
  dv.setFloat64(40, header.sentAt, true);
  dv.setUint32(48, payload, true);
  return frame;
}

/** Writes the HMAC of a prepared frame into its last 32 bytes; returns the same array. */
export async function sealFrame(key: CryptoKey, frame: Uint8Array): Promise<Uint8Array> {
  const end = frame.length - MAC_BYTES;
  const mac = await crypto.subtle.sign("HMAC", key, source(frame.subarray(0, end)));
  frame.set(new Uint8Array(mac), end);
  return frame;
}

/** A sealed frame carrying θ [n]. θ is read before this returns its promise (see prepareFrame). */
export function encodeFrame(key: CryptoKey, header: FrameHeader, theta: Float32Array): Promise<Uint8Array> {
  return sealFrame(key, prepareFrame(header, theta));
}

/**
 * What the first HEADER_BYTES of a frame say about its size, checked against this model without
 * the rest: null when a socket may go on reading, else the reason to refuse it now. decodeFrame
 * applies the same checks; a streaming reader calls this before buffering the payload.
 */
export function checkFrameStart(bytes: Uint8Array, numParams: number, tensors: readonly Tensor[] = wholeTheta(numParams)): Reason | null {
  if (bytes.length < 4) return "truncated";
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(0, true) !== FRAME_MAGIC) return "magic";
  if (bytes.length < HEADER_BYTES) return "truncated";
  if (dv.getUint16(4, true) !== PROTOCOL_VERSION) return "version";
  const encoding = ENCODING_OF[dv.getUint16(6, true)];
  if (!encoding) return "encoding";
  const declared = dv.getUint32(48, true);
  if (declared > 4 * numParams) return "oversized";
  if (declared !== levelBytes(encoding, tensors)) return "length";
  return null;
}

/**
 * Checks a received frame and reads it. Reasons, in the order checked: magic, truncated (shorter
 * than a header), version, encoding (not f32, f16 or int8), oversized (declares more than this
 * model's θ as f32), length (declares another size than this model's θ in that encoding),
 * truncated / oversized (fewer / more bytes than declared), unauthenticated (MAC), fingerprint,
 * header (reserved bytes, step beyond 2^53, non-finite times), nonfinite (NaN/Inf in θ).
 * An f32 result's θ is a view into `bytes` when aligned (a copy otherwise): don't reuse `bytes`;
 * f16 and int8 are decoded into a new array.
 */
export async function decodeFrame(key: CryptoKey, bytes: Uint8Array, expect: Expect): Promise<DecodeResult> {
  const tensors = expect.tensors ?? wholeTheta(expect.numParams);
  const early = checkFrameStart(bytes, expect.numParams, tensors);
  if (early) return { ok: false, reason: early };
  const encoding = ENCODING_OF[bytes[6]]; // checkFrameStart found a known code: bytes[7] is 0
  const total = encodedFrameBytes(encoding, tensors);
  if (bytes.length < total) return { ok: false, reason: "truncated" };
  if (bytes.length > total) return { ok: false, reason: "oversized" };
  const end = total - MAC_BYTES;
  const good = await crypto.subtle.verify("HMAC", key, source(bytes.subarray(end)), source(bytes.subarray(0, end)));
  if (!good) return { ok: false, reason: "unauthenticated" };
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (!sameBytes(bytes.subarray(8, 16), expect.fingerprint)) return { ok: false, reason: "fingerprint" };
  const step = dv.getBigUint64(32, true), epoch = dv.getFloat64(24, true), sentAt = dv.getFloat64(40, true);
  if (dv.getUint32(20, true) !== 0 || dv.getUint32(52, true) !== 0
    || step > BigInt(Number.MAX_SAFE_INTEGER) || !Number.isFinite(epoch) || !Number.isFinite(sentAt)) {
    return { ok: false, reason: "header" };
  }
  const n = expect.numParams;
  let theta: Float32Array;
  const at = bytes.byteOffset + HEADER_BYTES;
  if (encoding !== "f32") decode(encoding, bytes.subarray(HEADER_BYTES, end), tensors, (theta = new Float32Array(n)));
  else if (LITTLE_ENDIAN && at % 4 === 0) theta = new Float32Array(bytes.buffer, at, n);
  else {
    theta = new Float32Array(n);
    for (let i = 0; i < n; i++) theta[i] = dv.getFloat32(HEADER_BYTES + 4 * i, true);
  }
  if (!allFinite(theta)) return { ok: false, reason: "nonfinite" };
  return { ok: true, from: dv.getUint32(16, true), epoch, step: Number(step), sentAt, theta, encoding };
}

/**
 * True when no value of x [n] is NaN or ±Inf. Sums in float64: finite f32 values cannot overflow
 * a double (|x| < 2^128, n < 2^32), while one NaN or Inf makes the sum NaN or Inf. Four
 * accumulators break the add chain: twice as fast as testing each value's exponent bits.
 */
export function allFinite(x: Float32Array): boolean {
  const n = x.length, n4 = n & ~3;
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0, i = 0;
  for (; i < n4; i += 4) { s0 += x[i]; s1 += x[i + 1]; s2 += x[i + 2]; s3 += x[i + 3]; }
  for (; i < n; i++) s0 += x[i];
  return Number.isFinite(s0 + s1 + s2 + s3);
}

// ---- replays --------------------------------------------------------------------------------

/**
 * The newest (epoch, step) accepted from each sender. A frame is a replay unless it is newer:
 * a later epoch (the sender restarted, its steps begin again), or the same epoch and a higher
 * step. One per receiving node; a frame is offered after it passed decodeFrame.
 */
export class ReplayGuard {
  private readonly newest = new Map<number, { epoch: number; step: number }>();

  /** Records (epoch, step) for `from` and returns true if it is newer than all before; else false. */
  admit(from: number, epoch: number, step: number): boolean {
    const last = this.newest.get(from);
    if (last && (epoch < last.epoch || (epoch === last.epoch && step <= last.step))) return false;
    this.newest.set(from, { epoch, step });
    return true;
  }

  /** The newest (epoch, step) accepted from `from`, if any. */
  last(from: number): { epoch: number; step: number } | undefined {
    const l = this.newest.get(from);
    return l && { ...l };
  }
}

// ---- handshake ------------------------------------------------------------------------------

/** Fresh random bytes (a nonce): crypto.getRandomValues, not simulation randomness. */
export function randomBytes(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}

/** The server's first message: a fresh nonce for the client to sign. */
export function encodeHello(nonce: Uint8Array): Uint8Array {
  if (nonce.length !== NONCE_BYTES) throw new RangeError(`nonce must be ${NONCE_BYTES} bytes`);
  const b = new Uint8Array(HELLO_BYTES);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, HELLO_MAGIC, true);
  dv.setUint16(4, PROTOCOL_VERSION, true);
  b.set(nonce, 8);
  return b;
}

/** The server's nonce from a HELLO, or the reason it is not one. */
export function decodeHello(b: Uint8Array): { ok: true; nonce: Uint8Array } | { ok: false; reason: Reason } {
  if (b.length !== HELLO_BYTES) return { ok: false, reason: "handshake" };
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (dv.getUint32(0, true) !== HELLO_MAGIC) return { ok: false, reason: "handshake" };
  if (dv.getUint16(4, true) !== PROTOCOL_VERSION) return { ok: false, reason: "version" };
  return { ok: true, nonce: b.slice(8, 8 + NONCE_BYTES) };
}

/** Who signs an AUTH: the dialer (client) or the listener (server). Part of the MAC, so one cannot pose as the other. */
export type Role = "client" | "server";
const ROLE_CODE: Record<Role, number> = { client: 1, server: 2 };

/** An AUTH message: `id`, `fingerprint` and `nonce` (ours) signed with the peer's nonce `peerNonce`. */
export async function encodeAuth(key: CryptoKey, a: { role: Role; id: number; fingerprint: Uint8Array; nonce: Uint8Array; peerNonce: Uint8Array }): Promise<Uint8Array> {
  if (a.nonce.length !== NONCE_BYTES || a.peerNonce.length !== NONCE_BYTES) throw new RangeError(`nonces must be ${NONCE_BYTES} bytes`);
  if (a.fingerprint.length !== FINGERPRINT_BYTES) throw new RangeError(`fingerprint must be ${FINGERPRINT_BYTES} bytes`);
  const b = new Uint8Array(AUTH_BYTES);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, AUTH_MAGIC, true);
  dv.setUint16(4, PROTOCOL_VERSION, true);
  b[6] = ROLE_CODE[a.role];
  dv.setUint32(8, a.id, true);
  b.set(a.fingerprint, 16);
  b.set(a.nonce, 24);
  b.set(new Uint8Array(await crypto.subtle.sign("HMAC", key, source(authSigned(b, a.peerNonce)))), 40);
  return b;
}

function authSigned(b: Uint8Array, peerNonce: Uint8Array): Uint8Array {
  const s = new Uint8Array(40 + NONCE_BYTES);
  s.set(b.subarray(0, 40));
  s.set(peerNonce, 40);
  return s;
}

/**
 * Checks an AUTH from a peer in `role`, signed over our nonce `ourNonce`. Reasons: handshake
 * (not an AUTH, wrong role or reserved bytes), version, unauthenticated (MAC), fingerprint.
 */
export async function decodeAuth(key: CryptoKey, b: Uint8Array, expect: { role: Role; fingerprint: Uint8Array; ourNonce: Uint8Array }): Promise<{ ok: true; id: number; nonce: Uint8Array } | { ok: false; reason: Reason }> {
  if (b.length !== AUTH_BYTES) return { ok: false, reason: "handshake" };
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (dv.getUint32(0, true) !== AUTH_MAGIC) return { ok: false, reason: "handshake" };
  if (dv.getUint16(4, true) !== PROTOCOL_VERSION) return { ok: false, reason: "version" };
  const good = await crypto.subtle.verify("HMAC", key, source(b.subarray(40, 72)), source(authSigned(b, expect.ourNonce)));
  if (!good) return { ok: false, reason: "unauthenticated" };
  if (b[6] !== ROLE_CODE[expect.role] || b[7] !== 0 || dv.getUint32(12, true) !== 0) return { ok: false, reason: "handshake" };
  if (!sameBytes(b.subarray(16, 24), expect.fingerprint)) return { ok: false, reason: "fingerprint" };
  return { ok: true, id: dv.getUint32(8, true), nonce: b.slice(24, 40) };
}
