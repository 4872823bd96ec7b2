// CIFAR-10, binary version: 50,000/10,000 colour 32×32 images in 10 classes.
// Files data_batch_1..5.bin (train) and test_batch.bin (test), each 10,000 records of 3,073 bytes:
// one label byte, then 3,072 pixel bytes as R, G, B planes of 32×32, i.e. exactly one NCHW sample.
// Read from a directory of the .bin files or straight from cifar-10-binary.tar.gz (members
// cifar-10-batches-bin/*.bin). Record counts are checked as "a non-empty multiple of 3,073
// bytes" so that tests can build small files; the official files hold 10,000 records each.
import { existsSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Dataset, Split } from "./dataset.ts";
import { checkLabels, DatasetError, maybeGunzip } from "./idx.ts";
import { readTar, tarMember } from "./tar.ts";

export const CIFAR10_CLASSES = [
  "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
] as const;
export const CIFAR10_TRAIN_FILES = ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"] as const;
export const CIFAR10_TEST_FILE = "test_batch.bin";
export const CIFAR10_ARCHIVE = "cifar-10-binary.tar.gz";
/** Directory of the batches inside the official archive. */
export const CIFAR10_ARCHIVE_DIR = "cifar-10-batches-bin";
export const CIFAR10_RECORD = 3073;

export interface CifarSource {
  /** A directory of .bin files, or the .tar.gz itself. */
  readonly kind: "dir" | "tar";
  readonly path: string;
}

/** Candidate directories, in search order: --data-dir, <repo>/data/cifar10, <repo>/data/cifar-10-batches-bin. */
export function cifar10Dirs(repoRoot: string, dataDir?: string): string[] {
  const dirs = dataDir ? [dataDir, join(dataDir, "cifar10"), join(dataDir, CIFAR10_ARCHIVE_DIR)] : [];
  return [...dirs, join(repoRoot, "data", "cifar10"), join(repoRoot, "data", "cifar10", CIFAR10_ARCHIVE_DIR),
    join(repoRoot, "data", CIFAR10_ARCHIVE_DIR), join(repoRoot, "data")];
}

/** The first of `dirs` holding the six .bin files or the archive (a .tar.gz path in `dirs` also counts); else null. */
export function locateCifar10(dirs: readonly string[]): CifarSource | null {
  for (const d of dirs) {
    if (!existsSync(d)) continue;
    if (statSync(d).isFile()) {
      if (d.endsWith(".tar.gz") || d.endsWith(".tgz")) return { kind: "tar", path: d };
      continue;
    }
    if ([...CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE].every((f) => existsSync(join(d, f)))) return { kind: "dir", path: d };
    if (existsSync(join(d, CIFAR10_ARCHIVE))) return { kind: "tar", path: join(d, CIFAR10_ARCHIVE) };
  }
  return null;
}

/** Concatenates batch files (label byte + 3,072 CHW bytes per record) into one Split, validating each. */
export function cifarSplit(batches: readonly { file: string; bytes: Uint8Array }[], fix: string): Split {
  let count = 0;
  for (const { file, bytes } of batches) {
    if (bytes.length === 0 || bytes.length % CIFAR10_RECORD !== 0) {
      const whole = Math.floor(bytes.length / CIFAR10_RECORD), extra = bytes.length % CIFAR10_RECORD;
      const what = bytes.length === 0 ? "is empty" : `is truncated or padded: ${bytes.length} bytes = ${whole} records + ${extra} bytes`;
      throw new DatasetError(`${file}: ${what}; expected a non-empty multiple of ${CIFAR10_RECORD}-byte records (10,000 in the official files); ${fix}`);
    }
    count += bytes.length / CIFAR10_RECORD;
  }
  const images = new Uint8Array(count * 3072), labels = new Uint8Array(count);
  let n = 0;
  for (const { file, bytes } of batches) {
    const m = bytes.length / CIFAR10_RECORD;
    for (let i = 0; i < m; i++) {
      const off = i * CIFAR10_RECORD;
      labels[n + i] = bytes[off];
      images.set(bytes.subarray(off + 1, off + CIFAR10_RECORD), (n + i) * 3072);
    }
    checkLabels(labels.subarray(n, n + m), 10, file, fix, (i) => `record ${i}`);
    n += m;
  }
  return { images, labels, count };
}

/** Loads CIFAR-10 from a directory of .bin files or from the .tar.gz; `fix` is the advice appended to errors. */
export async function loadCifar10(src: CifarSource, fix: string): Promise<Dataset> {
  let get: (name: string) => Promise<{ file: string; bytes: Uint8Array }>;
  if (src.kind === "dir") {
    get = async (name) => {
      const file = join(src.path, name);
      try {
        return { file, bytes: await readFile(file) };
      } catch (e) {
        throw new DatasetError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); ${fix}`);
      }
    };
  } else {
    let raw: Uint8Array;
    try {
      raw = await readFile(src.path);
    } catch (e) {
      throw new DatasetError(`${src.path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); ${fix}`);
    }
    const entries = readTar(maybeGunzip(raw, src.path, fix), src.path, fix);
    get = async (name) => ({
      file: `${src.path}:${CIFAR10_ARCHIVE_DIR}/${name}`,
      bytes: tarMember(entries, `${CIFAR10_ARCHIVE_DIR}/${name}`, src.path, fix),
    });
  }
  const train = cifarSplit(await Promise.all(CIFAR10_TRAIN_FILES.map(get)), fix);
  const test = cifarSplit([await get(CIFAR10_TEST_FILE)], fix);
  return {
    name: "cifar10", shape: [3, 32, 32], classes: 10, classNames: CIFAR10_CLASSES,
    mean: [0.4914, 0.4822, 0.4465], std: [0.2470, 0.2435, 0.2616], train, test, source: src.path,
  };
}
