// Centralized training (`cdl train`, the `centralized` baseline): the learning-rate schedule
// reaches the optimizer and runs over the whole run (not per epoch), a seeded run is reproducible,
// bad settings and divergence are one-line ConfigErrors; the optimizer step against hand-computed
// PyTorch SGD (weight decay at momentum 0 too), and its plain-SGD shortcut equals the momentum kernel.
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Dataset } from "../../src/data/dataset.ts";
import { makeSyntheticCifar } from "../../src/data/synthetic.ts";
import { ConfigError } from "../../src/errors.ts";
import { Net } from "../../src/nn/net.ts";
import { planModel } from "../../src/nn/spec.ts";
import { Rng } from "../../src/rng.ts";
import { loadEngine, type Flavor } from "../../src/wasm/loader.ts";
import { trainCentralized, type TrainConfig, type TrainProgress } from "../../src/train.ts";

const ds = makeSyntheticCifar({ train: 256, test: 64, seed: 3 });
const base: TrainConfig = {
  model: "mlp", epochs: 2, batch: 32, sgd: { lr: 0.02, momentum: 0, weightDecay: 0 },
  seed: 5, flavor: "simd", augment: false,
};

/** Every step's progress report of a run. */
async function steps(cfg: TrainConfig): Promise<TrainProgress[]> {
  const out: TrainProgress[] = [];
  await trainCentralized(ds, cfg, (p) => out.push(p));
  return out;
}

test("same config and seed ⇒ identical losses", async () => {
  const a = await trainCentralized(ds, base), b = await trainCentralized(ds, base);
  assert.equal(a.losses, b.losses);
  assert.is(a.losses.length, 16);
});

test("linear schedule: step 0 runs at the peak rate, step 1 at 15/16 of it, and the decayed rate reaches the optimizer", async () => {
  const constant = await trainCentralized(ds, base);
  const linear = await trainCentralized(ds, { ...base, lrSchedule: "linear" });
  assert.is(linear.losses[1], constant.losses[1], "step 0 of a linear decay uses the full rate");
  assert.is.not(linear.losses[2], constant.losses[2], "the decayed rate must reach the optimizer");
  const lr = (await steps({ ...base, lrSchedule: "linear" })).map((p) => p.lr);
  assert.equal(lr.slice(0, 2), [0.02, 0.02 * (15 / 16)]);
});

test("linear decay spans the whole run: the rate falls at every step, across epoch boundaries, from the peak to near 0", async () => {
  const peak = 0.02, run = await steps({ ...base, epochs: 3, lrSchedule: "linear" });
  const lr = run.map((p) => p.lr), total = lr.length; // 3 epochs of 8 steps
  assert.is(total, 24);
  assert.is(lr[0], peak, "the first step runs at the peak rate");
  for (let i = 1; i < total; i++) {
    const boundary = run[i].epoch !== run[i - 1].epoch ? ` (epoch ${run[i - 1].epoch} → ${run[i].epoch})` : "";
    assert.ok(lr[i] < lr[i - 1], `step ${i}${boundary}: rate ${lr[i]} after ${lr[i - 1]}`);
  }
  assert.ok(Math.abs(lr[total / 2] - peak / 2) < 1e-12, `half-way rate ${lr[total / 2]}, want ${peak / 2}`);
  assert.ok(lr[total - 1] > 0 && lr[total - 1] <= peak / total + 1e-12, `last rate ${lr[total - 1]}, want ${peak / total} (near 0)`);
});

test("warmup spans the whole run: half-run warmup rises through epoch 1 and does not restart in epoch 2", async () => {
  const peak = 0.02, lr = (await steps({ ...base, epochs: 2, warmup: 0.5 })).map((p) => p.lr); // 2 epochs of 8 steps
  assert.equal(lr.slice(0, 8), Array.from({ length: 8 }, (_, i) => peak * Math.min(1, (i + 1) / 8)));
  assert.ok(lr.slice(8).every((r) => r === peak), `epoch 2 rates ${lr.slice(8).join(", ")}`);
});

test("divergence is a one-line ConfigError naming --lr, and --weight-decay when it is set", async () => {
  const diverged = async (cfg: TrainConfig) => {
    try { await trainCentralized(ds, cfg); } catch (e) { return e as Error; }
    throw new Error(`lr ${cfg.sgd.lr} did not diverge`);
  };
  const plain = await diverged({ ...base, sgd: { lr: 1e6, momentum: 0, weightDecay: 0 } });
  assert.instance(plain, ConfigError);
  assert.match(plain.message, /^training diverged at epoch 1 step \d+ \(loss (NaN|-?Infinity)\): lower --lr \(now 1000000\)$/);
  const wd = await diverged({ ...base, sgd: { lr: 1e6, momentum: 0.9, weightDecay: 5e-4 } });
  assert.instance(wd, ConfigError);
  assert.match(wd.message, /: lower --lr \(now 1000000\) or --weight-decay \(now 0\.0005\)$/);
});

test("no training or test samples, or a non-integer number of epochs, is a ConfigError before any work (not NaN samples/s)", async () => {
  const refused = async (d: Dataset, cfg: TrainConfig, want: RegExp) => {
    try { await trainCentralized(d, cfg); } catch (e) {
      assert.instance(e, ConfigError);
      assert.match((e as Error).message, want);
      return;
    }
    assert.unreachable(`accepted ${JSON.stringify(cfg)}`);
  };
  await refused(ds, { ...base, trainLimit: 0 }, /^--train-limit 0 leaves no training samples \(synthetic-cifar has 256\); use at least 1$/);
  await refused(ds, { ...base, testLimit: 0 }, /^--test-limit 0 leaves no test samples \(synthetic-cifar has 64\); use at least 1$/);
  const empty = makeSyntheticCifar({ train: 0, test: 4 });
  await refused(empty, base, /^dataset synthetic-cifar has no training samples$/);
  await refused(ds, { ...base, epochs: 0 }, /^epochs must be a positive integer, got 0$/);
  await refused(ds, { ...base, epochs: 1.5 }, /^epochs must be a positive integer, got 1\.5$/);
  const one = await trainCentralized(ds, { ...base, epochs: 1, trainLimit: 1, testLimit: 1 });
  assert.ok(one.samples === 1 && Number.isFinite(one.samplesPerSecond) && one.samplesPerSecond > 0, `1 sample: ${one.samplesPerSecond} samples/s`);
});

for (const flavor of ["reference", "scalar", "simd"] as Flavor[]) {
  test(`${flavor}: plain SGD step is bit-identical to the momentum kernel at momentum 0 and leaves the buffer untouched`, async () => {
    const net = new Net(await loadEngine({ flavor, memoryMB: 8 }), planModel("mlp", [1, 28, 28], 10), 4);
    const a = net.newParams(), b = net.newParams();
    net.init(a.theta, new Rng(9));
    b.theta.view.set(a.theta.view);
    const g = new Rng(10);
    for (let i = 0; i < net.numParams; i++) net.grad.view[i] = g.normal();
    net.sgdStep(a, { lr: 0.037, momentum: 0, weightDecay: 0 });
    net.engine.kernels.sgd_momentum_f32(b.theta.ptr, net.grad.ptr, b.momentum.ptr, net.numParams, 0.037, 0, 0);
    let diff = 0;
    for (let i = 0; i < net.numParams; i++) if (a.theta.view[i] !== b.theta.view[i]) diff++;
    assert.is(diff, 0, `${diff} parameters differ`);
    assert.ok(a.momentum.view.every((v) => v === 0), "the momentum buffer was written");
    assert.ok(b.theta.view.some((v, i) => v !== net.grad.view[i]), "sanity: the step did something");
  });
}

/** θ and g drawn N(0, 1) into a fresh parameter set and the net's gradient; returns float64 copies. */
function fill(net: Net, p: ReturnType<Net["newParams"]>, seed: number): { theta: Float64Array; g: Float64Array } {
  const r = new Rng(seed);
  for (let i = 0; i < net.numParams; i++) { p.theta.view[i] = r.normal(); net.grad.view[i] = r.normal(); }
  return { theta: Float64Array.from(p.theta.view), g: Float64Array.from(net.grad.view) };
}

function maxDiff(got: Float32Array, want: Float64Array): { diff: number; at: number } {
  let diff = 0, at = -1;
  for (let i = 0; i < want.length; i++) { const d = Math.abs(got[i] - want[i]); if (d > diff) { diff = d; at = i; } }
  return { diff, at };
}

for (const flavor of ["reference", "scalar", "simd"] as Flavor[]) {
  test(`${flavor}: momentum 0 with weight decay is θ − lr·(g + wd·θ), not plain SGD`, async () => {
    const net = new Net(await loadEngine({ flavor, memoryMB: 8 }), planModel("mlp", [1, 28, 28], 10), 4);
    const p = net.newParams(), lr = 0.5, wd = 0.1;
    const { theta, g } = fill(net, p, 21);
    net.sgdStep(p, { lr, momentum: 0, weightDecay: wd });
    const want = theta.map((t, i) => t - lr * (g[i] + wd * t));
    // The decay term lr·wd·θ is ~0.05 a parameter: dropping it misses by far more than f32 rounding.
    const { diff, at } = maxDiff(p.theta.view, want);
    assert.ok(diff < 1e-5, `max difference ${diff.toExponential(2)} at ${at}: got ${p.theta.view[at]}, want ${want[at]} (plain SGD: ${theta[at] - lr * g[at]})`);
  });

  test(`${flavor}: two momentum steps with weight decay follow PyTorch (buf = μ·buf + g + wd·θ; θ −= lr·buf)`, async () => {
    const net = new Net(await loadEngine({ flavor, memoryMB: 8 }), planModel("mlp", [1, 28, 28], 10), 4);
    const p = net.newParams(), opt = { lr: 0.1, momentum: 0.9, weightDecay: 0.05 };
    const { theta, g: g1 } = fill(net, p, 22);
    net.sgdStep(p, opt);
    const buf = g1.map((g, i) => g + opt.weightDecay * theta[i]);
    const t1 = theta.map((t, i) => t - opt.lr * buf[i]);
    const r = new Rng(23);
    for (let i = 0; i < net.numParams; i++) net.grad.view[i] = r.normal();
    const g2 = Float64Array.from(net.grad.view);
    net.sgdStep(p, opt);
    const t2 = t1.map((t, i) => t - opt.lr * (opt.momentum * buf[i] + g2[i] + opt.weightDecay * t));
    const { diff, at } = maxDiff(p.theta.view, t2);
    assert.ok(diff < 1e-5, `max difference ${diff.toExponential(2)} at ${at}: got ${p.theta.view[at]}, want ${t2[at]}`);
  });
}

test("a batch of 0 or more than the net's capacity is a RangeError, not a NaN loss", async () => {
  const net = new Net(await loadEngine({ memoryMB: 8 }), planModel("mlp", [1, 28, 28], 10), 4);
  const p = net.newParams();
  assert.throws(() => net.lossAndGrad(p.theta, 0), /batch of 0 samples: need 1\.\.4/);
  assert.throws(() => net.lossAndGrad(p.theta, 5), /need 1\.\.4/);
  assert.ok(Number.isFinite(net.lossAndGrad(p.theta, 4)));
});

test.run();
