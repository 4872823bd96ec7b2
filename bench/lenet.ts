// LeNet training throughput: `lenet` (conv5×5×32 valid → ReLU → pool 2 → conv5×5×64 → ReLU →
// pool 2 → dense 128 → ReLU → dense 10, softmax cross-entropy, plain SGD lr 0.05), batch 32, one
// thread, on the same pre-filled MNIST batches (mnist-10k) for: our SIMD build, our scalar build,
// and TensorFlow.js's wasm backend (XNNPACK) training the same layers from the same initial
// weights. Peak RSS is measured in a child process that trains only our SIMD engine.
//
// tfjs-core's Node bundle registers no gradient functions (the @tensorflow/tfjs union package
// does that, by importing tfjs-core's ESM dist/register_all_gradients.js); registerTfjsGradients()
// imports that file through a small resolve/load hook, since the ESM files use extensionless paths.
// tfjs-backend-wasm 4.22 has no Conv2DBackpropFilter kernel, so tfjs training fails out of the
// box; registerConv2DBackpropFilter() adds the minimum (the weight gradient as one forward conv
// of transposed tensors, i.e. tfjs's own Conv2D kernel) and checkConvGradients() verifies it, and
// the Conv2DBackpropInput tfjs ships, against a float64 loop on small shapes before any timing.
// The shared machinery (the tfjs model from our plan, the timed step) is exported for cifar.ts.
// Not a test: nothing here gates on absolute time.
// Usage: npm run build && node dist/bench/lenet.js        (--rss-only: the child's job)
import { spawnSync } from "node:child_process";
import { createRequire, register } from "node:module";
import os from "node:os";
import { fileURLToPath, pathToFileURL } from "node:url";
// @ts-ignore: the benchmark package ships no type declarations; the part used is typed below.
import BenchmarkJs from "benchmark";
import type { NamedTensorMap, TensorInfo, Tensor, Variable, Rank } from "@tensorflow/tfjs-core";
import { fillBatch, type Dataset } from "../src/data/dataset.ts";
import { loadDataset } from "../src/data/registry.ts";
import { Net, type ParamSet } from "../src/nn/net.ts";
import { planModel, PRESETS, type LayerSpec, type ModelPlan } from "../src/nn/spec.ts";
import { Rng } from "../src/rng.ts";
import { memoryMBFor } from "../src/train.ts";
import { loadEngine, simdBuild, withoutFma, type Flavor } from "../src/wasm/loader.ts";
import type { Tf } from "./tfjs.ts";

interface BenchmarkRun { stats: { mean: number; rme: number }; error?: unknown; run(): void }
type BenchmarkCtor = new (name: string, fn: () => void, opts: Record<string, unknown>) => BenchmarkRun;
const Benchmark = BenchmarkJs as BenchmarkCtor;

export const BATCH = 32;
export const LR = 0.05;

/** One implementation's training throughput. */
export interface Throughput {
  impl: string;
  samplesPerSecond: number;
  /** benchmark.js relative margin of error of the mean step time in the median round, in %. */
  rme: number;
  /** samples/s of every round (samplesPerSecond is their median). */
  rounds: number[];
  /** Training steps taken in all (warm-up, benchmark.js calibration and timed runs). */
  steps: number;
  /** Loss of the first step (same batch, same initial θ for every implementation) and of the step after timing. */
  firstLoss: number;
  lastLoss: number;
}

/** Pre-filled batches in both layouts: NCHW for our engine, NHWC for tfjs. */
export interface Batches {
  nchw: Float32Array[];
  nhwc: Float32Array[];
  labels: Int32Array[];
  shape: readonly [number, number, number];
}

/** `count` batches of `batch` training samples in a seeded order. */
export function makeBatches(ds: Dataset, count: number, batch: number, seed: number): Batches {
  const [C, H, W] = ds.shape, size = C * H * W;
  const order = new Rng(seed).permutation(ds.train.count);
  const out: Batches = { nchw: [], nhwc: [], labels: [], shape: ds.shape };
  for (let i = 0; i < count; i++) {
    const x = new Float32Array(batch * size), y = new Int32Array(batch);
    fillBatch(ds, ds.train, order, (i * batch) % (ds.train.count - batch), batch, x, y);
    const t = new Float32Array(batch * size);
    for (let b = 0; b < batch; b++)
      for (let c = 0; c < C; c++)
        for (let p = 0; p < H * W; p++) t[b * size + p * C + c] = x[b * size + c * H * W + p];
    out.nchw.push(x);
    out.nhwc.push(t);
    out.labels.push(y);
  }
  return out;
}

/** Mean seconds per call by benchmark.js, after `warmup` untimed calls. */
export function timeSteps(name: string, fn: () => void, warmup: number, maxTime: number): { mean: number; rme: number } {
  for (let i = 0; i < warmup; i++) fn();
  const b = new Benchmark(name, fn, { minSamples: 5, maxTime, initCount: 1 });
  b.run();
  if (b.error) throw b.error;
  return { mean: b.stats.mean, rme: b.stats.rme };
}

// ---------------------------------------------------------------------------------------------
// Our engine

export interface OurTrainer { net: Net; params: ParamSet; step(i: number): number }

/**
 * What our side of a comparison runs: an engine flavor, or "simd mul+add" — the SIMD build without
 * relaxed SIMD's fused multiply-add (simd or simd-bc, see simdBuild()), to show what the FMA builds add.
 */
export type Impl = Flavor | "simd mul+add";

/** A net of `impl` over `plan`, initialised from `seed`, whose step(i) trains on batch i mod count. */
export async function ourTrainer(impl: Impl, plan: ModelPlan, batches: Batches, seed: number): Promise<OurTrainer> {
  const memoryMB = memoryMBFor(Net.bytesNeeded(plan, BATCH) + Net.paramSetBytes(plan));
  const engine = await loadEngine(impl === "simd mul+add" ? { flavor: "simd", simdBuild: withoutFma(simdBuild()), memoryMB } : { flavor: impl, memoryMB });
  const net = new Net(engine, plan, BATCH);
  const params = net.newParams();
  net.init(params.theta, new Rng(seed));
  const sgd = { lr: LR, momentum: 0, weightDecay: 0 };
  const n = batches.nchw.length;
  return {
    net, params,
    step(i: number) {
      net.input.view.set(batches.nchw[i % n]);
      net.labels.view.set(batches.labels[i % n]);
      return net.trainStep(params, BATCH, sgd);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// TensorFlow.js

// tfjs-core's ESM dist/ files import "./x" without the extension and sit in a package without
// "type": "module"; the hooks add ".js" (or "/index.js") and load them as ES modules. They share
// the one engine and gradient registry with the Node bundle through tfjs's global namespace.
const TFJS_ESM_HOOKS = `
import { existsSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
export async function resolve(spec, ctx, next) {
  if (ctx.parentURL && ctx.parentURL.startsWith(ROOT) && spec.startsWith(".")) {
    const u = new URL(spec, ctx.parentURL), p = fileURLToPath(u);
    if (existsSync(p + ".js")) return { url: u.href + ".js", format: "module", shortCircuit: true };
    if (existsSync(p) && statSync(p).isDirectory()) return { url: u.href + "/index.js", format: "module", shortCircuit: true };
  }
  return next(spec, ctx);
}
export async function load(url, ctx, next) {
  if (url.startsWith(ROOT) && !url.endsWith("/tf-core.node.js")) return { ...(await next(url, { ...ctx, format: "module" })), format: "module", shortCircuit: true };
  return next(url, ctx);
}`;

/** Registers tfjs-core's gradient functions (Node only: needs module.register). */
export async function registerTfjsGradients(tf: Tf): Promise<void> {
  if (tf.getGradient("Conv2D")) return;
  const file = createRequire(import.meta.url).resolve("@tensorflow/tfjs-core/dist/register_all_gradients.js");
  const root = pathToFileURL(file).href.replace(/register_all_gradients\.js$/, "");
  register("data:text/javascript," + encodeURIComponent(`const ROOT = ${JSON.stringify(root)};` + TFJS_ESM_HOOKS));
  await import(pathToFileURL(file).href);
  if (!tf.getGradient("Conv2D")) throw new Error("tfjs: registering the gradient functions failed");
}

/**
 * Registers Conv2DBackpropFilter for the wasm backend (stride 1, NHWC, dilation 1 — what the
 * benchmarked models use). dW[kh,kw,c,oc] = Σ_{b,oh,ow} x[b, oh+kh−pt, ow+kw−pl, c]·dy[b,oh,ow,oc]
 * is a forward conv with C as the batch, B as the channels and dy as the filter:
 * conv2d(xᵀ[C,H,W,B], dyᵀ[OH,OW,B,OC], same padding) = [C,KH,KW,OC], then transposed to [KH,KW,C,OC].
 */
export function registerConv2DBackpropFilter(tf: Tf): void {
  if (tf.getKernel("Conv2DBackpropFilter", "wasm")) return;
  const transpose = tf.getKernel("Transpose", "wasm")!.kernelFunc;
  const conv = tf.getKernel("Conv2D", "wasm")!.kernelFunc;
  tf.registerKernel({
    kernelName: "Conv2DBackpropFilter",
    backendName: "wasm",
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
      const { strides, pad, dataFormat, filterShape } = attrs as unknown as {
        strides: number | [number, number]; pad: "valid" | "same" | number | number[][]; dataFormat: string;
        filterShape: [number, number, number, number];
      };
      const s = typeof strides === "number" ? [strides, strides] : strides;
      if (s[0] !== 1 || s[1] !== 1 || dataFormat !== "NHWC") {
        throw new Error(`bench Conv2DBackpropFilter: only stride 1 NHWC is implemented (got strides ${s}, ${dataFormat})`);
      }
      const [, H, W] = x.shape, [, OH, OW] = dy.shape, [KH, KW] = filterShape;
      let top: number, left: number;
      if (pad === "valid") { top = 0; left = 0; }
      else if (pad === "same") { top = (OH - 1 + KH - H) >> 1; left = (OW - 1 + KW - W) >> 1; }
      else if (typeof pad === "number") { top = pad; left = pad; }
      else { top = pad[1][0]; left = pad[2][0]; }
      // Output height of the inner conv is H + top + bottom − OH + 1 = KH.
      const bottom = KH + OH - 1 - H - top, right = KW + OW - 1 - W - left;
      const run = (f: typeof conv, ins: NamedTensorMap | Record<string, TensorInfo>, a: Record<string, unknown>) =>
        f({ inputs: ins as NamedTensorMap, backend, attrs: a as never }) as TensorInfo;
      const xT = run(transpose, { x }, { perm: [3, 1, 2, 0] });
      const dyT = run(transpose, { x: dy }, { perm: [1, 2, 0, 3] });
      const g = run(conv, { x: xT, filter: dyT }, {
        strides: 1, dilations: 1, dataFormat: "NHWC", dimRoundingMode: undefined,
        pad: [[0, 0], [top, bottom], [left, right], [0, 0]],
      });
      const dW = run(transpose, { x: g }, { perm: [1, 2, 0, 3] });
      for (const t of [xT, dyT, g]) (backend as { disposeData(id: object): void }).disposeData(t.dataId);
      return dW;
    },
  });
}

/**
 * Replaces tfjs-wasm's shipped Conv2DBackpropInput (a plain C++ loop, not XNNPACK) by one forward
 * XNNPACK conv: dx[b,ih,iw,c] = Σ dy[b, ih−kh+pt, iw−kw+pl, oc]·W[kh,kw,c,oc] is conv2d(dy, W′)
 * with W′[kh,kw,oc,c] = W[KH−1−kh, KW−1−kw, c, oc] and top padding KH−1−pt. Stride 1, NHWC only.
 * Only for the informational "tfjs-wasm, fast dx" row: the targets compare against stock tfjs.
 * Returns a function that puts the shipped kernel back.
 */
export function useConvDxViaConv2D(tf: Tf): () => void {
  const shipped = tf.getKernel("Conv2DBackpropInput", "wasm")!;
  const transpose = tf.getKernel("Transpose", "wasm")!.kernelFunc;
  const reverse = tf.getKernel("Reverse", "wasm")!.kernelFunc;
  const conv = tf.getKernel("Conv2D", "wasm")!.kernelFunc;
  tf.unregisterKernel("Conv2DBackpropInput", "wasm");
  tf.registerKernel({
    kernelName: "Conv2DBackpropInput",
    backendName: "wasm",
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
      const { strides, pad, dataFormat, inputShape } = attrs as unknown as {
        strides: number | [number, number]; pad: "valid" | "same" | number | number[][]; dataFormat: string;
        inputShape: [number, number, number, number];
      };
      const s = typeof strides === "number" ? [strides, strides] : strides;
      if (s[0] !== 1 || s[1] !== 1 || dataFormat !== "NHWC") {
        throw new Error(`bench Conv2DBackpropInput: only stride 1 NHWC is implemented (got strides ${s}, ${dataFormat})`);
      }
      const [, H, W] = inputShape, [, OH, OW] = dy.shape, [KH, KW] = filter.shape;
      let top: number, left: number;
      if (pad === "valid") { top = 0; left = 0; }
      else if (pad === "same") { top = (OH - 1 + KH - H) >> 1; left = (OW - 1 + KW - W) >> 1; }
      else if (typeof pad === "number") { top = pad; left = pad; }
      else { top = pad[1][0]; left = pad[2][0]; }
      const pt = KH - 1 - top, pl = KW - 1 - left, pb = H - OH + KH - 1 - pt, pr = W - OW + KW - 1 - pl;
      const run = (f: typeof conv, ins: Record<string, TensorInfo>, a: Record<string, unknown>) =>
        f({ inputs: ins as unknown as NamedTensorMap, backend, attrs: a as never }) as TensorInfo;
      const wr = run(reverse, { x: filter }, { dims: [0, 1] });
      const wt = run(transpose, { x: wr }, { perm: [0, 1, 3, 2] });
      const dx = run(conv, { x: dy, filter: wt }, {
        strides: 1, dilations: 1, dataFormat: "NHWC", dimRoundingMode: undefined, pad: [[0, 0], [pt, pb], [pl, pr], [0, 0]],
      });
      for (const t of [wr, wt]) (backend as { disposeData(id: object): void }).disposeData(t.dataId);
      return dx;
    },
  });
  return () => { tf.unregisterKernel("Conv2DBackpropInput", "wasm"); tf.registerKernel(shipped); };
}

/**
 * Max |tfjs − float64 loop| of dW and dx for L = Σ conv2d(x, w)·r on small odd shapes, valid and
 * padded; throws if any exceeds 1e-4, so a wrong registered kernel stops the benchmark.
 */
export function checkConvGradients(tf: Tf): number {
  const rng = new Rng(7);
  let worst = 0;
  for (const [B, H, W, C, K, OC, p] of [[2, 7, 6, 3, 3, 4, 0], [3, 6, 5, 2, 3, 5, 1], [2, 9, 9, 1, 5, 3, 0]]) {
    const OH = H + 2 * p - K + 1, OW = W + 2 * p - K + 1;
    const rand = (n: number) => Float32Array.from({ length: n }, () => 2 * rng.uniform() - 1);
    const xv = rand(B * H * W * C), wv = rand(K * K * C * OC), rv = rand(B * OH * OW * OC);
    const x = tf.tensor4d(xv, [B, H, W, C]), w = tf.tensor4d(wv, [K, K, C, OC]), r = tf.tensor4d(rv, [B, OH, OW, OC]);
    const [dx, dw] = tf.grads((a: Tensor, b: Tensor) => tf.sum(tf.mul(tf.conv2d(a as Tensor<Rank.R4>, b as Tensor<Rank.R4>, 1, p === 0 ? "valid" : p), r)))([x, w]);
    const gx = dx.dataSync(), gw = dw.dataSync();
    const ex = new Float64Array(gx.length), ew = new Float64Array(gw.length);
    for (let b = 0; b < B; b++) for (let oh = 0; oh < OH; oh++) for (let ow = 0; ow < OW; ow++) for (let oc = 0; oc < OC; oc++) {
      const g = rv[((b * OH + oh) * OW + ow) * OC + oc];
      for (let kh = 0; kh < K; kh++) for (let kw = 0; kw < K; kw++) {
        const ih = oh + kh - p, iw = ow + kw - p;
        if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
        for (let c = 0; c < C; c++) {
          const xi = ((b * H + ih) * W + iw) * C + c, wi = ((kh * K + kw) * C + c) * OC + oc;
          ew[wi] += xv[xi] * g;
          ex[xi] += wv[wi] * g;
        }
      }
    }
    for (let i = 0; i < ew.length; i++) worst = Math.max(worst, Math.abs(gw[i] - ew[i]));
    for (let i = 0; i < ex.length; i++) worst = Math.max(worst, Math.abs(gx[i] - ex[i]));
    tf.dispose([x, w, r, dx, dw]);
  }
  if (!(worst < 1e-4)) throw new Error(`tfjs conv gradients differ from the float64 loop by ${worst}`);
  return worst;
}

export interface TfjsTrainer { step(i: number, wantLoss: boolean): number; dispose(): void }

/**
 * The plan as tfjs ops (NHWC, HWIO filters, [in, out] dense weights), with the variables copied
 * from our θ so both start from the same function: conv [OC,C,KH,KW] → [KH,KW,C,OC]; dense
 * [out,in] → [in,out], rows of the first dense after flatten permuted from NCHW to NHWC order.
 * Dropout is left out (throughput comparison). step(i) is one SGD step on batch i mod count.
 */
export function tfjsTrainer(tf: Tf, plan: ModelPlan, theta: Float32Array, batches: Batches): TfjsTrainer {
  const vars: Variable[] = [];
  type Op = (x: Tensor) => Tensor;
  const ops: Op[] = [];
  let flatFrom: readonly number[] | null = null;
  for (const l of plan.layers) {
    const o = l.paramOffset;
    switch (l.spec.type) {
      case "conv2d": {
        const [C] = l.inShape, OC = l.outShape[0], K = l.k!, w = new Float32Array(l.weightCount);
        for (let oc = 0; oc < OC; oc++) for (let c = 0; c < C; c++) for (let kh = 0; kh < K; kh++) for (let kw = 0; kw < K; kw++)
          w[((kh * K + kw) * C + c) * OC + oc] = theta[o + ((oc * C + c) * K + kh) * K + kw];
        const wv = tf.variable(tf.tensor4d(w, [K, K, C, OC])), bv = tf.variable(tf.tensor1d(theta.slice(o + l.weightCount, o + l.weightCount + OC)));
        vars.push(wv, bv);
        const pad = l.pad!;
        ops.push((x) => tf.add(tf.conv2d(x as Tensor<Rank.R4>, wv as Variable<Rank.R4>, l.stride!, pad === 0 ? "valid" : pad), bv));
        break;
      }
      case "dense": {
        const IN = l.inShape[0], OUT = l.outShape[0], w = new Float32Array(l.weightCount);
        // Our input index i is NCHW-flat; tfjs's flatten of NHWC puts (c, h, w) at (h·W + w)·C + c.
        const row = (i: number) => {
          if (!flatFrom || flatFrom.length !== 3) return i;
          const [C, H, W] = flatFrom, c = Math.floor(i / (H * W)), hw = i % (H * W);
          return hw * C + c;
        };
        for (let out = 0; out < OUT; out++) for (let i = 0; i < IN; i++) w[row(i) * OUT + out] = theta[o + out * IN + i];
        const wv = tf.variable(tf.tensor2d(w, [IN, OUT])), bv = tf.variable(tf.tensor1d(theta.slice(o + l.weightCount, o + l.weightCount + OUT)));
        vars.push(wv, bv);
        flatFrom = null;
        ops.push((x) => tf.add(tf.matMul(x as Tensor<Rank.R2>, wv as Variable<Rank.R2>), bv));
        break;
      }
      case "relu": ops.push((x) => tf.relu(x)); break;
      case "maxpool2d": ops.push((x) => tf.maxPool(x as Tensor<Rank.R4>, l.k!, l.stride!, "valid")); break;
      case "flatten": flatFrom = l.inShape; ops.push((x) => tf.reshape(x, [x.shape[0], -1])); break;
      case "dropout": break;
    }
  }
  const [C, H, W] = batches.shape, n = batches.nhwc.length;
  const xs = batches.nhwc.map((x) => tf.tensor4d(x, [BATCH, H, W, C]));
  const ys = batches.labels.map((y) => tf.oneHot(tf.tensor1d(y, "int32"), plan.classes));
  const opt = tf.train.sgd(LR);
  return {
    step(i: number, wantLoss: boolean) {
      const x = xs[i % n], y = ys[i % n];
      const cost = opt.minimize(() => tf.losses.softmaxCrossEntropy(y, ops.reduce((a, f) => f(a), x as Tensor)) as Tensor<Rank.R0>, wantLoss, vars);
      if (!cost) return NaN;
      const v = cost.dataSync()[0];
      cost.dispose();
      return v;
    },
    dispose() { tf.dispose([...xs, ...ys, ...vars]); opt.dispose(); },
  };
}

/**
 * Throughput of each trainer; all start from the same θ and batch 0, so their first losses must agree.
 * The machines are shared and their speed drifts over seconds, so the implementations take turns:
 * `rounds` rounds, each timing every implementation for maxTime / rounds seconds; the figure is the
 * median round, and the table shows every round.
 */
export async function compareTraining(name: string, plan: ModelPlan, batches: Batches, impls: Impl[],
  tf: Tf, opts: { seed: number; warmup: number; maxTime: number; rounds?: number }): Promise<Throughput[]> {
  interface Runner { impl: string; first: number; steps: number; step(): void; last(): number; enter?(): void; leave?(): void; dispose?(): void }
  const runners: Runner[] = [];
  let theta: Float32Array | null = null;
  for (const impl of impls) {
    const tr = await ourTrainer(impl, plan, batches, opts.seed);
    theta ??= tr.params.theta.view.slice();
    let i = 0;
    const first = tr.step(i++);
    runners.push({ impl, first, get steps() { return i; }, step: () => { tr.step(i++); }, last: () => tr.step(i++) });
  }
  // Stock tfjs-wasm (plus the registered dW), then with the fast dx swapped in (registered only
  // during its own turns), for information.
  for (const fastDx of [false, true]) {
    let restore: (() => void) | null = null;
    const enter = fastDx ? () => { restore = useConvDxViaConv2D(tf); } : undefined;
    const leave = fastDx ? () => { restore?.(); restore = null; } : undefined;
    enter?.();
    if (fastDx) checkConvGradients(tf);
    const tt = tfjsTrainer(tf, plan, theta!, batches);
    let i = 0;
    const first = tt.step(i++, true);
    leave?.();
    runners.push({ impl: fastDx ? "tfjs-wasm fast dx" : "tfjs-wasm", first, get steps() { return i; }, step: () => { tt.step(i++, false); },
      last: () => tt.step(i++, true), enter, leave, dispose: () => tt.dispose() });
  }
  const rounds = opts.rounds ?? 3;
  const times = new Map<Runner, { mean: number; rme: number }[]>(runners.map((r) => [r, []]));
  for (let round = 0; round < rounds; round++) {
    for (const r of runners) {
      r.enter?.();
      times.get(r)!.push(timeSteps(`${name} ${r.impl}`, r.step, round === 0 ? opts.warmup : 0, opts.maxTime / rounds));
      r.leave?.();
    }
  }
  const out: Throughput[] = runners.map((r) => {
    const ts = times.get(r)!;
    const median = ts.slice().sort((a, b) => a.mean - b.mean)[ts.length >> 1];
    r.enter?.();
    const lastLoss = r.last();
    r.leave?.();
    r.dispose?.();
    return { impl: r.impl, samplesPerSecond: BATCH / median.mean, rme: median.rme, rounds: ts.map((t) => BATCH / t.mean),
      steps: r.steps, firstLoss: r.first, lastLoss };
  });
  const ref = out[0].firstLoss;
  for (const r of out) {
    if (!(Math.abs(r.firstLoss - ref) <= 1e-3 * Math.max(1, Math.abs(ref)))) {
      throw new Error(`${name}: first-step loss of ${r.impl} (${r.firstLoss}) differs from ${out[0].impl} (${ref}): not the same model`);
    }
  }
  return out;
}

export function formatThroughput(rows: Throughput[]): string {
  const base = rows.find((r) => r.impl === "tfjs-wasm")?.samplesPerSecond ?? NaN;
  const head = ["impl", "samples/s", "±%", "rounds", "× tfjs", "first loss", "steps", "last loss"];
  const body = rows.map((r) => [r.impl, r.samplesPerSecond.toFixed(0), r.rme.toFixed(1), r.rounds.map((x) => x.toFixed(0)).join(" "),
    (r.samplesPerSecond / base).toFixed(2), r.firstLoss.toFixed(4), String(r.steps), r.lastLoss.toFixed(4)]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i ? c.padStart(w[i]) : c.padEnd(w[i]))).join("  ");
  return [line(head), line(w.map((n) => "-".repeat(n))), ...body.map(line)].join("\n");
}

// ---------------------------------------------------------------------------------------------
// LeNet

export const LENET_PLAN = (): ModelPlan => planModel(PRESETS.lenet as readonly LayerSpec[], [1, 28, 28], 10);

export interface LenetResult {
  rows: Throughput[];
  /** Max |Δ| of the registered dW (and the shipped dx) against the float64 loop. */
  convGradError: number;
  /** Peak resident set of a process that only loads mnist-10k and trains our SIMD lenet, MB. */
  peakRssMB: number;
  /** RSS sampled during that training, max, MB. */
  trainingRssMB: number;
}

/** The child's job: train our SIMD lenet for `steps` steps and print its peak RSS as JSON. */
async function rssOnly(steps: number): Promise<void> {
  const ds = await loadDataset("mnist-10k");
  const tr = await ourTrainer("simd", LENET_PLAN(), makeBatches(ds, 16, BATCH, 1), 1);
  let sampled = 0;
  for (let i = 0; i < steps; i++) {
    tr.step(i);
    sampled = Math.max(sampled, process.memoryUsage().rss);
  }
  // maxRSS is in kilobytes.
  console.log(JSON.stringify({ peakRssMB: (process.resourceUsage().maxRSS * 1024) / 2 ** 20, trainingRssMB: sampled / 2 ** 20 }));
}

function measureRss(steps: number): { peakRssMB: number; trainingRssMB: number } {
  const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), "--rss-only", String(steps)], { encoding: "utf8" });
  if (child.status !== 0) throw new Error(`RSS child failed (${child.status}): ${child.stderr}`);
  return JSON.parse(child.stdout.trim().split("\n").pop()!);
}

/** tfjs-wasm with gradients and the missing Conv2DBackpropFilter, checked; imported lazily so the
 * RSS child never loads tfjs. */
export async function loadTfjsForTraining(): Promise<{ tf: Tf; convGradError: number }> {
  const { loadTfjsWasm } = await import("./tfjs.ts");
  const tf = await loadTfjsWasm();
  await registerTfjsGradients(tf);
  registerConv2DBackpropFilter(tf);
  return { tf, convGradError: checkConvGradients(tf) };
}

export async function runLenetBench(opts: { maxTime?: number } = {}): Promise<LenetResult> {
  const { tf, convGradError } = await loadTfjsForTraining();
  const ds = await loadDataset("mnist-10k");
  const batches = makeBatches(ds, 16, BATCH, 1);
  const rows = await compareTraining("lenet", LENET_PLAN(), batches, ["simd", ...(simdBuild().includes("fma") ? ["simd mul+add" as const] : []), "scalar"], tf, { seed: 1, warmup: 3, maxTime: opts.maxTime ?? 4 });
  return { rows, convGradError, ...measureRss(150) };
}

export function formatLenet(r: LenetResult): string {
  const get = (impl: string) => r.rows.find((x) => x.impl === impl)!.samplesPerSecond;
  return [
    `lenet training, batch ${BATCH}, one thread, mnist-10k, plain SGD lr ${LR}; simd = build ${simdBuild()}`,
    formatThroughput(r.rows),
    ...(r.rows.some((x) => x.impl === "simd mul+add") ? [`fused multiply-add (simd / simd mul+add): ${(get("simd") / get("simd mul+add")).toFixed(2)}×`] : []),
    `simd/scalar ${(get("simd") / get("scalar")).toFixed(2)}×, simd/tfjs-wasm ${(get("simd") / get("tfjs-wasm")).toFixed(2)}×`
      + ` (vs tfjs-wasm with an XNNPACK conv for dx instead of its shipped loop: ${(get("simd") / get("tfjs-wasm fast dx")).toFixed(2)}×)`,
    `tfjs Conv2DBackpropFilter (registered here) and Conv2DBackpropInput vs float64 loop: max |Δ| ${r.convGradError.toExponential(1)}`,
    `peak RSS of a process training only our SIMD lenet: ${r.peakRssMB.toFixed(0)} MB (sampled during training: ${r.trainingRssMB.toFixed(0)} MB)`,
  ].join("\n");
}

const direct = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (direct) {
  if (process.argv[2] === "--rss-only") {
    await rssOnly(Number(process.argv[3] ?? 150));
  } else {
    console.log(`runtime ${process.version}, CPU ${os.cpus()[0]?.model ?? "?"}, one thread`);
    console.log(formatLenet(await runLenetBench()));
  }
}
