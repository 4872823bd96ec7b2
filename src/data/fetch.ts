// Downloads a dataset from its official URL into a directory, verifying the published MD5s.
// Atomic: every file is written as <file>.part and renamed only when all files are downloaded,
// verified (and, for CIFAR-10, extracted); on any failure every .part is deleted, so the target
// directory either gains the complete dataset or nothing.
//
// node:http/node:https rather than fetch: fetch transparently gunzips a response sent with
// "Content-Encoding: gzip" (some Apache setups label .tar.gz that way), which would change the
// bytes we checksum. Both modules exist in Node, Bun and Deno.
//
// CIFAR-10 is extracted: the six .bin members are written into the target directory and the
// 170 MB archive is dropped, so every later load reads 180 MB of plain files instead of
// gunzipping the archive again (the loader still reads a .tar.gz placed there by hand).
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, open, readFile, rename, unlink, writeFile } from "node:fs/promises";
import * as http from "node:http";
import * as https from "node:https";
import { join } from "node:path";
import { CIFAR10_ARCHIVE, CIFAR10_ARCHIVE_DIR, CIFAR10_TEST_FILE, CIFAR10_TRAIN_FILES } from "./cifar10.ts";
import { DatasetError, maybeGunzip } from "./idx.ts";
import { readTar, tarMember } from "./tar.ts";

export interface RemoteFile {
  /** File name, appended to the manifest's baseUrl and used as the local name. */
  readonly name: string;
  /** Published MD5 of the file, lower-case hex. */
  readonly md5: string;
}

export interface Manifest {
  /** URL the file names are appended to (a trailing "/" is added if missing). */
  readonly baseUrl: string;
  readonly files: readonly RemoteFile[];
  /** If set, `archive` (one of files, a .tar.gz) is unpacked: member `from` becomes local file `to`; the archive is not kept. */
  readonly extract?: { readonly archive: string; readonly members: readonly { from: string; to: string }[] };
}

export const FETCHABLE = ["fashion-mnist", "cifar10"] as const;
export type FetchableName = (typeof FETCHABLE)[number];

export const MANIFESTS: Readonly<Record<FetchableName, Manifest>> = {
  // URL and MD5s: the table "Get the Data" in https://github.com/zalandoresearch/fashion-mnist/blob/master/README.md
  // (also in Debian's /usr/share/doc/dataset-fashion-mnist/README.md.gz). The bucket's website endpoint is
  // plain http only; the MD5s are what protects the bytes. (Debian's own .gz files are recompressed
  // and have other MD5s; they are read in place, never fetched.)
  "fashion-mnist": {
    baseUrl: "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    files: [
      { name: "train-images-idx3-ubyte.gz", md5: "8d4fb7e6c68d591d4c3dfef9ec88bf0d" },
      { name: "train-labels-idx1-ubyte.gz", md5: "25c81989df183df01b3e8a0aad5dffbe" },
      { name: "t10k-images-idx3-ubyte.gz", md5: "bef4ecab320f06d8554ea6380940ec79" },
      { name: "t10k-labels-idx1-ubyte.gz", md5: "bb300cfdad3c16e7a12a480ee83cd310" },
    ],
  },
  // URL and MD5: https://www.cs.toronto.edu/~kriz/cifar.html, "CIFAR-10 binary version (suitable for C
  // programs)", 162 MB (170,052,171 bytes), md5sum c32a1d4ab5d03f1284b67883e8d87530.
  cifar10: {
    baseUrl: "https://www.cs.toronto.edu/~kriz/",
    files: [{ name: CIFAR10_ARCHIVE, md5: "c32a1d4ab5d03f1284b67883e8d87530" }],
    extract: {
      archive: CIFAR10_ARCHIVE,
      members: [...CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE, "batches.meta.txt"].map((f) => ({ from: `${CIFAR10_ARCHIVE_DIR}/${f}`, to: f })),
    },
  },
};

export interface Progress {
  readonly file: string;
  readonly received: number;
  /** From Content-Length; null when the server did not say. */
  readonly total: number | null;
  readonly elapsedMs: number;
  readonly done: boolean;
}

export interface FetchOptions {
  /** Target directory (created if missing); the dataset's files land directly in it. */
  dir: string;
  /** Overrides the manifest's base URL (mirrors, tests). */
  baseUrl?: string;
  /** Overrides the built-in manifest (tests inject their own checksums). */
  manifest?: Manifest;
  onProgress?: (p: Progress) => void;
  /** Aborting deletes the partial files and rejects. */
  signal?: AbortSignal;
  /** Give up when no bytes arrive for this long, waiting for a response or in the middle of one (default 30,000). */
  idleTimeoutMs?: number;
}

export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;

export interface FetchResult {
  readonly dir: string;
  /** Final paths of the dataset's files. */
  readonly files: readonly string[];
  /** True when the files were already there (and, where they are the downloaded files, matched their MD5s). */
  readonly alreadyPresent: boolean;
}

/** Downloads, verifies and (for CIFAR-10) extracts dataset `name` into opts.dir. */
export async function fetchDataset(name: string, opts: FetchOptions): Promise<FetchResult> {
  const manifest = opts.manifest ?? ((FETCHABLE as readonly string[]).includes(name) ? MANIFESTS[name as FetchableName] : null);
  if (!manifest) throw new DatasetError(`cannot fetch "${name}": allowed names are ${FETCHABLE.join(", ")}`);
  const base = (opts.baseUrl ?? manifest.baseUrl).replace(/\/?$/, "/");
  const dir = opts.dir;
  const finals = manifest.extract
    ? [...manifest.files.filter((f) => f.name !== manifest.extract!.archive).map((f) => f.name), ...manifest.extract.members.map((m) => m.to)]
    : manifest.files.map((f) => f.name);
  if (await allPresent(dir, manifest, finals)) return { dir, files: finals.map((f) => join(dir, f)), alreadyPresent: true };

  await mkdir(dir, { recursive: true });
  const parts: string[] = [];
  try {
    for (const f of manifest.files) {
      const part = join(dir, `${f.name}.part`);
      parts.push(part);
      const md5 = await download(base + f.name, part, f.name, opts);
      if (md5 !== f.md5.toLowerCase()) {
        throw new DatasetError(`download of ${base + f.name} is corrupt: MD5 expected ${f.md5}, got ${md5}; nothing was written; run the command again (or check --base-url)`);
      }
    }
    if (manifest.extract) {
      const archivePart = join(dir, `${manifest.extract.archive}.part`);
      const fix = "nothing was written; run the command again";
      const entries = readTar(maybeGunzip(await readFile(archivePart), archivePart, fix), manifest.extract.archive, fix);
      for (const m of manifest.extract.members) {
        const part = join(dir, `${m.to}.part`);
        parts.push(part);
        await writeFile(part, tarMember(entries, m.from, manifest.extract.archive, fix));
      }
      await unlink(archivePart);
      parts.splice(parts.indexOf(archivePart), 1);
    }
    for (const part of parts) await rename(part, part.slice(0, -".part".length));
    return { dir, files: finals.map((f) => join(dir, f)), alreadyPresent: false };
  } catch (e) {
    await Promise.all(parts.map((p) => unlink(p).catch(() => undefined)));
    throw e;
  }
}

/** True when every final file exists and each downloaded (not extracted) one matches its MD5. */
async function allPresent(dir: string, manifest: Manifest, finals: readonly string[]): Promise<boolean> {
  if (!finals.every((f) => existsSync(join(dir, f)))) return false;
  for (const f of manifest.files) {
    if (f.name === manifest.extract?.archive) continue;
    if (md5Hex(await readFile(join(dir, f.name))) !== f.md5.toLowerCase()) return false;
  }
  return true;
}

function md5Hex(bytes: Uint8Array): string {
  return createHash("md5").update(bytes).digest("hex");
}

/** Streams `url` into `part`, returning the MD5 of what was received; any failure is a DatasetError. */
async function download(url: string, part: string, file: string, opts: FetchOptions): Promise<string> {
  const t0 = Date.now();
  // One signal for the request: the caller's (Ctrl-C) or the idle timer, re-armed by every chunk.
  const ac = new AbortController();
  const onAbort = () => ac.abort();
  opts.signal?.addEventListener("abort", onAbort);
  if (opts.signal?.aborted) ac.abort();
  const idleMs = opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  let stalled = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => { clearTimeout(timer); timer = setTimeout(() => { stalled = true; ac.abort(); }, idleMs); };
  const stallError = () => new DatasetError(`download of ${url} stalled: no data for ${idleMs / 1000} s; nothing was written; ` +
    "the server may be busy: run the command again (or raise --timeout, or try another --base-url)");
  try {
    arm();
    let res: http.IncomingMessage;
    try {
      res = await get(url, ac.signal, 0);
    } catch (e) {
      if (stalled) throw stallError();
      throw new DatasetError(`download of ${url} failed: ${describe(e)}; nothing was written; check the network (or --base-url) and run the command again`);
    }
    arm();
    const status = res.statusCode ?? 0;
    if (status !== 200) {
      res.resume();
      throw new DatasetError(`download of ${url} failed: HTTP ${status} ${res.statusMessage ?? ""}`.trimEnd() + "; nothing was written; check the URL (or --base-url) and run the command again");
    }
    const lenHeader = res.headers["content-length"];
    const total = lenHeader !== undefined && /^\d+$/.test(lenHeader) ? Number(lenHeader) : null;
    const hash = createHash("md5");
    const fh = await open(part, "w");
    let received = 0;
    try {
      for await (const chunk of res as AsyncIterable<Uint8Array>) {
        arm();
        await fh.write(chunk);
        hash.update(chunk);
        received += chunk.length;
        opts.onProgress?.({ file, received, total, elapsedMs: Date.now() - t0, done: false });
      }
      // A server that closes the connection early can end the stream without an error; the length tells.
      if (ac.signal.aborted) throw new Error("aborted");
      if (total !== null && received !== total) throw new Error("connection closed early");
    } catch (e) {
      if (stalled) throw stallError();
      const of = total === null ? "an unknown number of" : String(total);
      const why = opts.signal?.aborted ? "cancelled" : describe(e);
      throw new DatasetError(`download of ${file} interrupted after ${received} of ${of} bytes (${why}); nothing was written; run the command again`);
    } finally {
      await fh.close();
    }
    opts.onProgress?.({ file, received, total, elapsedMs: Date.now() - t0, done: true });
    return hash.digest("hex");
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener("abort", onAbort);
  }
}

/** GET with up to 5 redirects; resolves with the final response (any status). */
function get(url: string, signal: AbortSignal | undefined, redirects: number): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const mod = url.startsWith("https:") ? https : http;
    const req = mod.get(url, { headers: { "accept-encoding": "identity", "user-agent": "cdl-data-fetch" }, signal }, (res) => {
      const s = res.statusCode ?? 0, loc = res.headers.location;
      if (s >= 300 && s < 400 && loc) {
        res.resume();
        if (redirects >= 5) reject(new Error(`too many redirects (last to ${loc})`));
        else get(new URL(loc, url).href, signal, redirects + 1).then(resolve, reject);
        return;
      }
      resolve(res);
    });
    req.on("error", reject);
  });
}

function describe(e: unknown): string {
  const err = e as { name?: string; code?: string; message?: string; cause?: { message?: string } };
  if (err?.name === "AbortError" || err?.code === "ABORT_ERR") return "aborted";
  return [err?.code, err?.message, err?.cause?.message].filter(Boolean).join(": ") || String(e);
}

/**
 * A progress callback drawing "file [#####-----] 12.3/26.4 MB 46% 3.2 MB/s" on `out`: redrawn in
 * place at most 10 times a second on a TTY, one summary line per file otherwise.
 */
export function progressBar(out: { write(s: string): unknown; isTTY?: boolean }): (p: Progress) => void {
  let last = 0;
  return (p) => {
    const now = Date.now();
    if (!p.done && (!out.isTTY || now - last < 100)) return;
    last = now;
    const mb = (n: number) => (n / 1e6).toFixed(1);
    const rate = `${mb(p.received / Math.max(p.elapsedMs / 1000, 1e-3))} MB/s`;
    let bar = `${p.file} ${mb(p.received)} MB`;
    if (p.total) {
      const frac = Math.min(1, p.received / p.total), width = 24, fill = Math.round(frac * width);
      bar = `${p.file} [${"#".repeat(fill)}${"-".repeat(width - fill)}] ${mb(p.received)}/${mb(p.total)} MB ${Math.floor(frac * 100)}%`;
    }
    out.write(`${out.isTTY ? "\r\x1b[K" : ""}${bar} ${rate}${p.done ? "\n" : ""}`);
  };
}
