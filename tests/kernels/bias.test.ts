// Conformance of the bias kernels (bias_add_f32, bias_grad_f32) over every engine, against a
// float64 oracle written here.
import { test } from "uvu";
import { Rng } from "../../src/rng.ts";
import { Arena } from "../../src/wasm/arena.ts";
import { loadEngines, buf, assertGuards, assertClose, quantized, normals } from "./harness.ts";

const engines = await loadEngines(16);

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
