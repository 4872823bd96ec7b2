// synthetic-cifar: a seeded CIFAR-shaped dataset ([3, 32, 32] bytes, 10 classes) for throughput
// benchmarks and tests that must not depend on downloads. It is learnable, not trivial: class k
// has a tint (one colour per class) and a stripe pattern (orientation and frequency per class),
// each sample a random phase and contrast of it, plus per-pixel Gaussian noise.
import type { Dataset, Split } from "./dataset.ts";
import { CIFAR10_CLASSES } from "./cifar10.ts";
import { Rng } from "../rng.ts";

export interface SyntheticOptions {
  /** Training samples (default 10,000). */
  train?: number;
  /** Test samples (default 2,000). */
  test?: number;
  /** Seed of the generator; train and test use separate streams of it (default 1). */
  seed?: number;
  /** Standard deviation of the pixel noise, in bytes (default 48: the class is visible but not at a glance). */
  noise?: number;
}

/** Generates synthetic-cifar; the same options always give the same bytes. */
export function makeSyntheticCifar(opts: SyntheticOptions = {}): Dataset {
  const { train = 10000, test = 2000, seed = 1, noise = 48 } = opts;
  return {
    name: "synthetic-cifar", shape: [3, 32, 32], classes: 10, classNames: CIFAR10_CLASSES,
    // Roughly the generated pixels' statistics, so inputs are near zero mean and unit variance.
    mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25],
    train: synthSplit(train, new Rng(seed, 0), noise), test: synthSplit(test, new Rng(seed, 1), noise),
    source: `generated (seed ${seed})`,
  };
}

function synthSplit(count: number, rng: Rng, noise: number): Split {
  const images = new Uint8Array(count * 3072), labels = new Uint8Array(count);
  const pattern = new Float32Array(1024), tint = new Float32Array(3);
  // Noise: the sum of the four bytes of one 32-bit draw is near-Gaussian with mean 510 and
  // variance 4·(256²−1)/12; one draw per pixel instead of a Box–Muller log/sqrt/sin (≈5× faster).
  const nScale = noise / Math.sqrt((4 * (256 * 256 - 1)) / 12);
  for (let n = 0; n < count; n++) {
    const k = rng.int(10);
    labels[n] = k;
    // Class tint: a point on the colour wheel; pattern: stripes at angle k·18°, period 16/(1 + k%3) px.
    const hue = (2 * Math.PI * k) / 10, angle = (Math.PI * k) / 10, freq = (2 * Math.PI * (1 + (k % 3))) / 16;
    const cx = Math.cos(angle) * freq, cy = Math.sin(angle) * freq;
    const phase = rng.uniform() * 2 * Math.PI, contrast = 30 + rng.uniform() * 30;
    for (let i = 0; i < 1024; i++) pattern[i] = contrast * Math.sin(cx * (i & 31) + cy * (i >> 5) + phase);
    for (let c = 0; c < 3; c++) tint[c] = 128 + 50 * Math.cos(hue - (2 * Math.PI * c) / 3);
    for (let c = 0; c < 3; c++) {
      const base = n * 3072 + c * 1024, t = tint[c];
      for (let i = 0; i < 1024; i++) {
        const r = rng.nextU32();
        const g = (r & 255) + ((r >>> 8) & 255) + ((r >>> 16) & 255) + (r >>> 24) - 510;
        const v = t + pattern[i] + nScale * g;
        images[base + i] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
    }
  }
  return { images, labels, count };
}
