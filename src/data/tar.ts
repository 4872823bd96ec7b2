// A small tar reader (and a writer for tests): enough for dataset archives such as
// cifar-10-binary.tar.gz. Member data are views into the archive bytes, never copies.
//
// Layout: 512-byte header blocks, each followed by the member's data padded to 512 bytes; two
// zero blocks end the archive. Header fields used: name [0,100), size [124,136) octal (or GNU
// base-256 when the top bit is set), checksum [148,156), typeflag [156], magic [257,263) "ustar",
// prefix [345,500) (ustar: path = prefix + "/" + name). GNU 'L' long names and pax 'x' path
// records apply to the next member.
import { DatasetError } from "./idx.ts";

const BLOCK = 512;

export interface TarEntry {
  /** Full path inside the archive, e.g. "cifar-10-batches-bin/data_batch_1.bin". */
  readonly name: string;
  /** '0' regular file, '5' directory, ... ('\0' is normalised to '0'). */
  readonly type: string;
  readonly data: Uint8Array;
}

/** Every member of the (uncompressed) tar bytes; `archive` names it in errors, `fix` says what to do. */
export function readTar(bytes: Uint8Array, archive: string, fix: string): TarEntry[] {
  const out: TarEntry[] = [];
  let off = 0, longName: string | null = null;
  for (;;) {
    if (off + BLOCK > bytes.length) {
      throw new DatasetError(`${archive}: truncated tar archive: expected a header or end marker at byte ${off}, got ${bytes.length - off} bytes; ${fix}`);
    }
    const h = bytes.subarray(off, off + BLOCK);
    if (h.every((b) => b === 0)) return out;
    checkHeaderSum(h, off, archive, fix);
    const size = field(h, 124, 12, archive, off, fix);
    let type = String.fromCharCode(h[156] || 0x30);
    const magic = str(h, 257, 5);
    const prefix = magic === "ustar" ? str(h, 345, 155) : "";
    let name = prefix ? `${prefix}/${str(h, 0, 100)}` : str(h, 0, 100);
    const start = off + BLOCK, end = start + size;
    if (end > bytes.length) {
      throw new DatasetError(`${archive}: truncated tar archive: member ${longName ?? name} needs ${size} bytes, only ${bytes.length - start} remain; ${fix}`);
    }
    const data = bytes.subarray(start, end);
    off = start + Math.ceil(size / BLOCK) * BLOCK;
    if (type === "L") { longName = str(data, 0, data.length); continue; }
    if (type === "x") { longName = paxPath(data) ?? longName; continue; }
    if (type === "g") continue;
    if (longName !== null) { name = longName; longName = null; }
    if (type === "7") type = "0"; // contiguous file: a regular file for readers
    out.push({ name, type, data });
  }
}

/** The data of regular file `name`, or a DatasetError naming the archive, the member and what is there. */
export function tarMember(entries: readonly TarEntry[], name: string, archive: string, fix: string): Uint8Array {
  const e = entries.find((x) => x.name === name || x.name === `./${name}`);
  if (!e || e.type !== "0") {
    const files = entries.filter((x) => x.type === "0").map((x) => x.name);
    const shown = files.slice(0, 8).join(", ") + (files.length > 8 ? `, … (${files.length} files)` : "");
    throw new DatasetError(`${archive}: member ${name} is missing (archive holds: ${shown || "no files"}); ${fix}`);
  }
  return e.data;
}

/** Encodes regular files as a ustar archive (names ≤ 100 bytes or splittable into prefix/name). For tests. */
export function writeTar(files: readonly { name: string; data: Uint8Array }[]): Uint8Array {
  const size = files.reduce((s, f) => s + BLOCK + Math.ceil(f.data.length / BLOCK) * BLOCK, 2 * BLOCK);
  const out = new Uint8Array(size);
  let off = 0;
  for (const f of files) {
    const h = out.subarray(off, off + BLOCK);
    let name = f.name, prefix = "";
    if (name.length > 100) {
      const cut = name.lastIndexOf("/", name.length - 1);
      prefix = name.slice(0, cut);
      name = name.slice(cut + 1);
    }
    put(h, 0, name);
    put(h, 100, "0000644\0");
    put(h, 108, "0000000\0");
    put(h, 116, "0000000\0");
    put(h, 124, f.data.length.toString(8).padStart(11, "0") + "\0");
    put(h, 136, "00000000000\0");
    put(h, 148, "        ");
    h[156] = 0x30;
    put(h, 257, "ustar\0");
    put(h, 263, "00");
    put(h, 345, prefix);
    const sum = h.reduce((s, b) => s + b, 0);
    put(h, 148, sum.toString(8).padStart(6, "0") + "\0 ");
    out.set(f.data, off + BLOCK);
    off += BLOCK + Math.ceil(f.data.length / BLOCK) * BLOCK;
  }
  return out;
}

function checkHeaderSum(h: Uint8Array, off: number, archive: string, fix: string): void {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i];
  const want = parseInt(str(h, 148, 8).trim() || "-1", 8);
  if (want !== sum) {
    throw new DatasetError(`${archive}: corrupt tar header at byte ${off}: checksum expected ${sum}, got ${str(h, 148, 8).trim() || "none"}; ${fix}`);
  }
}

/** A numeric header field: octal text, or GNU base-256 (top bit set) for large sizes. */
function field(h: Uint8Array, at: number, len: number, archive: string, off: number, fix: string): number {
  if (h[at] & 0x80) {
    let v = h[at] & 0x7f;
    for (let i = 1; i < len; i++) v = v * 256 + h[at + i];
    return v;
  }
  const s = str(h, at, len).trim();
  const v = s === "" ? 0 : parseInt(s, 8);
  if (!Number.isFinite(v) || !/^[0-7]*$/.test(s)) {
    throw new DatasetError(`${archive}: corrupt tar header at byte ${off}: size expected octal digits, got "${s}"; ${fix}`);
  }
  return v;
}

/** The "path" record of a pax extended header ("<len> path=<value>\n" records). */
function paxPath(data: Uint8Array): string | null {
  const text = new TextDecoder().decode(data);
  for (const rec of text.split("\n")) {
    const m = /^\d+ path=(.*)$/.exec(rec);
    if (m) return m[1];
  }
  return null;
}

function str(b: Uint8Array, at: number, len: number): string {
  let end = at;
  while (end < at + len && end < b.length && b[end] !== 0) end++;
  return new TextDecoder().decode(b.subarray(at, end));
}

function put(h: Uint8Array, at: number, s: string): void {
  h.set(new TextEncoder().encode(s), at);
}
