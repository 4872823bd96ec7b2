// CIFAR-10 binary: generated batch files (a few records each) read from a directory and from a
// cifar-10-binary.tar.gz with the real member names; truncation, bad labels and tar damage.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { CIFAR10_TEST_FILE, CIFAR10_TRAIN_FILES, cifarSplit, loadCifar10 } from "../../src/data/cifar10.ts";
import { DatasetError, loadDataset, locateDataset } from "../../src/data/registry.ts";
import { readTar, tarMember, writeTar } from "../../src/data/tar.ts";
import { skipIf } from "../skip.ts";

const FIX = "re-download with `npm run cdl -- data fetch cifar10`";

/** A batch of n records; record i has label (seed + i) % 10 and pixel p of channel c = (seed + i + c * 7 + p) & 255. */
function batch(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n * 3073);
  for (let i = 0; i < n; i++) {
    b[i * 3073] = (seed + i) % 10;
    for (let c = 0; c < 3; c++) for (let p = 0; p < 1024; p++) b[i * 3073 + 1 + c * 1024 + p] = (seed + i + c * 7 + p) & 255;
  }
  return b;
}
const FILES = [...CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE].map((name, k) => ({ name, data: batch(3 + k, 10 * k) }));

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "cdl-cifar-"));
  try { await fn(dir); } finally { await rm(dir, { recursive: true, force: true }); }
}

async function error(fn: () => unknown): Promise<string> {
  try { await fn(); } catch (e) {
    assert.instance(e, DatasetError);
    assert.not.match((e as Error).message, /\n/);
    return (e as Error).message;
  }
  assert.unreachable("expected a DatasetError");
  return "";
}

function checkContent(ds: Awaited<ReturnType<typeof loadDataset>>): void {
  assert.is(ds.train.count, 3 + 4 + 5 + 6 + 7);
  assert.is(ds.test.count, 8);
  assert.equal(ds.shape, [3, 32, 32]);
  assert.is(ds.classNames[0], "airplane");
  // Train record 3 is record 0 of data_batch_2 (seed 10): label 0, NCHW planes preserved.
  assert.is(ds.train.labels[3], 0);
  const img = ds.train.images.subarray(3 * 3072, 4 * 3072);
  assert.is(img[0], 10);
  assert.is(img[1024 + 5], (10 + 7 + 5) & 255);
  assert.is(img[2048 + 1023], (10 + 14 + 1023) & 255);
  assert.equal([...ds.test.labels], [50, 51, 52, 53, 54, 55, 56, 57].map((x) => x % 10));
}

test("from a directory of .bin files (via --data-dir)", () => withDir(async (dir) => {
  for (const f of FILES) await writeFile(join(dir, f.name), f.data);
  assert.equal(locateDataset("cifar10", { dataDir: dir }).path, dir);
  checkContent(await loadDataset("cifar10", { dataDir: dir }));
}));

test("straight from cifar-10-binary.tar.gz with the official member names", () => withDir(async (dir) => {
  const tar = writeTar([{ name: "cifar-10-batches-bin/batches.meta.txt", data: new TextEncoder().encode("airplane\n") },
    ...FILES.map((f) => ({ name: `cifar-10-batches-bin/${f.name}`, data: f.data }))]);
  await writeFile(join(dir, "cifar-10-binary.tar.gz"), gzipSync(tar));
  assert.equal(locateDataset("cifar10", { dataDir: dir }).path, join(dir, "cifar-10-binary.tar.gz"));
  checkContent(await loadDataset("cifar10", { dataDir: dir }));
}));

test("truncated record: file, record arithmetic and the fix", async () => {
  const msg = await error(() => cifarSplit([{ file: "data_batch_1.bin", bytes: batch(2, 0).subarray(0, 3073 + 100) }], FIX));
  assert.match(msg, "data_batch_1.bin: is truncated or padded: 3173 bytes = 1 records + 100 bytes");
  assert.match(msg, "multiple of 3073-byte records");
  assert.match(msg, FIX);
  assert.match(await error(() => cifarSplit([{ file: "x.bin", bytes: new Uint8Array(0) }], FIX)), "x.bin: is empty");
});

test("label >= 10 names the file and record", async () => {
  const b = batch(3, 0);
  b[2 * 3073] = 10;
  const msg = await error(() => cifarSplit([{ file: "test_batch.bin", bytes: b }], FIX));
  assert.match(msg, "test_batch.bin: label out of range at record 2: expected 0..9, got 10");
});

test("tar: missing member is named, with what the archive holds", () => withDir(async (dir) => {
  const tar = writeTar(FILES.filter((f) => f.name !== "data_batch_3.bin").map((f) => ({ name: `cifar-10-batches-bin/${f.name}`, data: f.data })));
  const path = join(dir, "cifar-10-binary.tar.gz");
  await writeFile(path, gzipSync(tar));
  const msg = await error(() => loadCifar10({ kind: "tar", path }, FIX));
  assert.match(msg, `${path}: member cifar-10-batches-bin/data_batch_3.bin is missing (archive holds: cifar-10-batches-bin/data_batch_1.bin`);
}));

test("tar: truncated archive and truncated gzip", () => withDir(async (dir) => {
  const tar = writeTar(FILES.map((f) => ({ name: `cifar-10-batches-bin/${f.name}`, data: f.data })));
  const cut = tar.subarray(0, 512 + 5000);
  assert.match(await error(() => readTar(cut, "a.tar", FIX)), "a.tar: truncated tar archive: member cifar-10-batches-bin/data_batch_1.bin needs 9219 bytes, only 5000 remain");
  assert.match(await error(() => readTar(tar.subarray(0, 512 * 20), "a.tar", FIX)), "truncated tar archive: expected a header or end marker");
  const path = join(dir, "cifar-10-binary.tar.gz");
  const gz = gzipSync(tar);
  await writeFile(path, gz.subarray(0, gz.length >> 1));
  assert.match(await error(() => loadCifar10({ kind: "tar", path }, FIX)), "gzip stream is corrupt or truncated");
}));

test("tar: corrupt header checksum, long names via prefix, GNU long names", async () => {
  const long = `${"d".repeat(120)}/file.bin`;
  const tar = writeTar([{ name: long, data: new Uint8Array([1, 2, 3]) }]);
  assert.equal([...tarMember(readTar(tar, "t", FIX), long, "t", FIX)], [1, 2, 3]);
  const bad = tar.slice();
  bad[10] ^= 1;
  assert.match(await error(() => readTar(bad, "t.tar", FIX)), "t.tar: corrupt tar header at byte 0");
  // GNU: a "././@LongLink" member of type L carries the next member's name.
  const gnuName = "x".repeat(150);
  const gnu = writeTar([{ name: "././@LongLink", data: new TextEncoder().encode(gnuName + "\0") }, { name: "short", data: new Uint8Array([9]) }]);
  gnu[156] = 0x4c; // 'L'
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : gnu[i];
  gnu.set(new TextEncoder().encode(sum.toString(8).padStart(6, "0") + "\0 "), 148);
  const entries = readTar(gnu, "g", FIX);
  assert.is(entries.length, 1);
  assert.is(entries[0].name, gnuName);
});

// A real CIFAR-10 in the repo's data/ would be found after an empty --data-dir.
skipIf(locateDataset("cifar10").found && "CIFAR-10 is installed in data/, so it cannot be missing")("missing dataset: where it looked and the one command to get it", async () => {
  const dir = await mkdtemp(join(tmpdir(), "cdl-cifar-empty-"));
  try {
    const msg = await error(() => loadDataset("cifar10", { dataDir: dir }));
    assert.match(msg, `not found in ${dir}`);
    assert.match(msg, `get it with \`npm run cdl -- data fetch cifar10 --data-dir ${dir}\``);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
