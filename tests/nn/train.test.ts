// Centralized training (`cdl train`, the `centralized` baseline): the learning-rate schedule
// reaches the optimizer, a seeded run is reproducible, and the plain-SGD shortcut of the optimizer
// step equals the momentum kernel.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { makeSyntheticCifar } from "../../src/data/synthetic.ts";
import { Net } from "../../src/nn/net.ts";
import { planModel } from "../../src/nn/spec.ts";
import { Rng } from "../../src/rng.ts";
import { loadEngine, type Flavor } from "../../src/wasm/loader.ts";
import { trainCentralized, type TrainConfig } from "../../src/train.ts";

const ds = makeSyntheticCifar({ train: 256, test: 64, seed: 3 });
const base: TrainConfig = {
  model: "mlp", epochs: 2, batch: 32, sgd: { lr: 0.02, momentum: 0, weightDecay: 0 },
  seed: 5, flavor: "simd", init: "he", augment: false,
};

test("same config and seed ⇒ identical losses", async () => {
  const a = await trainCentralized(ds, base), b = await trainCentralized(ds, base);
  assert.equal(a.losses, b.losses);
  assert.is(a.losses.length, 16);
});

test("linear schedule: step 0 runs at the peak rate, step 1 at 15/16 of it; full warmup starts near 0", async () => {
  const constant = await trainCentralized(ds, base);
  const linear = await trainCentralized(ds, { ...base, lrSchedule: "linear" });
  assert.is(linear.losses[1], constant.losses[1], "step 0 of a linear decay uses the full rate");
  assert.is.not(linear.losses[2], constant.losses[2], "the decayed rate must reach the optimizer");
  // With warmup over the whole run the first step's rate is lr/16: the second loss stays closer to the first.
  const warm = await trainCentralized(ds, { ...base, warmup: 1 });
  const moved = (r: { losses: number[] }) => Math.abs(r.losses[1] - r.losses[0]);
  assert.ok(moved(warm) < moved(constant), `warmup step moved the loss by ${moved(warm)}, constant by ${moved(constant)}`);
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

test("a batch of 0 or more than the net's capacity is a RangeError, not a NaN loss", async () => {
  const net = new Net(await loadEngine({ memoryMB: 8 }), planModel("mlp", [1, 28, 28], 10), 4);
  const p = net.newParams();
  assert.throws(() => net.lossAndGrad(p.theta, 0), /batch of 0 samples: need 1\.\.4/);
  assert.throws(() => net.lossAndGrad(p.theta, 5), /need 1\.\.4/);
  assert.ok(Number.isFinite(net.lossAndGrad(p.theta, 4)));
});

test.run();
