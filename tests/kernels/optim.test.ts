// Conformance of sgd_momentum_f32 over every engine: several steps against a float64 oracle of
// PyTorch's SGD (weight decay added to the gradient, then momentum, then the step).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Rng } from "../../src/rng.ts";
import { Arena } from "../../src/wasm/arena.ts";
import { loadEngines, buf, assertGuards, maxDiff, assertClose, normals } from "./harness.ts";

const engines = await loadEngines(16);

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
