// Spectral quantities that predict how fast consensus converges.
//
// Glossary: n nodes; L = D − A the graph Laplacian (n×n, symmetric, L·1 = 0);
// 0 = λ₁ ≤ λ₂ ≤ … ≤ λ_n its eigenvalues, λ₂ the algebraic connectivity (0 iff disconnected);
// W an n×n row-stochastic weight matrix, its spectral gap 1 − max(|μ₂|, |μ_n|) over the
// eigenvalues 1 = μ₁ ≥ μ₂ ≥ … ≥ μ_n (the error contracts by that second-largest modulus per step).
// Layout: dense matrices are Float64Array, row-major, index i·n + j.
//
// Two solvers, each the other's oracle in the tests: the cyclic Jacobi eigenvalue algorithm
// (all eigenvalues, O(n³) per sweep, used up to JACOBI_MAX nodes) and Lanczos with deflation of
// the known top/bottom eigenvector (only the extreme eigenvalues, O(E + n) per step: λ₂ of a
// 1000-node ring takes tens of milliseconds).
import { Rng } from "../rng.ts";
import type { Topology } from "./topology.ts";

/** Above this many nodes the solvers switch from Jacobi to Lanczos. */
export const JACOBI_MAX = 64;

export type EigenMethod = "auto" | "jacobi" | "lanczos";

/** Dense Laplacian L[n, n] = D − A. */
export function laplacian(t: Topology): Float64Array {
  const n = t.n, L = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    L[i * n + i] = t.adj[i].length;
    for (const j of t.adj[i]) L[i * n + j] = -1;
  }
  return L;
}

/** All eigenvalues of a symmetric A[n, n], ascending (cyclic Jacobi; A is not modified). */
export function symmetricEigenvalues(A: Float64Array, n: number): Float64Array {
  const a = Float64Array.from(A);
  let total = 0;
  for (let i = 0; i < n * n; i++) total += a[i] * a[i];
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q] * a[p * n + q];
    if (off <= 1e-30 * total || off === 0) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (apq === 0) continue;
        const app = a[p * n + p], aqq = a[q * n + q];
        // Rotation angle chosen to zero a[p,q] (Golub & Van Loan, sym.schur2).
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p], akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k], aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
      }
    }
  }
  const ev = new Float64Array(n);
  for (let i = 0; i < n; i++) ev[i] = a[i * n + i];
  return ev.sort();
}

/** y[n] = A·x[n] for a symmetric operator. */
export type MatVec = (x: Float64Array, y: Float64Array) => void;

/**
 * Smallest and largest eigenvalue of a symmetric operator restricted to the orthogonal
 * complement of `deflate` (orthonormal vectors, each [n]). Plain Lanczos: three vectors of
 * memory and O(matvec + n) per step. Without full reorthogonalisation Ritz values can repeat
 * ("ghosts"), but extreme ones still converge to true eigenvalues (Paige), and re-projecting
 * out `deflate` every step keeps the deflated eigenvalue from creeping back. Stops when both
 * Ritz residuals β·|s_m| fall below tol·‖A‖. The start vector comes from a fixed seed, so the
 * result is reproducible.
 */
export function lanczosExtremes(matvec: MatVec, n: number, deflate: Float64Array[] = [], tol = 1e-10): { min: number; max: number } {
  if (n - deflate.length <= 0) return { min: NaN, max: NaN };
  const rng = new Rng(0x1a2c05);
  const project = (w: Float64Array) => {
    for (const u of deflate) {
      let d = 0;
      for (let i = 0; i < n; i++) d += u[i] * w[i];
      for (let i = 0; i < n; i++) w[i] -= d * u[i];
    }
  };
  let v = new Float64Array(n), prev = new Float64Array(n), w = new Float64Array(n);
  for (let i = 0; i < n; i++) v[i] = rng.uniform() - 0.5;
  project(v); project(v);
  const nv = norm(v);
  for (let i = 0; i < n; i++) v[i] /= nv;
  const alpha: number[] = [], beta: number[] = [];
  const maxIter = 20 * n + 100;
  let scale = 0, nextCheck = 4, result = { min: NaN, max: NaN };
  for (let j = 0; j < maxIter; j++) {
    matvec(v, w);
    let a = 0;
    for (let i = 0; i < n; i++) a += v[i] * w[i];
    const bPrev = j > 0 ? beta[j - 1] : 0;
    for (let i = 0; i < n; i++) w[i] -= a * v[i] + bPrev * prev[i];
    project(w);
    // Local reorthogonalisation against the current vector (cheap, curbs drift in α).
    let d = 0;
    for (let i = 0; i < n; i++) d += v[i] * w[i];
    for (let i = 0; i < n; i++) w[i] -= d * v[i];
    a += d;
    alpha.push(a);
    const b = norm(w);
    scale = Math.max(scale, Math.abs(a) + b + bPrev);
    const breakdown = b <= 1e-13 * Math.max(scale, 1e-300);
    if (breakdown || j + 1 >= nextCheck || j === maxIter - 1) {
      // Check at geometrically spaced steps: each check costs O(m) bisection passes.
      nextCheck = Math.max(j + 4, Math.ceil((j + 1) * 1.05));
      const lo = ritzExtreme(alpha, beta, 1), hi = ritzExtreme(alpha, beta, -1);
      result = { min: lo.value, max: hi.value };
      if (breakdown || (b * lo.lastAbs <= tol * scale && b * hi.lastAbs <= tol * scale)) return result;
    }
    beta.push(b);
    const t = prev;
    prev = v;
    v = t;
    for (let i = 0; i < n; i++) v[i] = w[i] / b;
  }
  return result;
}

function norm(x: Float64Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return Math.sqrt(s);
}

/**
 * The smallest (sign = 1) or largest (sign = −1) eigenvalue of the tridiagonal T(alpha, beta)
 * by Sturm bisection, and |last component| of its unit eigenvector by inverse iteration.
 */
function ritzExtreme(alpha: number[], beta: number[], sign: number): { value: number; lastAbs: number } {
  const m = alpha.length;
  const a = alpha.map((x) => sign * x);
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < m; i++) {
    const r = (i > 0 ? Math.abs(beta[i - 1]) : 0) + (i < m - 1 ? Math.abs(beta[i]) : 0);
    lo = Math.min(lo, a[i] - r);
    hi = Math.max(hi, a[i] + r);
  }
  // count(x) = number of eigenvalues < x: negative pivots of the LDLᵀ of T − xI.
  const count = (x: number) => {
    let c = 0, d = 1;
    for (let i = 0; i < m; i++) {
      d = a[i] - x - (i > 0 ? (beta[i - 1] * beta[i - 1]) / d : 0);
      if (d === 0) d = -1e-300;
      if (d < 0) c++;
    }
    return c;
  };
  for (let it = 0; it < 200 && hi - lo > 1e-15 * Math.max(Math.abs(lo), Math.abs(hi), 1e-300); it++) {
    const mid = 0.5 * (lo + hi);
    if (mid <= lo || mid >= hi) break;
    if (count(mid) >= 1) hi = mid; else lo = mid;
  }
  // T − lo·I is positive semidefinite (no eigenvalue below lo), so the Thomas solve is stable.
  let y = new Float64Array(m).fill(1);
  for (let it = 0; it < 3; it++) {
    const c = new Float64Array(m), z = new Float64Array(m);
    let piv = a[0] - lo || 1e-300;
    c[0] = m > 1 ? beta[0] / piv : 0;
    z[0] = y[0] / piv;
    for (let i = 1; i < m; i++) {
      piv = a[i] - lo - beta[i - 1] * c[i - 1] || 1e-300;
      c[i] = i < m - 1 ? beta[i] / piv : 0;
      z[i] = (y[i] - beta[i - 1] * z[i - 1]) / piv;
    }
    for (let i = m - 2; i >= 0; i--) z[i] -= c[i] * z[i + 1];
    const s = norm(z);
    y = s > 0 && Number.isFinite(s) ? z.map((x) => x / s) : new Float64Array(m).fill(1 / Math.sqrt(m));
  }
  return { value: sign * 0.5 * (lo + hi), lastAbs: Math.abs(y[m - 1]) };
}

function pickMethod(n: number, method: EigenMethod): "jacobi" | "lanczos" {
  return method === "auto" ? (n <= JACOBI_MAX ? "jacobi" : "lanczos") : method;
}

function laplacianMatVec(t: Topology): MatVec {
  return (x, y) => {
    for (let i = 0; i < t.n; i++) {
      const nb = t.adj[i];
      let s = nb.length * x[i];
      for (let k = 0; k < nb.length; k++) s -= x[nb[k]];
      y[i] = s;
    }
  };
}

/** λ₂(L), the algebraic connectivity: 0 iff disconnected; 0 by convention for a single node. */
export function algebraicConnectivity(t: Topology, method: EigenMethod = "auto"): number {
  if (t.n < 2) return 0;
  if (pickMethod(t.n, method) === "jacobi") return Math.max(0, symmetricEigenvalues(laplacian(t), t.n)[1]);
  const one = new Float64Array(t.n).fill(1 / Math.sqrt(t.n));
  return Math.max(0, lanczosExtremes(laplacianMatVec(t), t.n, [one]).min);
}

/** λ₂ and λ_n of L from one solve, for reports; both 0 for a single node. */
export function laplacianExtremes(t: Topology, method: EigenMethod = "auto"): { lambda2: number; lambdaMax: number } {
  if (t.n < 2) return { lambda2: 0, lambdaMax: 0 };
  if (pickMethod(t.n, method) === "jacobi") {
    const ev = symmetricEigenvalues(laplacian(t), t.n);
    return { lambda2: Math.max(0, ev[1]), lambdaMax: ev[t.n - 1] };
  }
  const one = new Float64Array(t.n).fill(1 / Math.sqrt(t.n));
  const r = lanczosExtremes(laplacianMatVec(t), t.n, [one]);
  return { lambda2: Math.max(0, r.min), lambdaMax: r.max };
}

/** λ_n(L), the largest Laplacian eigenvalue (≤ 2Δ); 0 for a single node. */
export function largestLaplacianEigenvalue(t: Topology, method: EigenMethod = "auto"): number {
  if (t.n < 2) return 0;
  if (pickMethod(t.n, method) === "jacobi") return symmetricEigenvalues(laplacian(t), t.n)[t.n - 1];
  const one = new Float64Array(t.n).fill(1 / Math.sqrt(t.n));
  return lanczosExtremes(laplacianMatVec(t), t.n, [one]).max;
}

/**
 * Spectral gap 1 − max(|μ₂|, |μ_n|) of a row-stochastic W[n, n] that is symmetric or reversible
 * (π_i W_ij = π_j W_ji, e.g. the `uniform` rule); it is symmetrised as Π^½ W Π^−½, which has the
 * same eigenvalues. 0 when the graph is disconnected or W is periodic; 1 for exact averaging.
 */
export function spectralGap(W: Float64Array, n: number, method: EigenMethod = "auto"): number {
  if (n < 2) return 1;
  const pi = stationary(W, n);
  const sq = pi.map(Math.sqrt);
  const S = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) S[i * n + j] = (sq[i] * W[i * n + j]) / sq[j];
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) {
    const m = 0.5 * (S[i * n + j] + S[j * n + i]);
    S[i * n + j] = S[j * n + i] = m;
  }
  let slem: number;
  if (pickMethod(n, method) === "jacobi") {
    const ev = symmetricEigenvalues(S, n);
    slem = Math.max(Math.abs(ev[n - 2]), Math.abs(ev[0]));
  } else {
    const u = new Float64Array(sq), s = norm(u);
    for (let i = 0; i < n; i++) u[i] /= s;
    // Sparse rows: a weight matrix has only as many non-zeros as the graph has edges.
    const rows: Int32Array[] = [], vals: Float64Array[] = [];
    for (let i = 0; i < n; i++) {
      const idx: number[] = [], v: number[] = [];
      for (let j = 0; j < n; j++) if (S[i * n + j] !== 0) { idx.push(j); v.push(S[i * n + j]); }
      rows.push(Int32Array.from(idx)); vals.push(Float64Array.from(v));
    }
    const r = lanczosExtremes((x, y) => {
      for (let i = 0; i < n; i++) {
        const idx = rows[i], v = vals[i];
        let acc = 0;
        for (let k = 0; k < idx.length; k++) acc += v[k] * x[idx[k]];
        y[i] = acc;
      }
    }, n, [u]);
    slem = Math.max(Math.abs(r.max), Math.abs(r.min));
  }
  return Math.max(0, 1 - slem);
}

/** Stationary distribution of a reversible W, from detailed balance along a spanning forest. */
function stationary(W: Float64Array, n: number): Float64Array {
  const pi = new Float64Array(n);
  for (let s = 0; s < n; s++) {
    if (pi[s] > 0) continue;
    pi[s] = 1;
    const stack = [s];
    while (stack.length) {
      const i = stack.pop()!;
      for (let j = 0; j < n; j++) {
        const wij = W[i * n + j];
        if (j === i || wij === 0 || pi[j] > 0) continue;
        const wji = W[j * n + i];
        if (!(wji > 0)) throw new Error(`spectralGap: W[${i},${j}] > 0 but W[${j},${i}] = 0; W must be reversible`);
        pi[j] = (pi[i] * wij) / wji;
        stack.push(j);
      }
    }
  }
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) {
    const a = pi[i] * W[i * n + j], b = pi[j] * W[j * n + i];
    if (Math.abs(a - b) > 1e-9 * Math.max(a, b)) throw new Error(`spectralGap: W is not reversible (detailed balance fails at ${i},${j})`);
  }
  return pi;
}
