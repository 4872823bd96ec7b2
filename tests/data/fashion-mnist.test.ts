// Fashion-MNIST: the real files wherever they are installed (Debian's dataset-fashion-mnist, which
// CI installs via .ci/install-datasets.sh, or `cdl data fetch`; skipped, saying so, elsewhere),
// and the search order on generated files.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FASHION_MNIST_CLASSES } from "../../src/data/fashion-mnist.ts";
import { writeIdx } from "../../src/data/idx.ts";
import { DatasetError, loadDataset, locateDataset } from "../../src/data/registry.ts";
import { skipIf } from "../skip.ts";

const installed = locateDataset("fashion-mnist").found;
const missing = "Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist, or cdl data fetch fashion-mnist)";

skipIf(!installed && missing)("the real files (Debian's package or cdl data fetch)", async () => {
  const ds = await loadDataset("fashion-mnist");
  assert.is(ds.train.count, 60000);
  assert.is(ds.test.count, 10000);
  // The first training image is an ankle boot, the first test image too.
  assert.is(ds.train.labels[0], 9);
  assert.is(ds.test.labels[0], 9);
  assert.is(ds.classNames[9], "Ankle boot");
  assert.equal(ds.mean, [0.2860]);
  const counts = new Array(10).fill(0);
  for (const l of ds.train.labels) counts[l]++;
  assert.equal(counts, new Array(10).fill(6000));
});

test("--data-dir comes first, raw and .gz mixed", async () => {
  const dir = await mkdtemp(join(tmpdir(), "cdl-fm-"));
  try {
    const img = (n: number) => new Uint8Array(n * 784).fill(n);
    await writeFile(join(dir, "train-images-idx3-ubyte"), writeIdx([4, 28, 28], img(4)));
    await writeFile(join(dir, "train-labels-idx1-ubyte.gz"), writeIdx([4], new Uint8Array([0, 1, 2, 3]), { gzip: true }));
    await writeFile(join(dir, "t10k-images-idx3-ubyte.gz"), writeIdx([2, 28, 28], img(2), { gzip: true }));
    await writeFile(join(dir, "t10k-labels-idx1-ubyte"), writeIdx([2], new Uint8Array([8, 9])));
    assert.is(locateDataset("fashion-mnist", { dataDir: dir }).path, dir);
    const ds = await loadDataset("fashion-mnist", { dataDir: dir });
    assert.is(ds.train.count, 4);
    assert.equal([...ds.test.labels], [8, 9]);
    assert.equal(ds.classNames, FASHION_MNIST_CLASSES);
    assert.is(ds.source, dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a bad file in --data-dir says which file and how to re-download", async () => {
  const dir = await mkdtemp(join(tmpdir(), "cdl-fm-"));
  try {
    const sub = join(dir, "fashion-mnist");
    await mkdir(sub);
    await writeFile(join(sub, "train-images-idx3-ubyte"), writeIdx([4, 28, 28], new Uint8Array(4 * 784)));
    await writeFile(join(sub, "train-labels-idx1-ubyte"), writeIdx([4], new Uint8Array([0, 1, 12, 3])));
    await writeFile(join(sub, "t10k-images-idx3-ubyte"), writeIdx([1, 28, 28], new Uint8Array(784)));
    await writeFile(join(sub, "t10k-labels-idx1-ubyte"), writeIdx([1], new Uint8Array([0])));
    try {
      await loadDataset("fashion-mnist", { dataDir: dir });
      assert.unreachable();
    } catch (e) {
      assert.instance(e, DatasetError);
      assert.match((e as Error).message, "train-labels-idx1-ubyte: label out of range at index 2: expected 0..9, got 12");
      assert.match((e as Error).message, `npm run cdl -- data fetch fashion-mnist --data-dir ${dir}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
