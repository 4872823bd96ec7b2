// Conformance of gemm_nn/nt/tn_f32 over {TS reference, wasm scalar, wasm SIMD} against a float64
// oracle computed here: every (M, N, K) in {0,1,3,5,17}³, shapes that cross the kernels' tile and
// cache-block edges, and the shapes the dense and im2col conv layers use. beta 0 (C starts as
// NaN, which must be overwritten) and beta 1 (C accumulates). C must be untouched past [M,N],
// A and B untouched everywhere.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Rng } from "../../src/rng.ts";
import { GEMM_WS_FLOATS, type Kernels } from "../../src/wasm/kernels.ts";
import type { F32Buf } from "../../src/wasm/arena.ts";
import { FLAVORS, loadEngine, relaxedSimd, SIMD_BUILDS, simdBuild, type Engine } from "../../src/wasm/loader.ts";

type Variant = "nn" | "nt" | "tn";
const VARIANTS: readonly Variant[] = ["nn", "nt", "tn"];
const SENTINELS = 8;
const SENTINEL = -7777.25;

interface Case { M: number; N: number; K: number; beta: number; what: string }

/** Element strides of op(A)(i,k) and op(B)(k,j) for a variant, as [aRow, aK, bK, bCol]. */
function strides(v: Variant, M: number, N: number, K: number): [number, number, number, number] {
  if (v === "nn") return [K, 1, N, 1];
  if (v === "nt") return [K, 1, 1, K];
  return [1, M, N, 1];
}

/** C = op(A)·op(B) + beta·C in float64: the oracle. */
function oracle(v: Variant, a: Float32Array, b: Float32Array, c0: Float32Array, { M, N, K, beta }: Case): Float64Array {
  const [aRow, aK, bK, bCol] = strides(v, M, N, K);
  const out = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    if (v === "nt") {
      // Dot products: both operands contiguous along k.
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += a[i * K + k] * b[j * K + k];
        out[i * N + j] = s;
      }
    } else {
      // Row updates: B contiguous along j.
      for (let k = 0; k < K; k++) {
        const x = a[i * aRow + k * aK];
        for (let j = 0; j < N; j++) out[i * N + j] += x * b[k * bK + j * bCol];
      }
    }
    if (beta) for (let j = 0; j < N; j++) out[i * N + j] += c0[i * N + j];
  }
  return out;
}

function maxAbs(x: Float32Array): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]));
  return m;
}

/** Largest |got − want| and where; NaN counts as infinitely far. */
function maxDiff(got: Float32Array, want: Float64Array): { diff: number; at: number } {
  let diff = 0, at = -1;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    if (!(d <= diff)) { diff = Number.isNaN(d) ? Infinity : d; at = i; }
  }
  return { diff, at };
}

/** f32 rounding bound: every product and partial sum is within K·max|a|·max|b| of zero. */
function tolerance(a: Float32Array, b: Float32Array, c0: Float32Array, { K, beta }: Case): number {
  return 2 ** -18 * (K * maxAbs(a) * maxAbs(b) + (beta ? maxAbs(c0) : 0)) + 1e-30;
}

function uniform(rng: Rng, n: number): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = 2 * rng.uniform() - 1;
  return x;
}

const workspaces = new Map<Engine, F32Buf>();

/** Runs one case on one engine in fresh buffers (the arena never frees, so stale data cannot
 * pass for a result); checks the sentinels after C and that A and B are untouched. Returns C. */
function run(e: Engine, v: Variant, cs: Case, a: Float32Array, b: Float32Array, c0: Float32Array): Float32Array {
  const { M, N, K, beta } = cs;
  const aBuf = e.arena.f32(a.length + 1), bBuf = e.arena.f32(b.length + 1), cBuf = e.arena.f32(M * N + SENTINELS);
  aBuf.view.set(a);
  bBuf.view.set(b);
  cBuf.view.set(c0);
  cBuf.view.fill(SENTINEL, M * N);
  // The packing workspace is refilled with NaN for every case: stale packed data must never reach C.
  let ws = workspaces.get(e);
  if (ws === undefined) workspaces.set(e, ws = e.arena.f32(GEMM_WS_FLOATS));
  ws.view.fill(NaN);
  const kernel = e.kernels[`gemm_${v}_f32` as keyof Kernels] as (c: number, a: number, b: number, M: number, N: number, K: number, beta: number, ws: number) => void;
  kernel(cBuf.ptr, aBuf.ptr, bBuf.ptr, M, N, K, beta, ws.ptr);
  const where = label(e, v, cs);
  for (let i = M * N; i < M * N + SENTINELS; i++) {
    assert.is(cBuf.view[i], SENTINEL, `${where}: wrote past C[M,N] at element ${i}`);
  }
  for (let i = 0; i < a.length; i++) if (aBuf.view[i] !== a[i]) assert.unreachable(`${where}: modified A at ${i}`);
  for (let i = 0; i < b.length; i++) if (bBuf.view[i] !== b[i]) assert.unreachable(`${where}: modified B at ${i}`);
  return cBuf.view.slice(0, M * N);
}

function label(e: Engine, v: Variant, { M, N, K, beta, what }: Case): string {
  return `${e.build ?? e.flavor} gemm_${v} ${what} M=${M} N=${N} K=${K} beta=${beta}`;
}

function check(e: Engine, v: Variant, cs: Case, a: Float32Array, b: Float32Array, c0: Float32Array, want: Float64Array, tol: number): void {
  const got = run(e, v, cs, a, b, c0);
  const { diff, at } = maxDiff(got, want);
  const { N } = cs;
  assert.ok(diff <= tol, `${label(e, v, cs)}: max |diff| = ${diff} at [${Math.floor(at / N)},${at % N}] (got ${got[at]}, want ${want[at]}), tolerance ${tol}`);
}

function runCases(engines: Engine[], v: Variant, cases: Case[], seed: number): void {
  const rng = new Rng(seed);
  for (const cs of cases) {
    const { M, N, K, beta } = cs;
    const a = uniform(rng, M * K), b = uniform(rng, K * N);
    // beta = 0 must overwrite whatever C holds, even NaN; beta = 1 adds to it.
    const c0 = beta ? uniform(rng, M * N) : new Float32Array(M * N).fill(NaN);
    const want = oracle(v, a, b, c0, cs);
    const tol = tolerance(a, b, c0, cs);
    for (const e of engines) check(e, v, cs, a, b, c0, want, tol);
  }
}

const ODD = [0, 1, 3, 5, 17];
const smallCases: Case[] = [];
for (const M of ODD) for (const N of ODD) for (const K of ODD) for (const beta of [0, 1]) smallCases.push({ M, N, K, beta, what: "odd" });

// Tile and block edges of the packed SIMD kernel: 4×8 tiles, K-blocks of 256, N-blocks of 1024,
// column blocks of 128 inside them, M-blocks of 64; remainders of 1..3 rows and 1..7 columns, K % 4 (the 4×4 packing transposes).
const edgeCases: Case[] = [
  { M: 4, N: 8, K: 4, beta: 0, what: "one tile" },
  { M: 7, N: 15, K: 9, beta: 1, what: "tile + edges" },
  { M: 9, N: 531, K: 259, beta: 0, what: "blocks + edges" },
  { M: 6, N: 133, K: 517, beta: 1, what: "blocks + edges" },
  { M: 33, N: 70, K: 130, beta: 1, what: "blocks + edges" },
  { M: 67, N: 263, K: 258, beta: 1, what: "every block + edges" },
  { M: 65, N: 257, K: 257, beta: 0, what: "one past the M and K blocks" },
  { M: 9, N: 1031, K: 259, beta: 1, what: "N blocks + edges" },
  { M: 65, N: 1025, K: 257, beta: 0, what: "one past every block" },
];

// Layer shapes: dense 784→128 and conv1 (5×5, 1→32 channels, 24×24 outputs) at batch 32; conv2
// (5×5, 32→64 channels, 8×8 outputs) at batch 8 (P = 512) to keep the float64 oracle quick.
const layerCases: Record<Variant, Case[]> = {
  nn: [
    { M: 32, N: 784, K: 128, beta: 0, what: "dense dx" },
    { M: 32, N: 18432, K: 25, beta: 0, what: "conv1 fwd" },
    { M: 64, N: 512, K: 800, beta: 1, what: "conv2 fwd" },
  ],
  nt: [
    { M: 32, N: 128, K: 784, beta: 0, what: "dense fwd" },
    { M: 32, N: 25, K: 18432, beta: 1, what: "conv1 dW" },
    { M: 64, N: 800, K: 512, beta: 0, what: "conv2 dW" },
  ],
  tn: [
    { M: 128, N: 784, K: 32, beta: 1, what: "dense dW" },
    { M: 25, N: 18432, K: 32, beta: 0, what: "conv1 dcol" },
    { M: 800, N: 512, K: 64, beta: 0, what: "conv2 dcol" },
  ],
};

// One engine per flavor; 512 MB holds every buffer of the run without reuse (the packing
// workspace, 1.1 MB, is one per engine).
// Every SIMD build this runtime can run (the -fma ones need relaxed SIMD), besides the FLAVORS' own
// choice (see simdBuild()).
const otherBuilds = SIMD_BUILDS.filter((b) => b !== simdBuild() && (!b.includes("fma") || relaxedSimd()));
const engines = await Promise.all([...FLAVORS.map((flavor) => loadEngine({ flavor, memoryMB: 512 })),
  ...otherBuilds.map((b) => loadEngine({ flavor: "simd", memoryMB: 512, simdBuild: b }))]);

for (const v of VARIANTS) {
  test(`gemm_${v}: odd sizes {0,1,3,5,17}³, beta 0 and 1`, () => runCases(engines, v, smallCases, 1));
  test(`gemm_${v}: tile and cache-block edges`, () => runCases(engines, v, edgeCases, 2));
  test(`gemm_${v}: dense and conv layer shapes`, () => runCases(engines, v, layerCases[v], 3));
}

// -bc changes only how A is broadcast: the same operations in the same order.
for (const [xb, yb] of [["simd", "simd-bc"], ["simd-fma", "simd-fma-bc"]] as const) {
  const x = engines.find((e) => e.build === xb), y = engines.find((e) => e.build === yb);
  if (!x || !y) continue; // -fma without relaxed SIMD
  test(`${xb} and ${yb} give bit-identical products`, () => {
    const rng = new Rng(4);
    for (const v of VARIANTS) {
      for (const cs of [...layerCases[v], ...edgeCases]) {
        const a = uniform(rng, cs.M * cs.K), b = uniform(rng, cs.K * cs.N), c0 = uniform(rng, cs.M * cs.N);
        const p = run(x, v, cs, a, b, c0), q = run(y, v, cs, a, b, c0);
        const first = p.findIndex((value, i) => !Object.is(value, q[i]));
        assert.is(first, -1, `${label(x, v, cs)}: ${xb} and ${yb} differ at ${first} (${p[first]} vs ${q[first]})`);
      }
    }
  });
}

test("negative control: a wrong product fails the comparison", () => {
  const e = engines[0];
  const cs: Case = { M: 5, N: 3, K: 17, beta: 0, what: "control" };
  const rng = new Rng(4);
  const a = uniform(rng, cs.M * cs.K), b = uniform(rng, cs.K * cs.N), c0 = new Float32Array(cs.M * cs.N);
  // gemm_nt on these buffers computes A·Bᵀ with B read as [N,K]: not the nn product.
  const { diff } = maxDiff(run(e, "nt", cs, a, b, c0), oracle("nn", a, b, c0, cs));
  const tol = tolerance(a, b, c0, cs);
  assert.ok(diff > tol, `the nt result passed as the nn product: max |diff| ${diff}, tolerance ${tol}`);
  // ...while the right oracle accepts the same call.
  check(e, "nt", cs, a, b, c0, oracle("nt", a, b, c0, cs), tol);
});

test.run();
