import { test } from "uvu";
import * as assert from "uvu/assert";
import { ConfigError } from "../../src/errors.ts";
import { Rng } from "../../src/rng.ts";
import { classHistogram, formatHistogram, formatSplit, parseSplit, partition } from "../../src/data/partition.ts";

/** Digest of the golden splits below; the same on Node, Bun and Deno. */
const GOLDEN = "95b34c5a";

/** N labels over C classes, unbalanced on purpose (class c has weight c + 1). */
function makeLabels(N: number, C: number, rng: Rng): Uint8Array {
  const l = new Uint8Array(N);
  const total = (C * (C + 1)) / 2;
  for (let i = 0; i < N; i++) {
    let u = rng.uniform() * total, c = 0;
    while (c < C - 1 && u >= c + 1) { u -= c + 1; c++; }
    l[i] = c;
  }
  return l;
}

/** Every index 0..N-1 appears exactly once across parts. */
function exactCover(parts: Int32Array[], N: number) {
  const seen = new Uint8Array(N);
  let count = 0;
  for (const p of parts) for (const i of p) { assert.ok(i >= 0 && i < N); assert.is(seen[i], 0, `index ${i} twice`); seen[i] = 1; count++; }
  assert.is(count, N);
}

function throwsConfig(fn: () => unknown, re: RegExp) {
  try { fn(); } catch (e) {
    assert.instance(e, ConfigError);
    assert.not.match((e as Error).message, /\n/);
    assert.match((e as Error).message, re);
    return;
  }
  assert.unreachable("expected a ConfigError");
}

test("every index exactly once, for every partitioner, hundreds of random cases", () => {
  const rng = new Rng(1);
  let done = 0, infeasible = 0;
  for (let c = 0; c < 200; c++) {
    const C = 2 + rng.int(9), N = 200 + rng.int(800), n = 1 + rng.int(20);
    const labels = makeLabels(N, C, rng);
    const k = 1 + rng.int(C);
    const specs = ["iid", `dirichlet:${[0.1, 0.5, 1, 10][rng.int(4)]}`, `shards:${1 + rng.int(3)}`];
    if (n * k >= C) specs.push(`classes:${k}`);
    for (const spec of specs) {
      let parts: Int32Array[];
      try {
        parts = partition(labels, C, n, spec, rng.fork(c));
      } catch (e) {
        // Few classes, many nodes, small α: the minimum size may be unreachable; that must be a ConfigError.
        assert.ok(e instanceof ConfigError && /could not give every node/.test(e.message), String(e));
        infeasible++;
        continue;
      }
      done++;
      assert.is(parts.length, n);
      exactCover(parts, N);
      assert.ok(parts.every((p) => p.length > 0), `${spec}: empty node`);
      if (spec === "iid") for (const p of parts) assert.ok(Math.abs(p.length - N / n) <= 1);
      if (spec.startsWith("classes")) {
        for (const h of classHistogram(labels, parts, C)) assert.ok(h.filter((x) => x > 0).length <= k, `${spec}: node with > k classes`);
      }
    }
  }
  assert.ok(done >= 700 && infeasible < 40, `${done} split, ${infeasible} infeasible`);
});

test("classes:1 is the extreme: one class per node, every class covered", () => {
  const rng = new Rng(2);
  const labels = makeLabels(2000, 10, rng);
  const parts = partition(labels, 10, 10, "classes:1", rng);
  const hist = classHistogram(labels, parts, 10);
  const held = new Set<number>();
  for (const h of hist) {
    const cs = h.map((x, c) => (x > 0 ? c : -1)).filter((c) => c >= 0);
    assert.is(cs.length, 1);
    held.add(cs[0]);
  }
  assert.is(held.size, 10);
  // Fewer node-class slots than classes: the unheld classes are left out.
  const few = partition(labels, 10, 3, "classes:2", rng);
  const kept = classHistogram(labels, few, 10).reduce((a, h) => a + h.filter((x) => x > 0).length, 0);
  assert.is(kept, 6);
});

test("dirichlet: minimum shard size holds, small α is skewed, large α near uniform", () => {
  const rng = new Rng(3);
  const labels = makeLabels(3000, 10, rng);
  for (let c = 0; c < 20; c++) {
    const parts = partition(labels, 10, 10, "dirichlet:0.3,50", rng.fork(c));
    assert.ok(Math.min(...parts.map((p) => p.length)) >= 50);
    exactCover(parts, 3000);
  }
  const distinct = (spec: string) => {
    const h = classHistogram(labels, partition(labels, 10, 10, spec, new Rng(4)), 10);
    // mean over nodes of the share of the node's largest class
    return h.reduce((a, row) => a + Math.max(...row) / row.reduce((x, y) => x + y, 0), 0) / h.length;
  };
  assert.ok(distinct("dirichlet:0.05") > 0.6, `skewed ${distinct("dirichlet:0.05")}`);
  assert.ok(distinct("dirichlet:1000") < 0.3, `uniform ${distinct("dirichlet:1000")}`);
  throwsConfig(() => partition(labels, 10, 10, "dirichlet:0.5,400", rng), /needs 4000 samples for 10 nodes but there are 3000/);
  throwsConfig(() => partition(labels, 10, 100, "dirichlet:0.001,25", rng), /could not give every node ≥ 25 samples in 100 draws/);
});

test("shards: each node gets s label-sorted shards, so few classes", () => {
  const rng = new Rng(5);
  const labels = makeLabels(1000, 10, rng);
  const parts = partition(labels, 10, 50, "shards:2", rng);
  exactCover(parts, 1000);
  for (const p of parts) assert.is(p.length, 20);
  for (const h of classHistogram(labels, parts, 10)) assert.ok(h.filter((x) => x > 0).length <= 4);
  throwsConfig(() => partition(labels, 10, 600, "shards:2", rng), /needs 1200 shards for 600 nodes but there are only 1000 samples/);
});

test("determinism: same seed same split, other seed different; node lists shuffled", () => {
  const labels = makeLabels(500, 5, new Rng(6));
  for (const spec of ["iid", "classes:2", "dirichlet:0.5", "shards:3"]) {
    const a = partition(labels, 5, 7, spec, new Rng(42));
    const b = partition(labels, 5, 7, spec, new Rng(42));
    const c = partition(labels, 5, 7, spec, new Rng(43));
    assert.equal(a.map((p) => Array.from(p)), b.map((p) => Array.from(p)), spec);
    assert.not.equal(a.map((p) => Array.from(p)), c.map((p) => Array.from(p)), spec);
    const sorted = a.every((p) => p.every((x, i) => i === 0 || p[i - 1] < x));
    assert.not.ok(sorted, `${spec}: indices not shuffled`);
  }
});

test("bad specs and sizes: one-line ConfigErrors listing the allowed forms", () => {
  const labels = makeLabels(100, 10, new Rng(7));
  const allowed = /allowed: iid, classes:k, dirichlet:alpha\[,min\], shards:s/;
  for (const bad of ["noniid", "classes", "classes:0", "classes:x", "dirichlet:0", "dirichlet:-1", "dirichlet", "shards:1.5", "iid:3", ""]) {
    throwsConfig(() => parseSplit(bad), allowed);
  }
  throwsConfig(() => partition(labels, 10, 3, "classes:11", new Rng(1)), /classes:11 asks for more classes than the dataset has; need 1 ≤ k ≤ 10/);
  throwsConfig(() => partition(labels, 10, 101, "iid", new Rng(1)), /101 nodes but only 100 training samples/);
  throwsConfig(() => partition(labels, 10, 0, "iid", new Rng(1)), /--nodes 0 is not a positive integer/);
  assert.equal(parseSplit("dirichlet:0.5,20"), { kind: "dirichlet", alpha: 0.5, minSize: 20 });
  assert.equal(parseSplit(" classes:2"), { kind: "classes", k: 2 });
  for (const spec of ["iid", "classes:3", "dirichlet:0.5", "dirichlet:0.1,5", "shards:2"]) assert.is(formatSplit(parseSplit(spec)), spec);
});

test("golden: splits are identical on every runtime (digest over seeds and partitioners)", () => {
  const labels = new Uint8Array(3000).map((_, i) => (i * 7919 + (i >> 3)) % 10);
  let h = 0;
  for (let seed = 0; seed < 40; seed++) {
    for (const spec of ["iid", "classes:2", "dirichlet:0.3,5", "shards:2"]) {
      for (const p of partition(labels, 10, 20, spec, new Rng(seed))) for (const i of p) h = Math.imul(h ^ i, 16777619);
    }
  }
  assert.is((h >>> 0).toString(16), GOLDEN);
});

test("formatHistogram: a readable table with totals", () => {
  const labels = Uint8Array.from([0, 0, 1, 2, 2, 2]);
  const parts = [Int32Array.from([0, 1, 2]), Int32Array.from([3, 4, 5])];
  const hist = classHistogram(labels, parts, 3);
  assert.equal(hist, [[2, 1, 0], [0, 0, 3]]);
  const text = formatHistogram(hist, ["zero", "one", "two"]);
  const lines = text.split("\n");
  assert.is(lines.length, 6);
  assert.match(lines[0], /node \| zero one two \| total \| classes/);
  assert.is(lines[2], "   0 |    2   1   . |     3 |       2");
  assert.match(lines[5], /all \| +2 +1 +3 \| +6 \| +3/);
  assert.ok(lines.every((l) => l.length === lines[0].length), "aligned");
});

test.run();
