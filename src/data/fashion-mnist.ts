// Fashion-MNIST (Zalando): 60,000/10,000 greyscale 28×28 articles in 10 classes, the official IDX
// files raw or gzipped (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz],
// t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]).
// Searched in order: --data-dir (and <data-dir>/fashion-mnist), <repo>/data/fashion-mnist/,
// /usr/share/datasets/fashion-mnist/ (Debian's dataset-fashion-mnist package, which ships the four .gz).
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Dataset, Split } from "./dataset.ts";
import { idxSplit, readIdx } from "./idx.ts";

export const FASHION_MNIST_CLASSES = [
  "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
] as const;
export const FASHION_MNIST_FILES = [
  "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
] as const;
export const DEBIAN_FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist";

/** Candidate directories, in search order. */
export function fashionMnistDirs(repoRoot: string, dataDir?: string): string[] {
  const dirs = dataDir ? [dataDir, join(dataDir, "fashion-mnist")] : [];
  return [...dirs, join(repoRoot, "data", "fashion-mnist"), DEBIAN_FASHION_MNIST_DIR];
}

/** The path of `name` in `dir`, raw or with .gz, or null. */
function idxFile(dir: string, name: string): string | null {
  for (const p of [join(dir, name), join(dir, `${name}.gz`)]) if (existsSync(p)) return p;
  return null;
}

/** The first directory holding all four files, or null. */
export function locateFashionMnist(dirs: readonly string[]): string | null {
  return dirs.find((d) => FASHION_MNIST_FILES.every((f) => idxFile(d, f) !== null)) ?? null;
}

/** Loads Fashion-MNIST from `dir`; `fix` is the advice appended to errors about a bad file. */
export async function loadFashionMnist(dir: string, fix: string): Promise<Dataset> {
  const split = async (prefix: string): Promise<Split> => {
    const files = {
      images: idxFile(dir, `${prefix}-images-idx3-ubyte`) ?? join(dir, `${prefix}-images-idx3-ubyte`),
      labels: idxFile(dir, `${prefix}-labels-idx1-ubyte`) ?? join(dir, `${prefix}-labels-idx1-ubyte`),
    };
    const [images, labels] = await Promise.all([readIdx(files.images, 3, fix), readIdx(files.labels, 1, fix)]);
    return idxSplit(images, labels, [28, 28], 10, files, fix);
  };
  const [train, test] = await Promise.all([split("train"), split("t10k")]);
  return {
    name: "fashion-mnist", shape: [1, 28, 28], classes: 10, classNames: FASHION_MNIST_CLASSES,
    mean: [0.2860], std: [0.3530], train, test, source: dir,
  };
}
