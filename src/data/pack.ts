// A dataset as one compact binary file, for the browser lab (the page fetches it; there is no file
// system there). Layout, little-endian:
//   bytes 0..7    magic "CDLDATA1"
//   bytes 8..11   u32 H, the length of the JSON header that follows (UTF-8)
//   H bytes       {name, shape, classes, classNames, mean, std, source, train, test}: train and test
//                 are the sample counts
//   then          train images [train, C, H, W] bytes, train labels [train], test images, test labels
// The build gzips it (mnist-10k: 7.9 MB → about 1.7 MB); DecompressionStream undoes that in the page.
import type { Dataset, Split } from "./dataset.ts";
import { sampleSize } from "./dataset.ts";

const MAGIC = "CDLDATA1";

interface Header {
  name: string; shape: [number, number, number]; classes: number; classNames: string[];
  mean: number[]; std: number[]; source: string; train: number; test: number;
}

/** The dataset as one packed file (see the header comment). */
export function packDataset(ds: Dataset): Uint8Array {
  const head: Header = {
    name: ds.name, shape: [...ds.shape], classes: ds.classes, classNames: [...ds.classNames],
    mean: [...ds.mean], std: [...ds.std], source: ds.source, train: ds.train.count, test: ds.test.count,
  };
  const json = new TextEncoder().encode(JSON.stringify(head));
  const size = sampleSize(ds);
  const body = (ds.train.count + ds.test.count) * (size + 1);
  const out = new Uint8Array(12 + json.length + body);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(8, json.length, true);
  out.set(json, 12);
  let at = 12 + json.length;
  for (const sp of [ds.train, ds.test]) {
    out.set(sp.images.subarray(0, sp.count * size), at);
    at += sp.count * size;
    out.set(sp.labels.subarray(0, sp.count), at);
    at += sp.count;
  }
  return out;
}

/** Reads a packed dataset; a truncated, foreign or inconsistent file gets one line saying what is wrong. */
export function unpackDataset(bytes: Uint8Array, where: string): Dataset {
  const bad = (what: string) => new Error(`${where}: ${what}; rebuild the lab with \`npm run lab\``);
  if (bytes.length < 12 || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) throw bad("not a packed dataset (no CDLDATA1 magic)");
  const hlen = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(8, true);
  if (12 + hlen > bytes.length) throw bad(`truncated in its header (${bytes.length} bytes)`);
  let head: Header;
  try {
    head = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + hlen))) as Header;
  } catch {
    throw bad("its header is not JSON");
  }
  const size = head.shape[0] * head.shape[1] * head.shape[2];
  const want = 12 + hlen + (head.train + head.test) * (size + 1);
  if (bytes.length !== want) throw bad(`${bytes.length} bytes where its header promises ${want} (${head.train} + ${head.test} samples of ${size} bytes)`);
  let at = 12 + hlen;
  const split = (count: number): Split => {
    const images = bytes.slice(at, at + count * size);
    at += count * size;
    const labels = bytes.slice(at, at + count);
    at += count;
    const wrong = labels.findIndex((l) => l >= head.classes);
    if (wrong >= 0) throw bad(`label ${labels[wrong]} at sample ${wrong} is not below ${head.classes} classes`);
    return { images, labels, count };
  };
  const train = split(head.train), test = split(head.test);
  return {
    name: head.name, shape: head.shape, classes: head.classes, classNames: head.classNames,
    mean: head.mean, std: head.std, train, test, source: head.source,
  };
}
