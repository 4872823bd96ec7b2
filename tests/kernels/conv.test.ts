// Conformance of the convolution lowering kernels (im2row_f32, row2im_f32, transpose01_f32) over
// every engine, against a float64 oracle written here from the row-layout definition.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Rng } from "../../src/rng.ts";
import { Arena } from "../../src/wasm/arena.ts";
import { loadEngines, buf, assertGuards, maxDiff, assertClose, quantized, normals } from "./harness.ts";

const engines = await loadEngines(32);

// --- oracle: the input index each colT[p, r] is copied from, or −1 in the padding.
interface Shape { B: number; C: number; H: number; W: number; KH: number; KW: number; stride: number; pad: number }
const outSize = (n: number, k: number, s: number, p: number) => Math.max(0, Math.floor((n + 2 * p - k) / s) + 1);
function sourceMap(s: Shape) {
  const OH = outSize(s.H, s.KH, s.stride, s.pad), OW = outSize(s.W, s.KW, s.stride, s.pad);
  const rows = s.C * s.KH * s.KW, P = s.B * OH * OW;
  const src = new Int32Array(rows * P);
  for (let r = 0; r < rows; r++) {
    const kw = r % s.KW, kh = Math.floor(r / s.KW) % s.KH, c = Math.floor(r / (s.KW * s.KH));
    for (let p = 0; p < P; p++) {
      const ow = p % OW, oh = Math.floor(p / OW) % OH, b = Math.floor(p / (OW * OH));
      const ih = oh * s.stride + kh - s.pad, iw = ow * s.stride + kw - s.pad;
      src[p * rows + r] = ih < 0 || iw < 0 || ih >= s.H || iw >= s.W ? -1 : ((b * s.C + c) * s.H + ih) * s.W + iw;
    }
  }
  return { OH, OW, rows, P, src };
}
const im2rowOracle = (x: ArrayLike<number>, src: Int32Array) => Float64Array.from(src, (i) => (i < 0 ? 0 : x[i]));
function row2imOracle(dcol: ArrayLike<number>, src: Int32Array, n: number) {
  const dx = new Float64Array(n);
  src.forEach((i, k) => { if (i >= 0) dx[i] += dcol[k]; });
  return dx;
}

const sh = (B: number, C: number, H: number, W: number, KH: number, KW: number, stride: number, pad: number): Shape =>
  ({ B, C, H, W, KH, KW, stride, pad });
const SHAPES: Shape[] = [
  sh(0, 3, 5, 5, 3, 3, 1, 1), sh(2, 0, 5, 5, 3, 3, 1, 1), // empty batch, no channels
  sh(1, 1, 1, 1, 1, 1, 1, 0), sh(1, 1, 1, 1, 3, 3, 1, 1), // 1×1 image; kernel larger than the image
  sh(1, 1, 3, 3, 3, 3, 1, 1), sh(2, 3, 5, 5, 3, 3, 2, 1), sh(1, 2, 5, 7, 3, 3, 2, 2),
  sh(3, 2, 7, 5, 3, 2, 2, 0), sh(1, 3, 17, 13, 5, 3, 2, 2), sh(2, 2, 17, 17, 5, 5, 1, 2),
  sh(1, 2, 5, 5, 1, 1, 2, 2), // whole rows and columns of padding only
  sh(1, 1, 6, 6, 2, 2, 3, 1), // stride larger than the kernel: skipped pixels
  sh(4, 1, 28, 28, 5, 5, 1, 0), // lenet conv1
  sh(2, 32, 12, 12, 5, 5, 1, 0), // lenet conv2
  sh(2, 8, 32, 32, 3, 3, 1, 1), // cifar-cnn 3×3 same
  sh(2, 4, 32, 32, 3, 3, 2, 1), // strided downsampling
];
const label = (s: Shape) => `B${s.B} C${s.C} ${s.H}×${s.W} k${s.KH}×${s.KW} s${s.stride} p${s.pad}`;

for (const e of engines) {
  test(`im2row_f32 [${e.flavor}] matches the oracle, writes only col`, () => {
    const rng = new Rng(101);
    for (const s of SHAPES) {
      const { OH, OW, src } = sourceMap(s);
      const arena = new Arena(e.memory);
      const xData = normals(rng, s.B * s.C * s.H * s.W);
      const x = buf(arena, xData), col = buf(arena, src.length);
      e.kernels.im2row_f32(col.ptr, x.ptr, s.B, s.C, s.H, s.W, s.KH, s.KW, s.stride, s.pad, OH, OW);
      assertClose(col.view, im2rowOracle(Float32Array.from(xData), src), 0, `im2row ${label(s)}`);
      assertClose(x.view, Float32Array.from(xData), 0, `im2row ${label(s)} left x alone`);
      assertGuards(col, `im2row ${label(s)}`);
    }
  });

  test(`row2im_f32 [${e.flavor}] matches the oracle, overwrites dx, writes only dx`, () => {
    const rng = new Rng(102);
    for (const s of SHAPES) {
      const { OH, OW, src } = sourceMap(s);
      const n = s.B * s.C * s.H * s.W;
      const arena = new Arena(e.memory);
      const dcolData = quantized(rng, src.length);
      const dcol = buf(arena, dcolData), dx = buf(arena, n); // dx starts as GUARD garbage
      e.kernels.row2im_f32(dx.ptr, dcol.ptr, s.B, s.C, s.H, s.W, s.KH, s.KW, s.stride, s.pad, OH, OW);
      assertClose(dx.view, row2imOracle(dcolData, src, n), 0, `row2im ${label(s)}`);
      assertGuards(dx, `row2im ${label(s)}`);
      // Random normals: sums in another order, so a tolerance.
      const dcol2 = buf(arena, normals(rng, src.length));
      e.kernels.row2im_f32(dx.ptr, dcol2.ptr, s.B, s.C, s.H, s.W, s.KH, s.KW, s.stride, s.pad, OH, OW);
      assertClose(dx.view, row2imOracle(dcol2.view, src, n), 1e-5, `row2im normals ${label(s)}`);
    }
  });

  test(`row2im_f32 [${e.flavor}] is the adjoint of im2row_f32: <im2row(x), y> = <x, row2im(y)>`, () => {
    const rng = new Rng(103);
    for (const s of SHAPES) {
      const { OH, OW, rows, P } = sourceMap(s);
      const n = s.B * s.C * s.H * s.W;
      const arena = new Arena(e.memory);
      const x = buf(arena, normals(rng, n)), y = buf(arena, normals(rng, rows * P));
      const col = buf(arena, rows * P), dx = buf(arena, n);
      e.kernels.im2row_f32(col.ptr, x.ptr, s.B, s.C, s.H, s.W, s.KH, s.KW, s.stride, s.pad, OH, OW);
      e.kernels.row2im_f32(dx.ptr, y.ptr, s.B, s.C, s.H, s.W, s.KH, s.KW, s.stride, s.pad, OH, OW);
      let lhs = 0, rhs = 0, mag = 0;
      for (let i = 0; i < rows * P; i++) { lhs += col.view[i] * y.view[i]; mag += Math.abs(col.view[i] * y.view[i]); }
      for (let i = 0; i < n; i++) rhs += x.view[i] * dx.view[i];
      assert.ok(Math.abs(lhs - rhs) <= 1e-6 * (1 + mag), `adjoint ${label(s)}: <im2row x, y> = ${lhs}, <x, row2im y> = ${rhs}`);
    }
  });

  test(`transpose01_f32 [${e.flavor}] swaps the outer dims, writes only dst`, () => {
    const rng = new Rng(104);
    for (const [A, Bd, inner] of [[0, 3, 4], [3, 0, 4], [3, 4, 0], [1, 1, 1], [3, 5, 1], [5, 3, 17], [17, 5, 3], [32, 4, 576], [10, 32, 1]]) {
      const arena = new Arena(e.memory);
      const srcData = normals(rng, A * Bd * inner);
      const src = buf(arena, srcData), dst = buf(arena, A * Bd * inner);
      e.kernels.transpose01_f32(dst.ptr, src.ptr, A, Bd, inner);
      const want = new Float64Array(A * Bd * inner);
      for (let k = 0; k < want.length; k++) {
        const i = k % inner, a = Math.floor(k / inner) % A, b = Math.floor(k / (inner * A));
        want[k] = Math.fround(srcData[(a * Bd + b) * inner + i]);
      }
      assertClose(dst.view, want, 0, `transpose01 A${A} Bd${Bd} inner${inner}`);
      assertGuards(dst, `transpose01 A${A} Bd${Bd} inner${inner}`);
    }
  });
}

test("negative control: the oracle catches a row2im that forgets to clear dx", () => {
  const e = engines.find((x) => x.flavor === "reference")!;
  const s = sh(1, 1, 5, 5, 3, 3, 1, 1);
  const { OH, OW, src } = sourceMap(s);
  const arena = new Arena(e.memory);
  const dcol = buf(arena, quantized(new Rng(105), src.length)), dx = buf(arena, 25);
  e.kernels.row2im_f32(dx.ptr, dcol.ptr, 1, 1, 5, 5, 3, 3, 1, 1, OH, OW);
  dx.view[7] += 1; // what an accumulate-into-dx bug would leave behind
  assert.equal(maxDiff(dx.view, row2imOracle(dcol.view, src, 25)), { diff: 1, at: 7 });
});

test("negative control: the adjoint check fails for a row2im with the wrong padding", () => {
  const e = engines.find((x) => x.flavor === "reference")!;
  const s = sh(1, 2, 6, 6, 3, 3, 1, 1);
  const { OH, OW, rows, P } = sourceMap(s);
  const rng = new Rng(106);
  const arena = new Arena(e.memory);
  const x = buf(arena, normals(rng, 72)), y = buf(arena, normals(rng, rows * P));
  const col = buf(arena, rows * P), dx = buf(arena, 72);
  e.kernels.im2row_f32(col.ptr, x.ptr, 1, 2, 6, 6, 3, 3, 1, 1, OH, OW);
  e.kernels.row2im_f32(dx.ptr, y.ptr, 1, 2, 6, 6, 3, 3, 1, 0, OH, OW);
  let lhs = 0, rhs = 0;
  for (let i = 0; i < rows * P; i++) lhs += col.view[i] * y.view[i];
  for (let i = 0; i < 72; i++) rhs += x.view[i] * dx.view[i];
  assert.ok(Math.abs(lhs - rhs) > 1e-3, `a wrong adjoint passed: ${lhs} vs ${rhs}`);
});

test.run();
