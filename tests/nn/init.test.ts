// Initialisation: the default (`pytorch`) draws what PyTorch's Conv2d and Linear draw — weight and
// bias U(±1/√fan_in) — so every preset starts near loss ln(classes) on real data; the checker of
// those distributions must fail on the other schemes and on plausible mistakes (negative
// controls); the draws are the same bits on Node, Bun and Deno (recorded digest).
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Dataset } from "../../src/data/dataset.ts";
import { loadDataset } from "../../src/data/registry.ts";
import { makeSyntheticCifar } from "../../src/data/synthetic.ts";
import { Net, type InitScheme, type ParamSet } from "../../src/nn/net.ts";
import { planModel, PRESET_NAMES, type ModelPlan, type PresetName } from "../../src/nn/spec.ts";
import { Rng } from "../../src/rng.ts";
import { memoryMBFor } from "../../src/train.ts";
import { loadEngine } from "../../src/wasm/loader.ts";

const mnist = await loadDataset("mnist-10k"), cifar = makeSyntheticCifar({ train: 16, test: 256, seed: 4 });
/** The dataset each preset is meant for (real digits for the 28×28 models). */
const DATA: Record<PresetName, Dataset> = { mlp: mnist, lenet: mnist, "cifar-cnn": cifar };
const BATCH = 32;
const plans = PRESET_NAMES.map((m) => planModel(m, DATA[m].shape, DATA[m].classes));
const engine = await loadEngine({ memoryMB: memoryMBFor(plans.reduce((s, plan) => s + Net.bytesNeeded(plan, BATCH) + Net.paramSetBytes(plan), 0)) });

/** One net and one parameter set per preset, made on first use (the engine's memory is not reclaimed). */
const nets = new Map<PresetName, { net: Net; p: ParamSet }>();
function netFor(model: PresetName): { net: Net; p: ParamSet } {
  if (!nets.has(model)) {
    const net = new Net(engine, plans[PRESET_NAMES.indexOf(model)], BATCH);
    nets.set(model, { net, p: net.newParams() });
  }
  return nets.get(model)!;
}

/** Mean cross-entropy of θ drawn with (seed, scheme) on the first 256 test samples of the preset's dataset. */
function initialLoss(model: PresetName, seed: number, scheme?: InitScheme): number {
  const { net, p } = netFor(model), ds = DATA[model];
  net.init(p.theta, new Rng(seed), scheme);
  return net.evaluate(p.theta, ds, ds.test, { limit: 256 }).loss;
}

/** |loss − ln(classes)| must be below this; the old default (He-normal, biases 0) starts 0.5–4 above. */
const BAND = 0.15;

test("the presets under test are exactly spec.ts's presets", () => {
  assert.equal(Object.keys(DATA).sort(), [...PRESET_NAMES].sort());
});

for (const model of PRESET_NAMES) {
  test(`${model}: the default init starts at loss ≈ ln(classes) (seeds 1–3)`, () => {
    const lnC = Math.log(DATA[model].classes);
    for (const seed of [1, 2, 3]) {
      const loss = initialLoss(model, seed);
      assert.ok(Math.abs(loss - lnC) < BAND, `seed ${seed}: loss ${loss.toFixed(4)}, ln ${DATA[model].classes} = ${lnC.toFixed(4)}`);
    }
  });

  test(`${model}: negative control — He-normal (the old default) starts outside the band`, () => {
    const loss = initialLoss(model, 1, "he"), lnC = Math.log(DATA[model].classes);
    assert.ok(Math.abs(loss - lnC) >= BAND, `He init gave loss ${loss.toFixed(4)}, within ${BAND} of ${lnC.toFixed(4)}`);
  });
}

/** fan_in of a layer with parameters, from its input shape (not from the parameter counts). */
const fanIn = (l: ModelPlan["layers"][number]) => (l.spec.type === "conv2d" ? l.inShape[0] * l.k! * l.k! : l.inShape[0]);

/**
 * Everything wrong with θ as a draw of PyTorch's default init: per layer, weights outside
 * ±1/√fan_in or with mean/variance more than 5 standard errors from 0 and 1/(3·fan_in); over all
 * layers, biases scaled by √fan_in outside ±1 or with variance off 1/3 the same way.
 */
function initProblems(plan: ModelPlan, theta: Float32Array): string[] {
  const out: string[] = [];
  const moments = (xs: ArrayLike<number>, bound: number, what: string) => {
    const n = xs.length;
    let s = 0, s2 = 0, worst = 0;
    for (let i = 0; i < n; i++) { s += xs[i]; s2 += xs[i] * xs[i]; worst = Math.max(worst, Math.abs(xs[i])); }
    const mean = s / n, meanSq = s2 / n, want = (bound * bound) / 3;
    // U(−b, b): sd of the sample mean b/√(3n); Var(w²) = 4b⁴/45, so sd of the mean square √(4/45)·b²/√n.
    if (worst > Math.fround(bound)) out.push(`${what}: |value| up to ${worst} > bound ${bound}`);
    if (Math.abs(mean) > (5 * bound) / Math.sqrt(3 * n)) out.push(`${what}: mean ${mean} (n ${n}, bound ${bound})`);
    if (Math.abs(meanSq - want) > (5 * Math.sqrt(4 / 45) * bound * bound) / Math.sqrt(n)) out.push(`${what}: variance ${meanSq}, want ${want}`);
  };
  const biases: number[] = [];
  plan.layers.forEach((l, i) => {
    if (!l.weightCount) return;
    const b = 1 / Math.sqrt(fanIn(l)), w0 = l.paramOffset, b0 = w0 + l.weightCount;
    moments(theta.subarray(w0, b0), b, `layer ${i} (${l.spec.type}) weight`);
    for (let j = b0; j < b0 + l.biasCount; j++) biases.push(theta[j] / b);
  });
  moments(biases, 1, "biases × √fan_in");
  return out;
}

function drawn(model: PresetName, scheme?: InitScheme, seed = 1): { plan: ModelPlan; theta: Float32Array } {
  const { net, p } = netFor(model);
  net.init(p.theta, new Rng(seed), scheme);
  return { plan: net.plan, theta: p.theta.view.slice() };
}

for (const model of PRESET_NAMES) {
  test(`${model}: default weights and biases are U(±1/√fan_in), layer by layer`, () => {
    for (const seed of [1, 2]) {
      const { plan, theta } = drawn(model, undefined, seed);
      assert.equal(initProblems(plan, theta), [], `seed ${seed}`);
      assert.equal(drawn(model, "pytorch", seed).theta, theta, "the default is the pytorch scheme");
    }
  });
}

test("negative controls: the distribution check fails on other schemes and plausible mistakes", () => {
  const { plan, theta } = drawn("lenet");
  const fails = (what: string, t: Float32Array) => assert.ok(initProblems(plan, t).length > 0, `${what} passed the check`);
  fails("He-normal", drawn("lenet", "he").theta);
  fails("Glorot-uniform", drawn("lenet", "glorot").theta);
  const zeroBias = theta.slice(), fanOut = theta.slice(), slightlyWide = theta.slice();
  const rng = new Rng(7);
  for (const l of plan.layers) {
    if (!l.weightCount) continue;
    zeroBias.fill(0, l.paramOffset + l.weightCount, l.paramOffset + l.weightCount + l.biasCount);
    // The bound from fan_out (OC·KH·KW or out_features) instead of fan_in.
    const out = l.spec.type === "conv2d" ? l.biasCount * l.k! * l.k! : l.biasCount;
    for (let i = l.paramOffset; i < l.paramOffset + l.weightCount; i++) fanOut[i] = (2 * rng.uniform() - 1) / Math.sqrt(out);
  }
  for (let i = 0; i < slightlyWide.length; i++) slightlyWide[i] *= 1.1;
  fails("biases left at 0", zeroBias);
  fails("bound from fan_out", fanOut);
  fails("everything 10% too wide", slightlyWide);
});

test("draw order is PyTorch's: layer by layer, weight then bias, each (2u − 1)/√fan_in", () => {
  const net = new Net(engine, planModel([{ type: "dense", out: 2 }, { type: "dense", out: 3 }], [5], 3), 1);
  const p = net.newParams();
  net.init(p.theta, new Rng(11));
  const u = new Rng(11), want: number[] = [];
  for (const [count, fan] of [[10, 5], [2, 5], [6, 2], [3, 2]]) {
    for (let i = 0; i < count; i++) want.push(Math.fround((2 * u.uniform() - 1) / Math.sqrt(fan)));
  }
  assert.equal([...p.theta.view], want);
});

// FNV-1a over the bits of lenet's θ at seed 1, recorded on Node; the same on Bun and Deno because
// the draws use only uniform(), ×, − and √.
const LENET_SEED1_DIGEST = "3ff3cb1e";

test("the default draws are the same bits on every runtime (recorded digest)", () => {
  const bits = new Uint32Array(drawn("lenet").theta.buffer);
  let h = 0x811c9dc5;
  for (let i = 0; i < bits.length; i++) h = Math.imul(h ^ bits[i], 0x01000193) >>> 0;
  assert.is(h.toString(16).padStart(8, "0"), LENET_SEED1_DIGEST);
  assert.not.equal(drawn("lenet", undefined, 2).theta, drawn("lenet").theta, "another seed draws another θ");
});

test("an unknown scheme is a RangeError naming the allowed ones", () => {
  const { net, p } = netFor("mlp");
  assert.throws(() => net.init(p.theta, new Rng(1), "xavier" as InitScheme), /unknown init scheme 'xavier' \(allowed: pytorch, he, glorot\)/);
});

test.run();
