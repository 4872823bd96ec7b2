// The wire format (src/transport/wire.ts) and the cluster key (key.ts), without sockets: a frame
// round-trips θ bit for bit; every kind of bad frame is refused with its own reason, in the
// documented order; random bytes never pass; the handshake messages; the replay guard; key files.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "../../src/errors.ts";
import { decode as decodeLevel, encode as encodeLevel, levelBytes, type Tensor } from "../../src/node/compress.ts";
import { PRESETS, planModel } from "../../src/nn/spec.ts";
import { generateKey, importKey, keyFromHex, keygen, keyToHex, loadClusterKey, readKeyFile, writeKeyFile } from "../../src/transport/key.ts";
import {
  allFinite, AUTH_BYTES, canonicalJson, checkFrameStart, decodeAuth, decodeFrame, decodeHello, encodeAuth, encodeFrame, encodeHello,
  encodedFrameBytes, fnv1a64, frameBytes, HEADER_BYTES, MAC_BYTES, modelFingerprint, prepareEncodedFrame, ReplayGuard, sealFrame,
  source, toHex, type FrameHeader,
} from "../../src/transport/wire.ts";

// A small deterministic generator for test data (tests may not use Math.random either, by habit).
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

const N = 1000;
const key = await importKey(generateKey());
const otherKey = await importKey(generateKey());
const fingerprint = modelFingerprint("test", N, [{ type: "dense", out: N }]);
const expect = { fingerprint, numParams: N };
const header: FrameHeader = { fingerprint, from: 7, epoch: 1_700_000_000_000.5, step: 42, sentAt: 1_700_000_123_456.25 };
const rnd = lcg(1);
const theta = new Float32Array(N).map(() => (rnd() - 0.5) * 10);
// Values whose bits a careless codec would change: ±0, subnormals, the extremes.
theta.set([0, -0, 1.4e-45, -1.1754942e-38, 3.4028235e38, -3.4028235e38, 1 / 3]);

const reasonOf = async (bytes: Uint8Array, k = key, e = expect) => {
  const r = await decodeFrame(k, bytes, e);
  return r.ok ? "ok" : r.reason;
};
const good = await encodeFrame(key, header, theta);

test("FNV-1a 64 matches the published test vectors; the fingerprint follows the plan, not key order", () => {
  const h = (s: string) => toHex(fnv1a64(new TextEncoder().encode(s)));
  assert.is(h(""), "cbf29ce484222325");
  assert.is(h("a"), "af63dc4c8601ec8c");
  assert.is(h("foobar"), "85944171f73967e8");
  assert.is(canonicalJson({ b: 1, a: [{ d: 2, c: 3 }] }), '{"a":[{"c":3,"d":2}],"b":1}');
  const lenet = planModel("lenet", [1, 28, 28], 10), mlp = planModel("mlp", [1, 28, 28], 10);
  const fl = modelFingerprint("lenet", lenet.numParams, lenet.layers);
  assert.is(fl.length, 8);
  assert.equal(fl, modelFingerprint("lenet", lenet.numParams, planModel("lenet", [1, 28, 28], 10).layers), "same plan, same fingerprint");
  assert.not.equal(fl, modelFingerprint("mlp", mlp.numParams, mlp.layers));
  const wider = planModel([...PRESETS.lenet.slice(0, -3), { type: "dense", out: 64 }, { type: "relu" }, { type: "dense", out: 10 }], [1, 28, 28], 10);
  assert.not.equal(fl, modelFingerprint("lenet", wider.numParams, wider.layers), "another layer list");
  assert.not.equal(fl, modelFingerprint("lenet", lenet.numParams, [...lenet.layers].reverse()), "the same layers in another order");
  assert.equal(modelFingerprint("p", 1, { x: 1, y: 2 }), modelFingerprint("p", 1, { y: 2, x: 1 }), "key order does not matter");
});

test("a frame round-trips θ bit for bit and every header field", async () => {
  assert.is(good.length, frameBytes(N));
  assert.is(good.length, HEADER_BYTES + 4 * N + MAC_BYTES);
  const r = await decodeFrame(key, good, expect);
  assert.ok(r.ok);
  if (!r.ok) return;
  assert.equal({ from: r.from, epoch: r.epoch, step: r.step, sentAt: r.sentAt }, { from: 7, epoch: header.epoch, step: 42, sentAt: header.sentAt });
  assert.equal(new Uint32Array(r.theta.buffer, r.theta.byteOffset, N), new Uint32Array(theta.buffer), "bits equal (−0 and subnormals too)");
  // Little-endian f32 at offset 56, whatever the host.
  const dv = new DataView(good.buffer);
  assert.is(dv.getFloat32(HEADER_BYTES + 4 * 6, true), theta[6]);
  assert.is(new TextDecoder().decode(good.subarray(0, 4)), "CDLW");
});

test("θ is copied when encodeFrame returns: changing it afterwards does not change the frame", async () => {
  const t = theta.slice();
  const p = encodeFrame(key, header, t);
  t.fill(123);
  const r = await decodeFrame(key, await p, expect);
  assert.ok(r.ok && r.theta[10] === theta[10]);
});

test("a frame at an odd offset in a larger buffer decodes (θ copied, not viewed misaligned)", async () => {
  const big = new Uint8Array(good.length + 3);
  big.set(good, 1);
  const r = await decodeFrame(key, big.subarray(1, 1 + good.length), expect);
  assert.ok(r.ok);
  if (r.ok) assert.equal([...r.theta.subarray(0, 8)], [...theta.subarray(0, 8)]);
});

// One bad frame of each kind and the reason it must be refused with.
async function signedWith(edit: (b: Uint8Array, dv: DataView) => void, n = N): Promise<Uint8Array> {
  const b = new Uint8Array(frameBytes(n));
  b.set(good.subarray(0, Math.min(good.length, b.length) - MAC_BYTES));
  const dv = new DataView(b.buffer);
  dv.setUint32(48, 4 * n, true);
  edit(b, dv);
  const mac = await crypto.subtle.sign("HMAC", key, source(b.subarray(0, b.length - MAC_BYTES)));
  b.set(new Uint8Array(mac), b.length - MAC_BYTES);
  return b;
}
const edited = (edit: (b: Uint8Array, dv: DataView) => void) => {
  const b = good.slice();
  edit(b, new DataView(b.buffer));
  return b;
};

test("every kind of bad frame is refused with its reason", async () => {
  const cases: [string, Uint8Array | Promise<Uint8Array>, string][] = [
    ["signed with another key", encodeFrame(otherKey, header, theta), "unauthenticated"],
    ["a flipped bit in the header (step)", edited((b) => { b[33] ^= 1; }), "unauthenticated"],
    ["a flipped bit in the sender id", edited((b) => { b[16] ^= 4; }), "unauthenticated"],
    ["a flipped bit in θ", edited((b) => { b[HEADER_BYTES + 999] ^= 0x10; }), "unauthenticated"],
    ["a flipped bit in the MAC", edited((b) => { b[b.length - 1] ^= 1; }), "unauthenticated"],
    ["truncated: half a header", good.slice(0, 30), "truncated"],
    ["truncated: 3 bytes", good.slice(0, 3), "truncated"],
    ["truncated: no MAC", good.slice(0, good.length - MAC_BYTES), "truncated"],
    ["truncated by one byte", good.slice(0, good.length - 1), "truncated"],
    ["empty", new Uint8Array(0), "truncated"],
    ["one byte more than declared", (() => { const b = new Uint8Array(good.length + 1); b.set(good); return b; })(), "oversized"],
    ["declares 4 GB", edited((_b, dv) => dv.setUint32(48, 0xffff_fff0, true)), "oversized"],
    ["a frame of a larger model", signedWith(() => {}, N + 1), "oversized"],
    ["a frame of a smaller model", signedWith(() => {}, N - 1), "length"],
    ["declares a length that is not 4n", edited((_b, dv) => dv.setUint32(48, 4 * N - 2, true)), "length"],
    ["another model's fingerprint, correctly signed", signedWith((b) => { b[8] ^= 0xff; }), "fingerprint"],
    ["NaN in θ, correctly signed", signedWith((_b, dv) => dv.setFloat32(HEADER_BYTES + 4 * 500, NaN, true)), "nonfinite"],
    ["+Inf in θ, correctly signed", signedWith((_b, dv) => dv.setFloat32(HEADER_BYTES + 4 * (N - 1), Infinity, true)), "nonfinite"],
    ["−Inf in θ, correctly signed", signedWith((_b, dv) => dv.setFloat32(HEADER_BYTES, -Infinity, true)), "nonfinite"],
    ["a NaN with payload bits, correctly signed", signedWith((_b, dv) => dv.setUint32(HEADER_BYTES + 40, 0xffc0_0001, true)), "nonfinite"],
    ["nonzero reserved bytes, correctly signed", signedWith((b) => { b[20] = 1; }), "header"],
    ["step ≥ 2^53, correctly signed", signedWith((_b, dv) => dv.setBigUint64(32, 2n ** 60n, true)), "header"],
    ["NaN send time, correctly signed", signedWith((_b, dv) => dv.setFloat64(40, NaN, true)), "header"],
    ["bad magic", edited((b) => { b[0] = 0x58; }), "magic"],
    ["another protocol version", edited((_b, dv) => dv.setUint16(4, 2, true)), "version"],
    ["bad magic and bad MAC: magic is checked first", edited((b) => { b[1] = 0; b[b.length - 1] ^= 1; }), "magic"],
    ["wrong length and bad MAC: length is checked before the MAC", edited((_b, dv) => { dv.setUint32(48, 8, true); }), "length"],
    ["another fingerprint and a bad MAC: the MAC is checked first", edited((b) => { b[8] ^= 1; }), "unauthenticated"],
  ];
  for (const [name, bytes, want] of cases) assert.is(await reasonOf(await bytes), want, name);
});

test("the length check needs only the header: checkFrameStart", () => {
  assert.is(checkFrameStart(good.subarray(0, HEADER_BYTES), N), null);
  assert.is(checkFrameStart(edited((_b, dv) => dv.setUint32(48, 0xffff_fff0, true)).subarray(0, HEADER_BYTES), N), "oversized");
  assert.is(checkFrameStart(good.subarray(0, HEADER_BYTES), N + 1), "length");
  assert.is(checkFrameStart(good.subarray(0, 10), N), "truncated");
});

test("f16 and int8 frames: the codec's bytes on the wire, decoded to what compress.ts decodes; sizes and bad lengths refused", async () => {
  const tensors: Tensor[] = [{ offset: 0, count: 600 }, { offset: 600, count: 400 }];
  const e2 = { ...expect, tensors };
  const plain = theta.map((x, i) => (i < 7 ? 0.5 : x)); // the extremes above would saturate f16 and dominate int8's scale
  for (const codec of ["f16", "int8"] as const) {
    const bytes = encodeLevel(codec, plain, tensors);
    const frame = await sealFrame(key, prepareEncodedFrame(header, { codec, bytes }));
    assert.is(frame.length, encodedFrameBytes(codec, tensors));
    assert.is(frame.length, HEADER_BYTES + levelBytes(codec, tensors) + MAC_BYTES);
    assert.ok(frame.length < good.length / (codec === "f16" ? 1.9 : 3.5), `${codec}: ${frame.length} bytes against ${good.length}`);
    assert.equal([...frame.subarray(HEADER_BYTES, HEADER_BYTES + bytes.length)], [...bytes], `${codec}: the payload is the codec's bytes`);
    const r = await decodeFrame(key, frame, e2);
    assert.ok(r.ok, codec);
    if (!r.ok) continue;
    const want = new Float32Array(N);
    decodeLevel(codec, bytes, tensors, want);
    assert.equal(r.theta, want, `${codec}: decoded as compress.ts decodes`);
    assert.is(r.encoding, codec);
    assert.equal({ from: r.from, step: r.step, sentAt: r.sentAt }, { from: 7, step: 42, sentAt: header.sentAt });
    // Sizes are checked per encoding, before the MAC; int8's size depends on the tensors.
    assert.is(checkFrameStart(frame.subarray(0, HEADER_BYTES), N, tensors), null);
    if (codec === "int8") assert.is(await reasonOf(frame, key, expect), "length", "int8 for another tensor split");
    assert.is(await reasonOf(frame.slice(0, frame.length - 1), key, e2), "truncated");
    const wrong = frame.slice();
    new DataView(wrong.buffer).setUint16(6, codec === "f16" ? 0 : 1, true); // claims another encoding of the same bytes
    assert.is(await reasonOf(wrong, key, e2), "length", `${codec} bytes declared as another codec`);
    // NaN survives both codecs, so the receiver still refuses a poisoned θ.
    const bad = plain.slice();
    bad[650] = NaN;
    const nan = await sealFrame(key, prepareEncodedFrame(header, { codec, bytes: encodeLevel(codec, bad, tensors) }));
    assert.is(await reasonOf(nan, key, e2), "nonfinite", `${codec}: NaN`);
  }
  assert.is(await reasonOf(edited((_b, dv) => dv.setUint16(6, 3, true))), "encoding", "an unknown encoding");
  assert.is(await reasonOf(edited((_b, dv) => dv.setUint16(6, 0x100, true))), "encoding", "a code in the high byte");
  assert.is(await reasonOf(good, key, e2), "ok", "f32 frames need no tensors");
});

test("random bytes are never accepted, also with a correct header in front (seeded)", async () => {
  const r = lcg(99);
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const len = i % 4 === 0 ? frameBytes(N) : Math.floor(r() * 2 * frameBytes(N));
    const b = new Uint8Array(len).map(() => Math.floor(r() * 256));
    if (i % 2 === 0 && len >= HEADER_BYTES) b.set(good.subarray(0, HEADER_BYTES)); // a valid header, garbage after
    const why = await reasonOf(b);
    assert.is.not(why, "ok", `random frame ${i}`);
    seen.add(why);
  }
  assert.ok(seen.has("unauthenticated") && seen.has("magic"), [...seen].join(","));
});

test("a frame for another model of the same size is refused by fingerprint, not mixed", async () => {
  const other = modelFingerprint("other", N, [{ type: "dense", out: N, bias: false }]);
  const f = await encodeFrame(key, { ...header, fingerprint: other }, theta);
  assert.is(await reasonOf(f), "fingerprint");
});

test("encodeFrame refuses a header it cannot write", async () => {
  for (const h of [{ from: -1 }, { from: 2 ** 32 }, { step: 1.5 }, { step: 2 ** 53 }, { sentAt: NaN }, { fingerprint: new Uint8Array(4) }]) {
    assert.throws(() => encodeFrame(key, { ...header, ...h }, theta), RangeError, JSON.stringify(h));
  }
});

test("allFinite: one NaN or ±Inf anywhere, and +Inf beside −Inf, are caught; huge finite values are not", () => {
  const x = new Float32Array(1003).fill(3.4028235e38);
  assert.ok(allFinite(x), "the largest floats sum to a finite double");
  for (const bad of [NaN, Infinity, -Infinity]) {
    for (const at of [0, 1, 2, 3, 999, 1002]) {
      const y = x.slice();
      y[at] = bad;
      assert.not.ok(allFinite(y), `${bad} at ${at}`);
    }
  }
  const z = new Float32Array(9);
  z[1] = Infinity;
  z[6] = -Infinity;
  assert.not.ok(allFinite(z), "+Inf and −Inf do not cancel");
  assert.ok(allFinite(new Float32Array(0)));
});

test("ReplayGuard: an old or repeated step from the same sender is a replay; a restarted sender (later epoch) starts again", () => {
  const g = new ReplayGuard();
  assert.ok(g.admit(1, 100, 5));
  assert.not.ok(g.admit(1, 100, 5), "the same step again");
  assert.not.ok(g.admit(1, 100, 4), "an older step");
  assert.ok(g.admit(2, 100, 1), "another sender is separate");
  assert.ok(g.admit(1, 100, 6));
  assert.ok(g.admit(1, 200, 0), "a later epoch: the sender restarted at step 0");
  assert.not.ok(g.admit(1, 100, 99), "a frame from the old epoch is a replay, whatever its step");
  assert.equal(g.last(1), { epoch: 200, step: 0 });
  assert.is(g.last(3), undefined);
});

test("handshake: AUTH verifies over our nonce and names the signer; a replayed, re-keyed, re-roled or edited AUTH is refused", async () => {
  const ns = crypto.getRandomValues(new Uint8Array(16)), nc = crypto.getRandomValues(new Uint8Array(16));
  const hello = encodeHello(ns);
  const h = decodeHello(hello);
  assert.ok(h.ok && toHex(h.nonce) === toHex(ns));
  assert.equal(decodeHello(hello.slice(0, 10)), { ok: false, reason: "handshake" });
  const badVersion = hello.slice();
  badVersion[4] = 9;
  assert.equal(decodeHello(badVersion), { ok: false, reason: "version" });

  const auth = await encodeAuth(key, { role: "client", id: 3, fingerprint, nonce: nc, peerNonce: ns });
  assert.is(auth.length, AUTH_BYTES);
  const ok = await decodeAuth(key, auth, { role: "client", fingerprint, ourNonce: ns });
  assert.ok(ok.ok && ok.id === 3 && toHex(ok.nonce) === toHex(nc));
  const why = async (b: Uint8Array, o: Partial<{ role: "client" | "server"; fp: Uint8Array; nonce: Uint8Array; k: CryptoKey }> = {}) => {
    const r = await decodeAuth(o.k ?? key, b, { role: o.role ?? "client", fingerprint: o.fp ?? fingerprint, ourNonce: o.nonce ?? ns });
    return r.ok ? "ok" : r.reason;
  };
  assert.is(await why(auth, { nonce: crypto.getRandomValues(new Uint8Array(16)) }), "unauthenticated", "replayed to a server with a fresh nonce");
  assert.is(await why(auth, { k: otherKey }), "unauthenticated", "another cluster's key");
  assert.is(await why(auth, { role: "server" }), "handshake", "a client's AUTH offered as a server's");
  assert.is(await why(auth, { fp: new Uint8Array(8) }), "fingerprint", "another model");
  const edit = auth.slice();
  edit[8] ^= 1; // claims another id
  assert.is(await why(edit), "unauthenticated");
  assert.is(await why(auth.slice(0, 50)), "handshake");
  assert.is(await why(hello), "handshake", "a HELLO is not an AUTH");
});

test("key files: written 0600 as 64 hex digits; read back; every problem is one ConfigError line", () => {
  const dir = mkdtempSync(join(tmpdir(), "cdl-key-"));
  try {
    const k = generateKey();
    assert.is(k.length, 32);
    assert.is.not(toHex(k), toHex(generateKey()), "two keys differ");
    const f = join(dir, "cluster.key");
    writeKeyFile(f, k);
    if (process.platform !== "win32") assert.is(statSync(f).mode & 0o777, 0o600);
    assert.equal(readKeyFile(f), k);
    assert.equal(loadClusterKey({ file: f }), k);
    assert.equal(loadClusterKey({ env: keyToHex(k).toUpperCase() }), k);
    assert.equal(loadClusterKey({ file: f, env: "" }), k, "an empty variable counts as unset");
    const oneLine = (fn: () => unknown, has: string) => {
      try { fn(); } catch (e) {
        assert.instance(e, ConfigError);
        assert.ok(!(e as Error).message.includes("\n") && (e as Error).message.includes(has), (e as Error).message);
        return;
      }
      assert.unreachable(`no error (${has})`);
    };
    oneLine(() => writeKeyFile(f, generateKey()), "already exists");
    const g = join(dir, "keygen.key"), hex = keygen(g);
    assert.equal(readKeyFile(g), keyFromHex(hex, "x"), "keygen writes the key it returns");
    assert.is(keygen().length, 64);
    oneLine(() => keygen(g), "already exists");
    oneLine(() => loadClusterKey({}), "no cluster key");
    oneLine(() => loadClusterKey({ file: f, env: keyToHex(k) }), "given twice");
    oneLine(() => loadClusterKey({ file: join(dir, "nope") }), "does not exist");
    oneLine(() => loadClusterKey({ env: "xyz" }), "CDL_CLUSTER_KEY is not hex");
    oneLine(() => loadClusterKey({ env: "abcd" }), "CDL_CLUSTER_KEY has 4 hex digits, expected 64");
    const short = join(dir, "short.key");
    writeFileSync(short, "00ff\n", { mode: 0o600 });
    oneLine(() => loadClusterKey({ file: short }), "has 4 hex digits");
    if (process.platform !== "win32") {
      chmodSync(f, 0o644);
      oneLine(() => loadClusterKey({ file: f }), "readable by others");
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
