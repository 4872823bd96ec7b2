// Compressed snapshots (--compress): what a node puts on the wire instead of θ as f32, and what a
// neighbour rebuilds from it. Pure: no clock, no network, no randomness (every codec here is
// deterministic, so no Rng is needed); bit-identical on Node, Bun and Deno, because only
// IEEE-exact operations are used (+, −, ×, ÷ in f64, f32 rounding by Float32Array stores,
// Math.abs, Math.max, | 0 on small values) and f16 is converted here, not by Float16Array
// (absent on Node 20).
//
// Glossary: n = numParams (floats in θ, state_dict order); T = tensors (each layer's weight block,
// then its bias block: tensorsOf); k = entries a top-k message keeps; R = --compress every=R.
//
// Level codecs (stateless: the payload is θ itself, re-encoded):
//   f32   4n bytes   θ as f32 LE: the bytes a frame carries today (the default).
//   f16   2n bytes   IEEE binary16 LE, round to nearest even; |x| ≥ 65520 (would round to ±Inf)
//                    saturates to ±65504 so a large finite weight stays finite; ±Inf stays ±Inf and
//                    NaN stays NaN (quiet, sign kept) so the receiver's finiteness check still
//                    rejects the snapshot. |x − x̂| ≤ 2^-11·|x| for 2^-14 ≤ |x| ≤ 65504, ≤ 2^-25 below.
//   int8  4T + n     T f32 scales, then n int8: per tensor s = fround(max|x| / 127), q = sign(x) ·
//                    min(127, ⌊|x|/s + 1/2⌋) (ties away from 0), x̂ = fround(q · s). |x − x̂| ≤ s/2
//                    (plus x̂'s f32 rounding, < s·2^-17). A tensor holding NaN/±Inf gets s = NaN:
//                    it decodes all NaN and the receiver rejects the snapshot. An all-zero tensor
//                    has s = 0; s is at least 2^-149 otherwise (the bound assumes s normal).
//
// Difference codecs (stateful, CHOCO-SGD, Koloskova et al. 2019): node i keeps a public copy θ̂_i
// that its neighbours also hold; a message carries q = Q(θ_i − θ̂_i) and both sides do θ̂_i += q,
// so what Q leaves out stays in θ_i − θ̂_i and is sent later (error feedback).
// State is per SENDER, not per link: every neighbour gets the same message (the simulator and the
// live driver both broadcast one snapshot), so one θ̂_i (4n bytes) per node, and one θ̂_j (4n bytes)
// per in-link at a live receiver. A simulator does not need the receivers' copies: a receiver that
// applied every message since the last refresh holds exactly the sender's θ̂_i (tested bit for bit),
// so it can share the sender's θ̂_i and keep only the sequence number of the last message it
// applied (see `admit`).
//   topk:<f>   12 + 6k bytes, k = ceil(f·n): the k largest |θ − θ̂| (global over θ, ties to the
//              lower index), u32 indices ascending, then f16 values scaled by one power of two
//              2^e per message (e = exponent of the largest − 14), so precision is relative to the
//              message and a fixed θ is reached exactly after a few messages.
//   diff-int8  8 + 4T + n bytes: θ − θ̂ with the int8 level codec (per-tensor scale).
//   Options: ",every=R" a refresh every R messages (default 32; "never": only the first and the
//   forced ones), ",refresh=f32|f16|int8" its level codec (default f16).
//
// Lost messages (decision): deltas form a chain. Every message has a sequence number; a delta is
// applied only by a receiver holding the message just before it (`admit`); after a gap the receiver
// keeps its last θ̂_j (a consistent, older public copy, aged out by --max-staleness) and ignores
// deltas until a message that does not need the chain:
//   refresh  every R-th message (and the first, and after a non-finite θ̂): θ̂_i := level(θ_i), broadcast.
//   sync     for one neighbour known to be out of step (live: a new connection or epoch): θ̂_i
//            exactly, f32, at the current sequence number; it does not change the sender's state.
// A receiver whose θ̂_j became non-finite (a NaN refresh, an overflowing delta) drops it and waits for
// a refresh; the sender sees the same non-finite θ̂_i and sends one next.
// With drop probability p per message and no syncs, a receiver applies on average
// (1 − (1−p)^R)/(pR) of the messages after a refresh (p = 0.1, R = 32: 30%): keep R·p small.
//
// Message layout (every integer little-endian; the body starts 8-byte aligned):
//   off size field
//     0    1 kind: 1 refresh, 2 delta, 3 sync
//     1    1 body: 1 f32, 2 f16, 3 int8 (refresh, sync), 4 top-k, 5 int8 difference (delta)
//     2    2 top-k: e, i16 (the values are f16 · 2^e); else 0
//     4    4 sequence number u32 (0 for a sender's first message)
//     8    … body: a level encoding of θ̂_i (refresh, sync); k (u32), k u32 indices ascending, then
//            k u16 f16 values (top-k); the int8 level encoding of the difference (diff-int8)
// Little-endian hosts only (every Node/Bun/Deno target): typed views write the bytes directly.
import { ConfigError } from "../errors.ts";

export type LevelCodec = "f32" | "f16" | "int8";
export const LEVEL_CODECS: readonly LevelCodec[] = ["f32", "f16", "int8"];

/** A difference codec with its refresh policy. */
export interface DeltaCompression {
  readonly kind: "delta";
  /** Q: top-k sparsification with f16 values, or int8 quantization of the whole difference. */
  readonly q: "topk" | "int8";
  /** topk: fraction of n kept per message, in (0, 1]. */
  readonly fraction: number;
  /** A refresh every R messages (an integer ≥ 1, or Infinity: only the first and forced ones). */
  readonly every: number;
  /** The level codec of refreshes. */
  readonly refresh: LevelCodec;
}

/** A parsed --compress value. */
export type Compression = { readonly kind: "level"; readonly codec: LevelCodec } | DeltaCompression;

/** --compress default: f32, today's bytes. */
export const DEFAULT_COMPRESSION = "f32";
/** A refresh every 32 messages: with f16 refreshes, 2n/32 bytes per message on average. */
export const DEFAULT_EVERY = 32;
/** Refreshes in f16: half of f32, and the deltas after it correct its 2^-11 error. */
export const DEFAULT_REFRESH: LevelCodec = "f16";

/** One block of θ: a layer's weight or bias. */
export interface Tensor {
  readonly offset: number;
  readonly count: number;
}

export type MessageKind = "refresh" | "delta" | "sync";
const KIND_CODE: Record<MessageKind, number> = { refresh: 1, delta: 2, sync: 3 };
const KIND_OF = [undefined, "refresh", "delta", "sync"] as const;
const BODY_CODE: Record<LevelCodec | "topk" | "diff-int8", number> = { f32: 1, f16: 2, int8: 3, topk: 4, "diff-int8": 5 };
export const MESSAGE_HEADER_BYTES = 8;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
function needLittleEndian(): void {
  if (!LITTLE_ENDIAN) throw new Error("compress: little-endian hosts only");
}

// ---- flag -----------------------------------------------------------------------------------

const ALLOWED = "f32, f16, int8, topk:<fraction in (0,1]>, diff-int8; options ,every=<R|never> ,refresh=<f32|f16|int8>";

/** Validates a --compress value: "f32" | "f16" | "int8" | "topk:<f>[,every=R][,refresh=c]" | "diff-int8[,…]". */
export function parseCompression(s: string): Compression {
  const [head, ...opts] = s.trim().toLowerCase().split(",").map((x) => x.trim());
  const bad = (why: string) => new ConfigError(`--compress "${s}": ${why}; allowed: ${ALLOWED}`);
  if ((LEVEL_CODECS as readonly string[]).includes(head)) {
    if (opts.length) throw bad("a level codec takes no options");
    return { kind: "level", codec: head as LevelCodec };
  }
  let q: "topk" | "int8", fraction = 1;
  if (head === "diff-int8") q = "int8";
  else if (head.startsWith("topk:")) {
    q = "topk";
    const f = head.slice(5);
    fraction = /^(\d+\.?\d*|\.\d+)(e-?\d+)?$/.test(f) ? Number(f) : NaN;
    if (!(fraction > 0 && fraction <= 1)) throw bad(`the fraction must be a number in (0, 1], got "${f}"`);
  } else throw bad("unknown codec");
  let every = DEFAULT_EVERY, refresh = DEFAULT_REFRESH;
  for (const o of opts) {
    const [k, v = ""] = o.split("=");
    if (k === "every") {
      every = v === "never" ? Infinity : /^\d+$/.test(v) ? Number(v) : NaN;
      if (!(every >= 1)) throw bad(`every must be an integer ≥ 1 or "never", got "${v}"`);
    } else if (k === "refresh") {
      if (!(LEVEL_CODECS as readonly string[]).includes(v)) throw bad(`refresh must be f32, f16 or int8, got "${v}"`);
      refresh = v as LevelCodec;
    } else throw bad(`unknown option "${o}"`);
  }
  return { kind: "delta", q, fraction, every, refresh };
}

/** The canonical --compress text of c (defaults left out); parseCompression(compressionName(c)) equals c. */
export function compressionName(c: Compression): string {
  if (c.kind === "level") return c.codec;
  let s = c.q === "topk" ? `topk:${c.fraction}` : "diff-int8";
  if (c.every !== DEFAULT_EVERY) s += `,every=${c.every === Infinity ? "never" : c.every}`;
  if (c.refresh !== DEFAULT_REFRESH) s += `,refresh=${c.refresh}`;
  return s;
}

// ---- tensors --------------------------------------------------------------------------------

/** θ's tensors in state_dict order: each layer's weight block, then its bias block (empty ones left out). */
export function tensorsOf(plan: { readonly layers: readonly { paramOffset: number; weightCount: number; biasCount: number }[] }): Tensor[] {
  const out: Tensor[] = [];
  for (const l of plan.layers) {
    if (l.weightCount > 0) out.push({ offset: l.paramOffset, count: l.weightCount });
    if (l.biasCount > 0) out.push({ offset: l.paramOffset + l.weightCount, count: l.biasCount });
  }
  return out;
}

/** n, after checking that the tensors tile [0, n) in order. */
function numParamsOf(tensors: readonly Tensor[]): number {
  let n = 0;
  for (const t of tensors) {
    if (t.offset !== n || !(Number.isInteger(t.count) && t.count > 0)) throw new RangeError(`compress: tensors must tile θ in order (at ${n}: offset ${t.offset}, count ${t.count})`);
    n += t.count;
  }
  return n;
}

// ---- f16 ------------------------------------------------------------------------------------

/**
 * The binary16 bits nearest to the f32 with bits u (ties to even), except that finite values
 * beyond the f16 range saturate to ±65504; ±Inf → ±Inf, NaN → quiet NaN with the same sign.
 */
export function f16FromF32Bits(u: number): number {
  const sign = (u >>> 16) & 0x8000, a = u & 0x7fffffff;
  if (a >= 0x7f800000) return sign | (a > 0x7f800000 ? 0x7e00 : 0x7c00);
  if (a >= 0x477ff000) return sign | 0x7bff; // ≥ 65520, the midpoint to 2^16: saturate
  if (a >= 0x38800000) { // ≥ 2^-14: normal f16; rebias the exponent (127 → 15), drop 13 bits
    const r = a - 0x38000000, h = r >>> 13, rem = r & 0x1fff;
    return sign | (rem > 0x1000 || (rem === 0x1000 && (h & 1)) ? h + 1 : h); // a carry into the exponent is right
  }
  if (a <= 0x33000000) return sign; // ≤ 2^-25, the midpoint between 0 and 2^-24: ties to 0 (even)
  // Subnormal f16, units of 2^-24: the 24-bit significand shifted right by 126 − exponent ∈ [14, 24].
  const m = (a & 0x7fffff) | 0x800000, shift = 126 - (a >>> 23);
  const h = m >>> shift, rem = m & ((1 << shift) - 1), half = 1 << (shift - 1);
  return sign | (rem > half || (rem === half && (h & 1)) ? h + 1 : h);
}

/** The value of binary16 bits h, exactly (every f16 is an f32 and a double). */
export function f16ToNumber(h: number): number {
  const e = (h >>> 10) & 0x1f, m = h & 0x3ff, s = h & 0x8000 ? -1 : 1;
  if (e === 0) return s * m * 5.960464477539063e-8; // m · 2^-24
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1024 + m) * POW2[e - 25 + POW2_BIAS];
}

/** 2^i for i in [-200, 200], exact (built from 2 by exact doublings and halvings). */
const POW2_BIAS = 200;
const POW2 = (() => {
  const p = new Float64Array(2 * POW2_BIAS + 1);
  p[POW2_BIAS] = 1;
  for (let i = 1; i <= POW2_BIAS; i++) { p[POW2_BIAS + i] = p[POW2_BIAS + i - 1] * 2; p[POW2_BIAS - i] = p[POW2_BIAS - i + 1] / 2; }
  return p;
})();

/** f16 bits → value, a table: decoding is one load per element. */
const F16_VALUE = (() => {
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) t[h] = f16ToNumber(h);
  return t;
})();

// ---- level codecs ---------------------------------------------------------------------------

/** Bytes of a level payload for θ split into `tensors`. */
export function levelBytes(codec: LevelCodec, tensors: readonly Tensor[]): number {
  const n = numParamsOf(tensors);
  return codec === "f32" ? 4 * n : codec === "f16" ? 2 * n : 4 * tensors.length + n;
}

/** The exact wire payload of θ [n] under `codec` (levelBytes long), in `out` if given (its byteOffset a multiple of 4). */
export function encode(codec: LevelCodec, theta: Float32Array, tensors: readonly Tensor[], out?: Uint8Array): Uint8Array {
  const size = levelBytes(codec, tensors);
  if (theta.length !== numParamsOf(tensors)) throw new RangeError(`compress: θ has ${theta.length} floats, the tensors ${numParamsOf(tensors)}`);
  const b = outBuffer(out, size);
  encodeAt(codec, theta, tensors, b, 0);
  return b;
}

/** Decodes a level payload (exactly levelBytes long) into out [n]. */
export function decode(codec: LevelCodec, bytes: Uint8Array, tensors: readonly Tensor[], out: Float32Array): void {
  const size = levelBytes(codec, tensors);
  if (bytes.length !== size) throw new RangeError(`compress: a ${codec} payload for these tensors is ${size} bytes, got ${bytes.length}`);
  if (out.length !== numParamsOf(tensors)) throw new RangeError(`compress: out has ${out.length} floats, the tensors ${numParamsOf(tensors)}`);
  decodeAt(codec, aligned(bytes), 0, tensors, out);
}

function outBuffer(out: Uint8Array | undefined, size: number): Uint8Array {
  needLittleEndian();
  if (!out) return new Uint8Array(size);
  if (out.length !== size) throw new RangeError(`compress: out must be ${size} bytes, got ${out.length}`);
  if (out.byteOffset % 4 !== 0) throw new RangeError("compress: out must start 4-byte aligned");
  return out;
}

/** bytes, or an aligned copy when its start is not 4-byte aligned (typed views need alignment). */
function aligned(bytes: Uint8Array): Uint8Array {
  needLittleEndian();
  return bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
}

function encodeAt(codec: LevelCodec, x: Float32Array, tensors: readonly Tensor[], b: Uint8Array, off: number): void {
  const n = x.length, at = b.byteOffset + off;
  if (codec === "f32") new Float32Array(b.buffer, at, n).set(x);
  else if (codec === "f16") {
    const u = new Uint32Array(x.buffer, x.byteOffset, n), h = new Uint16Array(b.buffer, at, n);
    for (let i = 0; i < n; i++) h[i] = f16FromF32Bits(u[i]);
  } else encodeInt8(x, tensors, new Float32Array(b.buffer, at, tensors.length), new Int8Array(b.buffer, at + 4 * tensors.length, n));
}

function decodeAt(codec: LevelCodec, b: Uint8Array, off: number, tensors: readonly Tensor[], out: Float32Array): void {
  const n = out.length, at = b.byteOffset + off;
  if (codec === "f32") out.set(new Float32Array(b.buffer, at, n));
  else if (codec === "f16") {
    const h = new Uint16Array(b.buffer, at, n);
    for (let i = 0; i < n; i++) out[i] = F16_VALUE[h[i]];
  } else {
    const s = new Float32Array(b.buffer, at, tensors.length), q = new Int8Array(b.buffer, at + 4 * tensors.length, n);
    tensors.forEach((t, j) => {
      const sj = s[j], end = t.offset + t.count;
      for (let i = t.offset; i < end; i++) out[i] = q[i] * sj;
    });
  }
}

const MIN_SUBNORMAL = 1.401298464324817e-45; // 2^-149

/**
 * The int8 scale of a tensor whose largest |x| is m (NaN if it holds a NaN): m / 127 in f32, NaN for
 * a non-finite tensor, 0 for an all-zero one. A tiny max (m / 127 below the least subnormal) still
 * gets a non-zero scale, so a residual is never stuck.
 */
export function int8Scale(m: number): number {
  return m !== m || m === Infinity ? NaN : m === 0 ? 0 : Math.max(Math.fround(m / 127), MIN_SUBNORMAL);
}

/** int8 with one scale per tensor: scales [T], q [n] from x [n]. */
function encodeInt8(x: Float32Array, tensors: readonly Tensor[], scales: Float32Array, q: Int8Array): void {
  tensors.forEach((t, j) => {
    const end = t.offset + t.count;
    let m = 0, nan = false;
    for (let i = t.offset; i < end; i++) {
      const a = Math.abs(x[i]);
      if (a > m) m = a;
      else if (a !== a) nan = true;
    }
    const s = int8Scale(nan ? NaN : m);
    scales[j] = s;
    if (!(s > 0)) { q.fill(0, t.offset, end); return; }
    // (|v| + 0.5) | 0 rounds |v| ≤ 127.01 half up, exactly in f64 (twice as fast as Math.round and Math.min).
    for (let i = t.offset; i < end; i++) {
      const v = x[i] / s, a = v < 0 ? -v : v, r = (a + 0.5) | 0;
      q[i] = v < 0 ? -(r > 127 ? 127 : r) : r > 127 ? 127 : r;
    }
  });
}

// ---- messages of the difference codecs ------------------------------------------------------

/** k of a top-k codec on n floats: ceil(f·n), at least 1. */
export function topkCount(fraction: number, n: number): number {
  return Math.max(1, Math.min(n, Math.ceil(fraction * n - 1e-9)));
}

/** Bytes of each kind of message of c on `tensors` (a level codec: every message is `refresh`). */
export function messageBytes(c: Compression, tensors: readonly Tensor[]): { refresh: number; delta: number; sync: number } {
  if (c.kind === "level") { const b = levelBytes(c.codec, tensors); return { refresh: b, delta: b, sync: b }; }
  const n = numParamsOf(tensors), H = MESSAGE_HEADER_BYTES;
  const delta = c.q === "topk" ? H + 4 + 6 * topkCount(c.fraction, n) : H + levelBytes("int8", tensors);
  return { refresh: H + levelBytes(c.refresh, tensors), delta, sync: H + 4 * n };
}

/** Average bytes per message of c with no forced refreshes: (refresh + (R−1)·delta) / R. */
export function averageMessageBytes(c: Compression, tensors: readonly Tensor[]): number {
  const m = messageBytes(c, tensors);
  return c.kind === "level" || c.every === Infinity ? m.delta : (m.refresh + (c.every - 1) * m.delta) / c.every;
}

/** The kind and sequence number of a message, or null when it is too short or of no known kind. */
export function peek(bytes: Uint8Array): { kind: MessageKind; seq: number } | null {
  if (bytes.length < MESSAGE_HEADER_BYTES) return null;
  const kind = KIND_OF[bytes[0]];
  if (!kind) return null;
  return { kind, seq: new DataView(bytes.buffer, bytes.byteOffset, 8).getUint32(4, true) };
}

/** What a receiver does with a message. */
export type LinkOutcome = "refresh" | "delta" | "sync" | "gap" | "stale" | "nonfinite" | "malformed";

/**
 * What a receiver holding θ̂_j after message `have` (−1: none) does with message (kind, seq):
 * a refresh or sync newer than `have` replaces θ̂_j; the delta right after `have` is applied; a
 * later delta is a "gap" (one was lost or is late: wait for a refresh or sync); anything not newer
 * is "stale". This is the whole loss rule: a simulator that shares the sender's θ̂_i keeps only `have`.
 */
export function admit(have: number, kind: MessageKind, seq: number): "refresh" | "delta" | "sync" | "gap" | "stale" {
  if (kind !== "delta") return seq > have ? kind : "stale";
  if (seq <= have) return "stale";
  return have >= 0 && seq === have + 1 ? "delta" : "gap";
}

function writeHeader(b: Uint8Array, kind: MessageKind, body: number, e: number, seq: number): void {
  const dv = new DataView(b.buffer, b.byteOffset, MESSAGE_HEADER_BYTES);
  dv.setUint8(0, KIND_CODE[kind]);
  dv.setUint8(1, body);
  dv.setInt16(2, e, true);
  dv.setUint32(4, seq, true);
}

/**
 * Scratch memory of the difference codecs for θ of n floats: 4n + 256 KiB. Senders are used one
 * at a time (the simulator is one thread), so one Scratch can serve every sender of a run.
 */
export class Scratch {
  /** θ − θ̂ [n], and its bits. */
  readonly d: Float32Array;
  readonly bits: Uint32Array;
  /** Radix-select histogram over 16 bits. */
  readonly hist = new Uint32Array(65536);
  readonly one = new Float32Array(1);
  readonly oneBits = new Uint32Array(this.one.buffer);
  constructor(readonly n: number) {
    this.d = new Float32Array(n);
    this.bits = new Uint32Array(this.d.buffer);
  }
}

/**
 * Writes into idx [k] the indices of the k largest |d| (ascending; among equal |d| the lower
 * indices), from the f32 bits of d [n] (|d| ordered as its bits with the sign cleared). Radix
 * select, two 16-bit histogram passes and one collecting pass: O(n), no data-dependent worst case.
 * Returns the largest |d|'s bits.
 */
function selectTopk(bits: Uint32Array, k: number, hist: Uint32Array, idx: Uint32Array): number {
  const n = bits.length;
  let max = 0;
  hist.fill(0);
  for (let i = 0; i < n; i++) {
    const a = bits[i] & 0x7fffffff;
    if (a > max) max = a;
    hist[a >>> 16]++;
  }
  let above = 0, hi = 0x7fff;
  for (; above + hist[hi] < k; hi--) above += hist[hi];
  hist.fill(0);
  for (let i = 0; i < n; i++) {
    const a = bits[i] & 0x7fffffff;
    if (a >>> 16 === hi) hist[a & 0xffff]++;
  }
  let lo = 0xffff;
  for (; above + hist[lo] < k; lo--) above += hist[lo];
  const T = ((hi << 16) | lo) >>> 0;
  let equal = k - above, j = 0;
  for (let i = 0; i < n; i++) {
    const a = bits[i] & 0x7fffffff;
    if (a > T) idx[j++] = i;
    else if (a === T && equal > 0) { idx[j++] = i; equal--; }
  }
  return max;
}

/** θ̂ [n] += f16(vals) · 2^e at idx [k]; false if a changed value is not finite. Sender and receiver both call this. */
function applyTopk(hat: Float32Array, idx: Uint32Array, vals: Uint16Array, e: number): boolean {
  const p = POW2[e + POW2_BIAS];
  let sum = 0;
  for (let j = 0; j < idx.length; j++) {
    const i = idx[j];
    hat[i] += F16_VALUE[vals[j]] * p;
    sum += hat[i];
  }
  return Number.isFinite(sum);
}

/** θ̂ [n] += q · s per tensor (scales [T], q [n]); false if a value is not finite. */
function applyInt8(hat: Float32Array, tensors: readonly Tensor[], scales: Float32Array, q: Int8Array): boolean {
  let sum = 0;
  tensors.forEach((t, j) => {
    const s = scales[j], end = t.offset + t.count;
    for (let i = t.offset; i < end; i++) { hat[i] += q[i] * s; sum += hat[i]; }
  });
  return Number.isFinite(sum);
}

/** True when no value of x is NaN or ±Inf (a float64 sum of f32 values overflows only through them). */
function finite(x: Float32Array): boolean {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  return Number.isFinite(s);
}

/**
 * A node's side of a difference codec: its public copy θ̂_i [n] (4n bytes) and the sequence
 * number. encodeDelta(θ) returns the next message to broadcast; after it `hat` is what every
 * neighbour that applied all messages since the last refresh holds, bit for bit.
 */
export class Sender {
  /** θ̂_i [n]: the public copy. Read it, never write it. */
  readonly hat: Float32Array;
  readonly n: number;
  readonly k: number;
  /** Bytes of each kind of message (messageBytes). */
  readonly sizes: { refresh: number; delta: number; sync: number };
  private nextSeq = 0;
  private mustRefresh = true;
  private own: Scratch | null = null;
  /** The kind of the last message encodeDelta returned. */
  lastKind: MessageKind | null = null;

  /** `scratch` may be shared by all senders of one θ size (see Scratch); without it the sender allocates its own at its first delta. */
  constructor(readonly c: DeltaCompression, readonly tensors: readonly Tensor[], private readonly scratch?: Scratch) {
    this.n = numParamsOf(tensors);
    if (scratch && scratch.n !== this.n) throw new RangeError(`compress: scratch is for ${scratch.n} floats, θ has ${this.n}`);
    this.hat = new Float32Array(this.n);
    this.k = c.q === "topk" ? topkCount(c.fraction, this.n) : 0;
    this.sizes = messageBytes(c, tensors);
  }

  /** Sequence number of the last message (−1 before the first). */
  get seq(): number { return this.nextSeq - 1; }

  /** What a checkpoint needs to continue this sender exactly (θ̂ is read from `hat`). */
  state(): { nextSeq: number; mustRefresh: boolean; lastKind: MessageKind | null } {
    return { nextSeq: this.nextSeq, mustRefresh: this.mustRefresh, lastKind: this.lastKind };
  }

  restore(st: { nextSeq: number; mustRefresh: boolean; lastKind: MessageKind | null }, hat: Float32Array): void {
    this.hat.set(hat);
    this.nextSeq = st.nextSeq;
    this.mustRefresh = st.mustRefresh;
    this.lastKind = st.lastKind;
  }


  /**
   * The next message for θ [n]: a refresh if it is the first, the every-th, or follows a
   * non-finite θ̂_i (or θ − θ̂ is not finite, or too large for a top-k scale); else a delta.
   * Updates hat. `alloc(bytes)`, if given, supplies the message's memory (a recycled buffer of
   * exactly that size, 4-byte aligned); else a new array is returned.
   */
  encodeDelta(theta: Float32Array, alloc?: (bytes: number) => Uint8Array): Uint8Array {
    const { n, c, tensors, hat } = this;
    if (theta.length !== n) throw new RangeError(`compress: θ has ${theta.length} floats, expected ${n}`);
    if (this.nextSeq > 0xffff_ffff) throw new RangeError("compress: sequence numbers exhausted (2^32 messages)");
    const seq = this.nextSeq;
    const buffer = (size: number) => outBuffer(alloc?.(size), size);
    let refresh = this.mustRefresh || (c.every !== Infinity && seq % c.every === 0);
    const sc = refresh ? null : this.scratch ?? (this.own ??= new Scratch(n));
    if (sc) {
      const d = sc.d;
      for (let i = 0; i < n; i++) d[i] = theta[i] - hat[i];
      if (!finite(d)) refresh = true;
    }
    let b: Uint8Array;
    if (refresh || !sc) {
      b = buffer(this.sizes.refresh);
      writeHeader(b, "refresh", BODY_CODE[c.refresh], 0, seq);
      encodeAt(c.refresh, theta, tensors, b, MESSAGE_HEADER_BYTES);
      decodeAt(c.refresh, b, MESSAGE_HEADER_BYTES, tensors, hat);
      this.mustRefresh = !finite(hat);
      this.lastKind = "refresh";
    } else if (c.q === "topk") {
      // The largest |d|'s exponent E is known only after selecting, and the header is written last.
      const k = this.k;
      b = buffer(this.sizes.delta);
      const at = b.byteOffset + MESSAGE_HEADER_BYTES + 4;
      const idx = new Uint32Array(b.buffer, at, k), vals = new Uint16Array(b.buffer, at + 4 * k, k);
      const max = selectTopk(sc.bits, k, sc.hist, idx);
      const E = max === 0 ? 14 : Math.max(-126, (max >>> 23) - 127); // subnormal largest: treat as 2^-126
      if (E >= 127) { this.mustRefresh = true; return this.encodeDelta(theta, alloc); }
      const e = E - 14, p = POW2[-e + POW2_BIAS];
      for (let j = 0; j < k; j++) {
        // d·2^-e is exact in f64 and, when ≥ 2^-126, in f32 too; smaller values round to 0 in f16 either way.
        sc.one[0] = sc.d[idx[j]] * p;
        vals[j] = f16FromF32Bits(sc.oneBits[0]);
      }
      writeHeader(b, "delta", BODY_CODE.topk, e, seq);
      new DataView(b.buffer, b.byteOffset + MESSAGE_HEADER_BYTES, 4).setUint32(0, k, true);
      this.mustRefresh = !applyTopk(hat, idx, vals, e);
      this.lastKind = "delta";
    } else {
      b = buffer(this.sizes.delta);
      const at = b.byteOffset + MESSAGE_HEADER_BYTES, T = tensors.length;
      const scales = new Float32Array(b.buffer, at, T), q = new Int8Array(b.buffer, at + 4 * T, n);
      encodeInt8(sc.d, tensors, scales, q);
      writeHeader(b, "delta", BODY_CODE["diff-int8"], 0, seq);
      this.mustRefresh = !applyInt8(hat, tensors, scales, q);
      this.lastKind = "delta";
    }
    this.nextSeq++;
    return b;
  }

  /**
   * A sync for one neighbour out of step: θ̂_i exactly (f32) at the last sequence number; changes
   * nothing here. Null before the first message (the first message is a refresh anyway).
   */
  encodeSync(out?: Uint8Array): Uint8Array | null {
    if (this.nextSeq === 0) return null;
    const b = outBuffer(out, this.sizes.sync);
    writeHeader(b, "sync", BODY_CODE.f32, 0, this.seq);
    new Float32Array(b.buffer, b.byteOffset + MESSAGE_HEADER_BYTES, this.n).set(this.hat);
    return b;
  }
}

/**
 * A node's copy θ̂_j [n] of one neighbour j's public copy (4n bytes per in-link), kept in step by
 * j's messages. Live receivers need one per neighbour; a simulator can share the sender's θ̂ (see admit).
 */
export class Receiver {
  /** θ̂_j [n]; meaningful only while seq ≥ 0. */
  readonly hat: Float32Array;
  /** Sequence number of the last message applied; −1: none (waiting for a refresh or sync). */
  seq = -1;
  readonly n: number;
  private readonly sizes: { refresh: number; delta: number; sync: number };
  private readonly k: number;

  constructor(readonly c: DeltaCompression, readonly tensors: readonly Tensor[]) {
    this.n = numParamsOf(tensors);
    this.hat = new Float32Array(this.n);
    this.sizes = messageBytes(c, tensors);
    this.k = c.q === "topk" ? topkCount(c.fraction, this.n) : 0;
  }

  /** Forget θ̂_j (the sender restarted: a new transport epoch); the next refresh or sync starts again. */
  reset(): void { this.seq = -1; }

  /**
   * Applies one message from j. `theta` is hat when it now holds a newer θ̂_j (refresh, delta,
   * sync), else null: a gap or stale message changes nothing; a malformed one changes nothing; a
   * non-finite result drops θ̂_j (seq −1). Copy `theta` if it must outlive the next message.
   */
  decodeDelta(bytes: Uint8Array): { outcome: LinkOutcome; theta: Float32Array | null } {
    const h = peek(bytes);
    if (!h) return { outcome: "malformed", theta: null };
    const b = aligned(bytes), { c, n, tensors, hat } = this;
    const body = b[1], e = new DataView(b.buffer, b.byteOffset, 8).getInt16(2, true);
    const wantBody = h.kind === "refresh" ? BODY_CODE[c.refresh] : h.kind === "sync" ? BODY_CODE.f32 : c.q === "topk" ? BODY_CODE.topk : BODY_CODE["diff-int8"];
    if (body !== wantBody || b.length !== this.sizes[h.kind] || (h.kind !== "delta" || c.q !== "topk" ? e !== 0 : e < -140 || e > 112)) {
      return { outcome: "malformed", theta: null };
    }
    const at = b.byteOffset + MESSAGE_HEADER_BYTES;
    let idx: Uint32Array | null = null;
    if (h.kind === "delta" && c.q === "topk") {
      const k = this.k;
      if (new DataView(b.buffer, at, 4).getUint32(0, true) !== k) return { outcome: "malformed", theta: null };
      idx = new Uint32Array(b.buffer, at + 4, k);
      for (let j = 0; j < k; j++) if (idx[j] >= n || (j > 0 && idx[j] <= idx[j - 1])) return { outcome: "malformed", theta: null };
    }
    const a = admit(this.seq, h.kind, h.seq);
    if (a === "gap" || a === "stale") return { outcome: a, theta: null };
    let ok: boolean;
    if (h.kind === "refresh") { decodeAt(c.refresh, b, MESSAGE_HEADER_BYTES, tensors, hat); ok = finite(hat); }
    else if (h.kind === "sync") { decodeAt("f32", b, MESSAGE_HEADER_BYTES, tensors, hat); ok = finite(hat); }
    else if (idx) ok = applyTopk(hat, idx, new Uint16Array(b.buffer, at + 4 + 4 * this.k, this.k), e);
    else ok = applyInt8(hat, tensors, new Float32Array(b.buffer, at, tensors.length), new Int8Array(b.buffer, at + 4 * tensors.length, n));
    if (!ok) { this.seq = -1; return { outcome: "nonfinite", theta: null }; }
    this.seq = h.seq;
    return { outcome: a, theta: hat };
  }
}
