// Layer implementations: each is a forward/backward pair over engine buffers, outputs first.
// Shapes are per batch of `B` samples (B ≤ the net's batch capacity); NCHW throughout.
// A layer reads its weights from the flat parameter vector θ at `thetaPtr + 4·paramOffset`
// and writes its gradients at the same offset of the flat gradient vector, so parameters,
// gradients and optimizer state stay one contiguous vector each (see spec.ts for the layout).
import type { Rng } from "../rng.ts";
import type { Arena, F32Buf, I32Buf } from "../wasm/arena.ts";
import type { Kernels } from "../wasm/kernels.ts";
import { shapeSize, type LayerPlan } from "./spec.ts";

/** Buffers shared by all layers of a net. */
export interface Workspace {
  readonly k: Kernels;
  /** Two gradient buffers of the largest activation size; backward ping-pongs between them. */
  readonly grads: readonly [F32Buf, F32Buf];
  /** GEMM output before the NCHW transpose (and dy transposed), [OC, chunk·OH·OW] of the largest conv chunk. */
  readonly convTmp: F32Buf;
  /** GEMM packing scratch [GEMM_WS_FLOATS]. */
  readonly gemmWs: F32Buf;
  /** A conv chunk's dyᵀ in CSR (assembly/sparse.ts): row pointers [chunk pixels + 1], column indices and values [convTmp size]. */
  readonly csr: { readonly ptr: I32Buf; readonly idx: I32Buf; readonly val: F32Buf };
}

export interface Layer {
  readonly plan: LayerPlan;
  /** y = f(x; θ). Returns the output buffer. */
  forward(thetaPtr: number, x: F32Buf, B: number, train: boolean, rng: Rng | null): F32Buf;
  /** Writes ∂L/∂θ of this layer into the gradient vector and returns ∂L/∂x (null if !needDx). */
  backward(thetaPtr: number, gradPtr: number, dy: F32Buf, B: number, needDx: boolean): F32Buf | null;
}

/**
 * GEMM columns (output pixels) per Conv2D chunk; see Conv2D. 256 = the GEMM's NC block: lenet's
 * conv2 runs 4 images a chunk, conv1 one. A/B in one process against whole-batch calls: lenet
 * 1–9% faster per step (best step 27.0 → 23.8 ms); 512 was no better, 1024 worse.
 */
const CHUNK_COLUMNS = 256;

/** Images per Conv2D chunk: enough for CHUNK_COLUMNS GEMM columns, at least one. */
const chunkImages = (l: LayerPlan) => Math.max(1, Math.floor(CHUNK_COLUMNS / (l.outShape[1] * l.outShape[2])));

const other = (ws: Workspace, buf: F32Buf) => (buf === ws.grads[0] ? ws.grads[1] : ws.grads[0]);

/**
 * Conv2D's backward multiplies only the nonzeros of dy (assembly/sparse.ts) when at most this
 * fraction of a chunk's dy is nonzero, and runs the dense GEMMs otherwise. Below a 2×2 max pool
 * dy is ≤ 25% nonzero (lenet: 14% with the ReLU); after a ReLU alone it is about half. Measured
 * crossover (sparse time = dense time for dW + dcolT of one chunk, random dy, warm caches, simd-fma
 * on the EPYC here): density 0.33 for lenet's conv2 chunk, 0.2 for conv1's (K = 25, where spmm
 * runs 4-float blocks). `node dist/bench/profile.js` prints the density each conv layer sees.
 */
export const SPARSE_MAX_DENSITY = 0.3;

/** Sizes of the scratch a plan needs beyond the per-layer buffers, in elements. */
export function workspaceNeeds(layers: readonly LayerPlan[], batch: number): { maxAct: number; convTmp: number; csrRows: number } {
  let maxAct = 0, convTmp = 0, csrRows = 0;
  for (const l of layers) {
    maxAct = Math.max(maxAct, batch * shapeSize(l.inShape), batch * shapeSize(l.outShape));
    if (l.spec.type !== "conv2d") continue;
    const images = Math.min(batch, chunkImages(l)), [OC, OH, OW] = l.outShape;
    convTmp = Math.max(convTmp, images * OC * OH * OW);
    csrRows = Math.max(csrRows, images * OH * OW); // one CSR row per output pixel of a chunk
  }
  return { maxAct, convTmp, csrRows };
}

/**
 * Conv2D by im2row + GEMM, a few images at a time: for each chunk of images, colT[P, CKK] =
 * im2row(x), tmp[OC, P] = W[OC, CKK]·colTᵀ + b, y = NCHW(tmp), with P = images·OH·OW. Chunks keep
 * each chunk's colT and tmp in cache from the kernel that writes them to the one that reads them
 * (a whole batch's colT is 6.5 MB for lenet's conv2); the GEMMs are the same blocks as one
 * batch-wide call. `col` holds every chunk's block, chunk after chunk, because backward reuses them.
 * Backward per chunk: dW += dy·colT and dcolT = dyᵀ·W, then dx = row2im(dcolT). When dy is mostly
 * zero (SPARSE_MAX_DENSITY) both products run over dy's nonzeros only, from one CSR of dyᵀ (a row
 * per output pixel); otherwise they are GEMMs on dy transposed to [OC, P].
 */
class Conv2D implements Layer {
  private readonly col: F32Buf;
  private readonly y: F32Buf;
  private readonly chunk: number;
  constructor(readonly plan: LayerPlan, private readonly ws: Workspace, arena: Arena, batch: number) {
    const [C] = plan.inShape, [, OH, OW] = plan.outShape;
    this.col = arena.f32(C * plan.k! * plan.k! * batch * OH * OW, "conv im2row buffer");
    this.y = arena.f32(batch * shapeSize(plan.outShape), "conv output");
    this.chunk = chunkImages(plan);
  }
  forward(thetaPtr: number, x: F32Buf, B: number): F32Buf {
    const { k } = this.ws, p = this.plan;
    const [C, H, W] = p.inShape, [OC, OH, OW] = p.outShape, K = p.k!;
    const CKK = C * K * K, L = OH * OW, wPtr = thetaPtr + 4 * p.paramOffset, tmp = this.ws.convTmp.ptr;
    for (let b0 = 0; b0 < B; b0 += this.chunk) {
      const nb = Math.min(this.chunk, B - b0), col = this.col.ptr + 4 * CKK * L * b0;
      k.im2row_f32(col, x.ptr + 4 * C * H * W * b0, nb, C, H, W, K, K, p.stride!, p.pad!, OH, OW);
      k.gemm_nt_f32(tmp, wPtr, col, OC, nb * L, CKK, 0, this.ws.gemmWs.ptr);
      k.bias_add_f32(tmp, wPtr + 4 * p.weightCount, 1, OC, nb * L); // tmp as [1, OC, nb·L], still in cache
      k.transpose01_f32(this.y.ptr + 4 * OC * L * b0, tmp, OC, nb, L);
    }
    return this.y;
  }
  backward(thetaPtr: number, gradPtr: number, dy: F32Buf, B: number, needDx: boolean): F32Buf | null {
    const { k, csr } = this.ws, p = this.plan;
    const [C, H, W] = p.inShape, [OC, OH, OW] = p.outShape, K = p.k!;
    const CKK = C * K * K, L = OH * OW, off = 4 * p.paramOffset, dW = gradPtr + off, wPtr = thetaPtr + off;
    const dyT = this.ws.convTmp.ptr; // [OC, chunk P]
    const dx = needDx ? other(this.ws, dy) : null;
    k.bias_grad_f32(gradPtr + off + 4 * p.weightCount, dy.ptr, B, OC, L);
    for (let b0 = 0; b0 < B; b0 += this.chunk) {
      const nb = Math.min(this.chunk, B - b0), P = nb * L, col = this.col.ptr + 4 * CKK * L * b0;
      const dyChunk = dy.ptr + 4 * OC * L * b0, beta = b0 > 0 ? 1 : 0;
      // This chunk's colT is not needed after dW, so it then holds dcolT.
      if (k.nonzero_f32(dyChunk, OC * P) <= SPARSE_MAX_DENSITY * OC * P) {
        k.csr_cols_f32(csr.ptr.ptr, csr.idx.ptr, csr.val.ptr, dyChunk, OC, nb, L); // dyᵀ: one row per output pixel
        k.spmm_tn_f32(dW, csr.ptr.ptr, csr.idx.ptr, csr.val.ptr, col, OC, CKK, P, beta); // dW[OC,CKK] (+)= dy[OC,P] · colT
        if (!dx) continue;
        k.spmm_f32(col, csr.ptr.ptr, csr.idx.ptr, csr.val.ptr, wPtr, P, CKK, 0); // dcolT[P,CKK] = dyᵀ · W
      } else {
        k.transpose01_f32(dyT, dyChunk, nb, OC, L);
        k.gemm_nn_f32(dW, dyT, col, OC, CKK, P, beta, this.ws.gemmWs.ptr);
        if (!dx) continue;
        k.gemm_tn_f32(col, dyT, wPtr, P, CKK, OC, 0, this.ws.gemmWs.ptr);
      }
      k.row2im_f32(dx.ptr + 4 * C * H * W * b0, col, nb, C, H, W, K, K, p.stride!, p.pad!, OH, OW);
    }
    return dx;
  }
}

/** Dense: y[B,out] = x[B,in] · W[out,in]ᵀ + b. */
class Dense implements Layer {
  private readonly y: F32Buf;
  private x: F32Buf | null = null;
  constructor(readonly plan: LayerPlan, private readonly ws: Workspace, arena: Arena, batch: number) {
    this.y = arena.f32(batch * plan.outShape[0], "dense output");
  }
  forward(thetaPtr: number, x: F32Buf, B: number): F32Buf {
    const p = this.plan, I = p.inShape[0], O = p.outShape[0], wPtr = thetaPtr + 4 * p.paramOffset;
    this.x = x;
    this.ws.k.gemm_nt_f32(this.y.ptr, x.ptr, wPtr, B, O, I, 0, this.ws.gemmWs.ptr);
    this.ws.k.bias_add_f32(this.y.ptr, wPtr + 4 * p.weightCount, B, O, 1);
    return this.y;
  }
  backward(thetaPtr: number, gradPtr: number, dy: F32Buf, B: number, needDx: boolean): F32Buf | null {
    const { k } = this.ws, p = this.plan, I = p.inShape[0], O = p.outShape[0], off = 4 * p.paramOffset;
    k.gemm_tn_f32(gradPtr + off, dy.ptr, this.x!.ptr, O, I, B, 0, this.ws.gemmWs.ptr); // dW[O,I] = dyᵀ · x
    k.bias_grad_f32(gradPtr + off + 4 * p.weightCount, dy.ptr, B, O, 1);
    if (!needDx) return null;
    const dx = other(this.ws, dy);
    k.gemm_nn_f32(dx.ptr, dy.ptr, thetaPtr + off, B, I, O, 0, this.ws.gemmWs.ptr); // dx[B,I] = dy · W
    return dx;
  }
}

/** ReLU, keeping its output for the backward mask; backward runs in place on dy. */
class ReLU implements Layer {
  private readonly y: F32Buf;
  constructor(readonly plan: LayerPlan, private readonly ws: Workspace, arena: Arena, batch: number) {
    this.y = arena.f32(batch * shapeSize(plan.outShape), "relu output");
  }
  forward(_t: number, x: F32Buf, B: number): F32Buf {
    this.ws.k.relu_fwd_f32(this.y.ptr, x.ptr, B * shapeSize(this.plan.outShape));
    return this.y;
  }
  backward(_t: number, _g: number, dy: F32Buf, B: number): F32Buf {
    this.ws.k.relu_bwd_f32(dy.ptr, dy.ptr, this.y.ptr, B * shapeSize(this.plan.outShape));
    return dy;
  }
}

/** Max pooling without padding; remembers the argmax of each window. */
class MaxPool2D implements Layer {
  private readonly y: F32Buf;
  private readonly arg: I32Buf;
  constructor(readonly plan: LayerPlan, private readonly ws: Workspace, arena: Arena, batch: number) {
    this.y = arena.f32(batch * shapeSize(plan.outShape), "pool output");
    this.arg = arena.i32(batch * shapeSize(plan.outShape), "pool argmax");
  }
  forward(_t: number, x: F32Buf, B: number): F32Buf {
    const p = this.plan, [C, H, W] = p.inShape, [, OH, OW] = p.outShape;
    this.ws.k.maxpool2d_fwd_f32(this.y.ptr, this.arg.ptr, x.ptr, B * C, H, W, p.k!, p.k!, p.stride!, OH, OW);
    return this.y;
  }
  backward(_t: number, _g: number, dy: F32Buf, B: number, needDx: boolean): F32Buf | null {
    if (!needDx) return null;
    const p = this.plan, [C, H, W] = p.inShape, [, OH, OW] = p.outShape, dx = other(this.ws, dy);
    this.ws.k.maxpool2d_bwd_f32(dx.ptr, dy.ptr, this.arg.ptr, B * C, H, W, OH, OW);
    return dx;
  }
}

/** Flatten: NCHW memory is already [B, C·H·W], so both directions pass the buffer through. */
class Flatten implements Layer {
  constructor(readonly plan: LayerPlan) {}
  forward(_t: number, x: F32Buf): F32Buf { return x; }
  backward(_t: number, _g: number, dy: F32Buf): F32Buf { return dy; }
}

/** Inverted dropout: in training y = x · mask with mask ∈ {0, 1/(1−p)} drawn from the caller's Rng; identity in evaluation. */
class Dropout implements Layer {
  private readonly y: F32Buf;
  private readonly mask: F32Buf;
  private active = false;
  constructor(readonly plan: LayerPlan, private readonly ws: Workspace, arena: Arena, batch: number) {
    this.y = arena.f32(batch * shapeSize(plan.outShape), "dropout output");
    this.mask = arena.f32(batch * shapeSize(plan.outShape), "dropout mask");
  }
  forward(_t: number, x: F32Buf, B: number, train: boolean, rng: Rng | null): F32Buf {
    const p = (this.plan.spec as { p: number }).p;
    this.active = train && p > 0;
    if (!this.active) return x;
    if (!rng) throw new Error("dropout in training needs an Rng");
    const n = B * shapeSize(this.plan.outShape), m = this.mask.view, keep = 1 / (1 - p);
    for (let i = 0; i < n; i++) m[i] = rng.uniform() < p ? 0 : keep;
    this.ws.k.mul_f32(this.y.ptr, x.ptr, this.mask.ptr, n);
    return this.y;
  }
  backward(_t: number, _g: number, dy: F32Buf, B: number): F32Buf {
    if (this.active) this.ws.k.mul_f32(dy.ptr, dy.ptr, this.mask.ptr, B * shapeSize(this.plan.outShape));
    return dy;
  }
}

export function makeLayer(plan: LayerPlan, ws: Workspace, arena: Arena, batch: number): Layer {
  switch (plan.spec.type) {
    case "conv2d": return new Conv2D(plan, ws, arena, batch);
    case "dense": return new Dense(plan, ws, arena, batch);
    case "relu": return new ReLU(plan, ws, arena, batch);
    case "maxpool2d": return new MaxPool2D(plan, ws, arena, batch);
    case "flatten": return new Flatten(plan);
    case "dropout": return new Dropout(plan, ws, arena, batch);
  }
}
