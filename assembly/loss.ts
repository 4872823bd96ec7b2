// Softmax cross-entropy over class logits, with its gradient.
// Glossary: B rows (samples), C classes.
// Layout: logits/dlogits [B,C] f32, labels [B] i32 in [0, C); byte offsets, 16-byte aligned.
// dlogits may equal logits (each row is read before it is overwritten); dlogitsPtr = 0 means
// "loss only". Stability: every row subtracts its max before exp, so exp never overflows and
// the loss log Σexp(x − max) + max − x[label] stays finite for any finite logits.
// Row max and the final rescale are 4-lane SIMD; exp is scalar (wasm has no vector exp).

/** Σ_b of −log softmax(logits[b])[labels[b]], over logits[B,C], labels[B] (i32). If dlogitsPtr != 0,
 * also writes dlogits[B,C] = scale · (softmax(logits) − onehot(labels)). */
export function softmax_xent_f32(dlogitsPtr: usize, logitsPtr: usize, labelsPtr: usize, B: i32, C: i32, scale: f32): f32 {
  let total: f64 = 0;
  for (let b = 0; b < B; b++) {
    const x = logitsPtr + (<usize>(b * C) << 2);
    const label = load<i32>(labelsPtr + (<usize>b << 2));
    let j = 0;
    let m = -Infinity as f32;
    if (ASC_FEATURE_SIMD) {
      if (C >= 4) {
        let vm = v128.load(x);
        for (j = 4; j + 4 <= C; j += 4) vm = f32x4.max(vm, v128.load(x + (<usize>j << 2)));
        m = max(max(f32x4.extract_lane(vm, 0), f32x4.extract_lane(vm, 1)), max(f32x4.extract_lane(vm, 2), f32x4.extract_lane(vm, 3)));
      }
    }
    for (; j < C; j++) m = max(m, load<f32>(x + (<usize>j << 2)));
    const xl = load<f32>(x + (<usize>label << 2));
    let s: f64 = 0;
    if (dlogitsPtr != 0) {
      // Keep the unnormalised exp in dlogits, then rescale the row once by scale / Σ.
      const d = dlogitsPtr + (<usize>(b * C) << 2);
      for (j = 0; j < C; j++) {
        const e = Mathf.exp(load<f32>(x + (<usize>j << 2)) - m);
        s += e;
        store<f32>(d + (<usize>j << 2), e);
      }
      const k = <f32>(<f64>scale / s);
      j = 0;
      if (ASC_FEATURE_SIMD) {
        const vk = f32x4.splat(k);
        for (; j + 4 <= C; j += 4) {
          const q = d + (<usize>j << 2);
          v128.store(q, f32x4.mul(v128.load(q), vk));
        }
      }
      for (; j < C; j++) {
        const q = d + (<usize>j << 2);
        store<f32>(q, load<f32>(q) * k);
      }
      const ql = d + (<usize>label << 2);
      store<f32>(ql, load<f32>(ql) - scale);
    } else {
      for (j = 0; j < C; j++) s += Mathf.exp(load<f32>(x + (<usize>j << 2)) - m);
    }
    total += Math.log(s) + <f64>m - <f64>xl;
  }
  return <f32>total;
}
