// Softmax cross-entropy over class logits, with its gradient.
// Glossary: B rows (samples), C classes.
// Layout: logits/dlogits [B,C] f32, labels [B] i32 in [0, C); byte offsets, 16-byte aligned.
// dlogits may equal logits (each row is read before it is overwritten); dlogitsPtr = 0 means
// "loss only". Stability: every row subtracts its max before exp, so exp never overflows, and
// the loss log Σexp(x − max) + max − x[label] is finite whenever its value fits in f32.
// Row max and the final rescale are 4-lane SIMD; exp is scalar (wasm has no vector exp).
// exp and log are written here rather than taken from Math/Mathf: at optimize level 3 the
// standard library uses lookup tables, i.e. a data segment, and a data segment would be
// copied into the imported memory at instantiation, on top of the arena's buffers.

/** e^x for x ≤ 0 (the only arguments here: logits minus the row max), table-free, ~1e-15
 * relative. Below −104 it returns 0, which e^x is anyway once rounded to f32. NaN stays NaN. */
@inline function expNonPos(x: f64): f64 {
  if (x < -104) return 0;
  const LN2_HI: f64 = 6.93147180369123816490e-01; // ln 2 split so that k·LN2_HI is exact
  const LN2_LO: f64 = 1.90821492927058770002e-10;
  const k = Math.round(x * Math.LOG2E);
  const r = (x - k * LN2_HI) - k * LN2_LO; // |r| ≤ ln2 / 2
  // Taylor to r^11 (Horner): the next term is below 3e-15 for |r| ≤ 0.35.
  let p = 1.0 / 39916800;
  p = p * r + 1.0 / 3628800;
  p = p * r + 1.0 / 362880;
  p = p * r + 1.0 / 40320;
  p = p * r + 1.0 / 5040;
  p = p * r + 1.0 / 720;
  p = p * r + 1.0 / 120;
  p = p * r + 1.0 / 24;
  p = p * r + 1.0 / 6;
  p = p * r + 0.5;
  p = p * r + 1;
  p = p * r + 1;
  return p * reinterpret<f64>(<i64>(<i32>k + 1023) << 52); // · 2^k, with k in [−150, 0]
}

/** ln x for finite x ≥ 1 (a softmax denominator), table-free: x = m·2^e with m in [√½, √2),
 * ln m = 2·atanh(t), t = (m − 1)/(m + 1), |t| ≤ 0.172; the series to t^21 is exact to f64. */
@inline function logGeOne(x: f64): f64 {
  const bits = reinterpret<i64>(x);
  let e = <i32>(bits >> 52) - 1023;
  let m = reinterpret<f64>((bits & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000);
  if (m > Math.SQRT2) {
    m *= 0.5;
    e++;
  }
  const t = (m - 1) / (m + 1);
  const t2 = t * t;
  let q = 1.0 / 21;
  for (let j = 19; j >= 1; j -= 2) q = q * t2 + 1.0 / j;
  return 2 * t * q + <f64>e * Math.LN2;
}

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
        const e = <f32>expNonPos(<f64>load<f32>(x + (<usize>j << 2)) - <f64>m);
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
      for (j = 0; j < C; j++) s += <f32>expNonPos(<f64>load<f32>(x + (<usize>j << 2)) - <f64>m);
    }
    total += logGeOne(s) + <f64>m - <f64>xl;
  }
  return <f32>total;
}
