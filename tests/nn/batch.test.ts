// Net.loadBatch over a shuffled order: every batch slot holds the image the order names and that
// image's own label, across full and partial batches, with and without augmentation. Each image
// encodes its index in its pixels, so a label taken from the wrong position cannot go unnoticed.
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Dataset, Split } from "../../src/data/dataset.ts";
import { Net } from "../../src/nn/net.ts";
import { planModel } from "../../src/nn/spec.ts";
import { Rng } from "../../src/rng.ts";
import { loadEngine } from "../../src/wasm/loader.ts";

const C = 2, H = 8, W = 8, SIZE = C * H * W, COUNT = 250;
/** The label of sample i: not i's position in any order, and not constant over neighbours. */
const labelOf = (i: number) => (i * 7 + 3) % 10;

/** Sample i: every pixel i + 1 (1..250), so the image names its sample even after a crop; label labelOf(i). */
function split(): Split {
  const images = new Uint8Array(COUNT * SIZE), labels = new Uint8Array(COUNT);
  for (let i = 0; i < COUNT; i++) { images.fill(i + 1, i * SIZE, (i + 1) * SIZE); labels[i] = labelOf(i); }
  return { images, labels, count: COUNT };
}
// mean 0, std 1/255: pixels normalise to their byte value.
const ds: Dataset = {
  name: "indexed", shape: [C, H, W], classes: 10, classNames: Array.from({ length: 10 }, (_, i) => `${i}`),
  mean: [0, 0], std: [1 / 255, 1 / 255], train: split(), test: split(), source: "generated",
};

const BATCH = 32;
const net = new Net(await loadEngine({ memoryMB: 8 }), planModel([{ type: "flatten" }, { type: "dense", out: 10 }], ds.shape, 10), BATCH);

/** The sample each loaded slot shows: the largest pixel minus 1 (augmentation pads with 0). */
function shown(b: number): number {
  let m = 0;
  for (let i = b * SIZE; i < (b + 1) * SIZE; i++) m = Math.max(m, net.input.view[i]);
  return Math.round(m) - 1;
}

/** Loads the whole order batch by batch (the last one partial) and lists every mismatch. */
function mismatches(order: Int32Array, augment: boolean): string[] {
  const out: string[] = [], rng = new Rng(5);
  for (let from = 0; from < order.length; from += BATCH) {
    const B = Math.min(BATCH, order.length - from);
    net.labels.view.fill(-1);
    net.loadBatch(ds, ds.train, order, from, B, augment ? { augment: { rng } } : undefined);
    for (let b = 0; b < B; b++) {
      const img = shown(b), label = net.labels.view[b];
      if (img !== order[from + b]) out.push(`slot ${from + b}: image of sample ${img}, the order names ${order[from + b]}`);
      if (label !== labelOf(img)) out.push(`slot ${from + b}: label ${label} with the image of sample ${img} (its label is ${labelOf(img)})`);
    }
  }
  return out;
}

test("each loaded slot holds the image the shuffled order names, with that image's label", () => {
  for (const seed of [1, 2]) {
    const order = new Rng(seed).permutation(COUNT);
    assert.equal(mismatches(order, false), [], `seed ${seed}`);
  }
});

test("the same under crop + flip augmentation (the label follows the image, not the slot)", () => {
  assert.equal(mismatches(new Rng(3).permutation(COUNT), true), []);
});

test("a subset order (a node's shard) loads only its samples", () => {
  const shard = new Rng(4).permutation(COUNT).subarray(0, 77);
  assert.equal(mismatches(shard, false), []);
});

test("negative control: the check catches labels read by slot instead of by sample", () => {
  const order = new Rng(1).permutation(COUNT);
  net.loadBatch(ds, ds.train, order, 32, BATCH);
  for (let b = 0; b < BATCH; b++) net.labels.view[b] = ds.train.labels[32 + b]; // the misaligned read
  const wrong = Array.from({ length: BATCH }, (_, b) => b).filter((b) => net.labels.view[b] !== labelOf(shown(b)));
  assert.ok(wrong.length > BATCH / 2, `only ${wrong.length} of ${BATCH} slots flagged`);
});

test.run();
