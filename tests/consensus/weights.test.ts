import { test } from "uvu";
import * as assert from "uvu/assert";
import { ConfigError } from "../../src/errors.ts";
import { Rng } from "../../src/rng.ts";
import { parseTopology, type Topology } from "../../src/consensus/topology.ts";
import {
  defaultEpsilon, mixingWeights, parseWeightRule, resolveEpsilon, weightMatrix, WEIGHT_RULES, type WeightRule,
} from "../../src/consensus/weights.ts";

const SPECS = ["erdos-renyi:0.2", "erdos-renyi:0.5", "ring", "line", "star", "complete", "torus", "small-world:4,0.3", "random-regular:3"];

/** Hundreds of seeded random connected graphs. */
function* graphs(count: number, seed: number): Generator<Topology> {
  const rng = new Rng(seed);
  for (let c = 0; c < count; c++) {
    const n = 1 + rng.int(30);
    const spec = SPECS[rng.int(SPECS.length)];
    try { yield parseTopology(spec, n, rng.fork(c)); } catch { yield parseTopology("ring", n, rng.fork(c)); }
  }
}

/** A random subset S of node i's neighbours, in random order. */
function randomFresh(t: Topology, i: number, rng: Rng) {
  const nb = t.adj[i].filter(() => rng.uniform() < 0.6);
  rng.shuffle(nb);
  return nb.map((j) => ({ peer: j, degree: t.degree(j) }));
}

const disagreement = (x: Float64Array) => {
  let m = 0;
  for (const v of x) m += v / x.length;
  let s = 0;
  for (const v of x) s += (v - m) ** 2;
  return Math.sqrt(s);
};
const mean = (x: Float64Array) => x.reduce((a, b) => a + b, 0) / x.length;
const mul = (W: Float64Array, x: Float64Array) => {
  const n = x.length, y = new Float64Array(n);
  for (let i = 0; i < n; i++) { let s = 0; for (let j = 0; j < n; j++) s += W[i * n + j] * x[j]; y[i] = s; }
  return y;
};

test("asynchronous step weights: non-negative, sum to 1, for random S (hundreds of cases)", () => {
  const rng = new Rng(11);
  let cases = 0;
  for (const t of graphs(300, 1)) {
    const eps = resolveEpsilon(t, rng.uniform() < 0.5 ? undefined : (0.05 + 0.95 * rng.uniform()) / Math.max(1, t.maxDegree));
    for (const rule of WEIGHT_RULES) {
      const i = rng.int(t.n);
      const S = randomFresh(t, i, rng);
      const w = mixingWeights(rule, { epsilon: eps }, t.degree(i), S);
      assert.is(w.peers.length, S.length);
      assert.ok(w.self >= 0 && w.peers.every((x) => x >= 0), "non-negative");
      const sum = w.self + w.peers.reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(sum - 1) < 1e-12, `${rule} sums to ${sum}`);
      // Mixing identical vectors changes nothing.
      const v = rng.normal();
      assert.ok(Math.abs(w.self * v + w.peers.reduce((a, p) => a + p * v, 0) - v) < 1e-12);
      if (S.length === 0) assert.is(w.self, 1);
      cases++;
    }
  }
  assert.ok(cases >= 900);
});

test("dense W: rows stochastic; Metropolis symmetric and doubly stochastic; laplacian = I − εL", () => {
  for (const t of graphs(300, 2)) {
    const n = t.n;
    for (const rule of WEIGHT_RULES) {
      const W = weightMatrix(t, rule);
      for (let i = 0; i < n; i++) {
        let row = 0;
        for (let j = 0; j < n; j++) {
          const w = W[i * n + j];
          assert.ok(w >= 0, `${rule} ${t.name} W[${i},${j}] = ${w}`);
          if (i !== j && w > 0) assert.ok(t.adj[i].includes(j), "support is the graph");
          row += w;
        }
        assert.ok(Math.abs(row - 1) < 1e-12, `${rule} row ${i} sums to ${row}`);
      }
      if (rule !== "uniform") {
        for (let i = 0; i < n; i++) {
          let col = 0;
          for (let j = 0; j < n; j++) {
            col += W[j * n + i];
            assert.ok(Math.abs(W[i * n + j] - W[j * n + i]) < 1e-15, `${rule} symmetric`);
          }
          assert.ok(Math.abs(col - 1) < 1e-12, `${rule} column ${i} sums to ${col}`);
        }
      }
    }
    const e = defaultEpsilon(t), L = weightMatrix(t, "laplacian");
    for (let i = 0; i < n; i++) assert.ok(Math.abs(L[i * n + i] - (1 - e * t.degree(i))) < 1e-15);
  }
});

test("synchronous doubly-stochastic mixing preserves the mean and never grows disagreement", () => {
  const rng = new Rng(5);
  for (const t of graphs(200, 3)) {
    for (const rule of ["laplacian", "metropolis"] as WeightRule[]) {
      // ε anywhere in (0, 1/Δ], the bound included.
      const eps = rule === "laplacian" && t.maxDegree > 0 ? (rng.uniform() < 0.2 ? 1 : rng.uniform() || 0.5) / t.maxDegree : undefined;
      const W = weightMatrix(t, rule, eps);
      let x = new Float64Array(t.n).map(() => rng.normal() * 10);
      const m0 = mean(x);
      let d = disagreement(x);
      for (let step = 0; step < 20; step++) {
        x = mul(W, x);
        const d1 = disagreement(x);
        assert.ok(d1 <= d * (1 + 1e-12) + 1e-12, `${rule} ${t.name} step ${step}: ${d} → ${d1}`);
        d = d1;
      }
      assert.ok(Math.abs(mean(x) - m0) < 1e-9 * (1 + Math.abs(m0)), "mean preserved");
      assert.ok(x.every(Number.isFinite));
    }
  }
});

test("asynchronous mixing with random fresh sets stays in the convex hull and finite (drops never make NaN)", () => {
  const rng = new Rng(12);
  for (const t of graphs(150, 4)) {
    for (const rule of WEIGHT_RULES) {
      const eps = resolveEpsilon(t);
      const x = new Float64Array(t.n).map(() => rng.normal());
      const lo = Math.min(...x), hi = Math.max(...x);
      for (let step = 0; step < 200; step++) {
        const i = rng.int(t.n);
        const S = randomFresh(t, i, rng); // the rest were dropped, stale or never sent
        const w = mixingWeights(rule, { epsilon: eps }, t.degree(i), S);
        x[i] = w.self * x[i] + S.reduce((a, r, k) => a + w.peers[k] * x[r.peer], 0);
      }
      assert.ok(x.every((v) => Number.isFinite(v) && v >= lo - 1e-12 && v <= hi + 1e-12), `${rule} ${t.name}`);
    }
  }
});

test("negative control: the row-stochastic-only uniform rule does not preserve the mean on an irregular graph", () => {
  const t = parseTopology("star", 6, new Rng(1));
  const W = weightMatrix(t, "uniform");
  const x = new Float64Array([6, 0, 0, 0, 0, 0]);
  assert.ok(Math.abs(mean(mul(W, x)) - mean(x)) > 0.1, "the mean-preservation check can fail");
  // and an ε above 1/Δ would grow disagreement, which is why it is refused.
  const r = parseTopology("ring", 6, new Rng(1));
  const n = 6, bad = new Float64Array(n * n);
  for (let i = 0; i < n; i++) { bad[i * n + i] = 1 - 2 * 0.8; for (const j of r.adj[i]) bad[i * n + j] = 0.8; }
  const alt = new Float64Array([1, -1, 1, -1, 1, -1]);
  assert.ok(disagreement(mul(bad, alt)) > disagreement(alt), "the non-growth check can fail");
});

test("default ε converges to the average on a connected graph", () => {
  const t = parseTopology("ring", 12, new Rng(1));
  const W = weightMatrix(t, "laplacian");
  let x = new Float64Array(12).map((_, i) => i);
  for (let k = 0; k < 2000; k++) x = mul(W, x);
  assert.ok(disagreement(x) < 1e-9);
  assert.ok(Math.abs(mean(x) - 5.5) < 1e-9);
});

test("ε above the bound is refused with a one-line ConfigError naming the bound", () => {
  const ring = parseTopology("ring", 10, new Rng(1));
  try {
    resolveEpsilon(ring, 0.6);
    assert.unreachable();
  } catch (e) {
    assert.instance(e, ConfigError);
    assert.is((e as Error).message,
      "--epsilon 0.6 breaks consensus stability on ring (Δ=2): need 0 < ε ≤ 0.5; the default is 1/(Δ+1) = 0.333");
  }
  assert.is(resolveEpsilon(ring, 0.5), 0.5);
  assert.is(resolveEpsilon(ring), 1 / 3);
  for (const bad of [0, -0.1, NaN, Infinity]) assert.throws(() => resolveEpsilon(ring, bad), (e: Error) => e instanceof ConfigError && /need 0 < ε ≤ 0\.5/.test(e.message));
  const star = parseTopology("star", 9, new Rng(1));
  assert.throws(() => weightMatrix(star, "laplacian", 0.2), /on star \(Δ=8\): need 0 < ε ≤ 0\.125/);
  // Per-step guard: ε·|S| > 1.
  const S = [1, 2, 3].map((p) => ({ peer: p, degree: 3 }));
  assert.throws(() => mixingWeights("laplacian", { epsilon: 0.4 }, 3, S), (e: Error) => e instanceof ConfigError && /ε·\|S\| ≤ 1 with \|S\| = 3/.test(e.message));
  assert.throws(() => parseWeightRule("max-degree"), /unknown --weights "max-degree"; allowed: laplacian, metropolis, uniform/);
  assert.is(parseWeightRule("Metropolis"), "metropolis");
});

test.run();
