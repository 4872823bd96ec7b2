// Conformance of the sparse kernels (nonzero_f32, csr_cols_f32, spmm_f32, spmm_tn_f32) over every engine,
// against float64 oracles written here from the definitions in src/wasm/kernels.ts.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Rng } from "../../src/rng.ts";
import { Arena } from "../../src/wasm/arena.ts";
import { loadEngines, buf, ibuf, assertGuards, assertClose, maxDiff, quantized, normals } from "./harness.ts";

const engines = await loadEngines(32);

/** src[(b·A + a)·inner + i] nonzero with probability `density` (quantized or normal values). */
function sparseData(rng: Rng, n: number, density: number, exact: boolean) {
  const v = exact ? quantized(rng, n) : normals(rng, n);
  for (let k = 0; k < n; k++) if (rng.uniform() >= density || v[k] === 0) v[k] = 0;
  return Float32Array.from(v);
}

/** The CSR of Xᵀ by definition: row q = b·inner + i lists the a with X[a, q] ≠ 0, in increasing order. */
function csrColsOracle(src: Float32Array, A: number, Bd: number, inner: number) {
  const ptr = [0], idx: number[] = [], val: number[] = [];
  for (let b = 0; b < Bd; b++)
    for (let i = 0; i < inner; i++) {
      for (let a = 0; a < A; a++) {
        const v = src[(b * A + a) * inner + i];
        if (v !== 0) { idx.push(a); val.push(v); }
      }
      ptr.push(idx.length);
    }
  return { ptr, idx, val };
}

// A·Bd·inner: a conv chunk's dy [Bd images, A channels, inner pixels]; odd sizes and lenet's chunks.
const COMPRESS: [number, number, number][] = [
  [0, 2, 3], [3, 0, 2], [2, 3, 0], [1, 1, 1], [3, 1, 5], [5, 3, 17], [17, 2, 3], [32, 1, 576], [64, 4, 64],
];

for (const e of engines) {
  test(`nonzero_f32 [${e.flavor}] counts the entries != 0, NaN and ±Inf included, −0 not`, () => {
    const rng = new Rng(300);
    for (const n of [0, 1, 3, 4, 5, 17, 18432]) {
      for (const density of [0, 0.15, 1]) {
        const arena = new Arena(e.memory);
        const data = sparseData(rng, n, density, false);
        const x = buf(arena, data);
        assert.is(e.kernels.nonzero_f32(x.ptr, n), data.filter((v) => v !== 0).length, `n ${n} density ${density}`);
      }
    }
    const arena = new Arena(e.memory);
    const x = buf(arena, [NaN, 0, -0, Infinity, -Infinity, 1e-40, 0]); // 1e-40 is a subnormal f32, nonzero
    assert.is(e.kernels.nonzero_f32(x.ptr, 7), 4);
    assert.is(e.kernels.nonzero_f32(x.ptr + 4, 2), 0);
  });

  test(`csr_cols_f32 [${e.flavor}] lists each column's nonzeros in order, returns nnz`, () => {
    const rng = new Rng(301);
    for (const [A, Bd, inner] of COMPRESS) {
      for (const density of [0, 0.15, 0.5, 1]) {
        const n = A * Bd * inner, what = `csr_cols A${A} Bd${Bd} inner${inner} density ${density}`;
        const arena = new Arena(e.memory);
        const srcData = sparseData(rng, n, density, false);
        const src = buf(arena, srcData), ptr = ibuf(arena, Bd * inner + 1), idx = ibuf(arena, n), val = buf(arena, n);
        const nnz = e.kernels.csr_cols_f32(ptr.ptr, idx.ptr, val.ptr, src.ptr, A, Bd, inner);
        const want = csrColsOracle(srcData, A, Bd, inner);
        assert.is(nnz, want.idx.length, `${what}: nnz`);
        assert.equal(Array.from(ptr.view), want.ptr, `${what}: ptr`);
        assert.equal(Array.from(idx.view.subarray(0, nnz)), want.idx, `${what}: idx`);
        assertClose(val.view.subarray(0, nnz), want.val, 0, `${what}: val`);
        for (const b of [ptr, idx, val]) assertGuards(b, what);
        assertClose(src.view, srcData, 0, `${what}: left src alone`);
      }
    }
  });

  test(`csr_cols_f32 [${e.flavor}] keeps NaN and ±Inf entries (they must reach the product)`, () => {
    const arena = new Arena(e.memory);
    const srcData = Float32Array.from([0, NaN, 0, Infinity, -0, 2, -Infinity, 0]);
    const src = buf(arena, srcData), ptr = ibuf(arena, 5), idx = ibuf(arena, 8), val = buf(arena, 8);
    const nnz = e.kernels.csr_cols_f32(ptr.ptr, idx.ptr, val.ptr, src.ptr, 2, 1, 4); // X = [[0, NaN, 0, Inf], [−0, 2, −Inf, 0]]
    assert.is(nnz, 4);
    assert.equal(Array.from(ptr.view), [0, 0, 2, 3, 4]);
    assert.equal(Array.from(idx.view.subarray(0, 4)), [0, 1, 1, 0]);
    assert.equal(Array.from(val.view.subarray(0, 4)), [NaN, 2, -Infinity, Infinity]);
  });
}

// spmm shapes M×N×K (S is M×K, B is K×N); N covers the 32/16/4-float blocks and the scalar tail.
const SPMM: [number, number, number][] = [
  [0, 3, 4], [3, 0, 4], [3, 4, 0], [1, 1, 1], [3, 5, 2], [5, 17, 3], [17, 3, 5], [4, 33, 7], [7, 52, 5], [2, 61, 9],
  [256, 800, 64], // lenet conv2 dcolT = dyᵀ·W for a chunk of 4 images
  [576, 25, 32], // lenet conv1, one image
];

/** |got[i] − want[i]| ≤ rel·(1 + mag[i]) for every i, mag[i] = Σ|terms| of element i; reports the worst. */
function assertRelClose(got: Float32Array, want: Float64Array, mag: Float64Array, rel: number, what: string) {
  assert.is(got.length, want.length, `${what}: length`);
  let worst = 0, at = -1;
  for (let i = 0; i < want.length; i++) {
    const r = Math.abs(got[i] - want[i]) / (1 + mag[i]);
    if (!(r <= worst)) { worst = r; at = i; }
  }
  assert.ok(worst <= rel, `${what}: |diff|/(1 + Σ|terms|) ${worst.toExponential(2)} at ${at} (got ${got[at]}, want ${want[at]}), tol ${rel}`);
}

/** A random sparse S[M,K] in CSR, and the dense float64 copy. */
function randomCsr(rng: Rng, M: number, K: number, density: number, exact: boolean) {
  const dense = Float64Array.from(sparseData(rng, M * K, density, exact));
  const ptr = [0], idx: number[] = [], val: number[] = [];
  for (let i = 0; i < M; i++) {
    for (let k = 0; k < K; k++) if (dense[i * K + k] !== 0) { idx.push(k); val.push(dense[i * K + k]); }
    ptr.push(idx.length);
  }
  return { dense, ptr, idx, val };
}

for (const e of engines) {
  for (const [name, transposed] of [["spmm_f32", false], ["spmm_tn_f32", true]] as const) {
    // spmm: C[M,N] = S[M,K]·B[K,N]. spmm_tn: C[M,N] = Sᵀ·B with S[K,M] in CSR of K rows.
    test(`${name} [${e.flavor}] matches the float64 product, beta 0 and 1, writes only C`, () => {
      const rng = new Rng(transposed ? 303 : 302);
      for (const [M, N, K] of SPMM) {
        const big = M * N * K > 1e5; // the realistic shapes: the density lenet sees, normals only
        for (const density of big ? [0.15] : [0, 0.15, 1]) {
          for (const exact of big ? [false] : [true, false]) {
            for (const beta of [0, 1]) {
              const what = `${name} M${M} N${N} K${K} density ${density}${exact ? " quantized" : ""} beta ${beta}`;
              const arena = new Arena(e.memory);
              const s = transposed ? randomCsr(rng, K, M, density, exact) : randomCsr(rng, M, K, density, exact);
              const bData = exact ? quantized(rng, K * N) : normals(rng, K * N);
              const c0 = !beta ? new Float64Array(M * N) : exact ? quantized(rng, M * N) : normals(rng, M * N);
              const ptr = ibuf(arena, s.ptr), idx = ibuf(arena, s.idx), val = buf(arena, s.val), b = buf(arena, bData);
              const c = beta ? buf(arena, c0) : buf(arena, M * N); // beta 0: C starts as GUARD garbage
              if (transposed) e.kernels.spmm_tn_f32(c.ptr, ptr.ptr, idx.ptr, val.ptr, b.ptr, M, N, K, beta);
              else e.kernels.spmm_f32(c.ptr, ptr.ptr, idx.ptr, val.ptr, b.ptr, M, N, beta);
              const want = new Float64Array(M * N), mag = new Float64Array(M * N);
              const sv = (i: number, k: number) => (transposed ? s.dense[k * M + i] : s.dense[i * K + k]);
              for (let i = 0; i < M; i++)
                for (let j = 0; j < N; j++) {
                  let sum = beta ? Math.fround(c0[i * N + j]) : 0, m = Math.abs(sum);
                  for (let k = 0; k < K; k++) {
                    const a = sv(i, k);
                    if (a === 0) continue;
                    const t = Math.fround(a) * Math.fround(bData[k * N + j]);
                    sum += t; m += Math.abs(t);
                  }
                  want[i * N + j] = sum; mag[i * N + j] = m;
                }
              // Quantized data sums exactly in any order; normals get a bound relative to each Σ|terms|.
              if (exact) assertClose(c.view, want, 0, what);
              else assertRelClose(c.view, want, mag, 2e-6, what);
              assertGuards(c, what);
            }
          }
        }
      }
    });
  }

  test(`spmm_f32 and spmm_tn_f32 [${e.flavor}] propagate a NaN from S or B`, () => {
    const arena = new Arena(e.memory);
    // S = [[NaN, 0], [0, 1]] in CSR; B[2, 5] with an Inf·0-free second row.
    const ptr = ibuf(arena, [0, 1, 2]), idx = ibuf(arena, [0, 1]), val = buf(arena, [NaN, 1]);
    const b = buf(arena, [1, 2, 3, 4, 5, 1, 1, 1, 1, 1]), c = buf(arena, 10);
    e.kernels.spmm_f32(c.ptr, ptr.ptr, idx.ptr, val.ptr, b.ptr, 2, 5, 0);
    assert.ok(c.view.subarray(0, 5).every(Number.isNaN), `spmm row 0: ${Array.from(c.view)}`);
    assert.equal(Array.from(c.view.subarray(5)), [1, 1, 1, 1, 1]);
    e.kernels.spmm_tn_f32(c.ptr, ptr.ptr, idx.ptr, val.ptr, b.ptr, 2, 5, 2, 0);
    assert.ok(c.view.subarray(0, 5).every(Number.isNaN), `spmm_tn row 0: ${Array.from(c.view)}`);
    assert.equal(Array.from(c.view.subarray(5)), [1, 1, 1, 1, 1]);
  });
}

test("negative control: the spmm oracle catches a product that drops the last entry of a row", () => {
  const e = engines.find((x) => x.flavor === "reference")!;
  const arena = new Arena(e.memory);
  const ptr = ibuf(arena, [0, 2]), idx = ibuf(arena, [0, 1]), val = buf(arena, [1, 2]), b = buf(arena, [1, 1, 1, 1]);
  const shortPtr = ibuf(arena, [0, 1]), c = buf(arena, 2);
  e.kernels.spmm_f32(c.ptr, shortPtr.ptr, idx.ptr, val.ptr, b.ptr, 1, 2, 0); // drops (0, 1, 2)
  assert.equal(maxDiff(c.view, [3, 3]), { diff: 2, at: 0 });
  e.kernels.spmm_f32(c.ptr, ptr.ptr, idx.ptr, val.ptr, b.ptr, 1, 2, 0);
  assertClose(c.view, [3, 3], 0, "whole row");
});

test.run();
