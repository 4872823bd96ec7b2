// The packed dataset the lab ships: a round trip keeps every byte, and a damaged file gets one line.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { packDataset, unpackDataset } from "../../src/data/pack.ts";
import { makeSyntheticCifar } from "../../src/data/synthetic.ts";

const ds = makeSyntheticCifar({ train: 12, test: 5 });

test("round trip: shape, names, normalisation, pixels and labels", () => {
  const back = unpackDataset(packDataset(ds), "x");
  assert.equal(back.shape, ds.shape);
  assert.equal(back.classNames, ds.classNames);
  assert.equal([back.mean, back.std, back.name, back.source, back.classes], [ds.mean, ds.std, ds.name, ds.source, ds.classes]);
  for (const k of ["train", "test"] as const) {
    assert.is(back[k].count, ds[k].count);
    assert.equal([...back[k].images], [...ds[k].images.subarray(0, ds[k].count * 3 * 32 * 32)]);
    assert.equal([...back[k].labels], [...ds[k].labels.subarray(0, ds[k].count)]);
  }
});

function problem(bytes: Uint8Array): string {
  try {
    unpackDataset(bytes, "data/x.cdl.gz");
  } catch (e) {
    const m = (e as Error).message;
    assert.not.match(m, /\n/);
    assert.match(m, /^data\/x\.cdl\.gz: /);
    assert.match(m, /npm run lab/);
    return m;
  }
  assert.unreachable("expected an error");
  return "";
}

test("truncated, foreign, inconsistent files: one line saying what is wrong", () => {
  const p = packDataset(ds);
  assert.match(problem(p.subarray(0, p.length - 1)), /bytes where its header promises/);
  assert.match(problem(p.subarray(0, 20)), /truncated in its header/);
  assert.match(problem(new TextEncoder().encode("<html>not found</html>")), /not a packed dataset/);
  const bad = p.slice();
  bad[bad.length - 1] = 200; // the last test label
  assert.match(problem(bad), /label 200 .* not below 10 classes/);
});

test.run();
