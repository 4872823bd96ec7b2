import { test } from "uvu";
import * as assert from "uvu/assert";
import { Rng } from "../../src/rng.ts";
import { fromEdges, parseTopology } from "../../src/consensus/topology.ts";
import {
  algebraicConnectivity, laplacian, laplacianExtremes, largestLaplacianEigenvalue, spectralGap, symmetricEigenvalues,
} from "../../src/consensus/spectral.ts";
import { weightMatrix } from "../../src/consensus/weights.ts";

const close = (a: number, b: number, tol: number, what: string) =>
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b} (diff ${Math.abs(a - b)})`);

test("λ₂ of known graphs matches closed forms, both solvers", () => {
  for (const n of [2, 3, 5, 8, 17, 40, 64, 65, 150]) {
    const cases: [string, number][] = [
      ["complete", n],
      ["ring", n >= 3 ? 2 - 2 * Math.cos((2 * Math.PI) / n) : 2],
      ["line", 2 - 2 * Math.cos(Math.PI / n)],
      ["star", n > 2 ? 1 : 2],
    ];
    for (const [spec, want] of cases) {
      const t = parseTopology(spec, n, new Rng(1));
      for (const m of ["jacobi", "lanczos"] as const) {
        if (m === "jacobi" && n > 80) continue;
        close(algebraicConnectivity(t, m), want, 1e-9, `${spec} n=${n} ${m}`);
      }
    }
  }
});

test("λ_max of known graphs: complete n, star n, ring 4 (even n)", () => {
  for (const n of [6, 20, 100]) {
    close(largestLaplacianEigenvalue(parseTopology("complete", n, new Rng(1))), n, 1e-9, "complete");
    close(largestLaplacianEigenvalue(parseTopology("star", n, new Rng(1))), n, 1e-9, "star");
    close(largestLaplacianEigenvalue(parseTopology("ring", n, new Rng(1))), 4, 1e-9, "ring");
  }
});

test("Jacobi and Lanczos agree on random graphs; Jacobi's eigenvalues sum to the trace", () => {
  const rng = new Rng(3);
  for (let c = 0; c < 60; c++) {
    const n = 3 + rng.int(40);
    const specs = ["erdos-renyi:0.3", "small-world:2,0.3", "random-regular:3", "torus"];
    const spec = specs[rng.int(specs.length)];
    let t;
    try { t = parseTopology(spec, n, rng.fork(c)); } catch { continue; }
    const L = laplacian(t);
    const ev = symmetricEigenvalues(L, n);
    let trace = 0, sum = 0;
    for (let i = 0; i < n; i++) { trace += L[i * n + i]; sum += ev[i]; }
    close(sum, trace, 1e-10, "trace");
    close(ev[0], 0, 1e-10, "λ₁ = 0");
    const lj = laplacianExtremes(t, "jacobi"), ll = laplacianExtremes(t, "lanczos");
    close(ll.lambda2, lj.lambda2, 1e-8, `${spec} n=${n} λ₂`);
    close(ll.lambdaMax, lj.lambdaMax, 1e-8, `${spec} n=${n} λmax`);
  }
});

test("disconnected graph has λ₂ = 0", () => {
  const t = fromEdges(6, [[0, 1], [1, 2], [3, 4], [4, 5]], "two-paths");
  close(algebraicConnectivity(t, "jacobi"), 0, 1e-12, "jacobi");
  close(algebraicConnectivity(t, "lanczos"), 0, 1e-10, "lanczos");
});

test("n = 1000 ring and line: λ₂ accurate and fast", () => {
  for (const [spec, want] of [["ring", 2 - 2 * Math.cos((2 * Math.PI) / 1000)], ["line", 2 - 2 * Math.cos(Math.PI / 1000)]] as const) {
    const t = parseTopology(spec, 1000, new Rng(1));
    const t0 = performance.now();
    const got = algebraicConnectivity(t);
    const ms = performance.now() - t0;
    assert.ok(Math.abs(got - want) < 1e-9 * 4, `${spec}: ${got} vs ${want}`);
    assert.ok(ms < 1000, `${spec} took ${ms} ms`);
  }
});

test("spectral gap: complete/metropolis is exact averaging; matches 1 − max|μ| for I − εL; solvers agree", () => {
  const k = parseTopology("complete", 8, new Rng(1));
  // Metropolis on K_n gives every weight 1/n: W = J/n, gap 1.
  close(spectralGap(weightMatrix(k, "metropolis"), 8), 1, 1e-10, "K8 metropolis");
  const rng = new Rng(9);
  for (let c = 0; c < 30; c++) {
    const n = 4 + rng.int(60);
    let t;
    try { t = parseTopology(["erdos-renyi:0.25", "ring", "torus", "star"][c % 4], n, rng.fork(c)); } catch { continue; }
    const e = 1 / (t.maxDegree + 1);
    const ev = symmetricEigenvalues(laplacian(t), n);
    const want = 1 - Math.max(Math.abs(1 - e * ev[1]), Math.abs(1 - e * ev[n - 1]));
    const W = weightMatrix(t, "laplacian", e);
    close(spectralGap(W, n, "jacobi"), want, 1e-9, `laplacian ${t.name} n=${n} jacobi`);
    close(spectralGap(W, n, "lanczos"), want, 1e-8, `laplacian ${t.name} n=${n} lanczos`);
    // uniform is only reversible: both solvers go through the symmetrisation.
    const U = weightMatrix(t, "uniform");
    close(spectralGap(U, n, "lanczos"), spectralGap(U, n, "jacobi"), 1e-8, `uniform ${t.name} n=${n}`);
  }
  // A bipartite ring with ε = 1/Δ oscillates: eigenvalue −1, gap 0.
  const r = parseTopology("ring", 10, new Rng(1));
  close(spectralGap(weightMatrix(r, "laplacian", 0.5), 10), 0, 1e-10, "even ring ε=1/Δ");
});

test.run();
