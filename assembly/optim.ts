// Optimizer step over a whole parameter vector.
// Glossary: n = number of parameters.
// Layout: w, g, v are byte offsets to n contiguous f32 each (parameters, gradients, momentum
// buffers), 16-byte aligned. 4-lane SIMD body under ASC_FEATURE_SIMD, scalar tail.

/** PyTorch SGD, one step: g' = g + wd·w; v = momentum·v + g'; w −= lr·v. w[n], g[n] (read only), v[n]. */
export function sgd_momentum_f32(wPtr: usize, gPtr: usize, vPtr: usize, n: i32, lr: f32, momentum: f32, weightDecay: f32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const vlr = f32x4.splat(lr);
    const vmu = f32x4.splat(momentum);
    const vwd = f32x4.splat(weightDecay);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      const w = v128.load(wPtr + o);
      const g = f32x4.add(v128.load(gPtr + o), f32x4.mul(vwd, w));
      const v = f32x4.add(f32x4.mul(vmu, v128.load(vPtr + o)), g);
      v128.store(vPtr + o, v);
      v128.store(wPtr + o, f32x4.sub(w, f32x4.mul(vlr, v)));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const w = load<f32>(wPtr + o);
    const g = load<f32>(gPtr + o) + weightDecay * w;
    const v = momentum * load<f32>(vPtr + o) + g;
    store<f32>(vPtr + o, v);
    store<f32>(wPtr + o, w - lr * v);
  }
}
