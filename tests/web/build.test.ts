// The built lab is a static directory a browser can load: only relative ES module imports, node:
// modules replaced by stand-ins that fail loudly, the engine builds, and the dataset packed so it
// unpacks to the very bytes `cdl run` trains on. And the loopback server serves it, and nothing else.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { pathToFileURL } from "node:url";
import { unpackDataset } from "../../src/data/pack.ts";
import { loadDataset } from "../../src/data/registry.ts";
import { buildLab } from "../../src/web/build.ts";
import { cdlSync } from "../cli.ts";
import { serveLab } from "../../src/web/serve.ts";

const dir = mkdtempSync(join(tmpdir(), "cdl-lab-"));
const out = join(dir, "lab");
const built = await buildLab(out);

function files(d: string): string[] {
  return readdirSync(d).flatMap((f) => (statSync(join(d, f)).isDirectory() ? files(join(d, f)) : [join(d, f)]));
}

test("every module imports only relative paths, and every import resolves to a built file", () => {
  const mods = files(join(out, "js")).filter((f) => f.endsWith(".js"));
  assert.ok(built.modules >= 20 && mods.length >= built.modules, `${mods.length} modules`);
  for (const f of mods) {
    const code = readFileSync(f, "utf8");
    for (const m of code.matchAll(/\bfrom\s*["']([^"']+)["']|\bimport\s*\(\s*["']([^"']+)["']/g)) {
      const spec = m[1] ?? m[2];
      assert.ok(spec.startsWith("."), `${f} imports '${spec}'`);
      assert.ok(existsSync(join(f, "..", spec)), `${f}: ${spec} is not built`);
    }
  }
  assert.ok(existsSync(join(out, "js/src/web/worker.js")) && existsSync(join(out, "js/src/web/lab.js")));
  assert.match(readFileSync(join(out, "index.html"), "utf8"), /js\/src\/web\/lab\.js/);
});

test("a node: stand-in throws a message naming the module and the function", async () => {
  const fs = await import(pathToFileURL(join(out, "js/node/fs.js")).href) as Record<string, () => unknown>;
  assert.throws(() => fs.readFileSync(), /node:fs readFileSync\(\) is not available in the browser/);
});

test("the engine builds and the packed dataset: the same bytes as the loader's", async () => {
  for (const b of ["simd", "simd-fma", "scalar"]) assert.ok(existsSync(join(out, `js/build/cdl-${b}.wasm`)), b);
  const gz = readFileSync(join(out, "data/mnist-10k.cdl.gz"));
  assert.is(gz.length, built.dataBytes);
  const ds = unpackDataset(new Uint8Array(gunzipSync(gz)), "mnist-10k.cdl.gz"), ref = await loadDataset("mnist-10k");
  for (const k of ["train", "test"] as const) {
    assert.is(ds[k].count, ref[k].count);
    assert.ok(Buffer.from(ds[k].images).equals(Buffer.from(ref[k].images.subarray(0, ref[k].count * 784))), `${k} images`);
    assert.ok(Buffer.from(ds[k].labels).equals(Buffer.from(ref[k].labels.subarray(0, ref[k].count))), `${k} labels`);
  }
});

test("the server: files with their types; nothing outside the directory; GET and HEAD only", async () => {
  const s = await serveLab(out, 0);
  try {
    const page = await fetch(s.url);
    assert.is(page.status, 200);
    assert.match(page.headers.get("content-type")!, /text\/html/);
    await page.text();
    const wasm = await fetch(`${s.url}js/build/cdl-simd.wasm`);
    assert.is(wasm.headers.get("content-type"), "application/wasm");
    assert.ok(WebAssembly.validate(new Uint8Array(await wasm.arrayBuffer())));
    const js = await fetch(`${s.url}js/src/web/worker.js`);
    assert.match(js.headers.get("content-type")!, /text\/javascript/);
    await js.text();
    for (const p of ["%2e%2e/%2e%2e/package.json", "nope.js"]) {
      const r = await fetch(`${s.url}${p}`);
      assert.is(r.status, 404, p);
      await r.text();
    }
    const post = await fetch(s.url, { method: "POST", body: "x" });
    assert.is(post.status, 405);
    await post.text();
  } finally {
    await s.close();
  }
});

test("cdl lab --serve=false builds and says where; it will not build over another directory; bad flags are one line", () => {
  const there = join(dir, "by-cli");
  const r = cdlSync(["lab", "--serve=false", "--out", there]);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /lab built in .*by-cli: \d+ modules, data 1\.\d MiB/);
  assert.ok(existsSync(join(there, "index.html")));
  const again = cdlSync(["lab", "--serve=false", "--out", there]);
  assert.is(again.status, 0, "a lab build is replaced");
  const other = join(dir, "not-a-lab");
  cdlSync(["lab", "--serve=false", "--out", join(other, "x")]); // makes `other` a non-lab directory
  const refused = cdlSync(["lab", "--serve=false", "--out", other]);
  assert.is(refused.status, 2);
  assert.match(refused.stderr, /^error: --out .*not-a-lab exists and is not a lab build; choose another directory\n$/);
  const port = cdlSync(["lab", "--port", "99999"]);
  assert.is(port.status, 2);
  assert.match(port.stderr, /^error: cdl lab: --port must be an integer in \[0, 65535\], got '99999'\n$/);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
