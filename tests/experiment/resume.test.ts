// Interrupt and resume: a run stopped between two events (by a signal, or here by shouldStop)
// leaves a checkpoint and a summary marked interrupted, and `--resume` continues it so exactly
// that metrics.jsonl is byte-identical to the uninterrupted run's — for every algorithm, with
// drops, link failures, jitter, crashes and momentum, interrupted once or twice.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { assertExit, cdl } from "../cli.ts";
import { runConfig, type RunConfig } from "../../src/experiment/config.ts";
import { CHECKPOINT_FILE } from "../../src/experiment/checkpoint.ts";
import { runExperiment, type RunOptions, type RunSummary } from "../../src/experiment/run.ts";
import { loadDataset } from "../../src/data/registry.ts";
import { ConfigError } from "../../src/errors.ts";

const mnist = await loadDataset("mnist-10k");
const dir = mkdtempSync(join(tmpdir(), "cdl-resume-"));
let k = 0;
const out = () => join(dir, `r${k++}`);
const cfgOf = (over: Partial<RunConfig> = {}): RunConfig => runConfig({
  model: "mlp", nodes: 4, topology: "ring", split: "classes:3", epochs: 1, trainLimit: 480, testLimit: 200,
  evalSamples: 100, batch: 16, lr: 0.05, momentum: 0.9, stepCost: 0.02, drop: 0.2, linkMtbf: 0.05, linkMttr: 0.02,
  stepJitter: 0.3, jitter: 0.005, crashRate: 2, crashDowntime: 0.03, agreeSteps: 4, ...over,
});
const run = (cfg: RunConfig, opts: RunOptions = {}) => runExperiment(cfg, { dataset: mnist, ...opts });
const metrics = (d: string) => readFileSync(join(d, "metrics.jsonl"), "utf8");
async function rejects(f: () => Promise<unknown>, ok: (e: Error) => boolean, what = ""): Promise<void> {
  try { await f(); } catch (e) { assert.ok(ok(e as Error), `${what}: wrong error: ${(e as Error).message}`); return; }
  assert.unreachable(`${what}: should have been refused`);
}
/** A shouldStop that says yes at its n-th question (the n-th event boundary). */
const after = (n: number) => { let i = 0; return () => ++i >= n; };

for (const algorithm of ["cdl", "cdl-on-receive", "fedavg", "dpsgd"] as const) {
  test(`${algorithm}: interrupted twice and resumed, metrics.jsonl is byte-identical to the uninterrupted run`, async () => {
    const cfg = cfgOf({ algorithm });
    const whole = out();
    await run({ ...cfg, out: whole });
    const d = out();
    const first = await run({ ...cfg, out: d }, { shouldStop: after(algorithm === "cdl" || algorithm === "cdl-on-receive" ? 40 : 3) });
    assert.ok(first.interrupted, "the first part was interrupted");
    assert.ok(existsSync(join(d, CHECKPOINT_FILE)), "an interrupted run leaves a checkpoint");
    const s1 = JSON.parse(readFileSync(join(d, "summary.json"), "utf8")) as RunSummary;
    assert.is(s1.interrupted, true, "its summary says interrupted");
    const second = await run({ ...cfg }, { resume: d, shouldStop: after(algorithm === "cdl" || algorithm === "cdl-on-receive" ? 60 : 3) });
    assert.ok(second.interrupted, "the second part was interrupted too");
    assert.ok(second.virtualSeconds >= first.virtualSeconds, "and got further");
    const done = await run({ ...cfg }, { resume: d });
    assert.is(done.interrupted, false);
    assert.ok(!existsSync(join(d, CHECKPOINT_FILE)), "a completed run leaves no checkpoint");
    assert.is(metrics(d), metrics(whole), "resumed metrics.jsonl equals the uninterrupted one");
    const sw = JSON.parse(readFileSync(join(whole, "summary.json"), "utf8")) as RunSummary;
    assert.equal(done.accuracy, sw.accuracy, "final per-node accuracy equal");
    assert.equal(done.messages, sw.messages, "message counters equal");
    assert.equal(done.steps, sw.steps, "steps equal");
  });
}

test("--max-lead: a run interrupted every 25 events, also while nodes are held back, resumes to the uninterrupted run's metrics", async () => {
  for (const leadMode of ["min-wait", "min-agree", "min-defer"] as const) {
    const cfg = cfgOf({ algorithm: "cdl", budget: "steps", maxLead: 0, leadMode, stragglers: 0.25, stragglerFactor: 4, epochs: 2 });
    const whole = out();
    await run({ ...cfg, out: whole });
    const d = out();
    let r = await run({ ...cfg, out: d }, { shouldStop: after(25) }), parts = 1;
    while (r.interrupted) { r = await run({ ...cfg }, { resume: d, shouldStop: after(25) }); parts++; }
    assert.ok(parts > 10, `${leadMode}: ${parts} parts`);
    assert.is(metrics(d), metrics(whole), `${leadMode}: resumed metrics.jsonl equals the uninterrupted one`);
  }
});

test("--checkpoint-every: a periodic checkpoint taken mid-run continues to the same end", async () => {
  const cfg = cfgOf({ checkpointEvery: 0.05, evalEvery: 0.02 });
  const a = out(), b = out();
  mkdirSync(b);
  let copied = false;
  const s = await run({ ...cfg, out: a }, {
    onEval: (e) => {
      if (!copied && e.t > 0.1 && existsSync(join(a, CHECKPOINT_FILE))) { copyFileSync(join(a, CHECKPOINT_FILE), join(b, CHECKPOINT_FILE)); copied = true; }
    },
  });
  assert.ok(copied, "a checkpoint existed during the run");
  assert.is(s.interrupted, false);
  assert.ok(!existsSync(join(a, CHECKPOINT_FILE)), "removed once the run completed");
  await run({ ...cfg }, { resume: b });
  assert.is(metrics(b), metrics(a));
});

test("--out onto an existing run is refused before any work; bad --resume directories are one-line errors", async () => {
  const cfg = cfgOf({ epochs: 0.2 });
  const d = out();
  await run({ ...cfg, out: d });
  const before = metrics(d);
  await rejects(() => run({ ...cfg, out: d }), (e: Error) => e instanceof ConfigError && /already holds a run \(summary\.json, metrics\.jsonl\)/.test(e.message));
  assert.is(metrics(d), before, "the existing run is untouched");
  await rejects(() => run(cfg, { resume: join(dir, "nowhere") }), (e: Error) => e instanceof ConfigError && /no checkpoint there/.test(e.message));
  const junk = out();
  mkdirSync(junk);
  writeFileSync(join(junk, CHECKPOINT_FILE), "not a checkpoint at all");
  await rejects(() => run(cfg, { resume: junk }), (e: Error) => e instanceof ConfigError && /not a usable checkpoint \(wrong magic/.test(e.message));
  // A checkpoint cut short: its arrays lie past the end.
  const cut = out();
  await run({ ...cfg, out: cut }, { shouldStop: after(20) });
  const bytes = readFileSync(join(cut, CHECKPOINT_FILE));
  writeFileSync(join(cut, CHECKPOINT_FILE), bytes.subarray(0, bytes.length - 1000));
  await rejects(() => run(cfg, { resume: cut }), (e: Error) => e instanceof ConfigError && /truncated/.test(e.message));
});

test("output locations are checked before training: a file, a path under a file, a dangling link", async () => {
  const file = join(dir, "a-file");
  writeFileSync(file, "x");
  for (const [o, why] of [[file, /exists and is not a directory/], [join(file, "sub"), /not a directory/]] as const) {
    await rejects(() => run(cfgOf({ out: o })), (e: Error) => e instanceof ConfigError && why.test(e.message), o);
  }
});

// The CLI end to end: a real SIGINT stops the run within 2 s with the checkpoint written, exit
// code 130; --resume finishes it with the uninterrupted run's metrics.
test("CLI: SIGINT writes a checkpoint and an interrupted summary within 2 s (exit 130); --resume completes it identically", async () => {
  const flags = ["run", "--model", "mlp", "--nodes", "4", "--split", "classes:2", "--drop", "0.2", "--train-limit", "2000",
    // 90 epochs: long enough (2–6 s) that the SIGINT sent 1 s after the header lands mid-run on a
    // fast machine too; at 30 a quick run had once finished, and released its handlers, before it.
    "--test-limit", "200", "--eval-samples", "100", "--step-cost", "0.04", "--eval-every", "0.5", "--seed", "3", "--epochs", "90"];
  const whole = out(), d = out();
  const ref = await cdl([...flags, "--out", whole, "--quiet"]);
  assert.is(ref.code, 0, ref.out);
  const r = await cdl([...flags, "--out", d], { onLine: (line, signal) => { if (/^budget:/.test(line)) setTimeout(() => signal("SIGINT"), 1000); } });
  assert.ok(r.signalledAt > 0, `the run printed its header: ${r.out.slice(-500)}`);
  assertExit(r, 130, r.out);
  assert.ok(r.endedAt - r.signalledAt < 2000, `stopped ${r.endedAt - r.signalledAt} ms after SIGINT`);
  assert.match(r.out, /interrupted at virtual time .* continue with: cdl run --resume/);
  assert.ok(existsSync(join(d, CHECKPOINT_FILE)));
  assert.is(JSON.parse(readFileSync(join(d, "summary.json"), "utf8")).interrupted, true);
  const bad = await cdl(["run", "--resume", d, "--nodes", "8"]);
  assert.is(bad.code, 2);
  assert.match(bad.out, /^error: cdl run --resume continues a run with its own settings; drop --nodes/m);
  const res = await cdl(["run", "--resume", d, "--quiet"]);
  assert.is(res.code, 0, res.out);
  assert.is(metrics(d), metrics(whole));
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
