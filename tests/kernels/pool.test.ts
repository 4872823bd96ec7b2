// Conformance of the max-pooling kernels (maxpool2d_fwd_f32, maxpool2d_bwd_f32) over every engine,
// against a float64 oracle written here: value, argmax (first index on ties, NaN wins) and the
// scatter-add backward, including overlapping windows.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Rng } from "../../src/rng.ts";
import { Arena } from "../../src/wasm/arena.ts";
import { loadEngines, buf, ibuf, assertGuards, maxDiff, assertClose, quantized, normals } from "./harness.ts";

const engines = await loadEngines(16);

// --- oracle: the window scanned in row-major order, first maximum kept, NaN wins.
interface Shape { BC: number; H: number; W: number; K: number; stride: number }
function poolOracle(x: ArrayLike<number>, s: Shape, OH: number, OW: number) {
  const y = new Float64Array(s.BC * OH * OW), arg = new Int32Array(s.BC * OH * OW);
  for (let k = 0; k < y.length; k++) {
    const ow = k % OW, oh = Math.floor(k / OW) % OH, p = Math.floor(k / (OW * OH));
    let best = NaN, at = -1;
    for (let dh = 0; dh < s.K; dh++) {
      for (let dw = 0; dw < s.K; dw++) {
        const idx = (oh * s.stride + dh) * s.W + (ow * s.stride + dw), v = x[p * s.H * s.W + idx];
        if (at < 0 || Number.isNaN(v) || (!Number.isNaN(best) && v > best)) { best = v; at = idx; }
      }
    }
    y[k] = best;
    arg[k] = at;
  }
  return { y, arg };
}
function unpoolOracle(dy: ArrayLike<number>, arg: Int32Array, s: Shape, OHW: number) {
  const dx = new Float64Array(s.BC * s.H * s.W);
  for (let k = 0; k < dy.length; k++) dx[Math.floor(k / OHW) * s.H * s.W + arg[k]] += dy[k];
  return dx;
}

const SHAPES: Shape[] = [
  { BC: 0, H: 4, W: 4, K: 2, stride: 2 }, { BC: 1, H: 1, W: 1, K: 1, stride: 1 }, { BC: 3, H: 3, W: 3, K: 2, stride: 1 },
  { BC: 2, H: 5, W: 5, K: 2, stride: 2 }, { BC: 2, H: 5, W: 7, K: 3, stride: 2 }, { BC: 1, H: 5, W: 5, K: 3, stride: 1 },
  { BC: 3, H: 17, W: 17, K: 3, stride: 2 }, { BC: 5, H: 17, W: 3, K: 2, stride: 2 }, { BC: 1, H: 4, W: 4, K: 4, stride: 4 },
  { BC: 4 * 32, H: 24, W: 24, K: 2, stride: 2 }, { BC: 4 * 64, H: 8, W: 8, K: 2, stride: 2 }, // lenet, batch trimmed
  { BC: 2 * 16, H: 32, W: 32, K: 2, stride: 2 }, // cifar-cnn
];
const outSize = (n: number, k: number, s: number) => Math.max(0, Math.floor((n - k) / s) + 1);
const label = (s: Shape) => `BC${s.BC} ${s.H}×${s.W} k${s.K} s${s.stride}`;
/** Few distinct values, so windows often tie and the first-index rule is exercised. */
const ties = (rng: Rng, n: number) => Float64Array.from({ length: n }, () => rng.int(4) - 2);

for (const e of engines) {
  test(`maxpool2d_fwd_f32 [${e.flavor}] window max and first argmax, writes only y and arg`, () => {
    const rng = new Rng(401);
    for (const s of SHAPES) {
      for (const data of [normals, ties]) {
        const OH = outSize(s.H, s.K, s.stride), OW = outSize(s.W, s.K, s.stride);
        const arena = new Arena(e.memory);
        const xData = Float32Array.from(data(rng, s.BC * s.H * s.W));
        const x = buf(arena, xData), y = buf(arena, s.BC * OH * OW), arg = ibuf(arena, s.BC * OH * OW);
        e.kernels.maxpool2d_fwd_f32(y.ptr, arg.ptr, x.ptr, s.BC, s.H, s.W, s.K, s.K, s.stride, OH, OW);
        const want = poolOracle(xData, s, OH, OW);
        assertClose(y.view, want.y, 0, `maxpool fwd ${label(s)}`);
        assertClose(arg.view, want.arg, 0, `maxpool fwd argmax ${label(s)}`);
        assertGuards(y, `maxpool fwd y ${label(s)}`);
        assertGuards(arg, `maxpool fwd arg ${label(s)}`);
      }
    }
  });

  test(`maxpool2d_fwd_f32 [${e.flavor}] propagates NaN and handles ±Inf`, () => {
    const arena = new Arena(e.memory);
    // One 4×4 plane, 2×2 windows: [NaN first, NaN last, −Inf only, +Inf with 1].
    const x = buf(arena, [NaN, 1, -Infinity, -Infinity, 2, 3, -Infinity, -Infinity, 1, 0, Infinity, 1, 0, NaN, 1, 1]);
    const y = buf(arena, 4), arg = ibuf(arena, 4);
    e.kernels.maxpool2d_fwd_f32(y.ptr, arg.ptr, x.ptr, 1, 4, 4, 2, 2, 2, 2, 2);
    assert.ok(Number.isNaN(y.view[0]) && Number.isNaN(y.view[2]), `NaN lost: ${Array.from(y.view)}`);
    assert.equal([y.view[1], y.view[3]], [-Infinity, Infinity]);
    assert.equal(Array.from(arg.view), [0, 2, 13, 10]);
  });

  test(`maxpool2d_bwd_f32 [${e.flavor}] scatter-adds dy to the argmax, overwrites dx, writes only dx`, () => {
    const rng = new Rng(402);
    for (const s of SHAPES) {
      const OH = outSize(s.H, s.K, s.stride), OW = outSize(s.W, s.K, s.stride);
      const arena = new Arena(e.memory);
      const xData = Float32Array.from(ties(rng, s.BC * s.H * s.W));
      const { arg: argData } = poolOracle(xData, s, OH, OW);
      const dyData = quantized(rng, s.BC * OH * OW);
      const arg = ibuf(arena, argData), dy = buf(arena, dyData), dx = buf(arena, s.BC * s.H * s.W);
      e.kernels.maxpool2d_bwd_f32(dx.ptr, dy.ptr, arg.ptr, s.BC, s.H, s.W, OH, OW);
      // Quantized dy: overlapping windows that share an argmax sum exactly.
      assertClose(dx.view, unpoolOracle(dyData, argData, s, OH * OW), 0, `maxpool bwd ${label(s)}`);
      assertGuards(dx, `maxpool bwd ${label(s)}`);
    }
  });
}

test("negative control: the oracle sees a backward that overwrites instead of adding", () => {
  const s: Shape = { BC: 1, H: 3, W: 3, K: 2, stride: 1 };
  const arg = new Int32Array([4, 4, 4, 4]), dy = [1, 2, 3, 4]; // the centre wins every window
  const dx = unpoolOracle(dy, arg, s, 4);
  const overwritten = dx.slice();
  overwritten[4] = 4;
  assert.equal(maxDiff(overwritten, dx), { diff: 6, at: 4 });
});

test.run();
