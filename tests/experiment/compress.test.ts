// --compress: θ travels as f16 or int8 (a scale per tensor). Messages count the encoded bytes,
// neighbours mix exactly what they would decode, and the sender keeps its exact θ.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { ConfigError } from "../../src/errors.ts";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runConfig, type RunConfig } from "../../src/experiment/config.ts";
import { runExperiment } from "../../src/experiment/run.ts";
import type { World } from "../../src/experiment/world.ts";
import { loadDataset } from "../../src/data/registry.ts";
import { decode, encode, levelBytes } from "../../src/node/compress.ts";
import { agree, ownCopy, snapshot } from "../../src/node/program.ts";
import { buildWorld } from "../../src/experiment/world.ts";
import { Rng } from "../../src/rng.ts";

const mnist = await loadDataset("mnist-10k");
const dir = mkdtempSync(join(tmpdir(), "cdl-compress-"));
let k = 0;
const cfgOf = (over: Partial<RunConfig> = {}): RunConfig => runConfig({
  model: "mlp", nodes: 4, topology: "ring", split: "classes:3", epochs: 2, trainLimit: 800, testLimit: 400,
  evalSamples: 200, batch: 16, lr: 0.1, stepCost: 0.02, drop: 0.1, out: join(dir, `r${k++}`), ...over,
});

test("message bytes are the codec's: f16 half of f32, int8 a quarter plus one scale per tensor", async () => {
  const runs: Record<string, { bytes: number; sent: number; acc: number; w: World }> = {};
  for (const compress of ["f32", "f16", "int8"]) {
    let w: World | undefined;
    const s = await runExperiment(cfgOf({ compress }), { dataset: mnist, onStart: (x) => { w = x; } });
    runs[compress] = { bytes: s.messages.bytesSent, sent: s.messages.sent, acc: s.accuracy.mean, w: w! };
  }
  const n = runs.f32.w.plan.numParams, T = runs.f32.w.tensors.length;
  for (const [c, per] of [["f32", 4 * n], ["f16", 2 * n], ["int8", n + 4 * T]] as const) {
    assert.is(runs[c].w.messageBytes, per, `${c}: ${per} bytes a message`);
    assert.is(runs[c].bytes, runs[c].sent * per, `${c}: bytes sent = messages × encoded size`);
  }
  assert.is(runs.f16.sent, runs.f32.sent, "same traffic, fewer bytes");
  for (const c of ["f16", "int8"]) assert.ok(Math.abs(runs[c].acc - runs.f32.acc) < 0.05, `${c} ${runs[c].acc} vs f32 ${runs.f32.acc}`);
});

test("a snapshot holds what the receiver decodes; the sender's θ stays exact", async () => {
  let w: World | undefined;
  await runExperiment(cfgOf({ compress: "int8", epochs: 0.2 }), { dataset: mnist, onStart: (x) => { w = x; } });
  const s = w!.nodes[0], before = s.params.theta.view.slice();
  const snap = snapshot(w!, s, 0);
  const expect = new Float32Array(before.length);
  decode("int8", encode("int8", before, w!.tensors), w!.tensors, expect);
  assert.equal(Array.from(snap.theta), Array.from(expect), "the decoded int8 payload");
  assert.equal(Array.from(s.params.theta.view), Array.from(before), "θ itself untouched");
  assert.ok(snap.theta.some((x, i) => x !== before[i]), "and it is lossy");
  assert.is(levelBytes("int8", w!.tensors), w!.messageBytes);
});

test("difference codecs (topk with error feedback): fewer bytes, every loss-free message applied, a loss is a gap until the next refresh", async () => {
  const f32 = await runExperiment(cfgOf({ drop: 0 }), { dataset: mnist });
  const topk = await runExperiment(cfgOf({ drop: 0, compress: "topk:0.1,every=8" }), { dataset: mnist });
  assert.is(topk.messages.sent, f32.messages.sent);
  assert.ok(topk.messages.bytesSent < 0.35 * f32.messages.bytesSent, `${topk.messages.bytesSent} vs ${f32.messages.bytesSent}`);
  assert.is(topk.messages.gaps, 0, "no loss, no gap");
  assert.ok(Math.abs(topk.accuracy.mean - f32.accuracy.mean) < 0.08, `${topk.accuracy.mean} vs ${f32.accuracy.mean}`);
  const lossy = await runExperiment(cfgOf({ drop: 0.3, compress: "topk:0.1,every=8" }), { dataset: mnist });
  assert.ok(lossy.messages.gaps > 0, "lost messages leave gaps");
  assert.ok(lossy.messages.gaps < lossy.messages.delivered, "refreshes resynchronise");
});

test("difference codecs: interrupted and resumed, metrics.jsonl is byte-identical (the encoder's state is in the checkpoint)", async () => {
  const cfg = cfgOf({ drop: 0.2, compress: "topk:0.05,every=4" });
  const whole = join(dir, "whole"), part = join(dir, "part");
  await runExperiment({ ...cfg, out: whole }, { dataset: mnist });
  let i = 0;
  const first = await runExperiment({ ...cfg, out: part }, { dataset: mnist, shouldStop: () => ++i >= 60 });
  assert.ok(first.interrupted);
  await runExperiment(cfg, { dataset: mnist, resume: part });
  assert.is(readFileSync(join(part, "metrics.jsonl"), "utf8"), readFileSync(join(whole, "metrics.jsonl"), "utf8"));
});

test("--compress is checked up front; difference codecs are refused for the round-based baselines", async () => {
  for (const [compress, algorithm, why] of [["topk:2", "cdl", /the fraction must be a number in \(0, 1\]/], ["zip", "cdl", /unknown codec/], ["topk:0.1", "dpsgd", /difference codecs run with the asynchronous algorithms/]] as const) {
    try {
      await runExperiment(cfgOf({ compress, algorithm }), { dataset: mnist });
      assert.unreachable(compress);
    } catch (e) {
      assert.instance(e, ConfigError);
      assert.match((e as Error).message, why);
    }
  }
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test("--mix-against sent: a synchronous int8 gossip round leaves the network's average where it was; exact moves it by the rounding errors", async () => {
  const drift: Record<string, number[]> = {};
  for (const mixAgainst of ["sent", "exact"] as const) {
    const w = await buildWorld(cfgOf({ compress: "int8", topology: "complete", mixAgainst }), mnist);
    const rng = new Rng(7), P = w.plan.numParams;
    for (const s of w.nodes) for (let i = 0; i < P; i++) s.params.theta.view[i] = 0.1 * (2 * rng.uniform() - 1);
    const mean = () => {
      const m = new Float64Array(P);
      for (const s of w.nodes) for (let i = 0; i < P; i++) m[i] += s.params.theta.view[i] / w.nodes.length;
      return m;
    };
    drift[mixAgainst] = [];
    for (let round = 0; round < 5; round++) {
      const before = mean();
      const snaps = w.nodes.map((s) => snapshot(w, s, round));
      assert.ok(snaps.every((x, i) => x.theta.some((v, j) => v !== w.nodes[i].params.theta.view[j])), "int8 changes what travels");
      for (const s of w.nodes) {
        const own = ownCopy(w, snaps[s.id]);
        assert.is(own !== undefined, mixAgainst === "sent", "the own copy is used only under sent");
        agree(w, s, snaps.filter((x) => x.from !== s.id), w.cfg.weights, own);
      }
      const after = mean();
      let d = 0;
      for (let i = 0; i < P; i++) d = Math.max(d, Math.abs(after[i] - before[i]));
      drift[mixAgainst].push(d);
    }
  }
  // f32 rounding of the sums alone moves a mean of values ~0.1 by ~1e-8; int8's cells are ~1e-3 wide.
  assert.ok(Math.max(...drift.sent) < 1e-6, `sent: the average moved by up to ${Math.max(...drift.sent)}`);
  assert.ok(Math.min(...drift.exact) > 1e-5, `exact: the average moved by ${drift.exact}`);
  const f32 = await buildWorld(cfgOf({ compress: "f32" }), mnist);
  assert.is(ownCopy(f32, snapshot(f32, f32.nodes[0], 0)), undefined, "f32: nothing to correct, the former arithmetic exactly");
  const topk = await buildWorld(cfgOf({ compress: "topk:0.1" }), mnist);
  assert.is(ownCopy(topk, snapshot(topk, topk.nodes[0], 0)), undefined, "difference codecs keep θ_i: their public copy lags it by what is not sent yet");
});

test.run();
