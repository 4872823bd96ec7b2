// --heal H: a node that has heard nothing from a neighbour for more than H virtual s sends to and
// mixes from the nearest node past it, so crashed nodes do not cut a ring into arcs. The node
// program's rule (targets, fresh) on hand-made inboxes, then whole runs: off by default (the same
// run as before), messages past a crashed node while it is down, deterministic and resumable.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runConfig, runConfigProblems, type RunConfig } from "../../src/experiment/config.ts";
import { runExperiment, type RunOptions } from "../../src/experiment/run.ts";
import type { NodeState, Snapshot, World } from "../../src/experiment/world.ts";
import { loadDataset } from "../../src/data/registry.ts";
import { Network } from "../../src/sim/network.ts";
import { fresh, targets } from "../../src/node/program.ts";
import { liveProblems } from "../../src/drivers/live.ts";

const mnist = await loadDataset("mnist-10k");
const dir = mkdtempSync(join(tmpdir(), "cdl-heal-"));
let k = 0;
const cfgOf = (over: Partial<RunConfig> = {}): RunConfig => runConfig({
  model: "mlp", nodes: 6, topology: "ring", split: "classes:1", epochs: 2, trainLimit: 600, testLimit: 200,
  evalSamples: 100, batch: 16, lr: 0.05, stepCost: 0.02, evalEvery: 0.5, out: join(dir, `r${k++}`), ...over,
});
const run = (cfg: RunConfig, opts: RunOptions = {}) => runExperiment(cfg, { dataset: mnist, ...opts });
const metrics = (d: string) => readFileSync(join(d, "metrics.jsonl"), "utf8");

// A world of a 6-node ring (0-1-2-3-4-5-0) for the rule alone.
let world: World | undefined;
await run(cfgOf({ epochs: 0.05, out: join(dir, "w") }), { onStart: (w) => { world = w; } });
const snap = (from: number, sentAt: number): Snapshot => ({ from, step: 1, sentAt, theta: new Float32Array(0), finite: true, holders: 0 });
const nodeWith = (heard: [number, number][], upSince = 0): NodeState =>
  ({ ...world!.nodes[0], upSince, heal: new Map(), tooOld: 0, inbox: new Map(heard.map(([from, at]) => [from, snap(from, at)])) });
const healing = (heal: number, maxStaleness = 5) => ({ ...world!, cfg: { ...world!.cfg, heal, maxStaleness } }) as World;

test("targets: off by default (the topology's neighbours); a neighbour silent for more than H is kept and the node past it added", () => {
  assert.is(world!.cfg.heal, 0, "--heal defaults to off");
  const s = nodeWith([[1, 9.9], [5, 7]]);
  assert.equal(targets(world!, s, 10), [1, 5], "off: neighbours only, however silent");
  const w = healing(1);
  assert.equal(targets(w, s, 10), [1, 4, 5], "node 5 silent for 3 s > 1: node 4, past it, is added");
  assert.equal([...s.heal], [[4, 10]], "counting on node 4 from now");
  assert.equal(targets(w, s, 10.9), [1, 4, 5], "node 4 has until 11 to answer before the walk goes past it");
  s.inbox.set(1, snap(1, 11.1));
  assert.equal(targets(w, s, 11.2), [1, 3, 4, 5], "node 4 silent too: node 3 is added");
  s.inbox.set(3, snap(3, 11.3));
  s.inbox.set(1, snap(1, 11.9));
  assert.equal(targets(w, s, 12), [1, 3, 4, 5], "node 3 answered: the walk stops there");
  s.inbox.set(5, snap(5, 12.1));
  assert.equal(targets(w, s, 12.2), [1, 5], "node 5 heard again: back to the neighbours, nothing past it");
  assert.is(s.heal.size, 0);
});

test("targets: a node that just came up gives its neighbours H s; a walk stops at the node itself and at nodes already in view", () => {
  const w = healing(1);
  assert.equal(targets(w, nodeWith([], 20), 20.5), [1, 5], "rejoined at 20: its neighbours have until 21");
  // Every other node silent: the two walks go round the ring and meet, never adding node 0 itself.
  const s = nodeWith([]);
  for (let t = 2; t < 10; t++) targets(w, s, t);
  assert.equal(targets(w, s, 10), [1, 2, 3, 4, 5]);
});

test("fresh with --heal: only snapshots of the live view are mixed, at most one per neighbour's direction", () => {
  const w = healing(1);
  // Node 5 silent since 7 (its last snapshot still within --max-staleness 5), node 4 past it heard at 9.95.
  const s = nodeWith([[1, 9.9], [5, 7], [4, 9.95]]);
  s.heal.set(4, 9);
  assert.equal(fresh(w, s, 10).map((x) => x.from).sort(), [1, 4], "node 5's stale snapshot is not mixed beside node 4's");
  assert.equal(fresh(world!, nodeWith([[1, 9.9], [5, 7], [4, 9.95]]), 10).map((x) => x.from).sort(), [1, 4, 5], "off: the inbox as it is");
});

test("Network.send between two nodes that are not neighbours: a link of their own, under the same failure model; no self-sends", () => {
  const net = new Network(world!.topology, { linkMtbf: 1, linkMttr: 1, drop: 0 }, 7);
  let delivered = 0, down = 0;
  for (let t = 0; t < 50; t += 0.1) {
    const r = net.send(0, 3, 100, t);
    if (r.delivered) delivered++; else if (r.reason === "link-down") down++;
  }
  assert.ok(delivered > 100 && down > 100, `0 → 3: ${delivered} delivered, ${down} lost to the link being down`);
  assert.throws(() => net.send(2, 2, 100, 0), /no node 2 to send to from 2/);
});

test("--heal needs an asynchronous algorithm and a level codec; a live node needs every node's address", () => {
  const problems = (over: Partial<RunConfig>) => runConfigProblems({ ...cfgOf(), ...over }).join("\n");
  assert.match(problems({ heal: 1, algorithm: "dpsgd" }), /--heal 1 is the asynchronous algorithms'.*dpsgd keeps its topology/);
  assert.match(problems({ heal: 1, compress: "topk:0.1" }), /difference codec \(--compress topk:0.1\).*use f32, f16 or int8/);
  assert.is(problems({ heal: 1, compress: "int8" }), "");
  assert.throws(() => cfgOf({ heal: 1, algorithm: "fedavg" }), /--heal 1 is the asynchronous/);
  const live = (peers: number[]) => liveProblems(cfgOf({ heal: 1 }), { id: 0, peers: new Map(peers.map((j) => [j, `127.0.0.1:${7000 + j}`])) }, [1, 5]).join("\n");
  assert.match(live([1, 5]), /--heal 1 may send past a silent neighbour to any node: --peers needs every node's address \(missing: 2, 3, 4\)/);
  assert.is(live([1, 2, 3, 4, 5]), "", "a live node with every address takes --heal");
  assert.match(live([1, 2, 3, 4, 5, 6]), /--peers names 6, not neighbour/);
});

test("a run with crashes: while a node is down, the nodes on either side of it exchange snapshots; same seed, same run", async () => {
  const base = { crashRate: 0.3, crashDowntime: 1, heal: 0.1, epochs: 30 };
  const lines: string[] = [];
  const a = cfgOf(base), b = cfgOf(base);
  await run(a, { trace: (l) => lines.push(l) });
  await run(b);
  assert.is(metrics(a.out!), metrics(b.out!), "deterministic");
  const ring = (x: number, y: number) => (x - y + 6) % 6 === 1 || (y - x + 6) % 6 === 1;
  const past = lines.map((l) => / msg (\d+)>(\d+)@/.exec(l)).filter((m) => m && !ring(+m[1], +m[2]));
  assert.ok(past.length > 20, `snapshots delivered between non-neighbours: ${past.length}`);
  const off = cfgOf({ ...base, heal: 0 });
  const offLines: string[] = [];
  await run(off, { trace: (l) => offLines.push(l) });
  assert.ok(offLines.every((l) => { const m = / msg (\d+)>(\d+)@/.exec(l); return !m || ring(+m[1], +m[2]); }), "without --heal only neighbours exchange");
});

test("a --heal run on two threads is the one-thread run, byte for byte", async () => {
  const a = cfgOf({ crashRate: 0.3, crashDowntime: 1, heal: 0.1, epochs: 10 }), b = { ...a, out: join(dir, "two") };
  await run(a);
  await run(b, { workers: 2 });
  assert.is(metrics(b.out!), metrics(a.out!));
});

test("without failures nobody falls silent, so --heal changes nothing: the same run, byte for byte", async () => {
  const a = cfgOf({ epochs: 10, stragglers: 0.34, stragglerFactor: 4 }), b = cfgOf({ epochs: 10, stragglers: 0.34, stragglerFactor: 4, heal: 0.2 });
  await run(a);
  await run(b);
  assert.is(metrics(b.out!), metrics(a.out!));
});

test("a --heal run with crashes and failing links, interrupted every 30 events, resumes to the uninterrupted run's metrics", async () => {
  // Links down 0.2 s in 1.2: links past a silent neighbour (pairs that are not neighbours) fail too, and their processes are checkpointed.
  const cfg = cfgOf({ crashRate: 0.3, crashDowntime: 1, linkMtbf: 1, linkMttr: 0.2, heal: 0.1, epochs: 10, evalEvery: 0.2 });
  const whole = join(dir, "whole");
  await run({ ...cfg, out: whole });
  const d = join(dir, "parts");
  let n = 0;
  let r = await run({ ...cfg, out: d }, { shouldStop: () => ++n % 30 === 0 });
  let parts = 1;
  while (r.interrupted) { r = await run({ ...cfg }, { resume: d, shouldStop: () => ++n % 30 === 0 }); parts++; }
  assert.ok(parts > 5, `${parts} parts`);
  assert.is(metrics(d), metrics(whole));
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
