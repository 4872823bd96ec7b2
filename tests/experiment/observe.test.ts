// The lab watches and paces a run through two hooks (Hooks.observer, Hooks.gate). Neither may
// change it: metrics.jsonl is byte-identical with and without them, and what the observer sees
// adds up to the network's own counters.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadDataset } from "../../src/data/registry.ts";
import type { Hooks } from "../../src/experiment/algorithms.ts";
import { runConfig, type RunConfig } from "../../src/experiment/config.ts";
import { Recorder } from "../../src/experiment/recorder.ts";
import { evalInterval, metricsText, simulate } from "../../src/experiment/run.ts";
import { buildWorld, messageTotals } from "../../src/experiment/world.ts";

const mnist = await loadDataset("mnist-10k");
const cfg = (over: Partial<RunConfig>): RunConfig => runConfig({
  model: "mlp", nodes: 5, topology: "ring", split: "classes:2", epochs: 1, trainLimit: 600, testLimit: 200,
  evalSamples: 100, batch: 16, stepCost: 0.02, drop: 0.2, linkMtbf: 0.3, linkMttr: 0.1, stepJitter: 0.3,
  crashRate: 0.5, crashDowntime: 0.05, agreeSteps: 5, ...over,
});

async function run(c: RunConfig, watch: boolean) {
  const w = await buildWorld(c, mnist);
  const hooks: Hooks = { recorder: new Recorder(w), evalEvery: evalInterval(w), trainMs: 0 };
  const seen = { sent: 0, lost: 0, arrived: 0, agreeing: 0, agreed: 0, gates: 0, paused: 0 };
  if (watch) {
    hooks.observer = {
      sent: (_f, _t, _at, r) => { seen.sent++; if (!r.delivered) seen.lost++; },
      arrived: () => { seen.arrived++; },
      agreeing: (s) => { seen.agreeing++; s.params.theta.view.slice(); },
      agreed: () => { seen.agreed++; },
    };
    // Hold the run now and then, as the lab's pause and speed do.
    hooks.gate = () => (++seen.gates % 7 === 0 ? (seen.paused++, new Promise((r) => setTimeout(r, 1))) : null);
  }
  await simulate(w, hooks);
  return { metrics: metricsText(hooks.recorder), seen, totals: messageTotals(w), consensusSteps: w.nodes.reduce((a, s) => a + s.consensusSteps, 0) };
}

for (const algorithm of ["cdl", "cdl-on-receive", "dpsgd"] as const) {
  test(`${algorithm}: observed and gated, the run is byte-identical; the observer's counts match the network's`, async () => {
    const c = cfg({ algorithm });
    const plain = await run(c, false), watched = await run(c, true);
    assert.ok(plain.metrics.length > 1000);
    assert.is(watched.metrics, plain.metrics);
    const { seen, totals } = watched;
    assert.ok(seen.paused > 0, "the gate held the run");
    assert.is(seen.sent, totals.sent);
    assert.is(seen.lost, totals.dropped.drop + totals.dropped["link-down"] + totals.dropped.crashed);
    if (algorithm !== "dpsgd") assert.is(seen.arrived, totals.delivered, "every delivery is seen when it arrives");
    assert.is(seen.agreeing, watched.consensusSteps);
    assert.is(seen.agreed, seen.agreeing);
  });
}

test.run();
