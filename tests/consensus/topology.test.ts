import { test } from "uvu";
import * as assert from "uvu/assert";
import { ConfigError } from "../../src/errors.ts";
import { Rng } from "../../src/rng.ts";
import {
  components, fromEdges, isConnected, parseEdgeList, parseTopology, squareFactors, type Topology,
} from "../../src/consensus/topology.ts";

const rng = () => new Rng(7);

/** Structural invariants every Topology must satisfy. */
function wellFormed(t: Topology) {
  assert.is(t.adj.length, t.n);
  let sum = 0, max = 0;
  for (let i = 0; i < t.n; i++) {
    const a = t.adj[i];
    for (let k = 0; k < a.length; k++) {
      assert.ok(a[k] !== i, `self loop at ${i}`);
      if (k) assert.ok(a[k - 1] < a[k], `adj[${i}] sorted and unique`);
      assert.ok(t.adj[a[k]].includes(i), `undirected ${i}-${a[k]}`);
    }
    assert.is(t.degree(i), a.length);
    sum += a.length;
    max = Math.max(max, a.length);
  }
  assert.is(t.edges.length * 2, sum);
  assert.is(t.maxDegree, max);
  for (const [a, b] of t.edges) assert.ok(a < b);
}

function throwsConfig(fn: () => unknown, re: RegExp) {
  try { fn(); } catch (e) {
    assert.instance(e, ConfigError);
    const msg = (e as Error).message;
    assert.not.match(msg, /\n/, "one line");
    assert.match(msg, re);
    return;
  }
  assert.unreachable("expected a ConfigError");
}

test("deterministic families: degrees and edge counts", () => {
  for (const n of [1, 2, 3, 4, 5, 9, 12, 30]) {
    const c = parseTopology("complete", n, rng());
    wellFormed(c);
    assert.is(c.edges.length, (n * (n - 1)) / 2);
    const r = parseTopology("ring", n, rng());
    wellFormed(r);
    assert.is(r.edges.length, n <= 2 ? n - 1 : n);
    if (n >= 3) for (let i = 0; i < n; i++) assert.is(r.degree(i), 2);
    const l = parseTopology("line", n, rng());
    wellFormed(l);
    assert.is(l.edges.length, n - 1);
    const s = parseTopology("star", n, rng());
    wellFormed(s);
    assert.is(s.degree(0), n - 1);
    for (let i = 1; i < n; i++) assert.equal(s.adj[i], [0]);
    for (const t of [c, r, l, s]) assert.ok(isConnected(t));
  }
});

test("torus: most square factorisation, wraparound, degree 4", () => {
  assert.equal(squareFactors(12), [3, 4]);
  assert.equal(squareFactors(16), [4, 4]);
  assert.equal(squareFactors(7), [1, 7]);
  const t = parseTopology("torus", 20, rng());
  wellFormed(t);
  assert.is(t.name, "torus:4x5");
  for (let i = 0; i < 20; i++) assert.is(t.degree(i), 4);
  assert.is(t.edges.length, 40);
  // Node (0,0) wraps to (0,4) and (3,0).
  assert.equal(t.adj[0], [1, 4, 5, 15]);
  // 2×3: the vertical wrap duplicates the vertical edge, so degree 3.
  const small = parseTopology("torus", 6, rng());
  wellFormed(small);
  for (let i = 0; i < 6; i++) assert.is(small.degree(i), 3);
  throwsConfig(() => parseTopology("torus", 13, rng()), /13 is prime; try --nodes 12 or 14/);
});

test("erdos-renyi: connected, roughly p·n(n−1)/2 edges, seeded", () => {
  const a = parseTopology("erdos-renyi:0.3", 40, new Rng(1));
  wellFormed(a);
  assert.ok(isConnected(a));
  const expected = 0.3 * 40 * 39 / 2;
  assert.ok(Math.abs(a.edges.length - expected) < 0.25 * expected, `${a.edges.length} edges`);
  assert.equal(parseTopology("erdos-renyi:0.3", 40, new Rng(1)).edges, a.edges);
  assert.not.equal(parseTopology("erdos-renyi:0.3", 40, new Rng(2)).edges, a.edges);
  for (let s = 0; s < 50; s++) assert.ok(isConnected(parseTopology("erdos-renyi:0.2", 25, new Rng(s))));
  throwsConfig(() => parseTopology("erdos-renyi:0.01", 30, rng()), /disconnected.*ln\(n\)\/n/);
  throwsConfig(() => parseTopology("erdos-renyi:1.5", 30, rng()), /0 < p ≤ 1/);
  throwsConfig(() => parseTopology("erdos-renyi:x", 30, rng()), /expected erdos-renyi:p/);
});

test("small-world: edge count kept by rewiring, beta 0 is the lattice", () => {
  const lat = parseTopology("small-world:4,0", 12, rng());
  wellFormed(lat);
  for (let i = 0; i < 12; i++) assert.equal(lat.adj[i], [(i + 10) % 12, (i + 11) % 12, (i + 1) % 12, (i + 2) % 12].sort((a, b) => a - b));
  for (let s = 0; s < 30; s++) {
    const t = parseTopology("small-world:4,0.3", 30, new Rng(s));
    wellFormed(t);
    assert.is(t.edges.length, 60);
    assert.ok(isConnected(t));
  }
  throwsConfig(() => parseTopology("small-world:3,0.1", 12, rng()), /k even/);
  throwsConfig(() => parseTopology("small-world:4", 12, rng()), /expected small-world:k,beta/);
});

test("random-regular: every degree d, connected", () => {
  for (let s = 0; s < 30; s++) {
    for (const [n, d] of [[10, 3], [20, 4], [31, 6], [50, 5]]) {
      const t = parseTopology(`random-regular:${d}`, n, new Rng(s));
      wellFormed(t);
      for (let i = 0; i < n; i++) assert.is(t.degree(i), d);
      assert.ok(isConnected(t));
    }
  }
  throwsConfig(() => parseTopology("random-regular:3", 11, rng()), /n·d even/);
  throwsConfig(() => parseTopology("random-regular:12", 11, rng()), /0 < d < n/);
});

test("edge-list files: comments, both orientations, errors name the line", () => {
  const t = parseEdgeList("# a triangle plus a tail\n0 1\n1 2 # inline\n\n2,0\n1 0\n3 2\n", 4, "g.txt");
  wellFormed(t);
  assert.equal(t.edges, [[0, 1], [0, 2], [1, 2], [2, 3]]);
  assert.is(t.name, "file:g.txt");
  throwsConfig(() => parseEdgeList("0 1\n1 9\n", 4, "g.txt"), /g\.txt line 2: node 9 is out of range 0\.\.3/);
  throwsConfig(() => parseEdgeList("0 1\n2 2\n", 4, "g.txt"), /line 2: self loop/);
  throwsConfig(() => parseEdgeList("0 1 2\n", 4, "g.txt"), /line 1: "0 1 2" is not an edge/);
  throwsConfig(() => parseEdgeList("0 -1\n", 4, "g.txt"), /not an edge/);
  throwsConfig(() => parseEdgeList("0 1\n2 3\n", 4, "g.txt"), /disconnected \(2 components\)/);
  throwsConfig(() => parseEdgeList("0 1\n", 3, "g.txt"), /node 2 has no edges/);
  const viaSpec = parseTopology("file:mem", 3, rng(), () => "0 1\n1 2\n");
  assert.equal(viaSpec.edges, [[0, 1], [1, 2]]);
  throwsConfig(() => parseTopology("file:/nonexistent/edges.txt", 3, rng()), /cannot be read/);
});

test("unknown or malformed specs: one line listing the allowed forms", () => {
  throwsConfig(() => parseTopology("hypercube", 8, rng()),
    /unknown topology "hypercube"; allowed: complete, ring, line, star, torus, erdos-renyi:p, small-world:k,beta, random-regular:d, file:PATH/);
  throwsConfig(() => parseTopology("ring:3", 8, rng()), /takes no parameter/);
  throwsConfig(() => parseTopology("ring", 0, rng()), /--nodes 0/);
});

test("components and isConnected", () => {
  const t = fromEdges(6, [[0, 1], [2, 3], [3, 4]], "x");
  assert.equal(components(t), [[0, 1], [2, 3, 4], [5]]);
  assert.not.ok(isConnected(t));
  assert.ok(isConnected(fromEdges(1, [], "one")));
});

test.run();
