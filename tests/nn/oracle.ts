// An independent float64 forward pass of a planned model, written naively from the layer
// definitions (not from the kernels): the oracle of the gradient checks.
import type { ModelPlan } from "../../src/nn/spec.ts";
import { Rng } from "../../src/rng.ts";

/** Mean softmax cross-entropy of the model at θ on x[B, ...inputShape], labels y[B]. */
export function oracleLoss(plan: ModelPlan, theta: Float64Array, x: Float64Array, y: ArrayLike<number>, B: number, dropoutSeed = 0): number {
  const drop = new Rng(dropoutSeed);
  let a = Float64Array.from(x);
  for (const l of plan.layers) {
    const s = l.spec;
    if (s.type === "conv2d") {
      const [C, H, W] = l.inShape, [OC, OH, OW] = l.outShape, K = l.k!, st = l.stride!, pad = l.pad!;
      const out = new Float64Array(B * OC * OH * OW), wOff = l.paramOffset, bOff = l.paramOffset + l.weightCount;
      for (let b = 0; b < B; b++) for (let o = 0; o < OC; o++) for (let oh = 0; oh < OH; oh++) for (let ow = 0; ow < OW; ow++) {
        let sum = theta[bOff + o];
        for (let c = 0; c < C; c++) for (let kh = 0; kh < K; kh++) for (let kw = 0; kw < K; kw++) {
          const ih = oh * st - pad + kh, iw = ow * st - pad + kw;
          if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
          sum += theta[wOff + ((o * C + c) * K + kh) * K + kw] * a[((b * C + c) * H + ih) * W + iw];
        }
        out[((b * OC + o) * OH + oh) * OW + ow] = sum;
      }
      a = out;
    } else if (s.type === "maxpool2d") {
      const [C, H, W] = l.inShape, [, OH, OW] = l.outShape, K = l.k!, st = l.stride!;
      const out = new Float64Array(B * C * OH * OW);
      for (let p = 0; p < B * C; p++) for (let oh = 0; oh < OH; oh++) for (let ow = 0; ow < OW; ow++) {
        let m = -Infinity;
        for (let kh = 0; kh < K; kh++) for (let kw = 0; kw < K; kw++) m = Math.max(m, a[(p * H + oh * st + kh) * W + ow * st + kw]);
        out[(p * OH + oh) * OW + ow] = m;
      }
      a = out;
    } else if (s.type === "relu") {
      a = a.map((v) => Math.max(v, 0));
    } else if (s.type === "dropout") {
      const keep = 1 / (1 - s.p);
      a = a.map((v) => (drop.uniform() < s.p ? 0 : keep) * v);
    } else if (s.type === "dense") {
      const I = l.inShape[0], O = l.outShape[0], out = new Float64Array(B * O);
      for (let b = 0; b < B; b++) for (let o = 0; o < O; o++) {
        let sum = theta[l.paramOffset + l.weightCount + o];
        for (let i = 0; i < I; i++) sum += theta[l.paramOffset + o * I + i] * a[b * I + i];
        out[b * O + o] = sum;
      }
      a = out;
    }
  }
  const Cn = plan.classes;
  let loss = 0;
  for (let b = 0; b < B; b++) {
    let m = -Infinity;
    for (let c = 0; c < Cn; c++) m = Math.max(m, a[b * Cn + c]);
    let z = 0;
    for (let c = 0; c < Cn; c++) z += Math.exp(a[b * Cn + c] - m);
    loss += m + Math.log(z) - a[b * Cn + y[b]];
  }
  return loss / B;
}

/** Central finite differences of oracleLoss with respect to every parameter. */
export function numericGrad(plan: ModelPlan, theta: Float64Array, x: Float64Array, y: ArrayLike<number>, B: number, dropoutSeed = 0, h = 1e-6): Float64Array {
  const g = new Float64Array(theta.length);
  for (let i = 0; i < theta.length; i++) {
    const t = theta[i];
    theta[i] = t + h;
    const up = oracleLoss(plan, theta, x, y, B, dropoutSeed);
    theta[i] = t - h;
    const down = oracleLoss(plan, theta, x, y, B, dropoutSeed);
    theta[i] = t;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

/** Worst error of an analytic gradient against the numeric one, relative to the numeric gradient's scale. */
export function gradError(analytic: ArrayLike<number>, numeric: Float64Array): { rel: number; at: number } {
  let scale = 0, worst = 0, at = -1;
  for (let i = 0; i < numeric.length; i++) scale = Math.max(scale, Math.abs(numeric[i]));
  for (let i = 0; i < numeric.length; i++) {
    const d = Math.abs(analytic[i] - numeric[i]);
    if (d > worst) { worst = d; at = i; }
  }
  return { rel: worst / Math.max(scale, 1e-12), at };
}
