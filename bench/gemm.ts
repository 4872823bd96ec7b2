// GEMM throughput: gemm_nn/nt/tn_f32 of the SIMD and scalar builds on 1024³ and on the shapes the
// dense and conv layers use, next to TensorFlow.js's wasm backend (XNNPACK), one thread each, in
// the same process. The yardstick ("× tfjs") is tfjs matMul(a[M,K], b[K,N]) of the same size: its
// fastest path (it packs b once and caches the packing across calls). tfjs's own transposeA /
// transposeB matMul is also listed ("tfjs-T") for the layer shapes; on 1024³ it takes seconds per
// call, so it is left out there. Not a test: nothing here gates on absolute time.
// Usage: npm run build && node dist/bench/gemm.js
import os from "node:os";
import { pathToFileURL } from "node:url";
// @ts-ignore: the benchmark package ships no type declarations; the part used is typed below.
import BenchmarkJs from "benchmark";
import { Rng } from "../src/rng.ts";
import { GEMM_WS_FLOATS, type Kernels } from "../src/wasm/kernels.ts";
import { loadEngine, simdBuild, withoutFma, type Engine } from "../src/wasm/loader.ts";
import { peakProbe } from "./peak.ts";
import { loadTfjsWasm, type Tf } from "./tfjs.ts";

interface BenchmarkRun { stats: { mean: number }; error?: unknown; run(): void }
type BenchmarkCtor = new (name: string, fn: () => void, opts: Record<string, unknown>) => BenchmarkRun;
const Benchmark = BenchmarkJs as BenchmarkCtor;

export type Variant = "nn" | "nt" | "tn";
export interface Row {
  /** What the shape is, e.g. "square" or "conv1 fwd". */
  case: string;
  variant: Variant;
  /** "simd" (this runtime's SIMD build), "simd mul+add" (its counterpart without FMA), "scalar", "tfjs" (untransposed matMul of the same size) or "tfjs-T" (same transposition). */
  impl: string;
  M: number; N: number; K: number;
  gflops: number;
  /** gflops / tfjs gflops on the same shape and variant; null for tfjs itself or when it was not run. */
  vsTfjs: number | null;
}

interface Shape { case: string; variant: Variant; M: number; N: number; K: number; scalar: boolean }

// B = 32 MNIST images; conv1 5×5 1→32 channels on 28×28 (24×24 outputs), conv2 5×5 32→64 on
// 12×12 (8×8 outputs). im2row GEMMs (Conv2D in src/nn/layers.ts): forward nt W[OC,CKK]·colT[P,CKK]ᵀ,
// with P = the pixels of one chunk of images (one 576-pixel image for conv1, four 64-pixel images
// for conv2), called once per chunk; and the backward GEMMs of a chunk whose dy is dense: dW nn
// dy[OC,P]·colT[P,CKK], dcolT tn dy[OC,P]ᵀ·W[OC,CKK]. lenet's dy is sparse (below a max pool), so
// its backward takes the sparse kernels instead (assembly/sparse.ts); cifar-cnn's first conv of
// each block takes these GEMMs. conv1 needs no dcolT (the input needs no gradient).
const SHAPES: Shape[] = [
  { case: "square", variant: "nn", M: 1024, N: 1024, K: 1024, scalar: true },
  { case: "square", variant: "nt", M: 1024, N: 1024, K: 1024, scalar: true },
  { case: "square", variant: "tn", M: 1024, N: 1024, K: 1024, scalar: true },
  { case: "dense fwd", variant: "nt", M: 32, N: 128, K: 784, scalar: false },
  { case: "dense dx", variant: "nn", M: 32, N: 784, K: 128, scalar: false },
  { case: "dense dW", variant: "tn", M: 128, N: 784, K: 32, scalar: false },
  { case: "conv1 fwd", variant: "nt", M: 32, N: 576, K: 25, scalar: false },
  { case: "conv1 dW", variant: "nn", M: 32, N: 25, K: 576, scalar: false },
  { case: "conv2 fwd", variant: "nt", M: 64, N: 256, K: 800, scalar: false },
  { case: "conv2 dW", variant: "nn", M: 64, N: 800, K: 256, scalar: false },
  { case: "conv2 dcolT", variant: "tn", M: 256, N: 800, K: 64, scalar: false },
];

/** Mean seconds per call of fn, by benchmark.js; short runs so the whole table takes about a minute. */
function secondsPerCall(name: string, fn: () => void, slow: boolean, maxTime = 1): number {
  const b = new Benchmark(name, fn, slow ? { minSamples: 2, maxTime, initCount: 1 } : { minSamples: 5, maxTime });
  b.run();
  if (b.error) throw b.error;
  return b.stats.mean;
}

/**
 * Median seconds per call of each fn, the fns taking turns for ROUNDS rounds of 1/ROUNDS s each: the
 * machine's speed drifts over seconds, and a comparison should not depend on who ran during a slow spell.
 */
const ROUNDS = 3;
function medianSecondsPerCall(name: string, fns: (() => void)[]): number[] {
  const times = fns.map(() => [] as number[]);
  for (let round = 0; round < ROUNDS; round++) {
    fns.forEach((fn, i) => times[i].push(secondsPerCall(`${name} ${i}`, fn, false, 1 / ROUNDS)));
  }
  return times.map((t) => t.sort((a, b) => a - b)[t.length >> 1]);
}

function fill(view: Float32Array, rng: Rng): void {
  for (let i = 0; i < view.length; i++) view[i] = 2 * rng.uniform() - 1;
}

function gemmCall(e: Engine, s: Shape, rng: Rng): () => void {
  const a = e.arena.f32(s.M * s.K), b = e.arena.f32(s.K * s.N), c = e.arena.f32(s.M * s.N);
  fill(a.view, rng);
  fill(b.view, rng);
  const ws = e.arena.f32(GEMM_WS_FLOATS);
  const kernel = e.kernels[`gemm_${s.variant}_f32` as keyof Kernels] as (c: number, a: number, b: number, M: number, N: number, K: number, beta: number, ws: number) => void;
  return () => kernel(c.ptr, a.ptr, b.ptr, s.M, s.N, s.K, 0, ws.ptr);
}

/** tfjs matMul of the shape, with the variant's transposition or (transposed = false) as plain nn. */
function tfjsCall(tf: Tf, s: Shape, rng: Rng, transposed: boolean): { fn: () => void; dispose: () => void } {
  const v = transposed ? s.variant : "nn";
  const aShape: [number, number] = v === "tn" ? [s.K, s.M] : [s.M, s.K];
  const bShape: [number, number] = v === "nt" ? [s.N, s.K] : [s.K, s.N];
  const av = new Float32Array(s.M * s.K), bv = new Float32Array(s.K * s.N);
  fill(av, rng);
  fill(bv, rng);
  const a = tf.tensor2d(av, aShape), b = tf.tensor2d(bv, bShape);
  // The wasm backend runs the kernel synchronously inside matMul; dispose frees the output.
  const fn = () => tf.matMul(a, b, v === "tn", v === "nt").dispose();
  return { fn, dispose: () => { a.dispose(); b.dispose(); } };
}

/**
 * The rows, and the f32x4 fused multiply-add peak of this core (bench/peak.ts) timed in the same
 * alternating rounds as the 1024³ nn GEMM, so their ratio is not skewed by the machine's drift
 * (null where relaxed SIMD is unavailable).
 */
export async function runGemmBench(): Promise<{ rows: Row[]; fmaPeak: number | null }> {
  const simd = await loadEngine({ flavor: "simd", memoryMB: 128 });
  // The same kernels without fused multiply-add, on the square shapes, to show what -fma adds.
  const mulAdd = simd.build?.includes("fma") ? await loadEngine({ flavor: "simd", simdBuild: withoutFma(simdBuild()), memoryMB: 128 }) : null;
  const scalar = await loadEngine({ flavor: "scalar", memoryMB: 64 });
  const tf = await loadTfjsWasm();
  const rng = new Rng(20240611);
  const rows: Row[] = [];
  const probe = await peakProbe();
  let fmaPeak: number | null = null;
  for (const s of SHAPES) {
    const flops = 2 * s.M * s.N * s.K;
    const name = `${s.case} ${s.variant} ${s.M}×${s.N}×${s.K}`;
    const t = tfjsCall(tf, s, rng, false);
    const row = (impl: string, gflops: number, vs: number | null): Row =>
      ({ case: s.case, variant: s.variant, impl, M: s.M, N: s.N, K: s.K, gflops, vsTfjs: vs });
    // tfjs, our SIMD build and (square shapes) the same build without FMA take turns.
    // On 1024³ nn the FMA peak probe takes its turn too.
    const withProbe = probe !== null && s.case === "square" && s.variant === "nn";
    const fns = [t.fn, gemmCall(simd, s, rng), ...(s.scalar && mulAdd ? [gemmCall(mulAdd, s, rng)] : []), ...(withProbe ? [probe.run] : [])];
    const secs = medianSecondsPerCall(name, fns);
    if (withProbe) fmaPeak = probe.flops / secs.pop()! / 1e9;
    const [tfGflops, simdGflops, mulAddGflops] = secs.map((sec) => flops / sec / 1e9);
    t.dispose();
    rows.push(row("simd", simdGflops, simdGflops / tfGflops));
    if (mulAddGflops !== undefined) rows.push(row("simd mul+add", mulAddGflops, mulAddGflops / tfGflops));
    if (s.scalar) {
      const scalarGflops = flops / secondsPerCall(`scalar ${name}`, gemmCall(scalar, s, rng), true) / 1e9;
      rows.push(row("scalar", scalarGflops, scalarGflops / tfGflops));
    }
    rows.push(row("tfjs", tfGflops, null));
    if (s.variant !== "nn" && !s.scalar) {
      const tt = tfjsCall(tf, s, rng, true);
      rows.push(row("tfjs-T", flops / secondsPerCall(`tfjs-T ${name}`, tt.fn, true) / 1e9, null));
      tt.dispose();
    }
  }
  return { rows, fmaPeak };
}

/** The 1024³ nn row of `impl` (the one the targets are about). */
export function squareNn(rows: readonly Row[], impl: string): Row {
  return rows.find((r) => r.case === "square" && r.variant === "nn" && r.impl === impl)!;
}

export function formatPeak(rows: Row[], fmaPeak: number | null): string {
  if (fmaPeak === null) return "f32x4 fused multiply-add peak: n/a (no relaxed SIMD)";
  const nn = squareNn(rows, "simd");
  return `f32x4 fused multiply-add peak of this core, timed in the same rounds as 1024³ nn (bench/peak.ts): ` +
    `${fmaPeak.toFixed(1)} GFLOP/s; the GEMM reaches ${((100 * nn.gflops) / fmaPeak).toFixed(0)}% of it`;
}

export function formatRows(rows: Row[]): string {
  const head = ["case", "variant", "M×N×K", "impl", "GFLOP/s", "× tfjs"];
  const body = rows.map((r) => [r.case, r.variant, `${r.M}×${r.N}×${r.K}`, r.impl, r.gflops.toFixed(1),
    r.vsTfjs === null ? "" : r.vsTfjs.toFixed(2)]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i >= 4 ? c.padStart(w[i]) : c.padEnd(w[i]))).join("  ");
  return [line(head), line(w.map((n) => "-".repeat(n))), ...body.map(line)].join("\n");
}

const direct = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (direct) {
  console.log(`runtime ${process.version} (${process.release?.name ?? "?"}), CPU ${os.cpus()[0]?.model ?? "?"}, one thread, SIMD build ${simdBuild()}`);
  console.log(`command: ${process.argv.map((a, i) => (i < 2 ? a.split("/").slice(-3).join("/") : a)).join(" ")}`);
  const { rows, fmaPeak } = await runGemmBench();
  console.log(formatRows(rows));
  console.log(formatPeak(rows, fmaPeak));
}
