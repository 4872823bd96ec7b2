// A sequential network over one engine: the architecture and its workspace (activations,
// scratch, one shared gradient vector). Parameters live outside the net in ParamSets, so one
// net computes for any number of models (the nodes of a consensus run) without copying θ.
//
// Memory per net: per-layer activations for `batch` samples + two gradient ping-pong buffers +
// conv scratch + the gradient vector. Per ParamSet: θ and the momentum buffer, [numParams] each.
import type { Dataset, Split, BatchOptions } from "../data/dataset.ts";
import { fillBatch, sampleSize } from "../data/dataset.ts";
import type { Rng } from "../rng.ts";
import type { F32Buf, I32Buf } from "../wasm/arena.ts";
import type { Engine } from "../wasm/loader.ts";
import { GEMM_WS_FLOATS } from "../wasm/kernels.ts";
import { makeLayer, workspaceNeeds, type Layer, type Workspace } from "./layers.ts";
import { shapeSize, type LayerPlan, type ModelPlan } from "./spec.ts";

export interface ParamSet {
  /** θ, the flat parameter vector [numParams] in PyTorch state_dict order. */
  readonly theta: F32Buf;
  /** SGD momentum buffer [numParams]; local to its owner, never sent. */
  readonly momentum: F32Buf;
}

export interface SgdOptions {
  /** Learning rate. */
  lr: number;
  /** Momentum coefficient (PyTorch semantics, no dampening). */
  momentum: number;
  /** L2 weight decay added to the gradient. */
  weightDecay: number;
}

/**
 * Weight initialisation. `pytorch` (the default) draws what PyTorch's Conv2d and Linear draw in
 * reset_parameters(): weight ~ kaiming_uniform_(a=√5) = U(−1/√fan_in, 1/√fan_in) and bias ~
 * U(−1/√fan_in, 1/√fan_in), fan_in = C·KH·KW (conv) or in_features (dense); it starts every preset
 * near loss ln(classes). `he`: weights N(0, 2/fan_in), biases 0. `glorot`: weights
 * U(±√(6/(fan_in + fan_out))), biases 0.
 */
export type InitScheme = "pytorch" | "he" | "glorot";
export const INIT_SCHEMES: readonly InitScheme[] = ["pytorch", "he", "glorot"];

export interface EvalResult { accuracy: number; loss: number; count: number }

const ALIGN_SLACK = 16;

/**
 * The layers in the order the net runs them: the plan's, except that `relu → maxpool2d` runs as
 * `maxpool2d → relu` (the ReLU sized for the pooled shape). Max and ReLU commute exactly — the max of
 * the ReLUs is the ReLU of the max, and the gradient reaches the same input — so outputs and
 * gradients are bit-identical (tested), while the ReLU touches a quarter of the values (2×2 pool).
 */
export function executionOrder(layers: readonly LayerPlan[]): LayerPlan[] {
  const out = layers.slice();
  for (let i = 0; i + 1 < out.length; i++) {
    const [a, b] = [out[i], out[i + 1]];
    if (a.spec.type === "relu" && b.spec.type === "maxpool2d") {
      out[i] = { ...b, inShape: a.inShape };
      out[i + 1] = { ...a, inShape: b.outShape, outShape: b.outShape };
      i++;
    }
  }
  return out;
}

export class Net {
  readonly layers: readonly Layer[];
  readonly numParams: number;
  /** ∂L/∂θ of the last lossAndGrad, [numParams]. */
  readonly grad: F32Buf;
  /** The batch input [batch, C, H, W] and labels [batch]. */
  readonly input: F32Buf;
  readonly labels: I32Buf;
  private readonly ws: Workspace;

  /** Bytes of engine memory `new Net(engine, plan, batch)` allocates (an upper bound). */
  static bytesNeeded(plan: ModelPlan, batch: number): number {
    const { maxAct, convTmp, csrRows } = workspaceNeeds(plan.layers, batch);
    let floats = 2 * maxAct + 3 * convTmp + csrRows + 1 + GEMM_WS_FLOATS + plan.numParams + batch * shapeSize(plan.inputShape) + batch, buffers = 9;
    for (const l of plan.layers) {
      const out = batch * shapeSize(l.outShape);
      switch (l.spec.type) {
        case "conv2d": floats += out + l.inShape[0] * l.k! * l.k! * batch * l.outShape[1] * l.outShape[2]; buffers += 2; break;
        case "maxpool2d": case "dropout": floats += 2 * out; buffers += 2; break;
        case "dense": case "relu": floats += out; buffers += 1; break;
      }
    }
    return floats * 4 + buffers * ALIGN_SLACK;
  }

  /** Bytes one ParamSet takes (θ + momentum). */
  static paramSetBytes(plan: ModelPlan): number {
    return 2 * (plan.numParams * 4 + ALIGN_SLACK);
  }

  constructor(readonly engine: Engine, readonly plan: ModelPlan, readonly batch: number) {
    if (!(Number.isInteger(batch) && batch >= 1)) throw new RangeError(`batch must be a positive integer, got ${batch}`);
    const { arena, kernels } = engine;
    const { maxAct, convTmp, csrRows } = workspaceNeeds(plan.layers, batch);
    this.ws = {
      k: kernels,
      grads: [arena.f32(maxAct, "gradient buffer"), arena.f32(maxAct, "gradient buffer")],
      convTmp: arena.f32(convTmp, "conv scratch"),
      gemmWs: arena.f32(GEMM_WS_FLOATS, "GEMM workspace"),
      csr: { ptr: arena.i32(csrRows + 1, "CSR row pointers"), idx: arena.i32(convTmp, "CSR indices"), val: arena.f32(convTmp, "CSR values") },
    };
    this.numParams = plan.numParams;
    this.grad = arena.f32(plan.numParams, "gradient vector");
    this.input = arena.f32(batch * shapeSize(plan.inputShape), "input batch");
    this.labels = arena.i32(batch, "label batch");
    this.layers = executionOrder(plan.layers).map((l) => makeLayer(l, this.ws, arena, batch));
  }

  get classes(): number { return this.plan.classes; }

  /** A new, zeroed parameter set in the engine's memory; initialise it with init(). */
  newParams(): ParamSet {
    return {
      theta: this.engine.arena.f32(this.numParams, "parameters θ"),
      momentum: this.engine.arena.f32(this.numParams, "momentum"),
    };
  }

  /**
   * Seeded initialisation of θ [numParams] (see InitScheme), layer by layer in state_dict order,
   * weight before bias, as PyTorch draws them. The uniform schemes use only uniform(), ×, − and
   * √ (IEEE-exact), so θ has the same bits on every engine.
   */
  init(theta: F32Buf, rng: Rng, scheme: InitScheme = "pytorch"): void {
    const v = theta.view;
    v.fill(0);
    for (const l of this.plan.layers) {
      if (!l.weightCount) continue;
      const fanIn = l.weightCount / l.biasCount;
      const fanOut = l.spec.type === "conv2d" ? l.biasCount * l.k! * l.k! : l.biasCount;
      const end = l.paramOffset + l.weightCount;
      if (scheme === "pytorch") {
        const bound = 1 / Math.sqrt(fanIn);
        // Weight and bias are contiguous and share the bound: one run of draws, weight first.
        for (let i = l.paramOffset; i < end + l.biasCount; i++) v[i] = (2 * rng.uniform() - 1) * bound;
      } else if (scheme === "he") {
        const std = Math.sqrt(2 / fanIn);
        for (let i = l.paramOffset; i < end; i++) v[i] = rng.normal() * std;
      } else if (scheme === "glorot") {
        const a = Math.sqrt(6 / (fanIn + fanOut));
        for (let i = l.paramOffset; i < end; i++) v[i] = (2 * rng.uniform() - 1) * a;
      } else {
        throw new RangeError(`unknown init scheme '${scheme}' (allowed: ${INIT_SCHEMES.join(", ")})`);
      }
    }
  }

  /** Copies samples indices[from .. from+count) of a split into input/labels, normalised. */
  loadBatch(ds: Dataset, split: Split, indices: ArrayLike<number>, from: number, count: number, opts?: BatchOptions): void {
    if (count > this.batch) throw new RangeError(`batch of ${count} exceeds the net's capacity ${this.batch}`);
    if (sampleSize(ds) !== shapeSize(this.plan.inputShape)) {
      throw new RangeError(`dataset ${ds.name} has samples [${ds.shape.join(",")}] but the model expects [${this.plan.inputShape.join(",")}]`);
    }
    fillBatch(ds, split, indices, from, count, this.input.view, this.labels.view, opts);
  }

  /** Logits [B, classes] of the loaded batch under θ. */
  forward(theta: F32Buf, B: number, train = false, rng: Rng | null = null): F32Buf {
    let x = this.input;
    for (const layer of this.layers) x = layer.forward(theta.ptr, x, B, train, rng);
    return x;
  }

  /** Mean cross-entropy of the loaded batch; ∂L/∂θ into this.grad. */
  lossAndGrad(theta: F32Buf, B: number, rng: Rng | null = null): number {
    if (!(Number.isInteger(B) && B >= 1 && B <= this.batch)) throw new RangeError(`batch of ${B} samples: need 1..${this.batch} (the net's capacity)`);
    const logits = this.forward(theta, B, true, rng);
    let dy: F32Buf | null = this.ws.grads[0];
    const sum = this.engine.kernels.softmax_xent_f32(dy.ptr, logits.ptr, this.labels.ptr, B, this.classes, 1 / B);
    for (let i = this.layers.length - 1; i >= 0 && dy; i--) {
      dy = this.layers[i].backward(theta.ptr, this.grad.ptr, dy, B, i > 0);
    }
    return sum / B;
  }

  /**
   * One SGD step on p with the current gradient. Plain SGD (no momentum, no weight decay) is
   * θ += (−lr)·g, bit-identical to the momentum kernel at momentum 0 but without writing the
   * momentum buffer, whose pages then never become resident (a 1,000-node mlp run holds 407 MB less).
   */
  sgdStep(p: ParamSet, opt: SgdOptions): void {
    if (opt.momentum === 0 && opt.weightDecay === 0) {
      this.engine.kernels.axpy_f32(p.theta.ptr, this.grad.ptr, this.numParams, -opt.lr);
      return;
    }
    this.engine.kernels.sgd_momentum_f32(p.theta.ptr, this.grad.ptr, p.momentum.ptr, this.numParams, opt.lr, opt.momentum, opt.weightDecay);
  }

  /** lossAndGrad + sgdStep on the loaded batch; returns the batch's mean loss. */
  trainStep(p: ParamSet, B: number, opt: SgdOptions, rng: Rng | null = null): number {
    const loss = this.lossAndGrad(p.theta, B, rng);
    this.sgdStep(p, opt);
    return loss;
  }

  /** Sum of the loss and number of correct predictions for the loaded batch. */
  scoreBatch(theta: F32Buf, B: number): { lossSum: number; correct: number } {
    const logits = this.forward(theta, B);
    const lossSum = this.engine.kernels.softmax_xent_f32(0, logits.ptr, this.labels.ptr, B, this.classes, 0);
    const y = this.labels.view;
    let correct = 0;
    for (let b = 0; b < B; b++) if (this.argmax(logits, b) === y[b]) correct++;
    return { lossSum, correct };
  }

  /** The class θ predicts for each sample of the loaded batch [B]. */
  predictBatch(theta: F32Buf, B: number): number[] {
    const logits = this.forward(theta, B);
    return Array.from({ length: B }, (_, b) => this.argmax(logits, b));
  }

  /** The largest logit's class of sample b (the first, on ties). */
  private argmax(logits: F32Buf, b: number): number {
    const z = logits.view, C = this.classes;
    let best = 0;
    for (let c = 1; c < C; c++) if (z[b * C + c] > z[b * C + best]) best = c;
    return best;
  }

  /** Accuracy and mean loss of θ on a split (the first `limit` samples, or `indices`). */
  evaluate(theta: F32Buf, ds: Dataset, split: Split, opts: { limit?: number; indices?: ArrayLike<number> } = {}): EvalResult {
    const n = opts.indices ? opts.indices.length : Math.min(opts.limit ?? split.count, split.count);
    const idx = opts.indices ?? Int32Array.from({ length: n }, (_, i) => i);
    let lossSum = 0, correct = 0;
    for (let from = 0; from < n; from += this.batch) {
      const B = Math.min(this.batch, n - from);
      this.loadBatch(ds, split, idx, from, B);
      const s = this.scoreBatch(theta, B);
      lossSum += s.lossSum;
      correct += s.correct;
    }
    return { accuracy: n ? correct / n : 0, loss: n ? lossSum / n : 0, count: n };
  }
}
