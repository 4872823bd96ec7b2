// IDX reader: round trips (raw and gzip) and the errors a bad file must give.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatasetError, idxSplit, parseIdx, readIdx, writeIdx } from "../../src/data/idx.ts";

const FIX = "re-download with `npm run cdl -- data fetch fashion-mnist`";

function images(n: number): Uint8Array {
  const a = new Uint8Array(n * 28 * 28);
  for (let i = 0; i < a.length; i++) a[i] = (i * 7 + 3) & 255;
  return a;
}

/** The DatasetError thrown by fn; fails if fn does not throw one. */
async function datasetError(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (e) {
    assert.instance(e, DatasetError);
    const msg = (e as Error).message;
    assert.not.match(msg, /\n/, "one line");
    return msg;
  }
  assert.unreachable("expected a DatasetError");
  return "";
}

test("round trip, raw and gzipped, via files", async () => {
  const dir = await mkdtemp(join(tmpdir(), "cdl-idx-"));
  try {
    const img = images(3), lab = new Uint8Array([7, 0, 9]);
    for (const gzip of [false, true]) {
      const ext = gzip ? ".gz" : "";
      await writeFile(join(dir, `i${ext}`), writeIdx([3, 28, 28], img, { gzip }));
      await writeFile(join(dir, `l${ext}`), writeIdx([3], lab, { gzip }));
      const i = await readIdx(join(dir, `i${ext}`), 3, FIX), l = await readIdx(join(dir, `l${ext}`), 1, FIX);
      assert.equal([...i.dims], [3, 28, 28]);
      assert.equal([...l.dims], [3]);
      const s = idxSplit(i, l, [28, 28], 10, { images: "i", labels: "l" }, FIX);
      assert.is(s.count, 3);
      assert.equal([...s.labels], [7, 0, 9]);
      assert.ok(s.images.every((v, k) => v === img[k]));
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("gzip is detected by its header, not the file name", () => {
  const raw = writeIdx([2], new Uint8Array([1, 2]));
  const gz = writeIdx([2], new Uint8Array([1, 2]), { gzip: true });
  assert.is(gz[0], 0x1f);
  assert.equal([...parseIdx(gz, 1, "x.raw", FIX).data], [1, 2]);
  assert.equal([...parseIdx(raw, 1, "x.gz", FIX).data], [1, 2]);
});

test("truncated file names the file, expected and actual length and the fix", async () => {
  const bytes = writeIdx([2, 28, 28], images(2)).subarray(0, 16 + 1000);
  const msg = await datasetError(() => parseIdx(bytes, 3, "train-images-idx3-ubyte", FIX));
  assert.match(msg, "train-images-idx3-ubyte");
  assert.match(msg, "truncated");
  assert.match(msg, "need 1584 bytes, got 1016");
  assert.match(msg, "npm run cdl -- data fetch fashion-mnist");
});

test("truncated gzip stream is a DatasetError", async () => {
  const gz = writeIdx([2, 28, 28], images(2), { gzip: true });
  const msg = await datasetError(() => parseIdx(gz.subarray(0, gz.length - 20), 3, "t.gz", FIX));
  assert.match(msg, /t\.gz: gzip stream is corrupt or truncated/);
});

test("trailing bytes are an error too (lengths must be exact)", async () => {
  const b = writeIdx([2], new Uint8Array([1, 2]));
  const msg = await datasetError(() => parseIdx(new Uint8Array([...b, 0]), 1, "l", FIX));
  assert.match(msg, "trailing bytes");
});

test("wrong magic: expected vs got", async () => {
  const labels = writeIdx([2], new Uint8Array([1, 2]));
  const msg = await datasetError(() => parseIdx(labels, 3, "train-images-idx3-ubyte", FIX));
  assert.match(msg, "wrong IDX magic number: expected 0x00000803");
  assert.match(msg, "got 0x00000801");
});

test("mismatched label count", async () => {
  const i = parseIdx(writeIdx([3, 28, 28], images(3)), 3, "imgs", FIX);
  const l = parseIdx(writeIdx([2], new Uint8Array([1, 2])), 1, "labs", FIX);
  const msg = await datasetError(() => idxSplit(i, l, [28, 28], 10, { images: "imgs", labels: "labs" }, FIX));
  assert.match(msg, "labs: label count does not match imgs: expected 3 labels, got 2");
});

test("label >= classes", async () => {
  const i = parseIdx(writeIdx([3, 28, 28], images(3)), 3, "imgs", FIX);
  const l = parseIdx(writeIdx([3], new Uint8Array([1, 10, 2])), 1, "labs", FIX);
  const msg = await datasetError(() => idxSplit(i, l, [28, 28], 10, { images: "imgs", labels: "labs" }, FIX));
  assert.match(msg, "labs: label out of range at index 1: expected 0..9, got 10");
});

test("wrong image size", async () => {
  const i = parseIdx(writeIdx([1, 32, 32], new Uint8Array(1024)), 3, "imgs", FIX);
  const l = parseIdx(writeIdx([1], new Uint8Array([1])), 1, "labs", FIX);
  const msg = await datasetError(() => idxSplit(i, l, [28, 28], 10, { images: "imgs", labels: "labs" }, FIX));
  assert.match(msg, "expected 28x28, got 32x32");
});

test("missing file", async () => {
  const msg = await datasetError(() => readIdx(join(tmpdir(), "cdl-no-such-file-idx1"), 1, FIX));
  assert.match(msg, "cdl-no-such-file-idx1: cannot read (ENOENT)");
});

test.run();
