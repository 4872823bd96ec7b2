// Finite-difference gradient checks of every layer and the loss: the engine's f32 analytic
// gradient against central differences of an independent float64 oracle, on every kernel
// flavor; plus negative controls showing the check does catch a wrong gradient.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Net } from "../../src/nn/net.ts";
import { planModel, type LayerSpec, type Shape } from "../../src/nn/spec.ts";
import { Rng } from "../../src/rng.ts";
import { loadEngine, type Flavor } from "../../src/wasm/loader.ts";
import { gradError, numericGrad } from "./oracle.ts";

const TOL = 2e-3;

const CASES: { name: string; input: Shape; layers: LayerSpec[] }[] = [
  { name: "dense + loss", input: [7], layers: [{ type: "dense", out: 4 }] },
  { name: "dense → relu → dense", input: [6], layers: [{ type: "dense", out: 5 }, { type: "relu" }, { type: "dense", out: 4 }] },
  { name: "conv 3×3 valid", input: [2, 5, 5], layers: [{ type: "conv2d", out: 3, kernel: 3 }, { type: "flatten" }, { type: "dense", out: 4 }] },
  { name: "conv stride 2 pad 1", input: [2, 6, 5], layers: [{ type: "conv2d", out: 3, kernel: 3, stride: 2, padding: 1 }, { type: "flatten" }, { type: "dense", out: 4 }] },
  { name: "conv same → relu → conv", input: [1, 5, 5], layers: [
    { type: "conv2d", out: 2, kernel: 3, padding: "same" }, { type: "relu" },
    { type: "conv2d", out: 3, kernel: 3, padding: "same" }, { type: "flatten" }, { type: "dense", out: 4 }] },
  { name: "maxpool 2", input: [2, 6, 6], layers: [
    { type: "conv2d", out: 2, kernel: 3, padding: 1 }, { type: "maxpool2d", kernel: 2 }, { type: "flatten" }, { type: "dense", out: 4 }] },
  { name: "maxpool 3 stride 2", input: [1, 7, 7], layers: [
    { type: "conv2d", out: 2, kernel: 3 }, { type: "maxpool2d", kernel: 3, stride: 2 }, { type: "flatten" }, { type: "dense", out: 4 }] },
  // Conv2D works a few images at a time (CHUNK_COLUMNS = 256 output pixels): 100 pixels an image is 2 images
  // a chunk, so the batch of 3 is a full and a partial chunk; 256 is one image a chunk, and the second
  // conv's dx crosses chunks.
  { name: "conv over chunks of 2 images (batch 3)", input: [1, 12, 12], layers: [
    { type: "conv2d", out: 2, kernel: 3 }, { type: "maxpool2d", kernel: 2 }, { type: "flatten" }, { type: "dense", out: 4 }] },
  { name: "conv same → relu → conv, one image a chunk", input: [1, 16, 16], layers: [
    { type: "conv2d", out: 2, kernel: 3, padding: "same" }, { type: "relu" },
    { type: "conv2d", out: 1, kernel: 3, padding: "same" }, { type: "maxpool2d", kernel: 4 }, { type: "flatten" }, { type: "dense", out: 4 }] },
  // Runs as conv → maxpool → relu (executionOrder in src/nn/net.ts).
  { name: "conv → relu → maxpool 2", input: [2, 6, 6], layers: [
    { type: "conv2d", out: 2, kernel: 3, padding: 1 }, { type: "relu" }, { type: "maxpool2d", kernel: 2 }, { type: "flatten" }, { type: "dense", out: 4 }] },
  { name: "dropout", input: [6], layers: [{ type: "dense", out: 8 }, { type: "dropout", p: 0.4 }, { type: "dense", out: 4 }] },
];

/** Kernels called by the last check(): which Conv2D backward path ran (spmm_* sparse, gemm_* dense). */
const called = new Set<string>();

async function check(flavor: Flavor, c: (typeof CASES)[number], seed: number, corrupt?: (g: Float32Array) => void) {
  const B = 3, plan = planModel(c.layers, c.input, 4);
  const engine = await loadEngine({ flavor, memoryMB: 4 });
  const raw = engine.kernels as unknown as Record<string, (...a: number[]) => number>;
  const kernels = Object.fromEntries(Object.entries(raw).map(([name, f]) => [name, (...a: number[]) => (called.add(name), f(...a))]));
  called.clear();
  const net = new Net({ ...engine, kernels } as unknown as typeof engine, plan, B);
  const p = net.newParams();
  const rng = new Rng(seed);
  net.init(p.theta, rng, "glorot");
  for (let i = 0; i < p.theta.view.length; i++) p.theta.view[i] += 0.1 * rng.normal(); // non-zero biases too
  for (let i = 0; i < net.input.view.length; i++) net.input.view[i] = rng.normal();
  for (let b = 0; b < B; b++) net.labels.view[b] = rng.int(4);
  const dropSeed = seed + 7;
  net.lossAndGrad(p.theta, B, new Rng(dropSeed));
  const analytic = Float32Array.from(net.grad.view);
  corrupt?.(analytic);
  const numeric = numericGrad(plan, Float64Array.from(p.theta.view), Float64Array.from(net.input.view), net.labels.view, B, dropSeed);
  return gradError(analytic, numeric);
}

for (const flavor of ["reference", "scalar", "simd"] as Flavor[]) {
  for (const c of CASES) {
    test(`${flavor}: ${c.name} gradient matches float64 finite differences`, async () => {
      for (const seed of [1, 2]) {
        const e = await check(flavor, c, seed);
        assert.ok(e.rel < TOL, `seed ${seed}: relative error ${e.rel.toExponential(2)} at parameter ${e.at} (tolerance ${TOL})`);
      }
    });
  }
}

// Conv2D's backward multiplies only dy's nonzeros when dy is sparse (SPARSE_MAX_DENSITY): below a
// max pool it is (≤ 25% nonzero), straight into a dense layer it is not. Both paths must have been
// checked above.
test("the gradient checks cover both Conv2D backward paths (sparse below a max pool, dense otherwise)", async () => {
  const byName = (n: string) => CASES.find((c) => c.name === n)!;
  for (const name of ["maxpool 2", "conv → relu → maxpool 2", "conv over chunks of 2 images (batch 3)"]) {
    await check("simd", byName(name), 1);
    assert.ok(called.has("spmm_tn_f32") && called.has("csr_cols_f32"), `${name}: sparse dW path not taken (${[...called].join(", ")})`);
  }
  // The second conv feeds a 4×4 max pool and needs dx (the first conv's dy): sparse dcolT too.
  await check("simd", byName("conv same → relu → conv, one image a chunk"), 1);
  assert.ok(called.has("spmm_f32"), `sparse dx path not taken (${[...called].join(", ")})`);
  for (const name of ["conv 3×3 valid", "conv stride 2 pad 1"]) {
    await check("simd", byName(name), 1);
    assert.not.ok(called.has("spmm_tn_f32"), `${name}: a dense dy took the sparse path`);
  }
});

test("negative control: a wrong gradient fails the check", async () => {
  const conv = CASES[3], dense = CASES[1];
  // One entry off by 5% of the largest gradient.
  let e = await check("simd", conv, 1, (g) => { let m = 0; for (const v of g) m = Math.max(m, Math.abs(v)); g[3] += 0.05 * m; });
  assert.ok(e.rel > TOL, `a perturbed gradient passed (error ${e.rel})`);
  // The dense weight gradient transposed, a classic layout bug.
  e = await check("simd", dense, 1, (g) => {
    const w = g.slice(0, 30); // [5, 6]
    for (let i = 0; i < 5; i++) for (let j = 0; j < 6; j++) g[j * 5 + i] = w[i * 6 + j];
  });
  assert.ok(e.rel > TOL, `a transposed weight gradient passed (error ${e.rel})`);
  // The bias gradient forgotten.
  e = await check("simd", CASES[0], 1, (g) => g.fill(0, 28));
  assert.ok(e.rel > TOL, `a zero bias gradient passed (error ${e.rel})`);
});

test.run();
