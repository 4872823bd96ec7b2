// The net runs `relu → maxpool2d` as `maxpool2d → relu` (executionOrder in src/nn/net.ts): exact
// because max and ReLU commute. Checked at the kernel level on every engine — values with ties,
// zeros, −0, all-negative and overlapping windows, both orders bit for bit — and at the net level.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { executionOrder, Net } from "../../src/nn/net.ts";
import { planModel, type LayerSpec } from "../../src/nn/spec.ts";
import { Rng } from "../../src/rng.ts";
import { Arena } from "../../src/wasm/arena.ts";
import { FLAVORS, loadEngine } from "../../src/wasm/loader.ts";

const engines = await Promise.all(FLAVORS.map((flavor) => loadEngine({ flavor, memoryMB: 8 })));

/** Values drawn from a small set (many exact ties), most of them ≤ 0 (so some windows are all ≤ 0), some −0. */
function tied(rng: Rng, n: number): Float32Array {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) { const r = rng.int(7); v[i] = r === 0 ? -0 : (r - 4) * 0.25; }
  return v;
}

const sameBits = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((x, i) => Object.is(x, b[i]));

for (const e of engines) {
  for (const [H, K, stride] of [[8, 2, 2], [9, 3, 2], [7, 3, 1]]) {
    test(`${e.build ?? e.flavor}: relu∘pool = pool∘relu bit for bit, forward and backward (H ${H}, k ${K}, stride ${stride})`, () => {
      const rng = new Rng(H * 10 + K);
      const BC = 6, OH = Math.floor((H - K) / stride) + 1, n = BC * H * H, m = BC * OH * OH;
      const arena = new Arena(e.memory), k = e.kernels;
      const x = arena.f32(n, "x"), r = arena.f32(n, "relu(x)"), y1 = arena.f32(m, "y1"), y2 = arena.f32(m, "y2"), p = arena.f32(m, "pool(x)");
      const a1 = arena.i32(m, "arg1"), a2 = arena.i32(m, "arg2");
      const dy1 = arena.f32(m, "dy1"), dy2 = arena.f32(m, "dy2"), dx1 = arena.f32(n, "dx1"), dx2 = arena.f32(n, "dx2");
      x.view.set(tied(rng, n));
      const up = tied(rng, m);
      // plan order: relu then pool; backward: pool then relu (in place on dx1).
      k.relu_fwd_f32(r.ptr, x.ptr, n);
      k.maxpool2d_fwd_f32(y1.ptr, a1.ptr, r.ptr, BC, H, H, K, K, stride, OH, OH);
      dy1.view.set(up);
      k.maxpool2d_bwd_f32(dx1.ptr, dy1.ptr, a1.ptr, BC, H, H, OH, OH);
      k.relu_bwd_f32(dx1.ptr, dx1.ptr, r.ptr, n);
      // run order: pool then relu; backward: relu (in place on dy2) then pool.
      k.maxpool2d_fwd_f32(p.ptr, a2.ptr, x.ptr, BC, H, H, K, K, stride, OH, OH);
      k.relu_fwd_f32(y2.ptr, p.ptr, m);
      dy2.view.set(up);
      k.relu_bwd_f32(dy2.ptr, dy2.ptr, y2.ptr, m);
      k.maxpool2d_bwd_f32(dx2.ptr, dy2.ptr, a2.ptr, BC, H, H, OH, OH);
      assert.ok(sameBits(y1.view, y2.view), "forward outputs differ");
      assert.ok(sameBits(dx1.view, dx2.view), "input gradients differ");
      assert.ok(dx1.view.some((v) => v !== 0) && y1.view.some((v) => v === 0) && y1.view.some((v) => v > 0), "the case exercises both active and inactive windows");
    });
  }
}

test("negative control: a map that does not commute with max (negation) is caught", () => {
  const e = engines[0], k = e.kernels, arena = new Arena(e.memory);
  const BC = 2, H = 4, OH = 2, n = BC * H * H, m = BC * OH * OH;
  const x = arena.f32(n, "x"), nx = arena.f32(n, "-x"), y1 = arena.f32(m, "y1"), y2 = arena.f32(m, "y2"), arg = arena.i32(m, "arg");
  x.view.set(tied(new Rng(9), n));
  nx.view.set(x.view);
  k.scale_f32(nx.ptr, n, -1);
  k.maxpool2d_fwd_f32(y1.ptr, arg.ptr, nx.ptr, BC, H, H, 2, 2, 2, OH, OH);
  k.maxpool2d_fwd_f32(y2.ptr, arg.ptr, x.ptr, BC, H, H, 2, 2, 2, OH, OH);
  k.scale_f32(y2.ptr, m, -1);
  assert.not.ok(sameBits(y1.view, y2.view), "max(−x) and −max(x) compared equal");
});

const spec = (order: "relu-pool" | "pool-relu"): LayerSpec[] => [
  { type: "conv2d", out: 4, kernel: 3 },
  ...(order === "relu-pool" ? [{ type: "relu" }, { type: "maxpool2d", kernel: 2 }] : [{ type: "maxpool2d", kernel: 2 }, { type: "relu" }]) as LayerSpec[],
  { type: "flatten" }, { type: "dense", out: 10 },
];

test("executionOrder swaps relu → maxpool2d and nothing else", () => {
  const order = executionOrder(planModel(spec("relu-pool"), [1, 10, 10], 10).layers).map((l) => l.spec.type);
  assert.equal(order, ["conv2d", "maxpool2d", "relu", "flatten", "dense"]);
  const kept = executionOrder(planModel(spec("pool-relu"), [1, 10, 10], 10).layers).map((l) => l.spec.type);
  assert.equal(kept, ["conv2d", "maxpool2d", "relu", "flatten", "dense"]);
  const lenet = executionOrder(planModel("lenet", [1, 28, 28], 10).layers);
  assert.equal(lenet.map((l) => l.spec.type), ["conv2d", "maxpool2d", "relu", "conv2d", "maxpool2d", "relu", "flatten", "dense", "relu", "dense"]);
  assert.equal(lenet[2].outShape, [32, 12, 12], "the moved ReLU has the pooled shape");
});

test("a net planned relu → pool trains exactly like the same net planned pool → relu", async () => {
  const engine = await loadEngine({ memoryMB: 8 });
  const run = (order: "relu-pool" | "pool-relu") => {
    const net = new Net(engine, planModel(spec(order), [1, 10, 10], 10), 4);
    const p = net.newParams();
    net.init(p.theta, new Rng(3));
    const rng = new Rng(4);
    const losses: number[] = [];
    for (let s = 0; s < 5; s++) {
      for (let i = 0; i < 400; i++) net.input.view[i] = rng.normal();
      for (let b = 0; b < 4; b++) net.labels.view[b] = rng.int(10);
      losses.push(net.trainStep(p, 4, { lr: 0.1, momentum: 0.9, weightDecay: 0 }));
    }
    return { losses, theta: p.theta.view.slice() };
  };
  const a = run("relu-pool"), b = run("pool-relu");
  assert.equal(a.losses, b.losses);
  assert.ok(sameBits(a.theta, b.theta), "parameters differ after 5 steps");
});

test.run();
