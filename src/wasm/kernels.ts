// The kernel ABI, written by hand: every export of build/cdl-*.wasm and of the TypeScript
// reference (src/wasm/reference.ts) has exactly this signature and meaning.
//
// Conventions (the same in assembly/ and in the reference):
// - Every `*Ptr` is a byte offset into the engine's one WebAssembly.Memory, 16-byte aligned.
// - Sizes are i32 element counts; scalars are f32. Kernels never allocate.
// - Output pointers come first. Row-major everywhere; images are NCHW.
// - "+=" kernels accumulate into their output; all others overwrite it.
// Glossary: B batch, C channels, OC output channels, H/W input height/width, OH/OW output
// height/width, KH/KW kernel height/width, M/N/K the GEMM dimensions, n a vector length.

export interface Kernels {
  // --- GEMM (assembly/gemm.ts). C[M,N] = A·B + beta·C; beta is 0 (overwrite) or 1 (accumulate).
  // wsPtr: a scratch buffer of GEMM_WS_FLOATS f32 for packing (C, A, B must not overlap it).
  /** C[M,N] = A[M,K] · B[K,N] + beta·C */
  gemm_nn_f32(cPtr: number, aPtr: number, bPtr: number, M: number, N: number, K: number, beta: number, wsPtr: number): void;
  /** C[M,N] = A[M,K] · B[N,K]ᵀ + beta·C */
  gemm_nt_f32(cPtr: number, aPtr: number, bPtr: number, M: number, N: number, K: number, beta: number, wsPtr: number): void;
  /** C[M,N] = A[K,M]ᵀ · B[K,N] + beta·C */
  gemm_tn_f32(cPtr: number, aPtr: number, bPtr: number, M: number, N: number, K: number, beta: number, wsPtr: number): void;

  // --- Convolution lowering (assembly/conv.ts). CKK = C·KH·KW, P = B·OH·OW.
  /** colT[P, CKK] from x[B,C,H,W]; row (b,oh,ow), column (c,kh,kw); zero where the window is in the padding. */
  im2row_f32(colPtr: number, xPtr: number, B: number, C: number, H: number, W: number,
    KH: number, KW: number, stride: number, pad: number, OH: number, OW: number): void;
  /** dx[B,C,H,W] = the adjoint of im2row applied to dcolT[P, CKK] (overwrites dx). */
  row2im_f32(dxPtr: number, dcolPtr: number, B: number, C: number, H: number, W: number,
    KH: number, KW: number, stride: number, pad: number, OH: number, OW: number): void;
  /** dst[b,a,i] = src[a,b,i]: swaps the two outer dims of src[A, Bd, inner]. */
  transpose01_f32(dstPtr: number, srcPtr: number, A: number, Bd: number, inner: number): void;

  // --- Sparse products (assembly/sparse.ts). X is the [A, Bd·inner] matrix X[a, b·inner + i] =
  // src[(b·A + a)·inner + i] (NCHW dy seen as [C, B·H·W]); CSR = ptr (i32, rows + 1), idx (i32
  // column) and val (f32) of the entries != 0, in row order. idx/val need room for A·Bd·inner.
  /** How many of x[n] are != 0 (NaN counts as nonzero) */
  nonzero_f32(xPtr: number, n: number): number;
  /** CSR of Xᵀ (X by columns); returns nnz */
  csr_cols_f32(ptrPtr: number, idxPtr: number, valPtr: number, srcPtr: number, A: number, Bd: number, inner: number): number;
  /** C[M,N] = S·B + beta·C, S a CSR matrix of M rows whose column indices are rows of B[·, N] */
  spmm_f32(cPtr: number, ptrPtr: number, idxPtr: number, valPtr: number, bPtr: number, M: number, N: number, beta: number): void;
  /** C[M,N] = Sᵀ·B + beta·C, S a CSR matrix of K rows whose column indices are rows of C, B[K,N] */
  spmm_tn_f32(cPtr: number, ptrPtr: number, idxPtr: number, valPtr: number, bPtr: number, M: number, N: number, K: number, beta: number): void;

  // --- Bias (assembly/bias.ts). y viewed as [outer, C, inner]: dense uses inner = 1, conv NCHW inner = H·W.
  /** y[o,c,i] += b[c] */
  bias_add_f32(yPtr: number, bPtr: number, outer: number, C: number, inner: number): void;
  /** db[c] = Σ_{o,i} dy[o,c,i] (overwrites db) */
  bias_grad_f32(dbPtr: number, dyPtr: number, outer: number, C: number, inner: number): void;

  // --- Activations and elementwise (assembly/activation.ts).
  /** y[n] = max(x, 0) (y may equal x) */
  relu_fwd_f32(yPtr: number, xPtr: number, n: number): void;
  /** dx[n] = y > 0 ? dy : 0, where y is the forward output (dx may equal dy) */
  relu_bwd_f32(dxPtr: number, dyPtr: number, yPtr: number, n: number): void;
  /** out[n] = a · b elementwise (dropout masks; out may equal a) */
  mul_f32(outPtr: number, aPtr: number, bPtr: number, n: number): void;

  // --- Max pooling (assembly/pool.ts), no padding, floor mode. BC = B·C planes.
  /** y[BC,OH,OW] = window max of x[BC,H,W]; arg[BC,OH,OW] (i32) = flat index h·W+w of the max within its plane */
  maxpool2d_fwd_f32(yPtr: number, argPtr: number, xPtr: number, BC: number, H: number, W: number,
    KH: number, KW: number, stride: number, OH: number, OW: number): void;
  /** dx[BC,H,W] = scatter of dy[BC,OH,OW] to the argmax positions (overwrites dx) */
  maxpool2d_bwd_f32(dxPtr: number, dyPtr: number, argPtr: number, BC: number, H: number, W: number,
    OH: number, OW: number): void;

  // --- Loss (assembly/loss.ts).
  /** Softmax cross-entropy of logits[B,C] against labels[B] (i32). Returns the SUM of the B
   * losses (stable: log-sum-exp with the row max subtracted). If dlogitsPtr != 0, writes
   * dlogits[B,C] = scale · (softmax − onehot). */
  softmax_xent_f32(dlogitsPtr: number, logitsPtr: number, labelsPtr: number, B: number, C: number, scale: number): number;

  // --- Optimizer (assembly/optim.ts).
  /** PyTorch SGD: g' = g + wd·w; v = momentum·v + g'; w −= lr·v. w, g, v all [n]. */
  sgd_momentum_f32(wPtr: number, gPtr: number, vPtr: number, n: number, lr: number, momentum: number, weightDecay: number): void;

  // --- Whole vectors (assembly/vector.ts): consensus averaging and bookkeeping.
  /** y[n] += a · x */
  axpy_f32(yPtr: number, xPtr: number, n: number, a: number): void;
  /** y[n] = a · x + b · y */
  axpby_f32(yPtr: number, xPtr: number, n: number, a: number, b: number): void;
  /** x[n] *= a */
  scale_f32(xPtr: number, n: number, a: number): void;
  /** Σ (a − b)² over [n], accumulated in f64 */
  sqdist_f32(aPtr: number, bPtr: number, n: number): number;
  /** 1 if any of x[n] is NaN or ±Inf, else 0 */
  nonfinite_f32(xPtr: number, n: number): number;

  // --- The level codecs of --compress (assembly/codec.ts; src/node/compress.ts specifies them).
  /** h[n] (u16) = x[n] as f16 bits (nearest even, ±65504 beyond, NaN → 0x7e00); own[n] = their f32 values (NaN → 0x7fc00000) */
  f16_encode_f32(xPtr: number, n: number, hPtr: number, ownPtr: number): void;
  /** max |x[n]| (0 for n = 0); NaN if any x is NaN */
  absmax_f32(xPtr: number, n: number): number;
  /** q[n] (i8) = sign(x) · min(127, ⌊|x / s| + 1/2⌋), x / s in f64; own[n] = fround(q · s). s > 0 */
  int8_encode_f32(xPtr: number, n: number, s: number, qPtr: number, ownPtr: number): void;
}

/** f32 elements of the GEMM workspace: KC·NC packed B + MC·KC packed A + one 4×8 tile (assembly/gemm.ts). */
export const GEMM_WS_FLOATS = 256 * 1024 + 64 * 256 + 4 * 8;

/** The export names, in ABI order; the conformance test checks the .wasm exports against it. */
export const KERNEL_NAMES: readonly (keyof Kernels)[] = [
  "gemm_nn_f32", "gemm_nt_f32", "gemm_tn_f32",
  "im2row_f32", "row2im_f32", "transpose01_f32",
  "nonzero_f32", "csr_cols_f32", "spmm_f32", "spmm_tn_f32",
  "bias_add_f32", "bias_grad_f32",
  "relu_fwd_f32", "relu_bwd_f32", "mul_f32",
  "maxpool2d_fwd_f32", "maxpool2d_bwd_f32",
  "softmax_xent_f32",
  "sgd_momentum_f32",
  "axpy_f32", "axpby_f32", "scale_f32", "sqdist_f32", "nonfinite_f32",
  "f16_encode_f32", "absmax_f32", "int8_encode_f32",
];
