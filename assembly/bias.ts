// Per-channel bias: forward add and its gradient.
// Glossary: C channels; y is viewed as [outer, C, inner]. Dense layers use outer = B, inner = 1;
// NCHW convolutions use outer = B, inner = H·W.
// Layout: y/dy are byte offsets to outer·C·inner contiguous f32, b/db to C f32; 16-byte aligned.
// Two loop shapes, both 4-lane SIMD with a scalar tail: inner = 1 runs along C (a dense row is
// a vector add), otherwise along the contiguous inner plane of one channel.
import { addRun } from "./runs";

/** y[outer,C,inner] += b[C] broadcast over outer and inner */
export function bias_add_f32(yPtr: usize, bPtr: usize, outer: i32, C: i32, inner: i32): void {
  if (inner == 1) {
    for (let o = 0; o < outer; o++) {
      addRun(yPtr + (<usize>(o * C) << 2), bPtr, C);
    }
    return;
  }
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < C; c++) {
      const p = yPtr + (<usize>((o * C + c) * inner) << 2);
      const bc = load<f32>(bPtr + (<usize>c << 2));
      let i = 0;
      if (ASC_FEATURE_SIMD) {
        const vb = f32x4.splat(bc);
        for (; i + 4 <= inner; i += 4) {
          const q = p + (<usize>i << 2);
          v128.store(q, f32x4.add(v128.load(q), vb));
        }
      }
      for (; i < inner; i++) {
        const q = p + (<usize>i << 2);
        store<f32>(q, load<f32>(q) + bc);
      }
    }
  }
}

/** db[C] = Σ over outer and inner of dy[outer,C,inner] (overwrites db) */
export function bias_grad_f32(dbPtr: usize, dyPtr: usize, outer: i32, C: i32, inner: i32): void {
  memory.fill(dbPtr, 0, <usize>C << 2);
  if (inner == 1) {
    for (let o = 0; o < outer; o++) {
      addRun(dbPtr, dyPtr + (<usize>(o * C) << 2), C);
    }
    return;
  }
  for (let o = 0; o < outer; o++) {
    for (let c = 0; c < C; c++) {
      const p = dyPtr + (<usize>((o * C + c) * inner) << 2);
      let s: f32 = 0;
      let i = 0;
      if (ASC_FEATURE_SIMD) {
        let vs = f32x4.splat(0);
        for (; i + 4 <= inner; i += 4) vs = f32x4.add(vs, v128.load(p + (<usize>i << 2)));
        s = (f32x4.extract_lane(vs, 0) + f32x4.extract_lane(vs, 1)) + (f32x4.extract_lane(vs, 2) + f32x4.extract_lane(vs, 3));
      }
      for (; i < inner; i++) s += load<f32>(p + (<usize>i << 2));
      const q = dbPtr + (<usize>c << 2);
      store<f32>(q, load<f32>(q) + s);
    }
  }
}
