// The seeded Rng (src/rng.ts): shuffles and permutations are uniform over all n! orders
// (checked against exact probabilities: fixed points, every order of n = 3 and 5, every value at
// every position), draws stay in range, streams are reproducible and distinct.
// Seeds are fixed, so every bound below is checked once and never flakes; bounds are ≥ 5σ.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { portableExp, Rng } from "../../src/rng.ts";

/** Pearson's χ² of observed counts against expected counts. */
function chiSquare(observed: ArrayLike<number>, expected: ArrayLike<number>): number {
  let x = 0;
  for (let i = 0; i < observed.length; i++) x += (observed[i] - expected[i]) ** 2 / expected[i];
  return x;
}

/** A bound that a χ² with `df` degrees of freedom exceeds with probability ≪ 1e-6 (mean + 6 sd). */
const chiBound = (df: number) => df + 6 * Math.sqrt(2 * df);

/** Index of a permutation of 0..n-1 in 0..n!-1 (Lehmer code). */
function rank(p: ArrayLike<number>): number {
  const n = p.length;
  let r = 0;
  for (let i = 0; i < n; i++) {
    let smaller = 0;
    for (let j = i + 1; j < n; j++) if (p[j] < p[i]) smaller++;
    r = r * (n - i) + smaller;
  }
  return r;
}

const factorial = (n: number): number => (n <= 1 ? 1 : n * factorial(n - 1));

test("shuffle of n = 5: P(at least one fixed point) = 76/120, the share of derangements 44/120", () => {
  const rng = new Rng(101);
  const N = 24000;
  let withFixed = 0;
  for (let k = 0; k < N; k++) {
    const p = rng.permutation(5);
    if (p.some((v, i) => v === i)) withFixed++;
  }
  const want = 76 / 120, sd = Math.sqrt((want * (1 - want)) / N);
  const got = withFixed / N;
  assert.ok(Math.abs(got - want) < 6 * sd,
    `${(100 * got).toFixed(2)}% of shuffles leave an element in place, want ${(100 * want).toFixed(2)}% ± ${(600 * sd).toFixed(2)}: ` +
    (got === 0 ? "the shuffle never leaves an element in place (Sattolo's cycle, j drawn from [0, i) instead of [0, i])" : "the shuffle is biased"));
});

test("shuffle: every one of the n! orders is equally likely (n = 3 and n = 5, χ²)", () => {
  for (const [n, N, seed] of [[3, 60000, 102], [5, 48000, 103]]) {
    const rng = new Rng(seed);
    const m = factorial(n);
    const counts = new Float64Array(m);
    for (let k = 0; k < N; k++) counts[rank(rng.permutation(n))]++;
    const never = counts.filter((c) => c === 0).length;
    assert.is(never, 0, `n = ${n}: ${never} of the ${m} orders never came up in ${N} shuffles`);
    const x = chiSquare(counts, new Float64Array(m).fill(N / m));
    assert.ok(x < chiBound(m - 1), `n = ${n}: χ² = ${x.toFixed(1)} over ${m} orders (df ${m - 1}, bound ${chiBound(m - 1).toFixed(1)}): orders are not equally likely`);
  }
});

test("shuffle: every value lands at every position with frequency 1/n (n = 7, χ² per position)", () => {
  const n = 7, N = 35000;
  const rng = new Rng(104);
  const counts = Array.from({ length: n }, () => new Float64Array(n)); // [position][value]
  for (let k = 0; k < N; k++) {
    const a = Array.from({ length: n }, (_, i) => i); // plain arrays shuffle like typed ones
    rng.shuffle(a).forEach((v, pos) => counts[pos][v]++);
  }
  const expected = new Float64Array(n).fill(N / n);
  for (let pos = 0; pos < n; pos++) {
    const x = chiSquare(counts[pos], expected);
    assert.ok(x < chiBound(n - 1), `position ${pos}: values ${Array.from(counts[pos]).join(", ")} (expected ${N / n} each), χ² = ${x.toFixed(1)}`);
    assert.ok(counts[pos][pos] > 0, `value ${pos} never stays at its own position`);
  }
});

test("permutation(n) holds 0..n-1 once each; shuffle of 0 or 1 elements is a no-op; same seed same order", () => {
  const rng = new Rng(105);
  for (const n of [0, 1, 2, 3, 17, 1000]) {
    const p = rng.permutation(n);
    assert.is(p.length, n);
    assert.equal(Array.from(p).sort((x, y) => x - y), Array.from({ length: n }, (_, i) => i), `permutation(${n})`);
  }
  assert.equal(rng.shuffle([]), []);
  assert.equal(rng.shuffle([42]), [42]);
  assert.equal(new Rng(7).permutation(50), new Rng(7).permutation(50));
  assert.not.equal(new Rng(7).permutation(50), new Rng(8).permutation(50));
  // A typed array and a plain array consume the same draws.
  assert.equal(Array.from(new Rng(9).shuffle(Int32Array.from({ length: 20 }, (_, i) => i))), new Rng(9).shuffle(Array.from({ length: 20 }, (_, i) => i)));
});

test("uniform in [0, 1) and int(n) in [0, n) with equal frequencies", () => {
  const rng = new Rng(106);
  let sum = 0;
  for (let k = 0; k < 100000; k++) {
    const u = rng.uniform();
    assert.ok(u >= 0 && u < 1, `uniform ${u}`);
    sum += u;
  }
  assert.ok(Math.abs(sum / 100000 - 0.5) < 6 * Math.sqrt(1 / 12 / 100000), `mean ${sum / 100000}`);
  for (const n of [1, 2, 3, 10]) {
    const N = 20000 * n, counts = new Float64Array(n);
    for (let k = 0; k < N; k++) {
      const v = rng.int(n);
      assert.ok(Number.isInteger(v) && v >= 0 && v < n, `int(${n}) gave ${v}`);
      counts[v]++;
    }
    if (n > 1) assert.ok(chiSquare(counts, new Float64Array(n).fill(N / n)) < chiBound(n - 1), `int(${n}) counts ${Array.from(counts)}`);
  }
});

test("normal, exponential and gamma have their means and variances", () => {
  const rng = new Rng(107), N = 100000;
  const moments = (draw: () => number) => {
    let s = 0, s2 = 0;
    for (let k = 0; k < N; k++) { const x = draw(); s += x; s2 += x * x; }
    return { mean: s / N, variance: s2 / N - (s / N) ** 2 };
  };
  const nrm = moments(() => rng.normal());
  assert.ok(Math.abs(nrm.mean) < 0.02 && Math.abs(nrm.variance - 1) < 0.03, `normal ${JSON.stringify(nrm)}`);
  const ex = moments(() => rng.exponential(2));
  assert.ok(Math.abs(ex.mean - 2) < 0.04 && Math.abs(ex.variance - 4) < 0.3, `exponential(2) ${JSON.stringify(ex)}`);
  for (const shape of [0.3, 1, 4.5]) {
    const g = moments(() => rng.gamma(shape));
    assert.ok(Math.abs(g.mean - shape) < 0.03 * Math.max(1, shape) && Math.abs(g.variance - shape) < 0.1 * Math.max(1, shape), `gamma(${shape}) ${JSON.stringify(g)}`);
  }
});

test("streams: same (seed, stream) ⇒ same draws; another seed, stream id or fork ⇒ different", () => {
  const draws = (r: Rng) => Array.from({ length: 8 }, () => r.nextU32());
  assert.equal(draws(new Rng(1, 3)), draws(new Rng(1, 3)));
  assert.not.equal(draws(new Rng(1, 3)), draws(new Rng(1, 4)));
  assert.not.equal(draws(new Rng(1, 3)), draws(new Rng(2, 3)));
  const a = new Rng(5), b = new Rng(5);
  assert.equal(draws(a.fork(1)), draws(b.fork(1)));
  assert.not.equal(draws(a.fork(1)), draws(b.fork(2)));
  // Nearby seeds give unrelated streams: their first draws agree no more often than chance.
  const first = new Set(Array.from({ length: 1000 }, (_, s) => new Rng(s).nextU32()));
  assert.is(first.size, 1000);
});

test("portableExp matches Math.exp to a few ulp", () => {
  const rng = new Rng(108);
  for (let k = 0; k < 20000; k++) {
    const x = (rng.uniform() - 0.5) * 1400;
    const want = Math.exp(x), got = portableExp(x);
    assert.ok(Math.abs(got - want) <= 4 * Number.EPSILON * want || (want < 1e-300 && Math.abs(got - want) < 1e-320), `exp(${x}): ${got} vs ${want}`);
  }
  assert.is(portableExp(0), 1);
  assert.is(portableExp(800), Infinity);
  assert.is(portableExp(-800), 0);
});

test.run();
