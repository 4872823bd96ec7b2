// Consensus weight rules: how much of each received neighbour snapshot a node mixes into its own.
//
// Glossary: node i with degree d_i; S ⊆ N_i the neighbours whose latest snapshot is fresh
// (no older than --max-staleness); Δ the topology's maximum degree; ε the Laplacian step size.
// One asynchronous consensus step is θ_i ← w_ii θ_i + Σ_{j∈S} w_ij θ_j with weights from
// `mixingWeights`; they are non-negative and sum to 1 for every rule:
//   laplacian   w_ij = ε,                        w_ii = 1 − ε|S|   (θ_i + ε Σ (θ_j − θ_i))
//   metropolis  w_ij = 1 / (1 + max(d_i, d_j)), w_ii = 1 − Σ_j w_ij (Metropolis–Hastings)
//   uniform     w_ij = w_ii = 1 / (1 + |S|)                         (plain mean)
// With S = N_i for every node these give the dense W of `weightMatrix`: laplacian is I − εL,
// metropolis is symmetric and doubly stochastic, uniform is row-stochastic only.
//
// Stability of ε (decision): ALGORITHM.md requires 0 < ε·|S| ≤ 1 at every step. Since |S| ≤ d_i ≤ Δ,
// `resolveEpsilon` validates ε once, up front, against 0 < ε ≤ 1/Δ, which guarantees the
// per-step condition for every possible S; `mixingWeights` re-checks it per step as a guard.
// ε = 1/Δ itself keeps weights non-negative and disagreement non-increasing, but on a
// bipartite regular graph (e.g. an even ring) synchronous mixing then oscillates; the default
// 1/(Δ+1) is strictly inside the bound and always converges on a connected graph.
import { ConfigError } from "../errors.ts";
import type { Topology } from "./topology.ts";

export type WeightRule = "laplacian" | "metropolis" | "uniform";
export const WEIGHT_RULES: readonly WeightRule[] = ["laplacian", "metropolis", "uniform"];

/** Validates a --weights value. */
export function parseWeightRule(s: string): WeightRule {
  const r = s.trim().toLowerCase();
  if ((WEIGHT_RULES as readonly string[]).includes(r)) return r as WeightRule;
  throw new ConfigError(`unknown --weights "${s}"; allowed: ${WEIGHT_RULES.join(", ")}`);
}

/** The default step size 1/(Δ+1) (1 for a single node, which never mixes). */
export function defaultEpsilon(t: Pick<Topology, "maxDegree">): number {
  return 1 / (t.maxDegree + 1);
}

const fmt = (x: number) => String(Number(x.toPrecision(3)));

/**
 * The ε to use on topology t: `epsilon` if given (validated against 0 < ε ≤ 1/Δ), else the
 * default 1/(Δ+1). Throws a one-line ConfigError naming the bound.
 */
export function resolveEpsilon(t: Pick<Topology, "maxDegree" | "name">, epsilon?: number): number {
  if (epsilon === undefined) return defaultEpsilon(t);
  const d = t.maxDegree;
  const bound = d > 0 ? 1 / d : Infinity;
  if (!(epsilon > 0 && epsilon <= bound * (1 + 1e-12)) || !Number.isFinite(epsilon)) {
    throw new ConfigError(`--epsilon ${epsilon} breaks consensus stability on ${t.name} (Δ=${d}): ` +
      `need 0 < ε ≤ ${d > 0 ? fmt(bound) : "any finite value"}; the default is 1/(Δ+1) = ${fmt(defaultEpsilon(t))}`);
  }
  return epsilon;
}

/** A fresh snapshot from neighbour `peer` of degree `degree` (metropolis needs d_j). */
export interface Received {
  peer: number;
  degree: number;
}

/** Weights of one consensus step: `self` for θ_i, `peers[k]` for received[k]. They sum to 1. */
export interface MixingWeights {
  self: number;
  peers: number[];
}

/**
 * Weights for one asynchronous consensus step of a node of degree `selfDegree` that holds fresh
 * snapshots `received` (the set S, in any order). `epsilon` is required for `laplacian`
 * (resolve it once with `resolveEpsilon`); a step with ε·|S| > 1 throws a ConfigError.
 */
export function mixingWeights(rule: WeightRule, opts: { epsilon?: number }, selfDegree: number,
  received: readonly Received[]): MixingWeights {
  const s = received.length;
  switch (rule) {
    case "laplacian": {
      const e = opts.epsilon;
      if (e === undefined) throw new Error("mixingWeights: laplacian needs opts.epsilon (see resolveEpsilon)");
      if (!(e > 0) || e * s > 1 + 1e-12) {
        throw new ConfigError(`--epsilon ${e} breaks consensus stability: need 0 < ε·|S| ≤ 1 with |S| = ${s} fresh neighbours`);
      }
      return { self: Math.max(0, 1 - e * s), peers: new Array<number>(s).fill(e) };
    }
    case "metropolis": {
      const peers = received.map((r) => 1 / (1 + Math.max(selfDegree, r.degree)));
      let sum = 0;
      for (const w of peers) sum += w;
      return { self: Math.max(0, 1 - sum), peers };
    }
    case "uniform": {
      const w = 1 / (1 + s);
      return { self: w, peers: new Array<number>(s).fill(w) };
    }
    default:
      throw new ConfigError(`unknown --weights "${rule as string}"; allowed: ${WEIGHT_RULES.join(", ")}`);
  }
}

/**
 * Dense W[n, n] (row-major) of one synchronous step with every neighbour fresh, for analysis
 * (spectral gap) and the synchronous dpsgd baseline. `epsilon` defaults to 1/(Δ+1) and is validated.
 */
export function weightMatrix(t: Topology, rule: WeightRule, epsilon?: number): Float64Array {
  const n = t.n, W = new Float64Array(n * n);
  const e = rule === "laplacian" ? resolveEpsilon(t, epsilon) : undefined;
  for (let i = 0; i < n; i++) {
    const nb = t.adj[i];
    const m = mixingWeights(rule, { epsilon: e }, nb.length, nb.map((j) => ({ peer: j, degree: t.adj[j].length })));
    W[i * n + i] = m.self;
    for (let k = 0; k < nb.length; k++) W[i * n + nb[k]] = m.peers[k];
  }
  return W;
}
