// Runs that could not end, or would do nothing, are refused before any training with one line
// saying why; sizes are checked before anything big is allocated; counters add up; a run that
// trained nothing says so; train stops cleanly on SIGINT.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runConfig, type RunConfig } from "../../src/experiment/config.ts";
import { runExperiment } from "../../src/experiment/run.ts";
import { loadDataset } from "../../src/data/registry.ts";
import { ConfigError } from "../../src/errors.ts";
import { assertExit, cdl, cdlSync } from "../cli.ts";

const mnist = await loadDataset("mnist-10k");
const dir = mkdtempSync(join(tmpdir(), "cdl-hard-"));
let k = 0;
const cfgOf = (over: Partial<RunConfig> = {}): RunConfig => runConfig({
  model: "mlp", nodes: 4, topology: "ring", split: "classes:3", epochs: 1, trainLimit: 480, testLimit: 200,
  evalSamples: 100, batch: 16, out: join(dir, `r${k++}`), ...over,
});

async function refused(over: Partial<RunConfig>, why: RegExp, maxMs = 3000): Promise<void> {
  const t0 = Date.now();
  try {
    await runExperiment(cfgOf(over), { dataset: mnist });
  } catch (e) {
    assert.ok(e instanceof ConfigError, `a ConfigError, got ${(e as Error).stack}`);
    assert.match((e as Error).message, why, (e as Error).message);
    assert.not.match((e as Error).message, /\n/, "one line");
    assert.ok(Date.now() - t0 < maxMs, `refused in ${Date.now() - t0} ms, before any work`);
    return;
  }
  assert.unreachable(`should have been refused: ${JSON.stringify(over)}`);
}

test("runs that could not end are refused up front", async () => {
  await refused({ stepCost: 0.04, crashRate: 1000, algorithm: "cdl" }, /--crash-rate 1000: a step .* would almost never complete a step/);
  for (const algorithm of ["fedavg", "dpsgd"] as const) await refused({ stepCost: 0.04, crashRate: 1000, algorithm }, /--crash-rate 1000/);
  await refused({ linkMtbf: 1e-6, linkMttr: 1e-6, stepCost: 1 }, /link failures and recoveries/);
  await refused({ evalEvery: 0.001, stepCost: 100 }, /--eval-every 0.001 gives about 8\.0e\+5 evaluation points/);
  await refused({ augment: true }, /--augment flips images/);
});

test("sizes are checked before allocating: a graph of millions of edges, engine memory above 4 GB", async () => {
  await refused({ nodes: 3000, topology: "complete", split: "iid", trainLimit: 8000 }, /about 4\.5e\+6 edges, above the 2e\+6/);
  await refused({ nodes: 8000, model: "lenet", split: "iid", trainLimit: 8000 }, /need \d+ MB of engine memory, above WebAssembly's 4 GB/);
});

test("counters add up: sent = delivered + dropped + in flight; a message that never arrives is not delivered", async () => {
  const s = await runExperiment(cfgOf({ drop: 0.3, linkMtbf: 0.05, linkMttr: 0.02, stepCost: 0.02, jitter: 0.03, crashRate: 2, crashDowntime: 0.05 }), { dataset: mnist });
  const m = s.messages;
  assert.is(m.sent, m.delivered + m.dropped + m.inFlight, JSON.stringify(m));
  assert.ok(m.delivered >= m.outOfOrder + m.rejected, "out of order and rejected are among the delivered");
  assert.ok(m.outOfOrder > 0, "jitter reorders some messages");
  const far = await runExperiment(cfgOf({ latency: 1e6, stepCost: 0.02, timeLimit: 10 }), { dataset: mnist });
  assert.is(far.messages.delivered, 0, "nothing arrives within the run");
  assert.is(far.messages.inFlight, far.messages.sent);
  assert.ok(far.messages.sent > 0);
  // The metrics' per-node counters agree with the summary at the end.
  const last = readFileSync(join(far.out, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l)).filter((r) => r.type === "eval").pop();
  assert.is(last.delivered, 0);
});

test("classes on no node are said in the histogram; a run that trained nothing says so (CLI exit 1)", async () => {
  const s = await runExperiment(cfgOf({ nodes: 4, split: "classes:1", trainLimit: 800 }), { dataset: mnist });
  assert.match(readFileSync(join(s.out, "histogram.txt"), "utf8"), /classes on no node: .* \(the test set still has them\)/);
  const none = await runExperiment(cfgOf({ stepCost: 0.02, timeLimit: 0.001 }), { dataset: mnist });
  assert.is(none.samplesPerSecond, null);
  assert.ok(none.steps.perNode.every((n) => n === 0));
  const r = cdlSync(["run", "--model", "mlp", "--nodes", "2", "--train-limit", "200", "--test-limit", "100", "--step-cost", "0.02", "--time-limit", "0.001", "--out", join(dir, "none"), "--quiet"]);
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stderr, /^error: nothing trained: no node completed a learning step/m);
  assert.not.match(r.stdout + r.stderr, /NaN(?!\/Inf)/, "no NaN figure");
});

test("the header names what runs: dpsgd's Metropolis weights, K, and classes on no node", () => {
  const r = cdlSync(["run", "--model", "mlp", "--nodes", "4", "--split", "classes:1", "--train-limit", "400", "--test-limit", "100", "--epochs", "0.2", "--algorithm", "dpsgd", "--out", join(dir, "hdr"), "--quiet"]);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /weights metropolis/);
  assert.not.match(r.stdout, /laplacian/);
  assert.match(r.stdout, /note: 6 of 10 classes are on no node/);
  assert.match(r.stdout, /K = 1 local steps per round/);
  assert.match(r.stdout, /note: evaluating 4 nodes .* will take about [\d.]+× the training time; lower --eval-samples/, "evaluation that outweighs training is announced");
});

test("cdl train: SIGINT stops after the current step with the model so far, exit 130 within 2 s", async () => {
  const r = await cdl(["train", "--dataset", "mnist", "--model", "mlp", "--epochs", "3", "--test-limit", "500"], {
    onLine: (line, signal) => { if (/^cdl train:/.test(line)) setTimeout(() => signal("SIGINT"), 800); },
  });
  assert.ok(r.signalledAt > 0, r.out);
  assertExit(r, 130, r.out);
  assert.ok(r.endedAt - r.signalledAt < 2000, `${r.endedAt - r.signalledAt} ms`);
  assert.match(r.stderr, /SIGINT: training stopped after \d+ samples; the model so far: test accuracy [\d.]+% on 500 test samples/);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
