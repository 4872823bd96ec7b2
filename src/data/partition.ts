// Splitting a training set among nodes, with the degree of label bias as the knob.
// Names follow Flower's partitioners (flwr_datasets.partitioner):
//   iid              a uniform random split into near-equal parts (IidPartitioner)
//   classes:k        every node sees only k classes (PathologicalPartitioner); classes:1 is the
//                    paper's "highly biased" extreme. Classes are dealt to nodes round-robin over a
//                    seeded class permutation, node i taking classes perm[(i·k + j) mod C], j < k, so
//                    every class is held when n·k ≥ C; each class's samples are split evenly among
//                    its holders. When n·k < C the classes nobody holds are left out.
//   dirichlet:α[,m]  per class, proportions over nodes ~ Dir(α); redrawn until every node has at
//                    least m samples (DirichletPartitioner; default m = min(10, ⌊N/2n⌋), 100 draws)
//   shards:s         sort by label, cut into n·s shards, give each node s random shards
//                    (McMahan et al. 2017, ShardPartitioner)
// Glossary: N samples, C classes, n nodes. Output: one Int32Array of sample indices per node,
// each shuffled; apart from classes:k with n·k < C, every index appears exactly once overall.
import { ConfigError } from "../errors.ts";
import type { Rng } from "../rng.ts";

export type SplitSpec =
  | { kind: "iid" }
  | { kind: "classes"; k: number }
  | { kind: "dirichlet"; alpha: number; minSize?: number }
  | { kind: "shards"; s: number };

/** The forms `parseSplit` accepts, for help text and error messages. */
export const SPLIT_FORMS = ["iid", "classes:k", "dirichlet:alpha[,min]", "shards:s"] as const;

const DIRICHLET_TRIES = 100;

function bad(spec: string, why: string): never {
  throw new ConfigError(`--split "${spec}" ${why}; allowed: ${SPLIT_FORMS.join(", ")}`);
}

/** Validates a --split value (everything that does not depend on the dataset). */
export function parseSplit(spec: string): SplitSpec {
  const colon = spec.indexOf(":");
  const kind = (colon < 0 ? spec : spec.slice(0, colon)).trim().toLowerCase();
  const args = colon < 0 ? [] : spec.slice(colon + 1).split(",").map((s) => s.trim());
  const int = (s: string | undefined, what: string, min: number) => {
    const x = s === undefined || s === "" ? NaN : Number(s);
    if (!Number.isInteger(x) || x < min) bad(spec, `needs ${what} to be an integer ≥ ${min}`);
    return x;
  };
  switch (kind) {
    case "iid":
      if (colon >= 0) bad(spec, "takes no parameter");
      return { kind: "iid" };
    case "classes":
      if (args.length !== 1) bad(spec, "is malformed");
      return { kind: "classes", k: int(args[0], "k", 1) };
    case "shards":
      if (args.length !== 1) bad(spec, "is malformed");
      return { kind: "shards", s: int(args[0], "s", 1) };
    case "dirichlet": {
      if (args.length < 1 || args.length > 2) bad(spec, "is malformed");
      const alpha = args[0] === "" ? NaN : Number(args[0]);
      if (!(alpha > 0 && Number.isFinite(alpha))) bad(spec, "needs alpha > 0");
      return args.length === 2 ? { kind: "dirichlet", alpha, minSize: int(args[1], "min", 0) } : { kind: "dirichlet", alpha };
    }
    default:
      bad(spec, "is unknown");
  }
}

/** Canonical text of a spec (inverse of parseSplit). */
export function formatSplit(s: SplitSpec): string {
  switch (s.kind) {
    case "iid": return "iid";
    case "classes": return `classes:${s.k}`;
    case "shards": return `shards:${s.s}`;
    case "dirichlet": return `dirichlet:${s.alpha}${s.minSize === undefined ? "" : `,${s.minSize}`}`;
  }
}

/**
 * Splits samples with labels[N] (0..classes-1) among `nodes` nodes.
 * Returns [nodes][~N/nodes] sample indices, each node's list shuffled by `rng`.
 */
export function partition(labels: Uint8Array, classes: number, nodes: number, spec: string | SplitSpec, rng: Rng): Int32Array[] {
  const s = typeof spec === "string" ? parseSplit(spec) : spec;
  const name = formatSplit(s);
  const N = labels.length;
  if (!Number.isInteger(nodes) || nodes < 1) throw new ConfigError(`--nodes ${nodes} is not a positive integer`);
  if (nodes > N) throw new ConfigError(`--split ${name}: ${nodes} nodes but only ${N} training samples; use at most ${N} nodes`);
  for (let i = 0; i < N; i++) {
    if (labels[i] >= classes) throw new ConfigError(`--split ${name}: sample ${i} has label ${labels[i]} but the dataset has ${classes} classes`);
  }
  let parts: number[][];
  switch (s.kind) {
    case "iid": parts = splitEven(Array.from(rng.permutation(N)), nodes); break;
    case "classes": parts = byClasses(labels, classes, nodes, s.k, rng); break;
    case "shards": parts = byShards(labels, nodes, s.s, rng); break;
    case "dirichlet": parts = byDirichlet(labels, classes, nodes, s.alpha, s.minSize ?? Math.min(10, Math.floor(N / (2 * nodes))), rng); break;
  }
  const empty = parts.findIndex((p) => p.length === 0);
  if (empty >= 0) throw new ConfigError(`--split ${name} left node ${empty} with no samples; use fewer nodes or a milder split`);
  return parts.map((p) => rng.shuffle(Int32Array.from(p)));
}

/** Cuts xs into `parts` contiguous near-equal chunks. */
function splitEven(xs: number[], parts: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < parts; i++) out.push(xs.slice(Math.floor((i * xs.length) / parts), Math.floor(((i + 1) * xs.length) / parts)));
  return out;
}

/** Shuffled sample indices of each class: [classes][count_c]. */
function indicesByClass(labels: Uint8Array, classes: number, rng: Rng): number[][] {
  const by: number[][] = Array.from({ length: classes }, () => []);
  for (let i = 0; i < labels.length; i++) by[labels[i]].push(i);
  for (const b of by) rng.shuffle(b);
  return by;
}

function byClasses(labels: Uint8Array, classes: number, nodes: number, k: number, rng: Rng): number[][] {
  if (k > classes) throw new ConfigError(`--split classes:${k} asks for more classes than the dataset has; need 1 ≤ k ≤ ${classes}`);
  const perm = rng.permutation(classes);
  const holders: number[][] = Array.from({ length: classes }, () => []);
  for (let i = 0; i < nodes; i++) for (let j = 0; j < k; j++) holders[perm[(i * k + j) % classes]].push(i);
  const by = indicesByClass(labels, classes, rng);
  const parts: number[][] = Array.from({ length: nodes }, () => []);
  for (let c = 0; c < classes; c++) {
    const h = holders[c];
    if (!h.length) continue;
    const chunks = splitEven(by[c], h.length);
    for (let q = 0; q < h.length; q++) for (const x of chunks[q]) parts[h[q]].push(x);
  }
  return parts;
}

function byShards(labels: Uint8Array, nodes: number, s: number, rng: Rng): number[][] {
  const N = labels.length, T = nodes * s;
  if (T > N) throw new ConfigError(`--split shards:${s} needs ${T} shards for ${nodes} nodes but there are only ${N} samples; lower s`);
  // Sorted by label, random order within a label (a stable sort of a random permutation).
  const order = Array.from(rng.permutation(N)).sort((a, b) => labels[a] - labels[b]);
  const shards = splitEven(order, T);
  const deal = rng.permutation(T);
  const parts: number[][] = [];
  for (let i = 0; i < nodes; i++) {
    const p: number[] = [];
    for (let q = 0; q < s; q++) for (const x of shards[deal[i * s + q]]) p.push(x);
    parts.push(p);
  }
  return parts;
}

function byDirichlet(labels: Uint8Array, classes: number, nodes: number, alpha: number, minSize: number, rng: Rng): number[][] {
  const N = labels.length;
  if (minSize * nodes > N) {
    throw new ConfigError(`--split dirichlet:${alpha},${minSize} needs ${minSize * nodes} samples for ${nodes} nodes but there are ${N}; lower min`);
  }
  let smallest = 0;
  for (let tries = 0; tries < DIRICHLET_TRIES; tries++) {
    const by = indicesByClass(labels, classes, rng);
    const parts: number[][] = Array.from({ length: nodes }, () => []);
    for (let c = 0; c < classes; c++) {
      const p = new Float64Array(nodes);
      let sum = 0;
      for (let i = 0; i < nodes; i++) sum += p[i] = rng.gamma(alpha);
      // Tiny α can underflow every gamma draw to 0; the limit of Dir(α→0) is all mass on one node.
      if (!(sum > 0)) { p.fill(0); p[rng.int(nodes)] = 1; sum = 1; }
      const idx = by[c];
      let start = 0, acc = 0;
      for (let i = 0; i < nodes; i++) {
        acc += p[i] / sum;
        const end = i === nodes - 1 ? idx.length : Math.min(idx.length, Math.floor(acc * idx.length));
        for (let q = start; q < end; q++) parts[i].push(idx[q]);
        start = Math.max(start, end);
      }
    }
    smallest = Math.min(...parts.map((x) => x.length));
    if (smallest >= minSize && smallest > 0) return parts;
  }
  throw new ConfigError(`--split dirichlet:${alpha} could not give every node ≥ ${Math.max(1, minSize)} samples in ${DIRICHLET_TRIES} draws ` +
    `(best smallest ${smallest}); raise alpha or lower the minimum with dirichlet:${alpha},MIN`);
}

/** Per-node class counts: [nodes][classes]. */
export function classHistogram(labels: Uint8Array, parts: readonly Int32Array[], classes: number): number[][] {
  return parts.map((p) => {
    const h = new Array<number>(classes).fill(0);
    for (let q = 0; q < p.length; q++) h[labels[p[q]]]++;
    return h;
  });
}

/**
 * A text table of a class histogram: one row per node, one column per class, then the node's
 * total and its number of distinct classes, and a final "all" row. `classNames` label the columns.
 */
export function formatHistogram(hist: readonly number[][], classNames?: readonly string[]): string {
  const C = hist.length ? hist[0].length : classNames?.length ?? 0;
  const heads = Array.from({ length: C }, (_, c) => (classNames?.[c] ?? String(c)).slice(0, 10));
  const all = new Array<number>(C).fill(0);
  for (const row of hist) row.forEach((x, c) => (all[c] += x));
  const total = all.reduce((a, b) => a + b, 0);
  const w = heads.map((h, c) => Math.max(h.length, String(all[c]).length));
  const nodeW = Math.max(4, String(hist.length - 1).length);
  const totW = Math.max(5, String(total).length);
  const line = (label: string, cells: string[], tot: string, k: string) =>
    `${label.padStart(nodeW)} | ${cells.map((x, c) => x.padStart(w[c])).join(" ")} | ${tot.padStart(totW)} | ${k.padStart(7)}`;
  const out = [line("node", heads, "total", "classes")];
  out.push("-".repeat(out[0].length));
  hist.forEach((row, i) => {
    const sum = row.reduce((a, b) => a + b, 0);
    out.push(line(String(i), row.map((x) => (x ? String(x) : ".")), String(sum), String(row.filter((x) => x > 0).length)));
  });
  out.push("-".repeat(out[0].length));
  out.push(line("all", all.map(String), String(total), String(all.filter((x) => x > 0).length)));
  return out.join("\n");
}
