// --budget time (the default) against --budget steps: with nodes of equal speed the two are the
// same run, byte for byte; with stragglers every node stops learning at the same virtual time T
// (a straggler k× slower does 1/k of the steps) instead of the slow ones training on alone after
// the fast ones went quiet. Plus the node program's pure schedule (due) and clock position.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runConfig, type RunConfig } from "../../src/experiment/config.ts";
import { runExperiment, type RunOptions } from "../../src/experiment/run.ts";
import type { World } from "../../src/experiment/world.ts";
import { loadDataset } from "../../src/data/registry.ts";
import { clockStep, due, heldBack, learnDeadline } from "../../src/node/program.ts";

const mnist = await loadDataset("mnist-10k");
const dir = mkdtempSync(join(tmpdir(), "cdl-budget-"));
let k = 0;
const cfgOf = (over: Partial<RunConfig> = {}): RunConfig => runConfig({
  model: "mlp", nodes: 4, topology: "ring", split: "classes:3", epochs: 1, trainLimit: 640, testLimit: 200,
  evalSamples: 100, batch: 16, lr: 0.05, lrSchedule: "linear", warmup: 0.2, stepCost: 0.02, drop: 0.2,
  linkMtbf: 0.05, linkMttr: 0.02, agreeSteps: 5, out: join(dir, `r${k++}`), ...over,
});
const run = (cfg: RunConfig, opts: RunOptions = {}) => runExperiment(cfg, { dataset: mnist, ...opts });
const metrics = (d: string) => readFileSync(join(d, "metrics.jsonl"), "utf8");

test("nodes of equal speed: --budget time and --budget steps are the same run, byte for byte", async () => {
  for (const algorithm of ["cdl", "cdl-on-receive", "isolated"] as const) {
    const a = cfgOf({ algorithm, budget: "time" }), b = cfgOf({ algorithm, budget: "steps" });
    const sa = await run(a), sb = await run(b);
    assert.is(metrics(a.out!), metrics(b.out!), `${algorithm}: metrics.jsonl`);
    assert.equal(sa.steps, sb.steps, `${algorithm}: steps`);
  }
});

test("--max-lead: a node more than S steps ahead of the newest snapshots it heard (min or mean, fresh ones only) is held; off by default", async () => {
  let w: World | undefined;
  await run(cfgOf({ budget: "steps", epochs: 0.1 }), { onStart: (x) => { w = x; } });
  const s = w!.nodes[0];
  const snap = (from: number, step: number, sentAt: number) => ({ from, step, sentAt, theta: new Float32Array(0), finite: true, holders: 0 });
  const at = (cfg: Partial<RunConfig>, steps: number, inbox: ReturnType<typeof snap>[], t = 1) => {
    const ww = { ...w!, cfg: { ...w!.cfg, ...cfg } } as World;
    return heldBack(ww, { ...s, steps, budgetSteps: 100, inbox: new Map(inbox.map((x) => [x.from, x])) }, t, t + 0.02);
  };
  const two = [snap(1, 3, 0.9), snap(3, 7, 0.9)];
  assert.is(at({}, 50, two), false, "off without --max-lead");
  assert.is(at({ maxLead: 1 }, 4, two), false, "4 − min 3 = 1: not more than S");
  assert.is(at({ maxLead: 1 }, 5, two), true, "5 − 3 > 1");
  assert.is(at({ maxLead: 1, leadMode: "mean-wait" }, 6, two), false, "6 − mean 5 = 1");
  assert.is(at({ maxLead: 1, leadMode: "mean-wait" }, 7, two), true);
  assert.is(at({ maxLead: 1, maxStaleness: 0.05 }, 50, two), false, "snapshots older than --max-staleness do not hold anyone");
  assert.is(at({ maxLead: 1 }, 50, []), false, "a node that heard nobody is not held");
  assert.is(at({ maxLead: 1 }, 100, two), false, "only a learning step is held (the budget is spent)");
});

test("--max-lead 0 with a 4× straggler: the others keep within a few steps of it instead of running 4× ahead; every node runs its budget", async () => {
  const base = { budget: "steps" as const, epochs: 4, stragglers: 0.25, stragglerFactor: 4, drop: 0, linkMtbf: Infinity, agreeSteps: 0 };
  const a = cfgOf(base), b = cfgOf({ ...base, maxLead: 0 });
  const free = await run(a), held = await run(b);
  assert.equal(held.steps, free.steps, "the same steps");
  /** The largest difference in steps between two nodes at any evaluation point. */
  const spread = (d: string) => {
    const byT = new Map<number, number[]>();
    for (const l of metrics(d).trim().split("\n").map((x) => JSON.parse(x))) if (l.type === "node") byT.set(l.t, [...(byT.get(l.t) ?? []), l.steps]);
    return Math.max(...[...byT.values()].map((st) => Math.max(...st) - Math.min(...st)));
  };
  const sf = spread(a.out!), sh = spread(b.out!);
  assert.ok(sf >= 10 && sh <= 4, `spread of steps: ${sf} free, ${sh} held`);
});

test("stragglers under --budget time: every node stops learning at T; a k× slower node does 1/k of the steps", async () => {
  const cfg = cfgOf({ stragglers: 0.25, stragglerFactor: 4, agreeSteps: 0, drop: 0, linkMtbf: Infinity });
  let w: World | undefined;
  const s = await run(cfg, { onStart: (x) => { w = x; } });
  const budget = s.steps.budget, slow = w!.network.speedFactor.bind(w!.network);
  s.steps.perNode.forEach((n, i) => {
    // A node's steps end at multiples of its step time; it learns in every step that ends by T.
    const expected = Math.floor(budget / slow(i));
    assert.is(n, expected, `node ${i} (speed factor ${slow(i)}) did ${n} steps, want ${expected}`);
  });
  assert.ok(s.steps.perNode.some((n) => n < budget), "one node is a straggler");
  assert.ok(Math.abs(s.virtualSeconds - learnDeadline(w!)) <= 1e-9 * s.virtualSeconds, `the run ends at T = ${learnDeadline(w!)} (ended ${s.virtualSeconds})`);
  // Under --budget steps every node does its whole budget, the stragglers four times later.
  const old = await run({ ...cfg, budget: "steps", out: join(dir, `r${k++}`) });
  assert.ok(old.steps.perNode.every((n) => n === budget));
  assert.ok(old.virtualSeconds > 3.9 * s.virtualSeconds, `steps budget ends at ${old.virtualSeconds}, time budget at ${s.virtualSeconds}`);
});

test("the learning rate follows the shared clock: a straggler's rate at time t is everyone's rate at t", async () => {
  // Position on the clock in steps of a normal node, snapped to whole steps within 1e-9.
  const w = { stepCost: 0.02 } as World;
  assert.is(clockStep(w, 0), 0);
  assert.is(clockStep(w, 0.02 * 3 + 1e-17), 3);
  assert.is(clockStep(w, 0.1 + 0.2), 15); // 0.30000000000000004 / 0.02 = 15.000000000000002
  assert.is(clockStep(w, 0.03), 1.5);
  assert.is(clockStep(w, 0.08), 4, "a straggler (4×) starting its 2nd step at 0.08 s is at step 4 of the schedule");
});

test("due(): learn until T, then agree and share until the agreement deadline; the last step is the one after which no step fits", () => {
  const cfg = runConfig({ algorithm: "cdl", budget: "time", agreeSteps: 2, localSteps: 1, shareEvery: 1 });
  const w = { cfg, stepCost: 1, localSteps: 1, nodes: [{ budgetSteps: 3 }] } as unknown as World;
  const s = { steps: 0, agreeSteps: 0, budgetSteps: 3 } as World["nodes"][number];
  const at = (t: number, next: number) => due(w, s, t, next);
  assert.equal(at(1, 2), { learn: true, agree: true, share: true, last: false });
  assert.equal(at(3, 4), { learn: true, agree: true, share: true, last: false }, "the step ending at T learns");
  assert.equal(at(4, 5), { learn: false, agree: true, share: true, last: false }, "after T: agree only");
  assert.equal(at(5, 6), { learn: false, agree: true, share: true, last: true }, "no step fits before T + 2");
  const iso = { ...w, cfg: { ...cfg, algorithm: "isolated" } } as World;
  assert.equal(due(iso, s, 3, 4), { learn: true, agree: false, share: false, last: true }, "isolated has no agreement phase");
});

test("golden event trace under --budget time with stragglers, step jitter and crashes", async () => {
  const lines: string[] = [];
  await run(cfgOf({ nodes: 4, stragglers: 0.25, stepJitter: 0.3, crashRate: 2, crashDowntime: 0.03, epochs: 0.5 }), { trace: (l) => lines.push(l) });
  let h = 0x811c9dc5;
  for (const l of lines) for (let i = 0; i < l.length; i++) h = Math.imul(h ^ l.charCodeAt(i), 16777619);
  assert.is(`${lines.length}:${(h >>> 0).toString(16).padStart(8, "0")}`, "84:51bd1b86", "trace digest");
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
