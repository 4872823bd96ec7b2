// Conformance of the bias kernels (bias_add_f32, bias_grad_f32) over every engine, against a
// float64 oracle written here.
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
/** Multiples of 1/16 in [−4, 4]: every sum in these tests is then exact in f32. */
const quantized = (rng: Rng, n: number) => Float64Array.from({ length: n }, () => (rng.int(129) - 64) / 16);
const normals = (rng: Rng, n: number) => Float64Array.from({ length: n }, () => rng.normal());

// outer·C·inner: dense (inner = 1), NCHW conv (inner = H·W), and the odd sizes.
const SHAPES: [number, number, number][] = [
  [0, 3, 4], [3, 0, 4], [3, 4, 0], [1, 1, 1], [3, 5, 1], [5, 17, 1], [2, 3, 5], [5, 3, 17], [3, 17, 3],
  [32, 10, 1], [32, 128, 1], // lenet dense layers
  [4, 32, 576], [4, 64, 64], // lenet conv1 and conv2 outputs (batch trimmed)
];
const label = ([o, c, i]: number[]) => `outer${o} C${c} inner${i}`;

for (const e of engines) {
  test(`bias_add_f32 [${e.flavor}] adds b per channel, writes only y`, () => {
    const rng = new Rng(201);
    for (const s of SHAPES) {
      const [outer, C, inner] = s;
      const arena = new Arena(e.memory);
      const yData = normals(rng, outer * C * inner), bData = normals(rng, C);
      const y = buf(arena, yData), b = buf(arena, bData);
      e.kernels.bias_add_f32(y.ptr, b.ptr, outer, C, inner);
      const want = Float64Array.from(yData, (v, k) => Math.fround(Math.fround(v) + Math.fround(bData[Math.floor(k / inner) % C])));
      assertClose(y.view, want, 0, `bias_add ${label(s)}`);
      assertClose(b.view, Float32Array.from(bData), 0, `bias_add ${label(s)} left b alone`);
      assertGuards(y, `bias_add ${label(s)}`);
    }
  });

  test(`bias_grad_f32 [${e.flavor}] sums dy per channel, overwrites db, writes only db`, () => {
    const rng = new Rng(202);
    for (const s of SHAPES) {
      const [outer, C, inner] = s;
      for (const [kind, data] of [["quantized", quantized], ["normals", normals]] as const) {
        const arena = new Arena(e.memory);
        const dyData = Float32Array.from(data(rng, outer * C * inner));
        const dy = buf(arena, dyData), db = buf(arena, C); // db starts as GUARD garbage
        e.kernels.bias_grad_f32(db.ptr, dy.ptr, outer, C, inner);
        const want = new Float64Array(C), mag = new Float64Array(C);
        dyData.forEach((v, k) => { const c = Math.floor(k / inner) % C; want[c] += v; mag[c] += Math.abs(v); });
        // Quantized data sums exactly in any order; normals get a bound relative to Σ|dy|.
        const tol = kind === "quantized" ? 0 : 1e-6 * Math.max(1, ...mag);
        assertClose(db.view, want, tol, `bias_grad ${kind} ${label(s)}`);
        assertGuards(db, `bias_grad ${label(s)}`);
      }
    }
  });
}

test.run();
