// Communication graphs for consensus: who may send a parameter snapshot to whom.
//
// Glossary: n nodes numbered 0..n-1; an undirected simple graph (no self loops, no multi-edges);
// d_i the degree of node i; Δ the maximum degree.
// Layout: `adj[i]` is node i's neighbour list sorted ascending; `edges` lists each undirected
// edge once as [i, j] with i < j, sorted lexicographically.
//
// Every graph returned by `parseTopology` is connected: averaging consensus cannot agree across
// components, so a disconnected spec (an unlucky random draw, a bad edge-list file) is a
// ConfigError rather than a silent non-result. Random families are resampled until connected.
import { readFileSync } from "node:fs";
import { ConfigError } from "../errors.ts";
import type { Rng } from "../rng.ts";

export { ConfigError };

export interface Topology {
  /** Node count. */
  readonly n: number;
  /** Canonical spec, e.g. "ring", "torus:4x5", "erdos-renyi:0.3". */
  readonly name: string;
  /** [n][d_i] sorted neighbour lists. */
  readonly adj: number[][];
  /** [E][2] undirected edges, i < j, sorted. */
  readonly edges: [number, number][];
  /** Δ, the maximum degree (0 for a single node). */
  readonly maxDegree: number;
  /** d_i. */
  degree(i: number): number;
}

/** The spec forms `parseTopology` accepts, for help text and error messages. */
export const TOPOLOGY_FORMS = [
  "complete", "ring", "line", "star", "torus", "erdos-renyi:p", "small-world:k,beta", "random-regular:d", "file:PATH",
] as const;

const MAX_TRIES = 1000;

/** Builds a Topology from an edge list; duplicates (either orientation) are merged. */
export function fromEdges(n: number, edges: Iterable<readonly [number, number]>, name: string): Topology {
  const sets: Set<number>[] = Array.from({ length: n }, () => new Set<number>());
  for (const [a, b] of edges) {
    if (!(Number.isInteger(a) && Number.isInteger(b) && a >= 0 && b >= 0 && a < n && b < n)) {
      throw new ConfigError(`topology ${name}: edge ${a}-${b} names a node outside 0..${n - 1}`);
    }
    if (a === b) throw new ConfigError(`topology ${name}: self loop at node ${a} (edges must join two different nodes)`);
    sets[a].add(b);
    sets[b].add(a);
  }
  const adj = sets.map((s) => Array.from(s).sort((x, y) => x - y));
  const list: [number, number][] = [];
  let maxDegree = 0;
  for (let i = 0; i < n; i++) {
    maxDegree = Math.max(maxDegree, adj[i].length);
    for (const j of adj[i]) if (i < j) list.push([i, j]);
  }
  return { n, name, adj, edges: list, maxDegree, degree: (i: number) => adj[i].length };
}

/** Connected components, each a sorted node list, ordered by smallest member. */
export function components(t: Pick<Topology, "n" | "adj">): number[][] {
  const seen = new Uint8Array(t.n);
  const out: number[][] = [];
  const stack: number[] = [];
  for (let s = 0; s < t.n; s++) {
    if (seen[s]) continue;
    const comp: number[] = [];
    seen[s] = 1;
    stack.push(s);
    while (stack.length) {
      const v = stack.pop()!;
      comp.push(v);
      for (const w of t.adj[v]) if (!seen[w]) { seen[w] = 1; stack.push(w); }
    }
    out.push(comp.sort((a, b) => a - b));
  }
  return out;
}

/** True when every node can reach every other (a single node is connected). */
export function isConnected(t: Pick<Topology, "n" | "adj">): boolean {
  return t.n <= 1 || components(t).length === 1;
}

/**
 * Parses a topology spec for n nodes (see TOPOLOGY_FORMS). Random families draw from `rng`;
 * `readText` reads `file:PATH` (defaults to a synchronous UTF-8 read).
 */
/** The most edges a topology may have (each edge is a link with its own processes and streams). */
export const MAX_EDGES = 2e6;

export function parseTopology(spec: string, n: number, rng: Rng,
  readText: (path: string) => string = (p) => readFileSync(p, "utf8")): Topology {
  if (!Number.isInteger(n) || n < 1) throw new ConfigError(`--nodes ${n} is not a positive integer`);
  const colon = spec.indexOf(":");
  const kind = (colon < 0 ? spec : spec.slice(0, colon)).trim().toLowerCase();
  const arg = colon < 0 ? "" : spec.slice(colon + 1).trim();
  // Refuse graphs too large to build before building them (the edge list, adjacency and spectrum).
  const dense = kind === "complete" ? 1 : kind === "erdos-renyi" ? Number(arg) : 0;
  if (dense > 0 && (dense * n * (n - 1)) / 2 > MAX_EDGES) {
    throw new ConfigError(`topology ${spec} on ${n} nodes has about ${((dense * n * (n - 1)) / 2).toExponential(1)} edges, above the ${MAX_EDGES.toExponential(0)} this simulator builds: use fewer --nodes or a sparser topology (ring, torus, random-regular:d, small-world:k,beta)`);
  }
  const noArg = () => {
    if (colon >= 0) throw new ConfigError(`topology "${spec}" takes no parameter (write just "${kind}")`);
  };
  switch (kind) {
    case "complete": noArg(); return complete(n);
    case "ring": noArg(); return ring(n);
    case "line": noArg(); return line(n);
    case "star": noArg(); return star(n);
    case "torus": noArg(); return torus(n);
    case "erdos-renyi": return erdosRenyi(n, num(arg, spec, "erdos-renyi:p with 0 < p ≤ 1"), rng);
    case "small-world": {
      const parts = arg.split(",");
      const form = "small-world:k,beta with k even, 2 ≤ k < n, 0 ≤ beta ≤ 1";
      if (parts.length !== 2) throw new ConfigError(`topology "${spec}" is malformed; expected ${form}`);
      return smallWorld(n, num(parts[0], spec, form), num(parts[1], spec, form), rng);
    }
    case "random-regular": return randomRegular(n, num(arg, spec, "random-regular:d with 0 < d < n and n·d even"), rng);
    case "file": {
      if (!arg) throw new ConfigError(`topology "${spec}" needs a path: file:PATH (an edge list, one "i j" per line)`);
      let text: string;
      try { text = readText(arg); } catch (e) {
        throw new ConfigError(`topology file ${arg} cannot be read (${(e as Error).message.split("\n")[0]})`);
      }
      return parseEdgeList(text, n, arg);
    }
    default:
      throw new ConfigError(`unknown topology "${spec}"; allowed: ${TOPOLOGY_FORMS.join(", ")}`);
  }
}

function num(s: string, spec: string, form: string): number {
  const x = s.trim() === "" ? NaN : Number(s);
  if (!Number.isFinite(x)) throw new ConfigError(`topology "${spec}" is malformed; expected ${form}`);
  return x;
}

function complete(n: number): Topology {
  const e: [number, number][] = [];
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) e.push([i, j]);
  return fromEdges(n, e, "complete");
}

function ring(n: number): Topology {
  const e: [number, number][] = [];
  for (let i = 0; i < n && n > 1; i++) e.push([i, (i + 1) % n]);
  return fromEdges(n, e, "ring");
}

function line(n: number): Topology {
  const e: [number, number][] = [];
  for (let i = 0; i + 1 < n; i++) e.push([i, i + 1]);
  return fromEdges(n, e, "line");
}

function star(n: number): Topology {
  const e: [number, number][] = [];
  for (let i = 1; i < n; i++) e.push([0, i]);
  return fromEdges(n, e, "star");
}

/** The most square factorisation rows × cols = n with rows ≤ cols. */
export function squareFactors(n: number): [number, number] {
  let r = Math.floor(Math.sqrt(n));
  while (r > 1 && n % r !== 0) r--;
  return [r, n / r];
}

function torus(n: number): Topology {
  const [rows, cols] = squareFactors(n);
  if (rows === 1 && n > 3) {
    let lo = n - 1, hi = n + 1;
    while (squareFactors(lo)[0] === 1) lo--;
    while (squareFactors(hi)[0] === 1) hi++;
    throw new ConfigError(`topology torus needs a node count that factors as rows×cols with both ≥ 2, and ${n} is prime; try --nodes ${lo} or ${hi}`);
  }
  if (rows === 1) return fromEdges(n, ring(n).edges, "torus:1x" + n);
  const e: [number, number][] = [];
  const id = (r: number, c: number) => r * cols + c;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      e.push([id(r, c), id(r, (c + 1) % cols)]);
      e.push([id(r, c), id((r + 1) % rows, c)]);
    }
  }
  return fromEdges(n, e, `torus:${rows}x${cols}`);
}

function erdosRenyi(n: number, p: number, rng: Rng): Topology {
  const name = `erdos-renyi:${p}`;
  if (!(p > 0 && p <= 1)) throw new ConfigError(`topology ${name}: need 0 < p ≤ 1`);
  for (let tries = 0; tries < MAX_TRIES; tries++) {
    const e: [number, number][] = [];
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) if (rng.uniform() < p) e.push([i, j]);
    const t = fromEdges(n, e, name);
    if (isConnected(t)) return t;
  }
  throw new ConfigError(`topology ${name} on ${n} nodes was disconnected in all ${MAX_TRIES} draws; ` +
    `raise p above the connectivity threshold ln(n)/n ≈ ${(Math.log(n) / n).toFixed(3)}`);
}

/** Watts–Strogatz: a ring lattice joining each node to k/2 neighbours per side, each edge rewired with probability beta. */
function smallWorld(n: number, k: number, beta: number, rng: Rng): Topology {
  const name = `small-world:${k},${beta}`;
  if (!(Number.isInteger(k) && k >= 2 && k % 2 === 0 && k < n)) {
    throw new ConfigError(`topology ${name} on ${n} nodes: need k even with 2 ≤ k < n`);
  }
  if (!(beta >= 0 && beta <= 1)) throw new ConfigError(`topology ${name}: need 0 ≤ beta ≤ 1`);
  for (let tries = 0; tries < MAX_TRIES; tries++) {
    const sets: Set<number>[] = Array.from({ length: n }, () => new Set<number>());
    const link = (a: number, b: number) => { sets[a].add(b); sets[b].add(a); };
    for (let i = 0; i < n; i++) for (let j = 1; j <= k / 2; j++) link(i, (i + j) % n);
    // Rewire in the order of Watts & Strogatz (1998): lap j over all nodes, the far end moves.
    for (let j = 1; j <= k / 2; j++) {
      for (let i = 0; i < n; i++) {
        const v = (i + j) % n;
        if (rng.uniform() >= beta || !sets[i].has(v) || sets[i].size >= n - 1) continue;
        let w = rng.int(n);
        while (w === i || sets[i].has(w)) w = rng.int(n);
        sets[i].delete(v); sets[v].delete(i);
        link(i, w);
      }
    }
    const e: [number, number][] = [];
    sets.forEach((s, i) => s.forEach((j) => { if (i < j) e.push([i, j]); }));
    const t = fromEdges(n, e, name);
    if (isConnected(t)) return t;
  }
  throw new ConfigError(`topology ${name} on ${n} nodes was disconnected in all ${MAX_TRIES} draws; raise k or lower beta`);
}

/** Random d-regular graph: stub pairing (configuration model) avoiding loops and multi-edges, restarted when stuck. */
function randomRegular(n: number, d: number, rng: Rng): Topology {
  const name = `random-regular:${d}`;
  if (!(Number.isInteger(d) && d > 0 && d < n && (n * d) % 2 === 0)) {
    throw new ConfigError(`topology ${name} on ${n} nodes: need an integer d with 0 < d < n and n·d even`);
  }
  for (let tries = 0; tries < MAX_TRIES; tries++) {
    const e = pairStubs(n, d, rng);
    if (!e) continue;
    const t = fromEdges(n, e, name);
    if (isConnected(t)) return t;
  }
  throw new ConfigError(`topology ${name} on ${n} nodes was not a connected simple graph in ${MAX_TRIES} draws` +
    (d === 2 ? "; a 2-regular graph is a union of cycles, use ring" : "; try a larger d"));
}

function pairStubs(n: number, d: number, rng: Rng): [number, number][] | null {
  const stubs: number[] = [];
  for (let i = 0; i < n; i++) for (let k = 0; k < d; k++) stubs.push(i);
  const seen = new Set<number>();
  const e: [number, number][] = [];
  // Steger–Wormald: draw two stubs at random; keep the pair when it makes a simple edge.
  while (stubs.length) {
    let ok = false;
    for (let attempt = 0; attempt < 100 && !ok; attempt++) {
      const x = rng.int(stubs.length);
      let y = rng.int(stubs.length - 1);
      if (y >= x) y++;
      const a = stubs[x], b = stubs[y];
      const key = Math.min(a, b) * n + Math.max(a, b);
      if (a === b || seen.has(key)) continue;
      seen.add(key);
      e.push([a, b]);
      // Remove the larger index first so the smaller stays valid.
      for (const idx of [Math.max(x, y), Math.min(x, y)]) { stubs[idx] = stubs[stubs.length - 1]; stubs.pop(); }
      ok = true;
    }
    if (!ok) return null;
  }
  return e;
}

/**
 * Parses an edge list: one "i j" pair per line (whitespace or comma separated), node ids
 * 0..n-1, `#` starts a comment, blank lines ignored. `source` names the file in errors.
 */
export function parseEdgeList(text: string, n: number, source: string): Topology {
  const e: [number, number][] = [];
  const lines = text.split(/\r?\n/);
  for (let ln = 0; ln < lines.length; ln++) {
    const body = lines[ln].replace(/#.*/, "").trim();
    if (!body) continue;
    const where = `topology file ${source} line ${ln + 1}`;
    const f = body.split(/[\s,]+/);
    if (f.length !== 2 || !f.every((s) => /^\d+$/.test(s))) {
      throw new ConfigError(`${where}: "${body}" is not an edge; expected two node ids "i j"`);
    }
    const a = Number(f[0]), b = Number(f[1]);
    if (a >= n || b >= n) throw new ConfigError(`${where}: node ${Math.max(a, b)} is out of range 0..${n - 1} for --nodes ${n}`);
    if (a === b) throw new ConfigError(`${where}: self loop ${a} ${b} (an edge must join two different nodes)`);
    e.push([a, b]);
  }
  const t = fromEdges(n, e, `file:${source}`);
  const comps = components(t);
  if (comps.length > 1) {
    const lone = comps.find((c) => c.length === 1);
    throw new ConfigError(`topology file ${source} is disconnected (${comps.length} components` +
      (lone ? `, e.g. node ${lone[0]} has no edges` : "") + `); consensus needs a connected graph`);
  }
  return t;
}
