// The `cdl` command end to end, spawned on the runtime running this test: a user error is exit
// code 2 and `error: …` lines on stderr (one per problem), never a stack trace; `cdl train --json`
// reports what it actually evaluated.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cdlSync } from "../cli.ts";

const dir = mkdtempSync(join(tmpdir(), "cdl-cli-main-"));

/** Runs `cdl ...args` in a temp dir. */
const cdl = (...args: string[]) => cdlSync(args, dir);

/** Exit code 2 and exactly `lines` lines on stderr, each `error: …`, matching `patterns` in order. */
function usageError(r: ReturnType<typeof cdl>, ...patterns: RegExp[]) {
  const lines = r.stderr.trim().split("\n");
  assert.is(r.status, 2, r.stderr);
  assert.is(lines.length, patterns.length, r.stderr);
  patterns.forEach((p, i) => {
    assert.match(lines[i], /^error: /);
    assert.match(lines[i], p);
  });
  assert.not.match(r.stderr, /^\s+at |Error:/m, "no stack trace");
}

test("run --nodes 0x10: one line, exit 2", () => {
  usageError(cdl("run", "--nodes", "0x10"), /--nodes must be an integer in \[1, 100000\], got '0x10'/);
});

test("run --config with wrong types: one error line per problem, exit 2", () => {
  const p = join(dir, "bad.json");
  writeFileSync(p, JSON.stringify({ nodes: true, out: null, json: true }));
  usageError(cdl("run", "--config", p), /"nodes" must be an integer/, /"out" must be a string, got null/, /"json" is a command-line flag/);
});

test("run --epochs inf without a time limit; train with a positional word; an unknown command", () => {
  usageError(cdl("run", "--epochs", "inf"), /a run needs a finite budget: give --epochs N or --time-limit SECONDS/);
  usageError(cdl("train", "mnist"), /cdl train: unexpected argument 'mnist'/);
  usageError(cdl("train", "--lr", "inf"), /--lr must be a finite number ≥ 0, got 'inf'/);
  usageError(cdl("nosuch"), /unknown command 'nosuch' \(allowed: run, train, node, cluster, keygen, data, lab\)/);
});

test("train --lr 1e6 diverges: one error line naming --lr, exit 2", () => {
  usageError(cdl("train", "--model", "mlp", "--train-limit", "256", "--test-limit", "10", "--lr", "1e6", "--quiet"), /training diverged .*lower --lr \(now 1000000\)/);
});

test("train --json: testSamples is what was evaluated; a fractional epoch applies to --train-limit", () => {
  const r = cdl("train", "--model", "mlp", "--train-limit", "64", "--epochs", "0.5", "--test-limit", "100000", "--json", "--quiet");
  assert.is(r.status, 0, r.stderr);
  const s = JSON.parse(r.stdout.trim().split("\n").pop()!);
  assert.is(s.testSamples, 2000, "mnist-10k has 2,000 test samples");
  assert.is(s.samples, 32, "half an epoch of 64 samples");
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
