// Runs the `cdl` command on the runtime running the test: Node runs the compiled CLI (dist/),
// Bun and Deno its sources. Shared by the tests that check what a user sees: exit codes, one-line
// errors, signals.
import { spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as assert from "uvu/assert";

export const root = fileURLToPath(new URL(import.meta.url.includes("/dist/tests/") ? "../../" : "../", import.meta.url));
export const runtime: "node" | "bun" | "deno" =
  (globalThis as { Bun?: unknown }).Bun ? "bun" : (globalThis as { Deno?: unknown }).Deno ? "deno" : "node";

/** The command line of `cdl args` on this runtime. */
export function cdlArgv(args: readonly string[]): [string, string[]] {
  if (runtime === "deno") return [process.execPath, ["run", "-A", "--quiet", join(root, "src/cli/main.ts"), ...args]];
  if (runtime === "bun") return [process.execPath, [join(root, "src/cli/main.ts"), ...args]];
  return [process.execPath, [join(root, "dist/src/cli/main.js"), ...args]];
}

/** `cdl args` to its end, in `cwd` (default the repository). */
export function cdlSync(args: readonly string[], cwd = root): { status: number | null; stdout: string; stderr: string } {
  const [cmd, argv] = cdlArgv(args);
  const r = spawnSync(cmd, argv, { cwd, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export interface Exit { code: number | null; signal: string | null; stdout: string; stderr: string; out: string; ms: number; signalledAt: number; endedAt: number }

/**
 * `cdl args` in the background. `onLine` sees every output line with a `signal(sig)` that sends
 * the child a signal once; `during` gets the pid. Killed after `timeoutMs` (default 60 s).
 */
export function cdl(args: readonly string[], opts: {
  onLine?: (line: string, signal: (sig: NodeJS.Signals) => void) => void;
  during?: (pid: number) => Promise<void>;
  timeoutMs?: number;
} = {}): Promise<Exit> {
  const [cmd, argv] = cdlArgv(args);
  const t0 = Date.now();
  const child = spawn(cmd, argv, { cwd: root, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
  let stdout = "", stderr = "", out = "", signalledAt = 0;
  const signal = (sig: NodeJS.Signals) => { if (!signalledAt) { signalledAt = Date.now(); child.kill(sig); } };
  const feed = (s: string) => { out += s; for (const l of s.split("\n")) opts.onLine?.(l, signal); };
  child.stdout.setEncoding("utf8").on("data", (s: string) => { stdout += s; feed(s); });
  child.stderr.setEncoding("utf8").on("data", (s: string) => { stderr += s; feed(s); });
  const killer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 60_000);
  if (opts.during) opts.during(child.pid!).catch((e) => { stderr += `test helper failed: ${e}\n`; child.kill("SIGKILL"); });
  return new Promise((resolve) => child.on("close", (code, sig) => {
    clearTimeout(killer);
    resolve({ code, signal: sig, stdout, stderr, out, ms: Date.now() - t0, signalledAt, endedAt: Date.now() });
  }));
}

/** The exit status `code` as this runtime's child_process reports it: Deno's reports a child's
 * exit status 128+n as the signal n (so 130 arrives as SIGINT, 143 as SIGTERM). */
export function assertExit(r: Pick<Exit, "code" | "signal">, code: number, context = ""): void {
  const asSignal: Record<number, string> = { 130: "SIGINT", 143: "SIGTERM" };
  const ok = r.code === code || (runtime === "deno" && r.code === null && r.signal === asSignal[code]);
  assert.ok(ok, `exit ${r.code} (signal ${r.signal}), want ${code}: ${context.slice(-400)}`);
}
