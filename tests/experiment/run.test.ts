// End-to-end consensus runs on a small slice of the embedded dataset: determinism, the
// drop-everything limit, a golden event trace, the report files, and one-line config errors.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readConfigFile, runConfig, type RunConfig } from "../../src/experiment/config.ts";
import { runExperiment, type RunOptions } from "../../src/experiment/run.ts";
import { loadDataset } from "../../src/data/registry.ts";
import { learningRate } from "../../src/train.ts";
import { ConfigError } from "../../src/errors.ts";

const mnist = await loadDataset("mnist-10k");
const run = (cfg: RunConfig, opts: RunOptions = {}) => runExperiment(cfg, { dataset: mnist, ...opts });
const dir = mkdtempSync(join(tmpdir(), "cdl-run-"));
let k = 0;
const small = (over: Partial<RunConfig> = {}): RunConfig => runConfig({
  model: "mlp", nodes: 4, topology: "ring", split: "classes:3", epochs: 1, trainLimit: 480, testLimit: 200,
  evalSamples: 100, batch: 16, lr: 0.05, stepCost: 0.02, drop: 0.2, linkMtbf: 0.05, linkMttr: 0.02, stepJitter: 0.3,
  budget: "steps", out: join(dir, `r${k++}`), ...over,
});

function fnv(lines: readonly string[]): string {
  let h = 0x811c9dc5;
  for (const l of lines) for (let i = 0; i < l.length; i++) h = Math.imul(h ^ l.charCodeAt(i), 16777619);
  return (h >>> 0).toString(16).padStart(8, "0");
}

test("same config and seed ⇒ byte-identical metrics.jsonl; another seed ⇒ different", async () => {
  const a = await run(small({ seed: 7 }));
  const b = await run(small({ seed: 7 }));
  const c = await run(small({ seed: 8 }));
  const ma = readFileSync(join(a.out, "metrics.jsonl"), "utf8");
  assert.ok(ma.split("\n").length > 10, "metrics has evaluation points");
  assert.is(readFileSync(join(b.out, "metrics.jsonl"), "utf8"), ma);
  assert.is.not(readFileSync(join(c.out, "metrics.jsonl"), "utf8"), ma);
  assert.equal(a.accuracy, b.accuracy);
});

test("the run writes its report: summary, metrics, histogram, charts", async () => {
  const s = await run(small());
  for (const f of ["summary.json", "metrics.jsonl", "histogram.txt", "accuracy.svg", "consensus.svg", "report.html"]) {
    assert.ok(existsSync(join(s.out, f)), `${f} written`);
  }
  const sum = JSON.parse(readFileSync(join(s.out, "summary.json"), "utf8"));
  assert.is(sum.accuracy.perNode.length, 4);
  assert.ok(sum.accuracy.min <= sum.accuracy.mean && sum.accuracy.mean <= sum.accuracy.max);
  assert.is(sum.seed, 1);
  assert.ok(sum.messages.sent > 0 && sum.messages.delivered < sum.messages.sent, "some messages lost at 20% drop");
  assert.ok(sum.histogram.every((row: number[]) => row.filter((x) => x > 0).length <= 3), "classes:3 histogram");
  assert.match(readFileSync(join(s.out, "accuracy.svg"), "utf8"), /<svg[\s\S]*mean over nodes[\s\S]*<\/svg>/);
});

test("--drop 1: nothing is delivered and cdl ends exactly where isolated does", async () => {
  const c = await run(small({ drop: 1, algorithm: "cdl" }));
  const i = await run(small({ drop: 1, algorithm: "isolated" }));
  assert.is(c.messages.delivered, 0);
  assert.ok(c.messages.sent > 0);
  assert.equal(c.accuracy.perNode, i.accuracy.perNode);
  assert.equal(c.loss.perNode, i.loss.perNode);
  assert.is(c.consensusDistance.mean, i.consensusDistance.mean);
  // And with messages flowing, consensus does change the outcome (the test can fail).
  const live = await run(small({ drop: 0, linkMtbf: Infinity, algorithm: "cdl" }));
  assert.ok(live.consensusDistance.mean < i.consensusDistance.mean, `consensus pulls models together (${live.consensusDistance.mean} vs ${i.consensusDistance.mean})`);
});

// Recorded from this implementation; identical on Node, Bun and Deno (portable RNG, same wasm).
const GOLDEN_TRACE = "61fe0de0";

test("recycled snapshot arrays: the same runs as a fresh array per snapshot", async () => {
  // Latency and jitter keep several snapshots of one sender in flight at once; short staleness,
  // drops, link failures and crashes exercise every path that lets go of one.
  const cases: Partial<RunConfig>[] = [
    { algorithm: "cdl", latency: 0.05, jitter: 0.04, maxStaleness: 0.03, crashRate: 2, crashDowntime: 0.05 },
    { algorithm: "cdl", latency: 0.03, jitter: 0.03, snapshot: "post-agree", topology: "complete" },
    { algorithm: "cdl-on-receive", latency: 0.04, jitter: 0.04, drop: 0.4 },
  ];
  for (const over of cases) {
    const a = await run(small({ ...over, seed: 3 }));
    const b = await run(small({ ...over, seed: 3 }), { recycleSnapshots: false });
    const what = JSON.stringify(over);
    assert.ok(a.messages.delivered > 20, `${what}: messages delivered`);
    assert.is(readFileSync(join(a.out, "metrics.jsonl"), "utf8"), readFileSync(join(b.out, "metrics.jsonl"), "utf8"), what);
    assert.equal(a.loss.perNode, b.loss.perNode, what);
    assert.equal(a.consensusDistance, b.consensusDistance, what);
  }
});

test("4-node golden event trace", async () => {
  const lines: string[] = [];
  await run(small({ nodes: 4, seed: 3, epochs: 4, crashRate: 2, crashDowntime: 0.05, stragglers: 0.25 }), { trace: (l) => lines.push(l) });
  assert.ok(lines.length > 100, `trace has ${lines.length} events`);
  assert.ok(lines.some((l) => l.includes(" msg ")) && lines.some((l) => l.includes(" step ")));
  assert.is(fnv(lines), GOLDEN_TRACE, `trace digest over ${lines.length} events`);
});

test("every algorithm runs to its budget on the same world", async () => {
  for (const algorithm of ["cdl", "cdl-on-receive", "isolated", "centralized", "fedavg", "dpsgd"] as const) {
    const s = await run(small({ algorithm }));
    const budget = s.steps.budget;
    assert.ok(s.steps.perNode.every((x) => x === budget), `${algorithm}: every node used its budget (${s.steps.perNode} of ${budget})`);
    assert.ok(s.accuracy.mean > 0.1 && s.accuracy.mean <= 1, `${algorithm}: accuracy ${s.accuracy.mean}`);
  }
});

test("fedavg counts its client–server messages, drops included", async () => {
  const s = await run(small({ algorithm: "fedavg", linkMtbf: Infinity, linkMttr: 0 }));
  // Every round the server sends to each working client and each client sends back: 2 per client-round, plus the final broadcast.
  const rounds = s.steps.budget;
  assert.ok(s.messages.sent >= 2 * 4 * rounds, `${s.messages.sent} sent in ${rounds} rounds of 4 clients`);
  assert.ok(s.messages.delivered < s.messages.sent && s.messages.droppedBy.drop > 0, JSON.stringify(s.messages));
  assert.is(s.messages.delivered + s.messages.dropped, s.messages.sent);
});

test("--agree-steps: the final agreement phase brings the nodes together without learning", async () => {
  const base = { drop: 0, linkMtbf: Infinity, epochs: 2 };
  const a = await run(small(base));
  const b = await run(small({ ...base, agreeSteps: 40 }));
  assert.equal(b.steps.perNode, a.steps.perNode, "same learning budget");
  assert.ok(b.consensusDistance.max < 0.2 * a.consensusDistance.max, `distance ${b.consensusDistance.max} vs ${a.consensusDistance.max}`);
  assert.ok(b.messages.sent > a.messages.sent);
});

test("learningRate: warmup ramp, then constant or linear decay to 0", () => {
  const c = { lr: 0.1, lrSchedule: "linear" as const, warmup: 0.2 };
  assert.ok(Math.abs(learningRate(c, 0, 100) - 0.005) < 1e-12);
  assert.ok(Math.abs(learningRate(c, 19, 100) - 0.081) < 1e-12, "the ramp meets the decay line");
  assert.ok(Math.abs(learningRate(c, 50, 100) - 0.05) < 1e-12);
  assert.ok(learningRate(c, 99, 100) > 0 && learningRate(c, 99, 100) < 0.0011);
  assert.is(learningRate({ lr: 0.1, lrSchedule: "constant", warmup: 0 }, 99, 100), 0.1);
});

test("learningRate --lr-restart: the first cycle (warm-up, decay) ends at F of the budget, a second decays from peak × lr to 0", () => {
  const c = { lr: 0.1, lrSchedule: "linear" as const, warmup: 0.2, lrRestart: 0.4, lrRestartPeak: 0.5 };
  const near = (a: number, b: number) => Math.abs(a - b) < 1e-12;
  // First cycle: the 100-step schedule squeezed into 40 steps (warm-up over 8, decay to 0 at 40).
  assert.ok(near(learningRate(c, 0, 100), learningRate({ ...c, lrRestart: undefined }, 0, 40)));
  assert.ok(near(learningRate(c, 20, 100), 0.05), `${learningRate(c, 20, 100)}`);
  assert.ok(learningRate(c, 39, 100) < 0.003, "down to ~0 at the restart");
  // Second cycle: 0.05 at the restart, linear to 0 at step 100.
  assert.ok(near(learningRate(c, 40, 100), 0.05));
  assert.ok(near(learningRate(c, 70, 100), 0.025));
  assert.ok(near(learningRate(c, 100, 100), 0));
  assert.ok(near(learningRate({ ...c, lrRestartPeak: undefined }, 40, 100), 0.05), "peak 0.5 by default");
  // Off for the constant schedule (the config refuses that combination; the function ignores it).
  assert.is(learningRate({ ...c, lrSchedule: "constant" }, 70, 100), 0.1);
});

async function rejects(cfg: Partial<RunConfig>, pattern: RegExp) {
  try {
    await run(small(cfg));
  } catch (e) {
    assert.instance(e, ConfigError, `${(e as Error).message}`);
    assert.match((e as Error).message, pattern);
    assert.not.match((e as Error).message, /\n/, "one line");
    return;
  }
  assert.unreachable(`accepted ${JSON.stringify(cfg)}`);
}

test("--config: a flat settings file, or a paper manifest of one run (base + run); several runs → error", () => {
  const dir = mkdtempSync(join(tmpdir(), "cdl-config-"));
  try {
    const flat = join(dir, "flat.json"), one = join(dir, "one.json"), two = join(dir, "two.json");
    writeFileSync(flat, JSON.stringify({ nodes: 4, lrSchedule: "linear" }));
    assert.equal(readConfigFile(flat), { nodes: 4, "lr-schedule": "linear" });
    writeFileSync(one, JSON.stringify({ title: "t", base: { nodes: 4, drop: 0.1 }, runs: [{ name: "a", drop: 0.3, algorithm: "dpsgd" }] }));
    assert.equal(readConfigFile(one), { nodes: 4, drop: 0.3, algorithm: "dpsgd" });
    writeFileSync(two, JSON.stringify({ title: "t", base: { nodes: 4 }, runs: [{ name: "a" }, { name: "b" }] }));
    assert.throws(() => readConfigFile(two), (e: Error) => e instanceof ConfigError && /paper manifest of 2 runs/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("bad input: one-line errors naming the problem", async () => {
  await rejects({ epsilon: 0.9 }, /--epsilon 0.9 breaks consensus stability on ring \(Δ=2\): need 0 < ε ≤ 0.5/);
  const edges = join(dir, "split.txt");
  writeFileSync(edges, "0 1\n2 3\n");
  await rejects({ topology: `file:${edges}` }, /disconnected|not connected/);
  await rejects({ split: "classes:11" }, /classes:11/);
  await rejects({ nodes: 500 }, /500/);
  await rejects({ topology: "hypercube" }, /hypercube[\s\S]*complete, ring/);
  await rejects({ lrRestart: 0.5 }, /--lr-restart 0.5 restarts the linear schedule: add --lr-schedule linear \(now constant\)/);
  await rejects({ lrSchedule: "linear", lrRestartPeak: 0.3 }, /--lr-restart-peak 0.3 is the peak of the schedule's second cycle: add --lr-restart F/);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
