// Runs every tests/**/*.test.ts as its own process on Node (compiled, dist/), Bun and Deno
// (sources), then prints the distinct reasons tests were skipped (each once) and one summary line:
// "N passed, N failed" or, when tests were skipped, "N passed, N failed, K skipped".
// Usage: node dist/tests/run.js [--runtime node,bun,deno] [--timeout S] [filter substring]
//   --timeout S   kill a test file (its whole process group) after S seconds and count it as a
//                 failure; default $CDL_TEST_TIMEOUT, else 300.
//
// Counting, from uvu's summary ("Total" excludes skipped tests): passed = Passed, failed =
// Total − Passed, skipped = Skipped. A file that exits non-zero, prints no summary or times out
// is a failure even when its counts say otherwise. A skipped test prints "SKIP: <reason>" (see
// tests/skip.ts). The pure parts are exported for tests/meta/runner.test.ts.
import { spawn } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** How one test file's process ended and everything it printed (stdout and stderr, in arrival order). */
export interface FileRun {
  readonly output: string;
  readonly status: number | null;
  readonly signal: string | null;
  /** Set when the runner killed the file after this many seconds. */
  readonly timedOutAfter?: number;
}

/** The counts one file contributes to the summary; `problem` says why it failed. */
export interface FileTally {
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
  readonly problem?: string;
  /** One entry per "SKIP: <reason>" line the file printed. */
  readonly skipReasons: readonly string[];
}

export interface Outcome {
  readonly runtime: string;
  readonly file: string;
  readonly tally: FileTally;
}

/** uvu's last summary block, or null when there is none. */
export function parseUvuSummary(output: string): { total: number; passed: number; skipped: number } | null {
  const plain = output.replace(/\x1b\[[0-9;]*m/g, "");
  const all = [...plain.matchAll(/Total:\s+(\d+)\s*\n\s*Passed:\s+(\d+)(?:\s*\n\s*Skipped:\s+(\d+))?/g)];
  const m = all.at(-1);
  return m ? { total: Number(m[1]), passed: Number(m[2]), skipped: Number(m[3] ?? 0) } : null;
}

/** What one file's run adds to the summary. */
export function tallyFile(run: FileRun): FileTally {
  const skipReasons = [...run.output.matchAll(/^SKIP: (.+)$/gm)].map((m) => m[1].trim());
  if (run.timedOutAfter !== undefined) return { passed: 0, failed: 1, skipped: 0, problem: `timed out after ${run.timedOutAfter} s`, skipReasons };
  const ended = run.signal ? `was killed by ${run.signal}` : `exited ${run.status}`;
  const s = parseUvuSummary(run.output);
  if (!s) return { passed: 0, failed: 1, skipped: 0, problem: `${ended} without a uvu summary`, skipReasons };
  const failed = Math.max(0, s.total - s.passed);
  if (failed) return { passed: s.passed, failed, skipped: s.skipped, problem: `${failed} of ${s.total} tests failed`, skipReasons };
  if (run.status !== 0) return { passed: s.passed, failed: 1, skipped: s.skipped, problem: `${ended} after its tests passed`, skipReasons };
  return { passed: s.passed, failed: 0, skipped: s.skipped, skipReasons };
}

/** The lines printed last: one per distinct skip reason, then "N passed, N failed[, K skipped]". */
export function summaryLines(outcomes: readonly Outcome[]): string[] {
  let passed = 0, failed = 0, skipped = 0;
  const reasons = new Map<string, { tests: number; runtimes: Set<string> }>();
  const note = (reason: string, runtime: string, n: number) => {
    const r = reasons.get(reason) ?? { tests: 0, runtimes: new Set<string>() };
    r.tests += n;
    r.runtimes.add(runtime);
    reasons.set(reason, r);
  };
  for (const { runtime, file, tally } of outcomes) {
    passed += tally.passed;
    failed += tally.failed;
    skipped += tally.skipped;
    for (const reason of tally.skipReasons) note(reason, runtime, 1);
    const unexplained = tally.skipped - tally.skipReasons.length;
    if (unexplained > 0) note(`${file} printed no reason (skip with tests/skip.ts)`, runtime, unexplained);
  }
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
  const lines = [...reasons].map(([reason, r]) => `skipped: ${plural(r.tests, "test")} on ${plural(r.runtimes.size, "runtime")} — ${reason}`);
  lines.push(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
  return lines;
}

/**
 * Runs `cmd argv` in its own process group; after `timeoutSeconds` the whole group is killed
 * with SIGKILL (so grandchildren such as a runtime's wrapper go too) and the run says so.
 * `onStart` receives the group's id (for a runner that is itself interrupted).
 */
export function runFile(cmd: string, argv: readonly string[], opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutSeconds: number; onStart?: (pid: number | undefined) => void }): Promise<FileRun & { pid?: number }> {
  return new Promise((done) => {
    const child = spawn(cmd, argv, { cwd: opts.cwd, env: opts.env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    opts.onStart?.(child.pid);
    let output = "", timedOut = false, settled = false;
    let grace: ReturnType<typeof setTimeout> | undefined;
    const finish = (status: number | null, signal: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(grace);
      done({ output, status, signal, pid: child.pid, ...(timedOut ? { timedOutAfter: opts.timeoutSeconds } : {}) });
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid);
      // Something outside the group may still hold the pipes open: stop waiting for them.
      grace = setTimeout(() => { child.stdout?.destroy(); child.stderr?.destroy(); finish(null, "SIGKILL"); }, 5000);
    }, opts.timeoutSeconds * 1000);
    child.stdout?.setEncoding("utf8").on("data", (s: string) => (output += s));
    child.stderr?.setEncoding("utf8").on("data", (s: string) => (output += s));
    child.on("error", (e) => { output += `cannot start ${cmd}: ${e.message}\n`; finish(null, null); });
    child.on("close", (status, signal) => finish(status, signal));
  });
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try { process.kill(-pid, "SIGKILL"); } catch { /* already gone */ }
}

const root = fileURLToPath(new URL(import.meta.url.includes("/dist/tests/") ? "../../" : "../", import.meta.url));
const bin = (name: string) => join(root, "node_modules", ".bin", name);

function findTests(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir).sort()) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...findTests(p));
    else if (e.endsWith(".test.ts")) out.push(relative(root, p));
  }
  return out;
}

const RUNTIMES: Record<string, (file: string) => [string, string[]]> = {
  node: (f) => [process.execPath, [join(root, "dist", f.replace(/\.ts$/, ".js"))]],
  bun: (f) => [bin("bun"), ["run", join(root, f)]],
  deno: (f) => [bin("deno"), ["run", "-A", "--quiet", join(root, f)]],
};

/** Seconds from "--timeout S" or $CDL_TEST_TIMEOUT (default 300); a message when malformed. */
function parseTimeout(value: string | undefined, from: string): number | string {
  if (value === undefined || value === "") return 300;
  const s = Number(value);
  return Number.isFinite(s) && s > 0 ? s : `${from} must be a positive number of seconds, got "${value}"`;
}

async function main(argv: string[]): Promise<number> {
  const args = [...argv];
  let runtimes = Object.keys(RUNTIMES);
  const ri = args.indexOf("--runtime");
  if (ri >= 0) {
    runtimes = (args[ri + 1] ?? "").split(",");
    args.splice(ri, 2);
    const bad = runtimes.filter((r) => !(r in RUNTIMES));
    if (bad.length) { console.error(`unknown --runtime ${bad.join(",")} (allowed: node, bun, deno)`); return 2; }
  }
  const ti = args.indexOf("--timeout");
  const timeout = ti >= 0 ? parseTimeout(args[ti + 1] ?? "?", "--timeout") : parseTimeout(process.env.CDL_TEST_TIMEOUT, "CDL_TEST_TIMEOUT");
  if (ti >= 0) args.splice(ti, 2);
  if (typeof timeout === "string") { console.error(timeout); return 2; }
  const filter = args[0] ?? "";
  const files = findTests(join(root, "tests")).filter((f) => f.includes(filter));

  // Test files run in their own process groups, so Ctrl-C reaches only the runner: pass it on.
  let current: number | undefined;
  const onSignal = (sig: NodeJS.Signals) => { killGroup(current); process.exit(sig === "SIGINT" ? 130 : 143); };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  const outcomes: Outcome[] = [];
  const failures: string[] = [];
  for (const rt of runtimes) {
    if (rt !== "node" && !existsSync(bin(rt))) {
      console.error(`${rt}: not installed (npm ci installs it); counted as a failure`);
      outcomes.push({ runtime: rt, file: "", tally: { passed: 0, failed: 1, skipped: 0, problem: "not installed", skipReasons: [] } });
      failures.push(`${rt}: not installed`);
      continue;
    }
    for (const f of files) {
      const [cmd, cmdArgs] = RUNTIMES[rt](f);
      const t0 = Date.now();
      const run = await runFile(cmd, cmdArgs, {
        cwd: root, timeoutSeconds: timeout, env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" }, onStart: (pid) => (current = pid),
      });
      const ms = Date.now() - t0;
      const tally = tallyFile(run);
      outcomes.push({ runtime: rt, file: f, tally });
      if (tally.problem) {
        failures.push(`${rt} ${f}: ${tally.problem}`);
        const tail = run.output.trim().split("\n").slice(-40).join("\n");
        console.log(`✘ ${rt.padEnd(4)} ${f}: ${tally.problem} (${ms} ms)${tail ? `\n${tail}` : ""}`);
      } else {
        console.log(`✔ ${rt.padEnd(4)} ${f}: ${tally.passed} passed${tally.skipped ? `, ${tally.skipped} skipped` : ""} (${ms} ms)`);
      }
    }
  }
  if (failures.length) console.log(`\nfailed:\n  ${failures.join("\n  ")}`);
  const lines = summaryLines(outcomes);
  if (lines.length > 1) console.log("");
  for (const l of lines) console.log(l);
  return outcomes.some((o) => o.tally.failed) ? 1 : 0;
}

/** True when this module is the script being run (not imported by a test); works on Node, Bun and Deno. */
function isMain(): boolean {
  const script = process.argv[1];
  const strip = (p: string) => resolve(p).replace(/\.[jt]s$/, "");
  return script !== undefined && strip(script) === strip(fileURLToPath(import.meta.url));
}

if (isMain()) process.exitCode = await main(process.argv.slice(2));
