// IDX files (LeCun's MNIST format, also Fashion-MNIST): reader, writer for tests, and the
// DatasetError every loader throws.
//
// Layout: magic u32 big-endian = 0x00 0x00 type ndims (type 0x08 = unsigned byte), then ndims
// u32 big-endian sizes, then prod(sizes) bytes. Images: idx3 [N, H, W] (magic 0x00000803);
// labels: idx1 [N] (magic 0x00000801). Files may be gzipped (detected by the 1f 8b header).
import { readFile } from "node:fs/promises";
import { gunzipSync, gzipSync } from "node:zlib";
import type { Split } from "./dataset.ts";

/** A data problem the user can fix: the message is one line naming the file, what is wrong and what to do. */
export class DatasetError extends Error {
  override name = "DatasetError";
}

export interface IdxArray {
  /** Sizes from the header, e.g. [N, 28, 28] or [N]. */
  readonly dims: readonly number[];
  /** prod(dims) bytes, a view into the file's bytes. */
  readonly data: Uint8Array;
}

/** True when `bytes` starts with the gzip magic 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Gunzips `bytes` if they are gzip, else returns them; a corrupt stream becomes a DatasetError. */
export function maybeGunzip(bytes: Uint8Array, file: string, fix: string): Uint8Array {
  if (!isGzip(bytes)) return bytes;
  try {
    return new Uint8Array(gunzipSync(bytes));
  } catch (e) {
    throw new DatasetError(`${file}: gzip stream is corrupt or truncated (${(e as Error).message}); ${fix}`);
  }
}

/**
 * Parses IDX bytes (raw or gzip) of unsigned bytes with `ndims` dimensions.
 * `file` names the source in errors; `fix` says what to do about a bad file.
 */
export function parseIdx(bytes: Uint8Array, ndims: number, file: string, fix: string): IdxArray {
  const b = maybeGunzip(bytes, file, fix);
  const want = 0x0800 | ndims;
  if (b.length < 4) throw new DatasetError(`${file}: ${b.length} bytes is too short for an IDX header; ${fix}`);
  const magic = ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
  if (magic !== want) {
    throw new DatasetError(`${file}: wrong IDX magic number: expected 0x${hex(want)} (unsigned bytes, ${ndims}-d), got 0x${hex(magic)}; ${fix}`);
  }
  const headerLen = 4 + 4 * ndims;
  if (b.length < headerLen) throw new DatasetError(`${file}: truncated IDX header: expected ${headerLen} bytes, got ${b.length}; ${fix}`);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const dims: number[] = [];
  let size = 1;
  for (let i = 0; i < ndims; i++) {
    const d = dv.getUint32(4 + 4 * i);
    dims.push(d);
    size *= d;
  }
  if (b.length !== headerLen + size) {
    const what = b.length < headerLen + size ? "truncated" : "has trailing bytes";
    throw new DatasetError(`${file}: ${what}: dims [${dims.join(", ")}] need ${headerLen + size} bytes, got ${b.length}; ${fix}`);
  }
  return { dims, data: b.subarray(headerLen) };
}

/** Reads and parses an IDX file (raw or .gz) with `ndims` dimensions. */
export async function readIdx(path: string, ndims: number, fix: string): Promise<IdxArray> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new DatasetError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); ${fix}`);
  }
  return parseIdx(bytes, ndims, path, fix);
}

/**
 * Pairs an images idx3 [N, H, W] with a labels idx1 [N] into a Split, checking the image size,
 * the counts agree and every label is < classes.
 */
export function idxSplit(images: IdxArray, labels: IdxArray, hw: readonly [number, number], classes: number,
  files: { images: string; labels: string }, fix: string): Split {
  const [n, h, w] = images.dims;
  if (h !== hw[0] || w !== hw[1]) {
    throw new DatasetError(`${files.images}: wrong image size: expected ${hw[0]}x${hw[1]}, got ${h}x${w}; ${fix}`);
  }
  if (labels.dims[0] !== n) {
    throw new DatasetError(`${files.labels}: label count does not match ${files.images}: expected ${n} labels, got ${labels.dims[0]}; ${fix}`);
  }
  checkLabels(labels.data, classes, files.labels, fix);
  return { images: images.data, labels: labels.data, count: n };
}

/** Throws a DatasetError naming the first label ≥ classes. */
export function checkLabels(labels: Uint8Array, classes: number, file: string, fix: string, index = (i: number) => `index ${i}`): void {
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] >= classes) {
      throw new DatasetError(`${file}: label out of range at ${index(i)}: expected 0..${classes - 1}, got ${labels[i]}; ${fix}`);
    }
  }
}

/** Encodes unsigned bytes `data` with sizes `dims` as an IDX file, gzipped if asked (for tests and tools). */
export function writeIdx(dims: readonly number[], data: Uint8Array, opts: { gzip?: boolean } = {}): Uint8Array {
  const headerLen = 4 + 4 * dims.length;
  const out = new Uint8Array(headerLen + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, 0x0800 | dims.length);
  dims.forEach((d, i) => dv.setUint32(4 + 4 * i, d));
  out.set(data, headerLen);
  return opts.gzip ? new Uint8Array(gzipSync(out)) : out;
}

function hex(n: number): string {
  return n.toString(16).padStart(8, "0");
}
