// Conformance of the codec kernels (f16_encode_f32, absmax_f32, int8_encode_f32) over every
// engine, against src/node/compress.ts, which specifies the level codecs: the bytes must equal
// compress.ts encode's and the own copy compress.ts decode's, bit for bit, on values chosen to hit
// every rounding branch (f16 ties, the subnormal range, saturation, ±0, NaN, ±Inf) and on random
// bit patterns; sizes around the 4-lane body; nothing written outside the outputs.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { decode, encode, type Tensor } from "../../src/node/compress.ts";
import { Rng } from "../../src/rng.ts";
import { Arena } from "../../src/wasm/arena.ts";
import { loadEngines, buf, assertGuards, normals } from "./harness.ts";

const engines = await loadEngines(16);
const SIZES = [0, 1, 3, 4, 5, 17, 20_003];
const bitsOf = (x: Float32Array) => [...new Uint32Array(x.buffer, x.byteOffset, x.length)];

/** n values: f16's edge cases first (cycled), then normals at several scales, then random bit patterns. */
function values(rng: Rng, n: number): Float32Array {
  const f = (u: number) => new Float32Array(new Uint32Array([u]).buffer)[0];
  const edges = [
    0, -0, 1, -1, 65504, 65519.996, 65520, -65520, 1e6, 2 ** -14, -(2 ** -14), f(0x387fffff), f(0x38800001), 2 ** -24, 2 ** -25, f(0x33000001),
    1.5 * 2 ** -24, 2.5 * 2 ** -24, 3 * 2 ** -25, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 1 + 2 ** -11 + 2 ** -20, 2 ** -149, 3.4028235e38, Infinity, -Infinity, NaN, f(0xffc00001),
  ];
  const x = new Float32Array(n), u = new Uint32Array(x.buffer), z = normals(rng, n);
  for (let i = 0; i < n; i++) {
    const k = i % 4;
    if (i < edges.length * 2) x[i] = edges[i % edges.length];
    else if (k === 3) u[i] = Math.floor(rng.uniform() * 2 ** 32) >>> 0;
    else x[i] = z[i] * 10 ** (2 * k - 3);
  }
  return x;
}

for (const e of engines) {
  test(`f16_encode_f32 [${e.flavor}] writes compress.ts's f16 bytes and its decoded values, bit for bit`, () => {
    const rng = new Rng(811);
    for (const n of SIZES) {
      const arena = new Arena(e.memory);
      const x = buf(arena, values(rng, n)), h = buf(arena, Math.ceil(n / 2)), own = buf(arena, n);
      e.kernels.f16_encode_f32(x.ptr, n, h.ptr, own.ptr);
      const whole: Tensor[] = n ? [{ offset: 0, count: n }] : [];
      if (!n) { assertGuards(h, "n=0"); assertGuards(own, "n=0"); continue; }
      const want = encode("f16", x.view.slice(), whole), wantOwn = new Float32Array(n);
      decode("f16", want, whole, wantOwn);
      assert.equal([...new Uint8Array(h.view.buffer, h.ptr, 2 * n)], [...want], `f16 bytes, n=${n}`);
      assert.equal(bitsOf(own.view), bitsOf(wantOwn), `own copy, n=${n}`);
      assertGuards(own, `own n=${n}`);
      if (n % 2 === 0) assertGuards(h, `h n=${n}`);
    }
  });

  test(`absmax_f32 and int8_encode_f32 [${e.flavor}] give compress.ts's int8 scale, bytes and decoded values, bit for bit`, () => {
    const rng = new Rng(812);
    for (const n of SIZES) {
      for (const scale of [1e-3, 1, 1e4, 1e-44]) {
        const arena = new Arena(e.memory);
        const data = Float32Array.from(normals(rng, n)).map((v, i) => (i === 1 ? -0 : v * scale));
        const x = buf(arena, data), q = buf(arena, Math.ceil(n / 4)), own = buf(arena, n);
        const m = e.kernels.absmax_f32(x.ptr, n);
        assert.is(m, data.reduce((a, v) => Math.max(a, Math.abs(v)), 0), `max n=${n}`);
        if (!n) continue;
        // The scale as compress.ts computes it from the max.
        const s = Math.max(Math.fround(m / 127), 1.401298464324817e-45);
        e.kernels.int8_encode_f32(x.ptr, n, s, q.ptr, own.ptr);
        const whole: Tensor[] = [{ offset: 0, count: n }];
        const want = encode("int8", x.view.slice(), whole), wantOwn = new Float32Array(n);
        decode("int8", want, whole, wantOwn);
        assert.is(new Float32Array(want.buffer, 0, 1)[0], Math.fround(s), `scale n=${n}`);
        assert.equal([...new Uint8Array(q.view.buffer, q.ptr, n)], [...want.subarray(4)], `int8 bytes, n=${n} scale=${scale}`);
        assert.equal(bitsOf(own.view), bitsOf(wantOwn), `own copy, n=${n} scale=${scale}`);
        assertGuards(own, `own n=${n}`);
        if (n % 4 === 0) assertGuards(q, `q n=${n}`);
      }
    }
    const arena = new Arena(e.memory);
    for (const bad of [NaN, Infinity, -Infinity]) {
      const x = buf(arena, Float32Array.from({ length: 9 }, (_, i) => (i === 6 ? bad : i)));
      const m = e.kernels.absmax_f32(x.ptr, 9);
      assert.ok(Number.isNaN(bad) ? Number.isNaN(m) : m === Infinity, `absmax with ${bad}: ${m}`);
    }
  });
}

test.run();
