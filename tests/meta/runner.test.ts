// The test runner (tests/run.ts) on canned uvu outputs: skipped tests are not failures, counts are
// never negative, a crash or a non-zero exit is a failure, skip reasons are printed once each;
// and its per-file timeout kills the whole process group.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, readFileSync } from "node:fs";
import { parseUvuSummary, runFile, summaryLines, tallyFile, type Outcome } from "../run.ts";

/** What uvu prints at the end of a file (NO_COLOR); it prints "Skipped: 0" when nothing was skipped. */
const uvu = (total: number, passed: number, skipped: number) =>
  `• • (${passed} / ${total})\n\n  Total:     ${total}\n  Passed:    ${passed}\n  Skipped:   ${skipped}\n  Duration:  12.3ms\n\n`;
const FM = "Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist, or cdl data fetch fashion-mnist)";

test("uvu's Total excludes skipped tests: 2 run, 1 skipped is 2 passed, 0 failed (the old runner said -1)", () => {
  const out = `SKIP: ${FM}\n${uvu(2, 2, 1)}`;
  assert.equal(parseUvuSummary(out), { total: 2, passed: 2, skipped: 1 });
  const t = tallyFile({ output: out, status: 0, signal: null });
  assert.equal(t, { passed: 2, failed: 0, skipped: 1, skipReasons: [FM] });
});

test("failures: failed tests, a non-zero exit after passing, no summary, a signal, a timeout", () => {
  assert.equal(tallyFile({ output: uvu(3, 1, 0), status: 1, signal: null }).failed, 2);
  const exit = tallyFile({ output: uvu(3, 3, 0), status: 1, signal: null });
  assert.equal([exit.passed, exit.failed, exit.problem], [3, 1, "exited 1 after its tests passed"]);
  const crash = tallyFile({ output: "TypeError: x is not a function\n", status: 1, signal: null });
  assert.equal([crash.passed, crash.failed, crash.problem], [0, 1, "exited 1 without a uvu summary"]);
  assert.is(tallyFile({ output: "", status: null, signal: "SIGSEGV" }).problem, "was killed by SIGSEGV without a uvu summary");
  const slow = tallyFile({ output: "• • ", status: null, signal: "SIGKILL", timedOutAfter: 300 });
  assert.equal([slow.failed, slow.problem], [1, "timed out after 300 s"]);
});

test("colour codes do not hide the summary", () => {
  const out = "  Total:     4\n\x1b[32m  Passed:    4\x1b[39m\n  Skipped:   \x1b[33m1\x1b[39m\n";
  assert.equal(parseUvuSummary(out), { total: 4, passed: 4, skipped: 1 });
});

test("summary: exactly 'N passed, N failed', with ', K skipped' only when something was skipped", () => {
  const ok = (runtime: string, file: string, output: string): Outcome => ({ runtime, file, tally: tallyFile({ output, status: 0, signal: null }) });
  assert.equal(summaryLines([ok("node", "a", uvu(5, 5, 0)), ok("bun", "a", uvu(5, 5, 0))]), ["10 passed, 0 failed"]);
  const failing: Outcome = { runtime: "deno", file: "b", tally: tallyFile({ output: uvu(4, 3, 0), status: 1, signal: null }) };
  assert.equal(summaryLines([ok("node", "a", uvu(5, 5, 0)), failing]).at(-1), "8 passed, 1 failed");
});

test("each skip reason is printed once, with how many tests on how many runtimes", () => {
  const fm = `SKIP: ${FM}\n${uvu(2, 2, 1)}`;
  const outcomes: Outcome[] = ["node", "bun", "deno"].map((runtime) => ({ runtime, file: "tests/data/fashion-mnist.test.ts", tally: tallyFile({ output: fm, status: 0, signal: null }) }));
  outcomes.push({ runtime: "node", file: "tests/x.test.ts", tally: tallyFile({ output: `SKIP: no GPU\nSKIP: no GPU\n${uvu(1, 1, 3)}`, status: 0, signal: null }) });
  assert.equal(summaryLines(outcomes), [
    `skipped: 3 tests on 3 runtimes — ${FM}`,
    "skipped: 2 tests on 1 runtime — no GPU",
    "skipped: 1 test on 1 runtime — tests/x.test.ts printed no reason (skip with tests/skip.ts)",
    "7 passed, 0 failed, 6 skipped",
  ]);
});

/** True while `pid` is a live process (a zombie waiting to be reaped counts as gone). */
function alive(pid: number): boolean {
  if (existsSync("/proc/self/stat")) {
    try { return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8")); } catch { return false; }
  }
  try { process.kill(pid, 0); return true; } catch { return false; }
}

test("a hanging file is killed with its whole process group and counted as timed out", async () => {
  // sh starts a background sleep (a grandchild, like a runtime's wrapper would) and waits.
  const t0 = Date.now();
  const run = await runFile("sh", ["-c", "sleep 30 & echo $!; wait"], { cwd: ".", env: process.env, timeoutSeconds: 0.5 });
  assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`);
  assert.is(run.timedOutAfter, 0.5);
  assert.is(tallyFile(run).problem, "timed out after 0.5 s");
  const grandchild = Number(run.output.trim());
  assert.ok(grandchild > 0, `output ${JSON.stringify(run.output)}`);
  for (let i = 0; i < 50 && alive(grandchild); i++) await new Promise((r) => setTimeout(r, 20));
  assert.not.ok(alive(grandchild), `sleep ${grandchild} survived`);
});

test.run();
