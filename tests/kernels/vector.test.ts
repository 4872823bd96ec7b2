// Conformance of the whole-vector kernels (axpy_f32, axpby_f32, scale_f32, sqdist_f32,
// nonfinite_f32) over every engine, against a float64 oracle written here.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Rng } from "../../src/rng.ts";
import { Arena } from "../../src/wasm/arena.ts";
import { loadEngines, buf, assertGuards, assertClose, normals } from "./harness.ts";

const engines = await loadEngines(16);

// Odd sizes around the 4-lane body, and a parameter-vector-like size (lenet has ~1.2M; 20k + 3 keeps the suite fast).
const SIZES = [0, 1, 3, 4, 5, 17, 20_003];
const COEFFS: [number, number][] = [[0.5, 0.5], [1, 0], [0, 1], [-0.25, 1.75], [1 / 3, 2 / 3]];
const f = Math.fround;

for (const e of engines) {
  test(`axpy_f32 [${e.flavor}] y += a·x, writes only y`, () => {
    const rng = new Rng(701);
    for (const n of SIZES) {
      for (const [a] of COEFFS) {
        const arena = new Arena(e.memory);
        const x = buf(arena, normals(rng, n)), y = buf(arena, normals(rng, n));
        const want = Float64Array.from(y.view, (yi, i) => yi + f(a) * x.view[i]);
        e.kernels.axpy_f32(y.ptr, x.ptr, n, a);
        assertClose(y.view, want, 1e-6, `axpy n=${n} a=${a}`);
        assertGuards(y, `axpy n=${n}`);
      }
    }
  });

  test(`axpby_f32 [${e.flavor}] y = a·x + b·y, writes only y`, () => {
    const rng = new Rng(702);
    for (const n of SIZES) {
      for (const [a, b] of COEFFS) {
        const arena = new Arena(e.memory);
        const x = buf(arena, normals(rng, n)), y = buf(arena, normals(rng, n));
        const want = Float64Array.from(y.view, (yi, i) => f(a) * x.view[i] + f(b) * yi);
        e.kernels.axpby_f32(y.ptr, x.ptr, n, a, b);
        assertClose(y.view, want, 1e-6, `axpby n=${n} a=${a} b=${b}`);
        assertGuards(y, `axpby n=${n}`);
      }
    }
  });

  test(`scale_f32 [${e.flavor}] x *= a, writes only x`, () => {
    const rng = new Rng(703);
    for (const n of SIZES) {
      for (const a of [2, 0.1, -1, 0]) {
        const arena = new Arena(e.memory);
        const x = buf(arena, normals(rng, n));
        const want = Float64Array.from(x.view, (v) => f(v * f(a)));
        e.kernels.scale_f32(x.ptr, n, a);
        assertClose(x.view, want, 0, `scale n=${n} a=${a}`);
        assertGuards(x, `scale n=${n}`);
      }
    }
  });

  test(`sqdist_f32 [${e.flavor}] Σ(a − b)² in f64, reads only`, () => {
    const rng = new Rng(704);
    for (const n of SIZES) {
      const arena = new Arena(e.memory);
      const a = buf(arena, normals(rng, n)), b = buf(arena, normals(rng, n));
      let want = 0;
      for (let i = 0; i < n; i++) want += (a.view[i] - b.view[i]) ** 2;
      const got = e.kernels.sqdist_f32(a.ptr, b.ptr, n);
      // f64 accumulation: only the summation order differs.
      assert.ok(Math.abs(got - want) <= 1e-12 * (1 + want), `sqdist n=${n}: ${got}, want ${want}, |diff| ${Math.abs(got - want)}`);
    }
    // Differences below f32 resolution: an f32 accumulator would lose all of these.
    const arena = new Arena(e.memory);
    const n = 20_003;
    const a = buf(arena, Float64Array.from({ length: n }, () => 1 + 2 ** -20)), b = buf(arena, Float64Array.from({ length: n }, () => 1));
    const big = buf(arena, Float64Array.from({ length: n }, (_, i) => (i === 0 ? 4096 : 2 ** -12)));
    const zero = buf(arena, n);
    zero.view.fill(0);
    assert.is(e.kernels.sqdist_f32(a.ptr, b.ptr, n), n * 2 ** -40, "sqdist of tiny differences");
    assert.is(e.kernels.sqdist_f32(big.ptr, zero.ptr, n), 4096 ** 2 + (n - 1) * 2 ** -24, "sqdist: small terms after a large one");
  });

  test(`nonfinite_f32 [${e.flavor}] finds NaN, +Inf, −Inf anywhere, and nothing in finite data`, () => {
    const rng = new Rng(705);
    for (const n of SIZES) {
      const arena = new Arena(e.memory);
      const x = buf(arena, normals(rng, n));
      assert.is(e.kernels.nonfinite_f32(x.ptr, n), 0, `n=${n} finite`);
      if (n === 0) continue;
      x.view[n - 1] = 3.4e38; // largest magnitudes and denormals are finite
      x.view[0] = -3.4e38;
      x.view[Math.floor(n / 2)] = 1e-45;
      assert.is(e.kernels.nonfinite_f32(x.ptr, n), 0, `n=${n} extremes are finite`);
      for (const bad of [NaN, Infinity, -Infinity]) {
        for (const at of new Set([0, Math.min(n - 1, 3), Math.floor(n / 2), n - 1])) {
          const keep = x.view[at];
          x.view[at] = bad;
          assert.is(e.kernels.nonfinite_f32(x.ptr, n), 1, `n=${n}: ${bad} at ${at} missed`);
          x.view[at] = keep;
        }
      }
    }
    // Only the first n elements count: a NaN just past the end is not looked at.
    const arena = new Arena(e.memory);
    const y = buf(arena, [1, 2, 3, 4, 5, NaN]);
    assert.is(e.kernels.nonfinite_f32(y.ptr, 5), 0, "read past n");
  });
}

test.run();
