// Compressed snapshots (src/node/compress.ts). Level codecs: f16 agrees with an independent
// nearest-even oracle (and with Float16Array where the runtime has one) on every f16 midpoint and
// its neighbours; the per-element error bounds of f16 and int8; f32 is today's frame bytes;
// exact payload sizes; digests of the bytes recorded once, so Node, Bun and Deno must produce the
// same bytes. Difference codecs: with no loss the receiver's θ̂ equals the sender's bit for bit
// after every message; a lost, late, stale or malformed message is detected and the receiver
// recovers at the next refresh or sync; a non-finite θ is refused and repaired; error feedback:
// ‖θ − θ̂‖ obeys the top-k contraction bound under drift (a negative control without feedback
// does not) and reaches exactly 0 for a fixed θ.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ConfigError } from "../../src/errors.ts";
import { planModel } from "../../src/nn/spec.ts";
import {
  admit, averageMessageBytes, compressionName, decode, DEFAULT_COMPRESSION, encode, f16FromF32Bits, f16ToNumber, levelBytes,
  messageBytes, parseCompression, peek, Receiver, Scratch, Sender, tensorsOf, topkCount,
  type DeltaCompression, type LevelCodec, type Tensor,
} from "../../src/node/compress.ts";
import { fnv1a64, HEADER_BYTES, prepareFrame, toHex } from "../../src/transport/wire.ts";

// A small deterministic generator for test data (no Math.random, by habit).
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

const f32 = new Float32Array(1), u32 = new Uint32Array(f32.buffer);
const bitsOf = (x: number) => { f32[0] = x; return u32[0]; };
const fromBits = (u: number) => { u32[0] = u >>> 0; return f32[0]; };
const sameBits = (a: Float32Array, b: Float32Array) =>
  a.length === b.length && new Uint32Array(a.buffer, a.byteOffset, a.length).every((x, i) => x === new Uint32Array(b.buffer, b.byteOffset, b.length)[i]);
const digest = (b: Uint8Array) => toHex(fnv1a64(b));

/** Tensors of sizes `counts`, in order. */
function tensorsFor(counts: number[]): Tensor[] {
  let o = 0;
  return counts.map((count) => { const t = { offset: o, count }; o += count; return t; });
}
const TENSORS = tensorsFor([600, 20, 357, 1, 22]); // odd sizes, a one-float tensor
const N = 1000;

/** θ-like data: N(0, 1)-ish weights of varied scale per tensor, plus ±0 and an f32 subnormal. */
function thetaLike(seed: number, tensors = TENSORS): Float32Array {
  const r = lcg(seed), n = tensors.reduce((a, t) => a + t.count, 0), x = new Float32Array(n);
  tensors.forEach((t, j) => {
    const scale = [0.05, 1, 0.003, 7, 0.2][j % 5];
    for (let i = t.offset; i < t.offset + t.count; i++) x[i] = (r() + r() + r() - 1.5) * scale;
  });
  x[3] = 0; x[4] = -0; x[5] = 1.4e-45;
  return x;
}

// ---- the flag ----

test("--compress: names parse, round-trip through compressionName, and bad ones are ConfigErrors naming the allowed values", () => {
  assert.equal(parseCompression(DEFAULT_COMPRESSION), { kind: "level", codec: "f32" });
  for (const s of ["f32", "f16", "int8", "topk:0.01", "topk:1", "topk:1e-3", "diff-int8", "topk:0.05,every=8", "diff-int8,every=never,refresh=int8", "topk:0.5,refresh=f32"]) {
    const c = parseCompression(s);
    assert.equal(parseCompression(compressionName(c)), c, s);
  }
  assert.equal(parseCompression(" TopK:0.25 , every=4 "), { kind: "delta", q: "topk", fraction: 0.25, every: 4, refresh: "f16" });
  assert.equal(compressionName(parseCompression("topk:0.01,every=32,refresh=f16")), "topk:0.01");
  for (const s of ["", "f64", "topk", "topk:0", "topk:1.5", "topk:-0.1", "topk:abc", "int8,every=4", "diff-int8,every=0", "diff-int8,every=2.5", "topk:0.1,refresh=bf16", "topk:0.1,foo=1"]) {
    assert.throws(() => parseCompression(s), (e: unknown) => e instanceof ConfigError && /allowed: f32, f16, int8/.test((e as Error).message), s);
  }
});

test("tensorsOf: each layer's weight then bias block, tiling θ of every preset", () => {
  const shapes = { mlp: [[1, 28, 28], 10], lenet: [[1, 28, 28], 10], "cifar-cnn": [[3, 32, 32], 10] } as const;
  for (const [name, [shape, classes]] of Object.entries(shapes)) {
    const plan = planModel(name as "mlp", shape, classes), ts = tensorsOf(plan);
    assert.is(ts.length, 2 * plan.layers.filter((l) => l.weightCount > 0).length, name);
    let o = 0;
    for (const t of ts) { assert.is(t.offset, o); o += t.count; }
    assert.is(o, plan.numParams, name);
    assert.is(levelBytes("int8", ts), plan.numParams + 4 * ts.length);
  }
  assert.throws(() => levelBytes("f16", [{ offset: 0, count: 3 }, { offset: 4, count: 1 }]), /tile/);
});

// ---- f16 ----

/** Exact value of every non-negative finite f16, by bits: an oracle independent of f16ToNumber. */
const F16 = (() => {
  const v = new Float64Array(0x7c00);
  let p = 1;
  for (let i = 0; i < 24; i++) p /= 2; // 2^-24, by exact halvings
  for (let h = 0; h < 0x7c00; h++) {
    const e = h >> 10, m = h & 0x3ff;
    let x = e === 0 ? m : 1024 + m;
    for (let k = 1; k < e; k++) x *= 2;
    v[h] = x * p;
  }
  return v;
})();

/** The nearest f16 to the f32 with bits u, ties to even, |x| ≥ 65520 → ±65504, by binary search: the oracle. */
function oracleF16(u: number): number {
  const x = fromBits(u), sign = u >>> 31 ? 0x8000 : 0;
  if (Number.isNaN(x)) return -1; // checked separately
  const a = Math.abs(x);
  if (a === Infinity) return sign | 0x7c00;
  if (a >= 65520) return sign | 0x7bff;
  let lo = 0, hi = 0x7bff;
  while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (F16[mid] <= a) lo = mid; else hi = mid - 1; }
  if (lo === 0x7bff) return sign | lo;
  const dl = a - F16[lo], du = F16[lo + 1] - a;
  return sign | (dl < du ? lo : du < dl ? lo + 1 : lo & 1 ? lo + 1 : lo);
}

/** f32 bit patterns where rounding is decided: every f16, every midpoint, and their f32 neighbours, both signs. */
function hardCases(): number[] {
  const out: number[] = [];
  for (let h = 0; h < 0x7c00; h++) {
    const v = bitsOf(F16[h]), mid = bitsOf(h < 0x7bff ? (F16[h] + F16[h + 1]) / 2 : 65520);
    for (const b of [v, v + 1, v - 1, mid, mid + 1, mid - 1]) if (b >= 0) out.push(b, (b | 0x80000000) >>> 0);
  }
  const r = lcg(9);
  for (let i = 0; i < 200_000; i++) out.push(Math.floor(r() * 2 ** 32));
  out.push(0x7f800000, 0xff800000, 0x7f7fffff, 0xff7fffff, 0x00000001, 0x807fffff, 0x33000000, 0x33000001, 0x477fe000, 0x477ff000, 0x477fefff);
  return out;
}
const HARD = hardCases();

function mismatches(conv: (u: number) => number): number {
  let bad = 0;
  for (const u of HARD) {
    const want = oracleF16(u), got = conv(u);
    if (want < 0 ? (got & 0x7c00) !== 0x7c00 || (got & 0x3ff) === 0 || (got & 0x8000) !== ((u >>> 16) & 0x8000) : got !== want) bad++;
  }
  return bad;
}

test("f16: round to nearest even on every midpoint and its neighbours, saturating at ±65504; a ties-away converter fails the same check", () => {
  assert.is(mismatches(f16FromF32Bits), 0);
  const tiesAway = (u: number) => { // negative control: a plausible but wrong rounding
    const h = f16FromF32Bits(u), a = u & 0x7fffffff;
    if (a >= 0x7f800000 || a >= 0x477ff000 || a < 0x38800000) return h;
    return (a & 0x1fff) === 0x1000 && !(h & 1) ? h + 1 : h;
  };
  assert.ok(mismatches(tiesAway) > 1000);
  assert.is(f16FromF32Bits(bitsOf(NaN)) & 0x7e00, 0x7e00);
  assert.is(f16FromF32Bits(0xffc00000), 0xfe00, "NaN keeps its sign and is quiet");
  assert.is(f16FromF32Bits(0x7f800001) & 0x3ff, 0x200, "a signalling NaN becomes a quiet NaN, not Inf");
  for (let h = 0; h < 0x10000; h++) {
    const v = f16ToNumber(h), e = (h >> 10) & 0x1f;
    if (e === 31) { assert.ok((h & 0x3ff) ? Number.isNaN(v) : Math.abs(v) === Infinity); continue; }
    assert.ok(Object.is(v, h & 0x8000 ? -F16[h & 0x7fff] : F16[h]), `f16ToNumber(${h})`);
    assert.is(f16FromF32Bits(bitsOf(v)), h, `${h} round-trips`);
  }
});

const F16A = (globalThis as { Float16Array?: new (n: number) => { [i: number]: number; buffer: ArrayBuffer } }).Float16Array;
test(`f16: agrees with the runtime's Float16Array below the saturation range${F16A ? "" : " (this runtime has none: skipped inside)"}`, () => {
  if (!F16A) return;
  const a = new F16A(1), h = new Uint16Array(a.buffer);
  let bad = 0;
  for (const u of HARD) {
    const x = fromBits(u);
    if (Number.isNaN(x) || Math.abs(x) >= 65520) continue;
    a[0] = x;
    if (h[0] !== f16FromF32Bits(u)) bad++;
  }
  assert.is(bad, 0);
});

test("f16 codec: 2 bytes per float; |x − x̂| ≤ 2^-11·|x| in the normal range, ≤ 2^-25 below; saturation, ±Inf and NaN as documented", () => {
  const x = thetaLike(1);
  x.set([70000, -1e30, 65519, 65520, 3e-6, -2e-8, Infinity, -Infinity, NaN], 10);
  const b = encode("f16", x, TENSORS);
  assert.is(b.length, 2 * N);
  const y = new Float32Array(N);
  decode("f16", b, TENSORS, y);
  for (let i = 0; i < N; i++) {
    const a = Math.abs(x[i]), err = Math.abs(x[i] - y[i]);
    if (Number.isNaN(x[i])) assert.ok(Number.isNaN(y[i]));
    else if (a === Infinity) assert.is(y[i], x[i]);
    else if (a >= 65504) assert.is(y[i], Math.sign(x[i]) * 65504, `${x[i]} saturates`);
    else if (a >= 2 ** -14) assert.ok(err <= a * 2 ** -11, `${x[i]} → ${y[i]}`);
    else assert.ok(err <= 2 ** -25, `${x[i]} → ${y[i]}`);
  }
  assert.ok(Object.is(y[4], -0), "-0 stays -0");
});

// ---- int8 and f32 ----

test("int8 codec: 4T + n bytes; per-tensor scale max|x|/127; |x − x̂| ≤ scale·(1/2 + 2^-17); symmetric; NaN/Inf poison only their tensor", () => {
  const x = thetaLike(2);
  const b = encode("int8", x, TENSORS);
  assert.is(b.length, 4 * TENSORS.length + N);
  const scales = new Float32Array(b.buffer, 0, TENSORS.length), q = new Int8Array(b.buffer, 4 * TENSORS.length, N);
  const y = new Float32Array(N);
  decode("int8", b, TENSORS, y);
  let worst = 0;
  TENSORS.forEach((t, j) => {
    let m = 0;
    for (let i = t.offset; i < t.offset + t.count; i++) m = Math.max(m, Math.abs(x[i]));
    assert.is(scales[j], Math.fround(m / 127));
    for (let i = t.offset; i < t.offset + t.count; i++) {
      assert.ok(Math.abs(q[i]) <= 127);
      const err = Math.abs(x[i] - y[i]);
      worst = Math.max(worst, err / scales[j]);
      assert.ok(err <= scales[j] * (0.5 + 2 ** -17), `tensor ${j} element ${i}: ${x[i]} → ${y[i]}`);
    }
  });
  assert.ok(worst > 0.45, `the bound is nearly reached (worst ${worst} scales)`);
  const neg = encode("int8", x.map((v) => -v), TENSORS), qn = new Int8Array(neg.buffer, 4 * TENSORS.length, N);
  assert.ok(q.every((v, i) => qn[i] === -v || (v === 0 && qn[i] === 0)), "encode(−x) = −encode(x)");

  const z = thetaLike(3);
  z.fill(0, TENSORS[1].offset, TENSORS[1].offset + TENSORS[1].count); // an all-zero tensor
  z[TENSORS[2].offset + 5] = NaN;
  z[TENSORS[4].offset] = -Infinity;
  decode("int8", encode("int8", z, TENSORS), TENSORS, y);
  for (const [j, t] of TENSORS.entries()) {
    const part = y.subarray(t.offset, t.offset + t.count);
    if (j === 2 || j === 4) assert.ok(part.every(Number.isNaN), `tensor ${j} is all NaN`);
    else if (j === 1) assert.ok(part.every((v) => v === 0));
    else assert.ok(part.every(Number.isFinite));
  }
});

test("f32 codec: exactly the θ bytes of today's frame; decodes bit for bit", () => {
  const x = thetaLike(4);
  x.set([3.4028235e38, -1.1754942e-38, NaN], 20);
  const b = encode("f32", x, TENSORS);
  const frame = prepareFrame({ fingerprint: new Uint8Array(8), from: 1, epoch: 0, step: 0, sentAt: 0 }, x);
  assert.equal(b, frame.subarray(HEADER_BYTES, HEADER_BYTES + 4 * N));
  const y = new Float32Array(N);
  decode("f32", b, TENSORS, y);
  assert.ok(sameBits(x, y));
});

test("level codecs: caller buffers, misaligned input, and wrong sizes", () => {
  const x = thetaLike(5), y = new Float32Array(N);
  for (const c of ["f32", "f16", "int8"] as LevelCodec[]) {
    const out = new Uint8Array(levelBytes(c, TENSORS));
    assert.is(encode(c, x, TENSORS, out), out);
    const shifted = new Uint8Array(out.length + 1);
    shifted.set(out, 1);
    decode(c, shifted.subarray(1), TENSORS, y);
    const z = new Float32Array(N);
    decode(c, out, TENSORS, z);
    assert.ok(sameBits(y, z), `${c}: a misaligned payload decodes the same`);
    assert.throws(() => decode(c, out.subarray(1), TENSORS, y), /bytes/);
    assert.throws(() => encode(c, x, TENSORS, new Uint8Array(out.length + 4)), /bytes/);
    assert.throws(() => encode(c, x.subarray(1), TENSORS), /floats/);
  }
});

// ---- difference codecs ----

const codec = (s: string) => parseCompression(s) as DeltaCompression;
const DELTAS = ["topk:0.05,every=8", "topk:0.013,every=5,refresh=int8", "topk:1,every=never,refresh=f32", "diff-int8,every=8", "diff-int8,every=3,refresh=f32"];

/** θ drifting by a random walk: every call moves each value by up to ±step. */
function drifter(seed: number, step: number, n = N) {
  const r = lcg(seed), theta = thetaLike(seed, n === N ? TENSORS : tensorsFor([n]));
  return { theta, move: () => { for (let i = 0; i < n; i++) theta[i] += (r() - 0.5) * 2 * step; } };
}

test("no loss: after every message the receiver's θ̂ equals the sender's bit for bit; kinds and sizes as documented", () => {
  for (const s of DELTAS) {
    const c = codec(s), tx = new Sender(c, TENSORS), rx = new Receiver(c, TENSORS), sizes = messageBytes(c, TENSORS);
    const { theta, move } = drifter(7, 0.01);
    for (let m = 0; m < 40; m++) {
      const b = tx.encodeDelta(theta);
      const want = m % c.every === 0 ? "refresh" : "delta";
      assert.is(tx.lastKind, want, `${s} message ${m}`);
      assert.equal(peek(b), { kind: want, seq: m });
      assert.is(b.length, sizes[want], `${s}: ${want} bytes`);
      const r = rx.decodeDelta(b);
      assert.is(r.outcome, want);
      assert.is(r.theta, rx.hat);
      assert.ok(sameBits(rx.hat, tx.hat), `${s} message ${m}: θ̂ differs`);
      assert.is(rx.seq, m);
      move();
    }
  }
});

test("byte counts: exact sizes per kind, k = ceil(f·n), and the average per message", () => {
  const plan = planModel("mlp", [1, 28, 28], 10), ts = tensorsOf(plan), n = plan.numParams;
  assert.is(n, 101_770);
  assert.is(topkCount(0.01, n), 1018);
  assert.is(topkCount(1e-9, n), 1);
  assert.is(topkCount(1, n), n);
  assert.equal(messageBytes(parseCompression("f32"), ts), { refresh: 4 * n, delta: 4 * n, sync: 4 * n });
  assert.equal(messageBytes(parseCompression("int8"), ts), { refresh: n + 16, delta: n + 16, sync: n + 16 });
  assert.equal(messageBytes(codec("topk:0.01"), ts), { refresh: 8 + 2 * n, delta: 12 + 6 * 1018, sync: 8 + 4 * n });
  assert.equal(messageBytes(codec("diff-int8,refresh=int8"), ts), { refresh: 8 + n + 16, delta: 8 + n + 16, sync: 8 + 4 * n });
  assert.is(averageMessageBytes(codec("topk:0.01"), ts), (8 + 2 * n + 31 * (12 + 6 * 1018)) / 32);
  assert.is(averageMessageBytes(codec("topk:0.01,every=never"), ts), 12 + 6 * 1018);
  // Real messages on the real model have these sizes.
  const c = codec("topk:0.01,every=2"), tx = new Sender(c, ts), rx = new Receiver(c, ts), x = thetaLike(8, ts);
  const a = tx.encodeDelta(x);
  x[17] += 1;
  const b = tx.encodeDelta(x);
  assert.equal([a.length, b.length], [8 + 2 * n, 12 + 6 * 1018]);
  assert.is(rx.decodeDelta(a).outcome, "refresh");
  assert.is(rx.decodeDelta(b).outcome, "delta");
  assert.ok(sameBits(rx.hat, tx.hat));
});

test("admit: the whole loss rule", () => {
  assert.is(admit(-1, "delta", 0), "gap");
  assert.is(admit(-1, "refresh", 0), "refresh");
  assert.is(admit(4, "delta", 5), "delta");
  assert.is(admit(4, "delta", 6), "gap");
  assert.is(admit(4, "delta", 4), "stale");
  assert.is(admit(4, "delta", 2), "stale");
  assert.is(admit(4, "refresh", 4), "stale");
  assert.is(admit(4, "refresh", 9), "refresh");
  assert.is(admit(4, "sync", 7), "sync");
  assert.is(admit(7, "sync", 7), "stale");
});

test("a lost delta: the receiver sees the gap, keeps its last θ̂, ignores deltas until the next refresh, then equals the sender again", () => {
  for (const s of ["topk:0.05,every=8", "diff-int8,every=8"]) {
    const c = codec(s), tx = new Sender(c, TENSORS), rx = new Receiver(c, TENSORS);
    const { theta, move } = drifter(11, 0.01);
    let held: Float32Array | null = null;
    const outcomes: string[] = [];
    for (let m = 0; m < 20; m++) {
      const b = tx.encodeDelta(theta);
      if (m === 4) held = tx.hat.slice(); // the receiver's state after message 4 (it misses 5)
      if (m !== 5) outcomes.push(rx.decodeDelta(b).outcome);
      else outcomes.push("lost");
      if (m >= 5 && m < 8) { assert.ok(sameBits(rx.hat, held!), `${s}: θ̂ unchanged during the gap`); assert.is(rx.seq, 4); }
      else assert.ok(sameBits(rx.hat, tx.hat), `${s} message ${m}`);
      move();
    }
    assert.equal(outcomes, ["refresh", "delta", "delta", "delta", "delta", "lost", "gap", "gap", "refresh", ...Array(7).fill("delta"), "refresh", "delta", "delta", "delta"], s);
  }
});

test("late, stale, malformed and unknown messages change nothing; a sync repairs one receiver without touching the sender", () => {
  const c = codec("topk:0.05,every=16"), tx = new Sender(c, TENSORS);
  const { theta, move } = drifter(12, 0.01);
  const msgs: Uint8Array[] = [];
  for (let m = 0; m < 10; m++) { msgs.push(tx.encodeDelta(theta)); move(); }
  const hatAfter = tx.hat.slice();
  // Overtaking: 2 arrives before 1 (a gap, ignored), then 1 applies; 1 again is stale; 2 again applies, then 3.
  const rx = new Receiver(c, TENSORS);
  assert.equal([0, 2, 1, 1, 2, 3, 0].map((m) => rx.decodeDelta(msgs[m]).outcome), ["refresh", "gap", "delta", "stale", "delta", "delta", "stale"]);
  const before = rx.hat.slice();
  const t = msgs[4];
  const corrupt = (f: (b: Uint8Array) => void) => { const b = t.slice(); f(b); return rx.decodeDelta(b).outcome; };
  assert.is(corrupt((b) => { b[0] = 9; }), "malformed");
  assert.is(corrupt((b) => { b[1] = 5; }), "malformed", "another body codec");
  assert.is(corrupt((b) => { new DataView(b.buffer).setInt16(2, 300, true); }), "malformed", "scale exponent out of range");
  assert.is(corrupt((b) => { const idx = new Uint32Array(b.buffer, 12, 2); idx[1] = idx[0]; }), "malformed", "indices not ascending");
  assert.is(corrupt((b) => { new Uint32Array(b.buffer, 12, 1)[0] = N; }), "malformed", "index beyond θ");
  assert.is(rx.decodeDelta(t.subarray(0, 7)).outcome, "malformed");
  assert.is(rx.decodeDelta(t.subarray(0, t.length - 2)).outcome, "malformed");
  assert.is(new Receiver(codec("topk:0.06,every=16"), TENSORS).decodeDelta(msgs[0]).outcome, "refresh", "the refresh does not depend on k");
  assert.is(new Receiver(codec("topk:0.05,every=16,refresh=int8"), TENSORS).decodeDelta(msgs[0]).outcome, "malformed", "another refresh codec");
  assert.ok(sameBits(rx.hat, before) && rx.seq === 3);
  // A newcomer (or a receiver after a loss) waits; a sync brings it to the sender's θ̂ and the chain goes on.
  const late = new Receiver(c, TENSORS);
  assert.is(late.decodeDelta(msgs[9]).outcome, "gap");
  const sync = tx.encodeSync()!;
  assert.is(sync.length, messageBytes(c, TENSORS).sync);
  assert.ok(sameBits(tx.hat, hatAfter), "a sync changes nothing at the sender");
  assert.equal(late.decodeDelta(sync), { outcome: "sync", theta: late.hat });
  assert.ok(sameBits(late.hat, tx.hat) && late.seq === 9);
  const next = tx.encodeDelta(theta);
  assert.is(late.decodeDelta(next).outcome, "delta");
  assert.ok(sameBits(late.hat, tx.hat));
  assert.is(new Sender(c, TENSORS).encodeSync(), null, "nothing to sync before the first message");
  // A restart: reset, then only a refresh or sync is taken.
  late.reset();
  assert.is(late.decodeDelta(tx.encodeDelta(theta)).outcome, "gap");
});

test("a non-finite θ: the refresh carries NaN, receivers refuse it and drop θ̂; the sender refreshes until θ is finite again", () => {
  for (const s of ["topk:0.05,every=100", "diff-int8,every=100,refresh=int8", "topk:0.05,every=100,refresh=f32"]) {
    const c = codec(s), tx = new Sender(c, TENSORS), rx = new Receiver(c, TENSORS);
    const { theta, move } = drifter(13, 0.01);
    const out = (x: Float32Array) => { const b = tx.encodeDelta(x); return `${tx.lastKind}/${rx.decodeDelta(b).outcome}`; };
    const nan = () => { const x = theta.slice(); x[700] = NaN; return x; };
    const inf = () => { const x = theta.slice(); x[TENSORS[1].offset] = -Infinity; return x; };
    const seen: string[] = [];
    for (const x of [() => theta, () => theta, nan, inf, () => theta, () => theta]) { seen.push(out(x())); move(); }
    assert.equal(seen, ["refresh/refresh", "delta/delta", "refresh/nonfinite", "refresh/nonfinite", "refresh/refresh", "delta/delta"], s);
    assert.ok(sameBits(rx.hat, tx.hat) && tx.hat.every(Number.isFinite), s);
    assert.is(rx.seq, tx.seq);
  }
  const c = codec("topk:0.05,every=100"), tx = new Sender(c, TENSORS);
  const { theta } = drifter(14, 0.01);
  tx.encodeDelta(theta);
  // An overflowing difference cannot become a top-k delta: a refresh goes instead.
  const huge = theta.slice();
  huge[9] = 3e38;
  tx.encodeDelta(huge);
  assert.is(tx.lastKind, "refresh");
});

test("error feedback: under drift ‖θ − θ̂‖ obeys the top-k contraction bound (without feedback it does not); for a fixed θ it reaches exactly 0", () => {
  const n = 4000, ts = tensorsFor([n]), fraction = 0.05, steps = 600;
  const c = codec(`topk:${fraction},every=never,refresh=int8`);
  const tx = new Sender(c, ts, new Scratch(n)), rx = new Receiver(c, ts);
  const { theta, move } = drifter(21, 0.002, n);
  const norm = (a: Float32Array, b: Float32Array) => { let s = 0; for (let i = 0; i < n; i++) s += (a[i] - b[i]) ** 2; return Math.sqrt(s); };
  // ‖x − Q(x)‖ ≤ ρ‖x‖ with ρ = √(1 − k/n) for top-k, plus 2^-11 for the f16 values kept.
  const rho = Math.sqrt(1 - topkCount(fraction, n) / n) + 2 ** -11;
  // Negative control: the same top-k of each step's change, without feedback (the residual is forgotten).
  const naive = new Float32Array(n), prev = new Float32Array(n), d = new Float32Array(n);
  rx.decodeDelta(tx.encodeDelta(theta));
  naive.set(tx.hat);
  prev.set(theta);
  let bound = norm(theta, tx.hat), err = 0, drift = 0, early = 0, late = 0;
  for (let t = 0; t < steps; t++) {
    move();
    bound = rho * (bound + norm(theta, prev));
    rx.decodeDelta(tx.encodeDelta(theta));
    err = norm(theta, tx.hat);
    assert.ok(err <= bound * (1 + 1e-9), `step ${t}: ‖θ − θ̂‖ = ${err} > bound ${bound}`);
    if (t >= 100) { if (t < 300) early = Math.max(early, err); else late = Math.max(late, err); }
    for (let i = 0; i < n; i++) d[i] = theta[i] - prev[i];
    const keep = [...d.keys()].sort((a, b) => Math.abs(d[b]) - Math.abs(d[a])).slice(0, topkCount(fraction, n));
    for (const i of keep) naive[i] += d[i];
    prev.set(theta);
  }
  drift = norm(theta, naive);
  assert.ok(late <= 1.25 * early, `‖θ − θ̂‖ stays level: max ${early} over steps 100–300, ${late} over 300–600`);
  assert.ok(sameBits(rx.hat, tx.hat));
  assert.ok(drift > 5 * err, `without feedback ‖θ − θ̂‖ = ${drift} should far exceed ${err}`);
  // θ stops moving: each value is sent at most ~3 times more (24 bits, 11 per f16 value) until θ̂ = θ exactly.
  let m = 0;
  while (!sameBits(tx.hat, theta) && m < 200) { rx.decodeDelta(tx.encodeDelta(theta)); m++; }
  assert.ok(sameBits(tx.hat, theta), `θ̂ = θ after ${m} messages`);
  assert.ok(sameBits(rx.hat, theta));
  for (let i = 0; i < 5; i++) rx.decodeDelta(tx.encodeDelta(theta));
  assert.ok(sameBits(rx.hat, theta), "and stays there");

  // diff-int8: each message shrinks the error ≥ 254× per tensor; a fixed θ is reached exactly.
  const ci = codec("diff-int8,every=never,refresh=int8"), ti = new Sender(ci, TENSORS), ri = new Receiver(ci, TENSORS);
  const x = thetaLike(22);
  const errs: number[] = [];
  for (let k = 0; k < 12 && !(errs.length && errs.at(-1) === 0); k++) {
    ri.decodeDelta(ti.encodeDelta(x));
    let e = 0;
    for (let i = 0; i < N; i++) e = Math.max(e, Math.abs(x[i] - ti.hat[i]));
    errs.push(e);
  }
  assert.is(errs.at(-1), 0, `errors ${errs.join(", ")}`);
  for (let k = 1; k < errs.length; k++) assert.ok(errs[k] <= errs[k - 1] / 200, `errors ${errs.join(", ")}`);
  assert.ok(sameBits(ri.hat, ti.hat) && ri.hat.every((v, i) => v === x[i]), "θ̂ = θ (−0 arrives as +0)");
});

test("one Scratch serves many senders; results equal those of senders with their own", () => {
  const c = codec("topk:0.02,every=6"), shared = new Scratch(N);
  const a = [new Sender(c, TENSORS, shared), new Sender(c, TENSORS, shared)], b = [new Sender(c, TENSORS), new Sender(c, TENSORS)];
  const ds = [drifter(31, 0.01), drifter(32, 0.01)];
  for (let m = 0; m < 15; m++) {
    for (let j = 0; j < 2; j++) assert.equal(a[j].encodeDelta(ds[j].theta), b[j].encodeDelta(ds[j].theta));
    ds.forEach((d) => d.move());
  }
  assert.throws(() => new Sender(c, TENSORS, new Scratch(N + 1)), /scratch/);
  const pool = new Uint8Array(messageBytes(c, TENSORS).refresh);
  assert.is(new Sender(c, TENSORS).encodeDelta(ds[0].theta, () => pool), pool, "alloc supplies the memory");
});

// ---- the same bytes on every runtime ----

test("digests: the bytes of every codec are the recorded ones (so Node, Bun and Deno agree)", () => {
  const x = thetaLike(41);
  x.set([70000, -1e30, 65519, 65520, 3e-6, -2e-8, 2 ** -25, 1 / 3, -0.1], 100);
  const got: Record<string, string> = {};
  for (const c of ["f32", "f16", "int8"] as LevelCodec[]) got[c] = digest(encode(c, x, TENSORS));
  for (const s of ["topk:0.03,every=7", "diff-int8,every=7"]) {
    const tx = new Sender(codec(s), TENSORS), { theta, move } = drifter(42, 0.01);
    const all: number[] = [];
    for (let m = 0; m < 30; m++) { all.push(...tx.encodeDelta(theta)); move(); }
    got[s] = digest(new Uint8Array(all)) + " " + digest(new Uint8Array(tx.hat.buffer));
  }
  assert.equal(got, EXPECTED_DIGESTS);
});

// Recorded on Node 20, Bun 1.4 and Deno 2.9 (all three gave these).
const EXPECTED_DIGESTS: Record<string, string> = {
  f32: "c0b45b208e244c27",
  f16: "8b24353f9af3b0ae",
  int8: "a67b494e9326d8c3",
  "topk:0.03,every=7": "7cf8503a0d18c917 988c45d8d0f16559",
  "diff-int8,every=7": "00409196d62a7fe4 a5cdb94ad54bb8d1",
};

test.run();
