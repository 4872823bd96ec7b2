// Conformance of softmax_xent_f32 over every engine, against a float64 oracle written here, plus
// its properties: finite for logits of ±1e4, gradient rows sum to 0, loss-only mode writes nothing.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Rng } from "../../src/rng.ts";
import { Arena } from "../../src/wasm/arena.ts";
import { loadEngines, GUARD, buf, ibuf, assertGuards, maxDiff, assertClose } from "./harness.ts";

const engines = await loadEngines(16);

// --- oracle: −log p[label] = log Σ exp(x − x[label]), written via the shift by x[label]
// rather than the row max (independent of the kernels' formulation; fine for |x| ≲ 300).
function xentOracle(x: ArrayLike<number>, labels: ArrayLike<number>, B: number, C: number, scale: number) {
  let loss = 0;
  const grad = new Float64Array(B * C);
  for (let b = 0; b < B; b++) {
    const row = Array.from({ length: C }, (_, j) => x[b * C + j]), xl = row[labels[b]];
    const z = row.reduce((s, v) => s + Math.exp(v - xl), 0);
    loss += Math.log(z);
    row.forEach((v, j) => { grad[b * C + j] = scale * (Math.exp(v - xl) / z - (j === labels[b] ? 1 : 0)); });
  }
  return { loss, grad };
}

const SHAPES: [number, number][] = [[0, 10], [1, 1], [1, 3], [3, 5], [5, 17], [17, 3], [32, 10], [7, 4], [4, 1000]];
const SCALES = [1, 1 / 32, -0.5];

interface Case { arena: Arena; logits: ReturnType<typeof buf>; labels: ReturnType<typeof ibuf> }
function setup(e: { memory: WebAssembly.Memory }, rng: Rng, B: number, C: number, spread: number): Case {
  const arena = new Arena(e.memory);
  const logits = buf(arena, Float64Array.from({ length: B * C }, () => spread * rng.normal()));
  const labels = ibuf(arena, Int32Array.from({ length: B }, () => rng.int(C)));
  return { arena, logits, labels };
}

for (const e of engines) {
  test(`softmax_xent_f32 [${e.flavor}] loss sum and scale·(softmax − onehot), writes only dlogits`, () => {
    const rng = new Rng(501);
    for (const [B, C] of SHAPES) {
      for (const scale of SCALES) {
        const { arena, logits, labels } = setup(e, rng, B, C, 3);
        const d = buf(arena, B * C);
        const loss = e.kernels.softmax_xent_f32(d.ptr, logits.ptr, labels.ptr, B, C, scale);
        const want = xentOracle(logits.view, labels.view, B, C, scale);
        const what = `softmax_xent B${B} C${C} scale ${scale}`;
        assert.ok(Math.abs(loss - want.loss) <= 1e-5 * (1 + want.loss), `${what}: loss ${loss}, want ${want.loss}, |diff| ${Math.abs(loss - want.loss)}`);
        assertClose(d.view, want.grad, 1e-6 * Math.abs(scale), `${what} dlogits`);
        assertGuards(d, what);
        // Loss only: the same value, and dlogits (pointer 0) is never written.
        const d0 = arena.f32(4).view;
        d0.fill(GUARD);
        const lossOnly = e.kernels.softmax_xent_f32(0, logits.ptr, labels.ptr, B, C, scale);
        assert.is(lossOnly, loss, `${what}: loss-only mode gives another loss`);
        assert.equal(Array.from(new Float32Array(e.memory.buffer, 0, 16)).filter((v) => v !== 0).length, 0, `${what}: wrote at address 0`);
        assert.equal(Array.from(d0), [GUARD, GUARD, GUARD, GUARD]);
      }
    }
  });

  test(`softmax_xent_f32 [${e.flavor}] dlogits may overwrite logits in place`, () => {
    const rng = new Rng(502);
    const { logits, labels } = setup(e, rng, 32, 10, 2);
    const want = xentOracle(logits.view, labels.view, 32, 10, 1 / 32);
    const loss = e.kernels.softmax_xent_f32(logits.ptr, logits.ptr, labels.ptr, 32, 10, 1 / 32);
    assert.ok(Math.abs(loss - want.loss) <= 1e-5 * want.loss, `in place: loss ${loss}, want ${want.loss}`);
    assertClose(logits.view, want.grad, 1e-7, "in place dlogits");
  });

  test(`softmax_xent_f32 [${e.flavor}] stays finite for logits of ±1e4; gradient rows sum to 0`, () => {
    const rng = new Rng(503);
    for (const [B, C] of [[32, 10], [5, 17], [3, 3], [4, 1000]]) {
      const arena = new Arena(e.memory);
      const logits = buf(arena, Float64Array.from({ length: B * C }, () => (rng.uniform() < 0.5 ? -1e4 : 1e4) * rng.uniform()));
      // Half the labels point at the largest logit, half at the smallest (loss ≈ 2e4 for those rows).
      const labelData = Int32Array.from({ length: B }, (_, b) => {
        const row = Array.from(logits.view.subarray(b * C, b * C + C));
        return row.indexOf(b % 2 ? Math.max(...row) : Math.min(...row));
      });
      const labels = ibuf(arena, labelData), d = buf(arena, B * C);
      const loss = e.kernels.softmax_xent_f32(d.ptr, logits.ptr, labels.ptr, B, C, 1);
      assert.ok(Number.isFinite(loss) && loss >= 0, `B${B} C${C}: loss ${loss} not finite`);
      let worst = 0;
      for (let b = 0; b < B; b++) {
        let s = 0;
        for (let j = 0; j < C; j++) {
          const g = d.view[b * C + j];
          assert.ok(Number.isFinite(g) && g >= -1 && g <= 1, `B${B} C${C}: dlogits[${b},${j}] = ${g}`);
          s += g;
        }
        worst = Math.max(worst, Math.abs(s));
      }
      assert.ok(worst <= 1e-6, `B${B} C${C}: a gradient row sums to ${worst}, not 0`);
    }
  });

  test(`softmax_xent_f32 [${e.flavor}] one class: zero loss and zero gradient`, () => {
    const arena = new Arena(e.memory);
    const logits = buf(arena, [5, -3, 0]), labels = ibuf(arena, [0, 0, 0]), d = buf(arena, 3);
    assert.is(e.kernels.softmax_xent_f32(d.ptr, logits.ptr, labels.ptr, 3, 1, 1), 0);
    assert.equal(Array.from(d.view), [0, 0, 0]);
  });
}

test("negative control: a gradient without the onehot term fails the oracle and the row-sum check", () => {
  const { grad } = xentOracle([1, 2, 3], [2], 1, 3, 1);
  const broken = grad.map((g, j) => (j === 2 ? g + 1 : g));
  assert.ok(maxDiff(broken, grad).diff > 0.99);
  assert.ok(Math.abs(broken.reduce((s, g) => s + g, 0)) > 0.99);
});

test.run();
