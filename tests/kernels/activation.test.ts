// Conformance of the activation and elementwise kernels (relu_fwd_f32, relu_bwd_f32, mul_f32)
// over every engine, against a float64 oracle written here; in-place use included.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Rng } from "../../src/rng.ts";
import { Arena } from "../../src/wasm/arena.ts";
import { loadEngines, buf, assertGuards, assertClose, normals } from "./harness.ts";

const engines = await loadEngines(16);

// The odd sizes (SIMD body and tail), a dense layer and a lenet conv1 activation (batch 4), + 3.
const SIZES = [0, 1, 3, 4, 5, 17, 128 * 32, 4 * 32 * 576 + 3];
/** Normals with exact zeros, −0 and ties sprinkled in: the cases where relu must choose. */
function activations(rng: Rng, n: number) {
  return Float64Array.from({ length: n }, (_, i) => (i % 7 === 3 ? 0 : i % 11 === 5 ? -0 : rng.normal()));
}

for (const e of engines) {
  test(`relu_fwd_f32 [${e.flavor}] = max(x, 0), out of place and in place`, () => {
    const rng = new Rng(301);
    for (const n of SIZES) {
      const arena = new Arena(e.memory);
      const xData = activations(rng, n);
      const want = Float64Array.from(xData, (v) => (v > 0 ? Math.fround(v) : 0));
      const x = buf(arena, xData), y = buf(arena, n);
      e.kernels.relu_fwd_f32(y.ptr, x.ptr, n);
      assertClose(y.view, want, 0, `relu_fwd n=${n}`);
      assertClose(x.view, Float32Array.from(xData), 0, `relu_fwd n=${n} left x alone`);
      assertGuards(y, `relu_fwd n=${n}`);
      e.kernels.relu_fwd_f32(x.ptr, x.ptr, n);
      assertClose(x.view, want, 0, `relu_fwd in place n=${n}`);
      assertGuards(x, `relu_fwd in place n=${n}`);
    }
  });

  test(`relu_fwd_f32 [${e.flavor}] keeps NaN and clamps −Inf`, () => {
    const arena = new Arena(e.memory);
    const x = buf(arena, [NaN, -Infinity, Infinity, -1, NaN, 2, -0, NaN, 1e-40]), y = buf(arena, 9);
    e.kernels.relu_fwd_f32(y.ptr, x.ptr, 9);
    const got = Array.from(y.view);
    assert.ok(Number.isNaN(got[0]) && Number.isNaN(got[4]) && Number.isNaN(got[7]), `NaN lost: ${got}`);
    assert.equal([got[1], got[2], got[3], got[5], got[6], got[8]], [0, Infinity, 0, 2, 0, Math.fround(1e-40)]);
  });

  test(`relu_bwd_f32 [${e.flavor}] passes dy where y > 0, out of place and in place`, () => {
    const rng = new Rng(302);
    for (const n of SIZES) {
      const arena = new Arena(e.memory);
      const yData = activations(rng, n).map((v) => Math.max(v, 0)), dyData = normals(rng, n);
      const want = Float64Array.from(dyData, (g, i) => (yData[i] > 0 ? Math.fround(g) : 0));
      const y = buf(arena, yData), dy = buf(arena, dyData), dx = buf(arena, n);
      e.kernels.relu_bwd_f32(dx.ptr, dy.ptr, y.ptr, n);
      assertClose(dx.view, want, 0, `relu_bwd n=${n}`);
      assertGuards(dx, `relu_bwd n=${n}`);
      e.kernels.relu_bwd_f32(dy.ptr, dy.ptr, y.ptr, n);
      assertClose(dy.view, want, 0, `relu_bwd in place n=${n}`);
      assertGuards(dy, `relu_bwd in place n=${n}`);
    }
  });

  test(`mul_f32 [${e.flavor}] multiplies elementwise, out of place and in place`, () => {
    const rng = new Rng(303);
    for (const n of SIZES) {
      const arena = new Arena(e.memory);
      const aData = normals(rng, n), bData = Float64Array.from({ length: n }, () => (rng.uniform() < 0.5 ? 0 : 2));
      // An f32·f32 product is exact in float64, so one fround gives the f32 product.
      const want = Float64Array.from(aData, (v, i) => Math.fround(Math.fround(v) * bData[i]));
      const a = buf(arena, aData), b = buf(arena, bData), out = buf(arena, n);
      e.kernels.mul_f32(out.ptr, a.ptr, b.ptr, n);
      assertClose(out.view, want, 0, `mul n=${n}`);
      assertGuards(out, `mul n=${n}`);
      const c = buf(arena, normals(rng, n));
      const want2 = Float64Array.from(a.view, (v, i) => Math.fround(v * c.view[i]));
      e.kernels.mul_f32(a.ptr, a.ptr, c.ptr, n);
      assertClose(a.view, want2, 0, `mul in place n=${n}`);
      assertGuards(a, `mul in place n=${n}`);
    }
  });
}

test.run();
