// The in-memory dataset every loader produces and every trainer consumes.
// Pixels stay as bytes (0..255) in NCHW order; they are normalised per batch when copied into
// the engine's input buffer, so that a 60k-image dataset costs 47 MB, not 188 MB.

export interface Split {
  /** [count, C, H, W] bytes, NCHW. */
  readonly images: Uint8Array;
  /** [count] class indices 0..classes-1. */
  readonly labels: Uint8Array;
  readonly count: number;
}

export interface Dataset {
  /** Registry name, e.g. "mnist", "mnist-10k", "fashion-mnist", "cifar10". */
  readonly name: string;
  /** [C, H, W] of one sample. */
  readonly shape: readonly [number, number, number];
  readonly classes: number;
  readonly classNames: readonly string[];
  /** Per-channel normalisation applied to x/255: (x/255 − mean[c]) / std[c]. */
  readonly mean: readonly number[];
  readonly std: readonly number[];
  readonly train: Split;
  readonly test: Split;
  /** Where the data came from (a path or a package), for reports. */
  readonly source: string;
}

/** Options for filling a batch; `augment` is CIFAR-style random crop (pad 4) + horizontal flip. */
export interface BatchOptions {
  augment?: { rng: { uniform(): number; int(n: number): number } };
}

export function sampleSize(ds: Dataset): number {
  return ds.shape[0] * ds.shape[1] * ds.shape[2];
}

/**
 * Writes samples `indices[from .. from+count)` of `split`, normalised, into dst[count, C, H, W]
 * and their labels into labels[count].
 */
export function fillBatch(ds: Dataset, split: Split, indices: ArrayLike<number>, from: number, count: number,
  dst: Float32Array, labels: Int32Array, opts: BatchOptions = {}): void {
  const [C, H, W] = ds.shape;
  const hw = H * W, size = C * hw;
  const scale = ds.std.map((s) => 1 / (255 * s));
  const shift = ds.mean.map((m, c) => -m / ds.std[c]);
  const img = split.images;
  for (let b = 0; b < count; b++) {
    const idx = indices[from + b];
    const src = idx * size, out = b * size;
    labels[b] = split.labels[idx];
    if (opts.augment) {
      const r = opts.augment.rng;
      const dy = r.int(9) - 4, dx = r.int(9) - 4, flip = r.uniform() < 0.5;
      for (let c = 0; c < C; c++) {
        const sc = scale[c], sh = shift[c], base = src + c * hw, ob = out + c * hw;
        for (let y = 0; y < H; y++) {
          const sy = y + dy;
          for (let x = 0; x < W; x++) {
            const sx = (flip ? W - 1 - x : x) + dx;
            // Zero padding in raw pixel space, i.e. the padded pixel normalises like a 0 byte.
            const v = sy >= 0 && sy < H && sx >= 0 && sx < W ? img[base + sy * W + sx] : 0;
            dst[ob + y * W + x] = v * sc + sh;
          }
        }
      }
    } else {
      for (let c = 0; c < C; c++) {
        const sc = scale[c], sh = shift[c], base = src + c * hw, ob = out + c * hw;
        for (let i = 0; i < hw; i++) dst[ob + i] = img[base + i] * sc + sh;
      }
    }
  }
}
