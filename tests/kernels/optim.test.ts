// Conformance of sgd_momentum_f32 over every engine: several steps against a float64 oracle of
// PyTorch's SGD (weight decay added to the gradient, then momentum, then the step).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Rng } from "../../src/rng.ts";
import { Arena } from "../../src/wasm/arena.ts";
import { FLAVORS, loadEngine } from "../../src/wasm/loader.ts";

const engines = await Promise.all(FLAVORS.map((flavor) => loadEngine({ flavor, memoryMB: 16 })));

// --- buffers with guard zones: G floats of GUARD either side of every buffer (G = 4 keeps the
// 16-byte alignment); outputs start filled with GUARD so a missed write shows too.
const G = 4;
const GUARD = -1234.5;
interface Buf { ptr: number; view: Float32Array; full: Float32Array }
function buf(arena: Arena, data: ArrayLike<number> | number): Buf {
  const n = typeof data === "number" ? data : data.length;
  const b = arena.f32(n + 2 * G);
  b.view.fill(GUARD);
  const view = b.view.subarray(G, G + n);
  if (typeof data !== "number") view.set(data);
  return { ptr: b.ptr + 4 * G, view, full: b.view };
}
function assertGuards(b: { full: Float32Array | Int32Array }, what: string) {
  const g = b.full instanceof Int32Array ? Math.trunc(GUARD) : GUARD;
  for (let i = 0; i < G; i++) {
    assert.ok(b.full[i] === g && b.full[b.full.length - 1 - i] === g, `${what}: wrote outside its region`);
  }
}
function maxDiff(got: ArrayLike<number>, want: ArrayLike<number>) {
  let diff = 0, at = -1;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    if (!(d <= diff)) { diff = d; at = i; } // NaN counts as the largest difference
  }
  return { diff, at };
}
function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string) {
  assert.is(got.length, want.length, `${what}: length`);
  const { diff, at } = maxDiff(got, want);
  assert.ok(diff <= tol, `${what}: max |diff| ${diff} at ${at} (got ${got[at]}, want ${want[at]}), tol ${tol}`);
}
const normals = (rng: Rng, n: number) => Float64Array.from({ length: n }, () => rng.normal());

// Odd sizes, and a lenet-sized parameter vector (~1.2M is the real one; 10k + 3 keeps this fast).
const SIZES = [0, 1, 3, 5, 17, 10_003];
const HYPER: [number, number, number][] = [[0.1, 0.9, 5e-4], [0.01, 0, 0], [0.05, 0.9, 0], [0.5, 0.5, 1e-2]];

/** torch.optim.SGD for one step, in float64, rounding w and v to f32 where they are stored. */
function sgdOracle(w: Float64Array, g: ArrayLike<number>, v: Float64Array, lr: number, momentum: number, wd: number) {
  for (let i = 0; i < w.length; i++) {
    const d = g[i] + wd * w[i];
    v[i] = Math.fround(momentum * v[i] + d);
    w[i] = Math.fround(w[i] - lr * v[i]);
  }
}

for (const e of engines) {
  test(`sgd_momentum_f32 [${e.flavor}] follows PyTorch SGD over 3 steps, writes only w and v`, () => {
    const rng = new Rng(601);
    for (const n of SIZES) {
      for (const [lr, momentum, wd] of HYPER) {
        const arena = new Arena(e.memory);
        const w = buf(arena, normals(rng, n)), g = buf(arena, n), v = buf(arena, n);
        v.view.fill(0);
        const ow = Float64Array.from(w.view), ov = new Float64Array(n);
        const what = `sgd n=${n} lr ${lr} momentum ${momentum} wd ${wd}`;
        for (let step = 0; step < 3; step++) {
          const gData = Float32Array.from(normals(rng, n));
          g.view.set(gData);
          e.kernels.sgd_momentum_f32(w.ptr, g.ptr, v.ptr, n, lr, momentum, wd);
          sgdOracle(ow, gData, ov, lr, momentum, wd);
          assertClose(v.view, ov, 2e-6, `${what} step ${step} v`);
          assertClose(w.view, ow, 2e-6, `${what} step ${step} w`);
          assertClose(g.view, gData, 0, `${what} step ${step} left g alone`);
        }
        assertGuards(w, what);
        assertGuards(v, what);
      }
    }
  });
}

test("negative control: the oracle tells PyTorch's momentum from the lr-inside variant", () => {
  // v = μv + lr·g; w −= v (the other common convention) differs once weight decay or lr changes.
  const w = Float64Array.of(1), v = Float64Array.of(0.5);
  sgdOracle(w, [1], v, 0.1, 0.9, 0);
  const other = 1 - (0.9 * 0.5 + 0.1 * 1);
  assert.ok(maxDiff(w, [other]).diff > 0.1, `${w[0]} vs ${other}`);
});

test.run();
