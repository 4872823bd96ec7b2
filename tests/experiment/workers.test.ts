// --workers: the nodes' computations on several threads, the event loop on one. Results must not
// depend on the thread count: metrics.jsonl and every figure of summary.json that is not a wall-clock
// measurement are equal for 1, 2, 3 and 4 workers, on a run with drops, link failures, latency
// jitter, stragglers, step jitter and crashes; interrupted and resumed on threads, a run still ends
// as the uninterrupted one on one thread; a diverging node still fails the run with one line.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadDataset } from "../../src/data/registry.ts";
import { runConfig, type RunConfig } from "../../src/experiment/config.ts";
import { runExperiment, type RunOptions, type RunSummary } from "../../src/experiment/run.ts";
import { ConfigError } from "../../src/errors.ts";

const mnist = await loadDataset("mnist-10k");
const dir = mkdtempSync(join(tmpdir(), "cdl-workers-"));
let k = 0;
const out = () => join(dir, `r${k++}`);
const cfgOf = (over: Partial<RunConfig> = {}): RunConfig => runConfig({
  model: "mlp", nodes: 7, topology: "small-world:2,0.3", split: "classes:2", epochs: 8, trainLimit: 840, testLimit: 200,
  evalSamples: 100, evalEvery: 0.04, batch: 16, stepCost: 0.01, latency: 0.004, jitter: 0.003, drop: 0.2,
  linkMtbf: 0.2, linkMttr: 0.05, stragglers: 0.3, stragglerFactor: 3, stepJitter: 0.3, crashRate: 0.5, crashDowntime: 0.05,
  agreeSteps: 10, ...over,
});
const run = (cfg: RunConfig, opts: RunOptions = {}) => runExperiment(cfg, { dataset: mnist, ...opts });
const metrics = (d: string) => readFileSync(join(d, "metrics.jsonl"), "utf8");

/** summary.json without what the clock measures (and the thread count itself). */
function results(s: RunSummary): Record<string, unknown> {
  const { wallSeconds: _w, trainSeconds: _t, evalSeconds: _e, samplesPerSecond: _s, simulationOverhead: _o, workers: _k, parallelEfficiency: _p, out: _d, config, ...rest } = s;
  return { ...rest, config: { ...config, out: undefined } };
}

for (const over of [{ algorithm: "cdl" }, { algorithm: "cdl-on-receive" }, { algorithm: "isolated" }, { algorithm: "cdl", compress: "int8", snapshot: "post-agree" },
  { algorithm: "cdl", compress: "f16" }] as Partial<RunConfig>[]) { // f16 post-learn: differences against the node's own sent copy
  test(`${JSON.stringify(over)}: 1, 2, 3 and 4 workers give the same bytes`, async () => {
    const cfg = cfgOf(over);
    const one = out(), base = await run({ ...cfg, out: one }, { workers: 1 });
    assert.is(base.workers, 1);
    assert.ok(metrics(one).split("\n").length > 100, "a run with many evaluation points");
    for (const workers of [2, 3, 4]) {
      const d = out(), s = await run({ ...cfg, out: d }, { workers });
      assert.is(s.workers, workers);
      assert.ok(metrics(d) === metrics(one), `metrics.jsonl with ${workers} workers differs from 1`);
      assert.equal(results(s), results(base), `summary.json with ${workers} workers`);
    }
  });
}

test("more workers than nodes: one per node; fedavg, dpsgd and difference codecs: one thread", async () => {
  assert.is((await run(cfgOf({ nodes: 2, topology: "line", split: "iid", out: out() }), { workers: 4 })).workers, 2);
  assert.is((await run(cfgOf({ algorithm: "dpsgd", out: out() }), { workers: 2 })).workers, 1);
  assert.is((await run(cfgOf({ algorithm: "fedavg", out: out() }), { workers: 2 })).workers, 1);
  assert.is((await run(cfgOf({ compress: "topk:0.1", out: out() }), { workers: 2 })).workers, 1);
});

test("interrupted on 3 workers, resumed on 2: the same end as one thread uninterrupted", async () => {
  const cfg = cfgOf();
  const whole = out();
  await run({ ...cfg, out: whole }, { workers: 1 });
  const d = out();
  let i = 0;
  const first = await run({ ...cfg, out: d }, { workers: 3, shouldStop: () => ++i >= 400 });
  assert.ok(first.interrupted);
  const done = await run({ ...cfg }, { resume: d, workers: 2 });
  assert.is(done.interrupted, false);
  assert.ok(metrics(d) === metrics(whole), "resumed on threads ≡ uninterrupted on one");
});

test("a node that diverges on a worker fails the run with a one-line ConfigError", async () => {
  try {
    await run(cfgOf({ lr: 1e6, crashRate: 0, out: out() }), { workers: 2 });
    assert.unreachable("should have failed");
  } catch (e) {
    assert.instance(e, ConfigError);
    assert.match((e as Error).message, /^node \d+ .*(diverged|no longer finite).*lower --lr/);
    assert.not.match((e as Error).message, /\n/);
  }
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
