// The fetcher against a local HTTP server: verified success (plain files and an extracted
// tar.gz), and interrupted transfers, HTTP errors, checksum mismatches and stalled servers that
// leave nothing behind.
import { test } from "uvu";
import { datasetError } from "./errors.ts";
import * as assert from "uvu/assert";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { createServer as createTcpServer, type AddressInfo, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { CIFAR10_ARCHIVE, CIFAR10_TEST_FILE, CIFAR10_TRAIN_FILES, loadCifar10 } from "../../src/data/cifar10.ts";
import { fetchDataset, MANIFESTS, type Manifest, type Progress } from "../../src/data/fetch.ts";
import { writeTar } from "../../src/data/tar.ts";

const md5 = (b: Uint8Array) => createHash("md5").update(b).digest("hex");
const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 255);

const A = bytes(200_000, 1), B = bytes(1_000, 2);
const cifarBatch = (n: number) => { const b = new Uint8Array(n * 3073); for (let i = 0; i < n; i++) b[i * 3073] = i % 10; return b; };
const CIFAR_TGZ = gzipSync(writeTar([...CIFAR10_TRAIN_FILES, CIFAR10_TEST_FILE, "batches.meta.txt"].map((f) => ({
  name: `cifar-10-batches-bin/${f}`, data: f.endsWith(".bin") ? cifarBatch(4) : new TextEncoder().encode("airplane\n"),
}))));
const FILES: Record<string, Uint8Array> = { "a.gz": A, "b.gz": B, [CIFAR10_ARCHIVE]: CIFAR_TGZ };

/**
 * /ok/<f> serves f; /cut/a.gz sends half then drops the connection (/cut/<other> serves it);
 * /stall/a.gz sends half then nothing more, keeping the connection open (/stall/<other> serves
 * it); /moved/<f> redirects to /ok/<f>; else 404.
 */
function serve(): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const [, mode, name] = (req.url ?? "").split("/");
    const body = FILES[name];
    if (!body) { res.writeHead(404, "Not Found"); res.end("no"); return; }
    if (mode === "moved") { res.writeHead(302, { location: `/ok/${name}` }); res.end(); return; }
    res.writeHead(200, { "content-length": body.length, "content-type": "application/octet-stream" });
    if (mode === "ok" || ((mode === "cut" || mode === "stall") && name !== "a.gz")) { res.end(body); return; }
    if (mode === "cut") { res.write(body.subarray(0, body.length >> 1), () => setTimeout(() => res.socket?.destroy(), 20)); return; }
    if (mode === "stall") { res.write(body.subarray(0, body.length >> 1)); return; }
    res.end();
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => {
    resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
  }));
}

const manifest = (files: [string, string][]): Manifest => ({ baseUrl: "http://invalid.example/", files: files.map(([name, m]) => ({ name, md5: m })) });

async function withServer(fn: (url: string, dir: string) => Promise<void>): Promise<void> {
  const { server, url } = await serve();
  const dir = await mkdtemp(join(tmpdir(), "cdl-fetch-"));
  try {
    await fn(url, dir);
  } finally {
    server.closeAllConnections?.();
    await new Promise((r) => server.close(r));
    await rm(dir, { recursive: true, force: true });
  }
}


test("success: files verified, in place, no .part; a second run finds them", () => withServer(async (url, dir) => {
  const target = join(dir, "nested", "fm");
  const seen: Progress[] = [];
  const m = manifest([["a.gz", md5(A)], ["b.gz", md5(B)]]);
  const r = await fetchDataset("fashion-mnist", { dir: target, baseUrl: `${url}/ok`, manifest: m, onProgress: (p) => seen.push(p) });
  assert.is(r.alreadyPresent, false);
  assert.equal((await readdir(target)).sort(), ["a.gz", "b.gz"]);
  assert.equal(await readFile(join(target, "a.gz")), Buffer.from(A));
  const last = seen.filter((p) => p.file === "a.gz").at(-1)!;
  assert.ok(last.done && last.received === A.length && last.total === A.length);
  const again = await fetchDataset("fashion-mnist", { dir: target, baseUrl: "http://127.0.0.1:1/", manifest: m });
  assert.is(again.alreadyPresent, true);
}));

test("redirects are followed", () => withServer(async (url, dir) => {
  await fetchDataset("x", { dir, baseUrl: `${url}/moved/`, manifest: manifest([["b.gz", md5(B)]]) });
  assert.ok(existsSync(join(dir, "b.gz")));
}));

test("cifar10: the archive is verified, the six batches extracted, the archive dropped", () => withServer(async (url, dir) => {
  const m: Manifest = { ...MANIFESTS.cifar10, files: [{ name: CIFAR10_ARCHIVE, md5: md5(CIFAR_TGZ) }] };
  await fetchDataset("cifar10", { dir, baseUrl: `${url}/ok/`, manifest: m });
  assert.equal((await readdir(dir)).sort(), [...CIFAR10_TRAIN_FILES, "batches.meta.txt", CIFAR10_TEST_FILE].sort());
  const ds = await loadCifar10({ kind: "dir", path: dir }, "");
  assert.is(ds.train.count, 20);
  assert.is(ds.test.count, 4);
}));

test("interrupted transfer: error says how far it got, nothing left (not even .part)", () => withServer(async (url, dir) => {
  await writeFile(join(dir, "keep.txt"), "unrelated");
  // b.gz downloads and verifies first; its .part must go too when a.gz is cut.
  const m = manifest([["b.gz", md5(B)], ["a.gz", md5(A)]]);
  const msg = await datasetError(fetchDataset("fashion-mnist", { dir, baseUrl: `${url}/cut/`, manifest: m }));
  assert.match(msg, /download of a\.gz interrupted after \d+ of 200000 bytes/);
  assert.match(msg, "nothing was written; run the command again");
  assert.equal(await readdir(dir), ["keep.txt"]);
}));

test("HTTP 404: clear error, nothing left", () => withServer(async (url, dir) => {
  const msg = await datasetError(fetchDataset("x", { dir, baseUrl: `${url}/ok/`, manifest: manifest([["nope.gz", "0"]]) }));
  assert.match(msg, `download of ${url}/ok/nope.gz failed: HTTP 404 Not Found; nothing was written`);
  assert.equal(await readdir(dir), []);
}));

test("checksum mismatch: expected vs got, nothing left", () => withServer(async (url, dir) => {
  const wrong = "0123456789abcdef0123456789abcdef";
  const msg = await datasetError(fetchDataset("x", { dir, baseUrl: `${url}/ok/`, manifest: manifest([["a.gz", wrong]]) }));
  assert.match(msg, `MD5 expected ${wrong}, got ${md5(A)}`);
  assert.match(msg, "nothing was written");
  assert.equal(await readdir(dir), []);
}));

test("connection refused: clear error", async () => {
  const dir = await mkdtemp(join(tmpdir(), "cdl-fetch-"));
  try {
    const msg = await datasetError(fetchDataset("x", { dir, baseUrl: "http://127.0.0.1:1/", manifest: manifest([["a.gz", md5(A)]]) }));
    assert.match(msg, "download of http://127.0.0.1:1/a.gz failed");
    assert.equal(await readdir(dir), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a server that accepts the connection but never answers: error after the idle timeout, naming the URL", async () => {
  const sockets: Socket[] = [];
  const server = createTcpServer((s) => sockets.push(s));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const dir = await mkdtemp(join(tmpdir(), "cdl-fetch-"));
  try {
    const t0 = Date.now();
    const msg = await datasetError(fetchDataset("x", { dir, baseUrl: url, manifest: manifest([["a.gz", md5(A)]]), idleTimeoutMs: 300 }));
    assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`);
    assert.is(sockets.length, 1);
    assert.match(msg, `download of ${url}a.gz stalled: no data for 0.3 s; nothing was written;`);
    assert.match(msg, "run the command again");
    assert.equal(await readdir(dir), []);
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
    await rm(dir, { recursive: true, force: true });
  }
});

test("a server that stops sending mid-file: the same error, no .part left", () => withServer(async (url, dir) => {
  const seen: Progress[] = [];
  const m = manifest([["b.gz", md5(B)], ["a.gz", md5(A)]]);
  const msg = await datasetError(fetchDataset("x", { dir, baseUrl: `${url}/stall/`, manifest: m, idleTimeoutMs: 300, onProgress: (p) => seen.push(p) }));
  assert.ok(seen.some((p) => p.file === "a.gz" && p.received > 0), "a.gz never started");
  assert.match(msg, `download of ${url}/stall/a.gz stalled: no data for 0.3 s; nothing was written;`);
  assert.equal(await readdir(dir), []);
}));

test("unknown name lists the fetchable ones", async () => {
  assert.match(await datasetError(fetchDataset("imagenet", { dir: tmpdir() })), "allowed names are fashion-mnist, cifar10");
});

test.run();
