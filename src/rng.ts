// Seeded pseudo-random streams. Every random choice in the project draws from an Rng
// passed in explicitly; nothing reads Math.random. Every draw is bit-identical on Node, Bun
// and Deno: the transcendental functions are our own (Math.log/exp/sin differ across engines).
//
// Generator: sfc32 (Chris Doty-Humphrey's Small Fast Counting generator, 128-bit state,
// passes PractRand), seeded through splitmix32 so that nearby seeds give unrelated streams.

/**
 * ln(x) for x > 0 from IEEE-exact operations only (+, −, ×, ÷ in a fixed order), so it gives
 * the same bits on every engine; Math.log does not (V8 versions and JavaScriptCore differ in
 * the last ulp), and that would make event times, hence whole runs, differ across runtimes.
 * x = m·2^e with m in [√½, √2); ln m = 2·atanh(s), s = (m − 1)/(m + 1), |s| < 0.172. Error ≲ 2 ulp.
 */
export function portableLog(x: number): number {
  if (!(x > 0) || x === Infinity) return x === 0 ? -Infinity : x === Infinity ? Infinity : NaN;
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  let hi = view.getUint32(0);
  let e = (hi >>> 20) - 1023;
  if (e === -1023) { // subnormal: scale into the normal range first
    view.setFloat64(0, x * 18014398509481984); // 2^54
    hi = view.getUint32(0);
    e = (hi >>> 20) - 1023 - 54;
  }
  view.setUint32(0, (hi & 0x000fffff) | 0x3ff00000); // mantissa with exponent 0: m in [1, 2)
  let m = view.getFloat64(0);
  if (m > 1.4142135623730951) { m /= 2; e++; }
  const s = (m - 1) / (m + 1), s2 = s * s;
  let sum = 0;
  for (let k = 23; k >= 3; k -= 2) sum = (sum + 1 / k) * s2;
  return e * 0.6931471805599453 + 2 * s * (1 + sum);
}

/**
 * e^x from IEEE-exact operations only, for the same reason as portableLog: x = k·ln2 + r with
 * |r| ≤ ln2/2 (ln2 split in two parts so r is exact enough), e^r by its Taylor series to r^14,
 * then the exact scaling by 2^k. Relative error ≲ 2 ulp.
 */
export function portableExp(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x > 709.78) return Infinity;
  if (x < -745.2) return 0;
  const k = Math.round(x / 0.6931471805599453);
  const r = x - k * 0.6931471803691238 - k * 1.9082149292705877e-10;
  let sum = 1;
  for (let i = 14; i >= 1; i--) sum = 1 + (sum * r) / i;
  let e = k, scale = 1;
  // 2^k as a product of exactly representable powers of two, so subnormal results stay exact-ish.
  while (e > 0) { const s = Math.min(e, 1000); scale *= 2 ** s; e -= s; }
  while (e < 0) { const s = Math.max(e, -1000); sum *= 2 ** s; e -= s; }
  return sum * scale;
}

function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** An Rng's state: sfc32's four words and the cached second normal. */
export type RngState = [number, number, number, number, number | null];

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spare: number | null = null;

  /** A stream determined by `seed` and an optional stream id (e.g. a node index). */
  constructor(seed: number, stream = 0) {
    const st = { s: (seed >>> 0) ^ Math.imul(stream + 1, 0x27d4eb2d) };
    this.a = splitmix32(st);
    this.b = splitmix32(st);
    this.c = splitmix32(st);
    this.d = 1;
    for (let i = 0; i < 12; i++) this.nextU32();
  }

  /** The generator's whole state, for checkpoints: four words and the cached normal (or null). */
  state(): RngState {
    return [this.a, this.b, this.c, this.d, this.spare];
  }

  /** Continues from a state taken by state(): the same draws follow as after the original. */
  restore(s: RngState): this {
    [this.a, this.b, this.c, this.d, this.spare] = s;
    return this;
  }

  /** An independent child stream; the same (parent state, id) always gives the same child. */
  fork(id: number): Rng {
    return new Rng(this.nextU32(), id);
  }

  nextU32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1) with 32 random bits. */
  uniform(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal (Marsaglia's polar method, caching the second value; portable: only √ and portableLog). */
  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    let u: number, v: number, s: number;
    do {
      u = 2 * this.uniform() - 1;
      v = 2 * this.uniform() - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const f = Math.sqrt((-2 * portableLog(s)) / s);
    this.spare = v * f;
    return u * f;
  }

  /** Exponential with the given mean. */
  exponential(mean: number): number {
    let u = 0;
    while (u === 0) u = this.uniform();
    return -portableLog(u) * mean;
  }

  /** Gamma(shape, 1) by Marsaglia–Tsang; used for Dirichlet draws. */
  gamma(shape: number): number {
    if (shape < 1) return this.gamma(shape + 1) * portableExp(portableLog(this.uniform() || 1e-300) / shape);
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number, v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = this.uniform();
      if (u < 1 - 0.0331 * x * x * x * x) return d * v;
      if (portableLog(u) < 0.5 * x * x + d * (1 - v + portableLog(v))) return d * v;
    }
  }

  /** Fisher–Yates shuffle in place. */
  shuffle<T extends { length: number; [i: number]: any }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }

  /** A random permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p);
  }
}
