// What the orchestration means, checked through the public API (runExperiment, RunSummary, the
// World handed to onStart/onEval): exact limits and small exact cases rather than golden digests,
// so a bug that changes numbers without changing event timing fails here for its own reason.
//   - nothing fresh in the inbox (latency > --max-staleness): cdl ends exactly where isolated ends
//   - a node whose θ turns NaN/Inf: its snapshots are rejected, its neighbours stay finite
//   - one fedavg round: the global model is the shard-size-weighted mean of the clients' models
//   - at t = 0 every node holds the same θ: consensus distance exactly 0
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runConfig, type RunConfig } from "../../src/experiment/config.ts";
import { runExperiment, type RunOptions, type RunSummary } from "../../src/experiment/run.ts";
import type { World } from "../../src/experiment/world.ts";
import { loadDataset } from "../../src/data/registry.ts";

const mnist = await loadDataset("mnist-10k");
const dir = mkdtempSync(join(tmpdir(), "cdl-meaning-"));
let runs = 0;

/** A tiny reliable run: 4 mlp nodes on a ring, 2 classes each, no failures, 20 steps per node. */
const tiny = (over: Partial<RunConfig> = {}): RunConfig => runConfig({
  dataset: "mnist-10k", model: "mlp", nodes: 4, topology: "ring", split: "classes:2", epochs: 1,
  trainLimit: 320, testLimit: 200, evalSamples: 50, batch: 4, lr: 0.05, stepCost: 0.02,
  out: join(dir, `r${runs++}`), ...over,
});

/** Runs cfg; returns its summary and the World (its nodes' θ as they are at the end). */
async function run(cfg: RunConfig, opts: RunOptions = {}): Promise<{ s: RunSummary; w: World }> {
  let world: World | undefined;
  const s = await runExperiment(cfg, { dataset: mnist, ...opts, onStart: (w) => { world = w; opts.onStart?.(w); } });
  return { s, w: world! };
}

const thetas = (w: World) => w.nodes.map((n) => n.params.theta.view.slice());
const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};
const allFinite = (a: ArrayLike<number>) => {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return false;
  return true;
};

test("latency > --max-staleness: no snapshot is ever fresh, so cdl ends exactly where isolated ends", async () => {
  const net = { latency: 0.1, maxStaleness: 0.05 };
  const cdl = await run(tiny({ ...net, algorithm: "cdl" }));
  const cdlTheta = thetas(cdl.w);
  const iso = await run(tiny({ ...net, algorithm: "isolated" }));
  assert.ok(cdl.s.messages.delivered > 100, `snapshots did arrive (${cdl.s.messages.delivered}), each 0.1 s old > 0.05 s`);
  const why = `with --latency ${net.latency} > --max-staleness ${net.maxStaleness} every snapshot is too old to mix, so cdl must not move any θ`;
  cdlTheta.forEach((th, i) => assert.is(maxAbsDiff(th, iso.w.nodes[i].params.theta.view), 0, `node ${i}: θ differs from isolated's; ${why}`));
  assert.equal(cdl.s.accuracy.perNode, iso.s.accuracy.perNode, `per-node accuracy; ${why}`);
  assert.equal(cdl.s.consensusDistance, iso.s.consensusDistance, `consensus distance; ${why}`);
  // Negative control: the same network with a staleness bound above the latency does mix.
  const mixed = await run(tiny({ latency: 0.1, maxStaleness: 1, algorithm: "cdl" }));
  assert.ok(mixed.s.consensusDistance.mean < 0.7 * iso.s.consensusDistance.mean,
    `--max-staleness 1 > latency: consensus pulls the nodes together (distance ${mixed.s.consensusDistance.mean} vs isolated ${iso.s.consensusDistance.mean})`);
});

test("a node whose θ turns NaN/Inf: neighbours reject its snapshots and stay finite", async () => {
  for (const [algorithm, bad] of [["cdl", NaN], ["cdl-on-receive", Infinity], ["dpsgd", -Infinity]] as const) {
    // Poisoned during the final agreement phase (no node learns any more, so nothing diverges
    // by its own loss); one value, the last, so the check must scan the vector's tail too.
    let poisonedAt = -1;
    const onEval = (e: { t: number }, w: World) => {
      if (poisonedAt < 0 && e.t > 0 && w.nodes.every((s) => s.steps >= s.budgetSteps)) {
        const th = w.nodes[0].params.theta.view;
        th[th.length - 1] = bad;
        poisonedAt = e.t;
      }
    };
    const { s, w } = await run(tiny({ algorithm, agreeSteps: 40, topology: "complete" }), { onEval });
    assert.ok(poisonedAt > 0, `${algorithm}: an evaluation point fell in the agreement phase`);
    assert.not.ok(allFinite(w.nodes[0].params.theta.view), `${algorithm}: node 0 still holds ${bad} (it shared it to the end)`);
    for (const n of w.nodes.slice(1)) {
      assert.ok(allFinite(n.params.theta.view), `${algorithm}: node ${n.id} took in node 0's ${bad} (poisoned at t=${poisonedAt}); a snapshot carrying NaN/Inf must be rejected on arrival`);
    }
    assert.ok(s.messages.rejected > 0, `${algorithm}: rejected snapshots counted (${s.messages.rejected})`);
    assert.ok(s.accuracy.perNode.slice(1).every((a) => a > 0.3), `${algorithm}: neighbours still classify (${s.accuracy.perNode})`);
  }
});

test("one fedavg round: the global model is the shard-size-weighted mean of the clients' models", async () => {
  // 2 clients of unequal shards, one round of one local step each, then the final broadcast
  // hands every client the global model. The first evaluation point after t = 0 falls after the
  // round and before the broadcast: the clients' own models.
  const got: { clients?: Float32Array[] } = {};
  const onEval = (e: { t: number }, w: World) => { if (e.t > 0 && !got.clients) got.clients = thetas(w); };
  const { s, w } = await run(tiny({
    algorithm: "fedavg", nodes: 2, topology: "complete", split: "dirichlet:0.3", trainLimit: 64, batch: 32, localSteps: 1, latency: 0,
  }), { onEval });
  const sizes = w.nodes.map((n) => n.shard.length);
  assert.is(s.steps.budget, 1, "one local step per client");
  assert.is(sizes[0] + sizes[1], 64);
  assert.ok(Math.abs(sizes[0] - sizes[1]) >= 16, `unequal shards (${sizes})`);
  assert.ok(got.clients, "an evaluation point between the round and the broadcast");
  const [a, b] = got.clients!;
  const N = sizes[0] + sizes[1];
  const weighted = a.map((x, i) => (sizes[0] / N) * x + (sizes[1] / N) * b[i]);
  const plain = a.map((x, i) => (x + b[i]) / 2);
  const tol = 1e-6;
  const sep = maxAbsDiff(weighted, plain);
  assert.ok(sep > 100 * tol, `the case tells the two means apart (they differ by ${sep})`);
  for (const n of w.nodes) {
    const d = maxAbsDiff(n.params.theta.view, weighted);
    assert.ok(d <= tol, `client ${n.id}: global model is ${d.toExponential(2)} from the mean weighted by shard sizes ${sizes} ` +
      `(and ${maxAbsDiff(n.params.theta.view, plain).toExponential(2)} from the unweighted mean)`);
  }
});

test("t = 0: every node starts from the same θ, consensus distance 0", async () => {
  for (const [algorithm, nodes] of [["cdl", 4], ["dpsgd", 3], ["fedavg", 5]] as const) {
    const got: { first?: Float32Array[] } = {};
    const onEval = (e: { t: number }, w: World) => { if (e.t === 0 && !got.first) got.first = thetas(w); };
    const { s } = await run(tiny({ algorithm, nodes, epochs: 0.2 }), { onEval });
    const first = got.first;
    assert.ok(first, `${algorithm}: an evaluation point at t = 0`);
    first!.forEach((th, i) => assert.is(maxAbsDiff(th, first![0]), 0, `${algorithm}: node ${i}'s initial θ differs from node 0's; every node must start from the common initial model`));
    const atZero = readFileSync(join(s.out, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l))
      .filter((r) => r.type === "node" && r.t === 0);
    assert.is(atZero.length, nodes, `${algorithm}: one record per node at t = 0`);
    // Exactly 0 when 1/nodes is exact in float32 (4 nodes); else the mean θ̄ = Σ (1/m)·θ is off
    // by rounding and identical models sit ~1e-7 from it.
    for (const r of atZero) {
      const why = `${algorithm}: node ${r.node}'s consensus distance at t = 0 is ${r.consensusDistance}; every node must start from the common initial model`;
      if (nodes === 4) assert.is(r.consensusDistance, 0, why);
      else assert.ok(r.consensusDistance < 1e-6, why);
    }
    const accs = new Set(atZero.map((r) => r.testAccuracy));
    assert.is(accs.size, 1, `${algorithm}: identical models score identically at t = 0 (${[...accs]})`);
  }
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
