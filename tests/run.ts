// Runs every tests/**/*.test.ts as its own process on Node (compiled, dist/), Bun and Deno
// (sources), then prints one summary line: "N passed, N failed".
// Usage: node dist/tests/run.js [--runtime node,bun,deno] [filter substring]
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

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

const args = process.argv.slice(2);
let runtimes = Object.keys(RUNTIMES);
const ri = args.indexOf("--runtime");
if (ri >= 0) {
  runtimes = args[ri + 1].split(",");
  args.splice(ri, 2);
  const bad = runtimes.filter((r) => !(r in RUNTIMES));
  if (bad.length) { console.error(`unknown --runtime ${bad.join(",")} (allowed: node, bun, deno)`); process.exit(2); }
}
const filter = args[0] ?? "";
const files = findTests(join(root, "tests")).filter((f) => f.includes(filter));

let passed = 0, failed = 0;
const failures: string[] = [];
for (const rt of runtimes) {
  if (rt !== "node" && !existsSync(bin(rt))) { console.error(`${rt}: not installed (npm ci installs it); counted as a failure`); failed++; continue; }
  for (const f of files) {
    const [cmd, argv] = RUNTIMES[rt](f);
    const t0 = Date.now();
    const r = spawnSync(cmd, argv, { cwd: root, encoding: "utf8", maxBuffer: 64 << 20, env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" } });
    const out = (r.stdout ?? "") + (r.stderr ?? "");
    const total = Number(/Total:\s+(\d+)/.exec(out)?.[1] ?? NaN);
    const ok = Number(/Passed:\s+(\d+)/.exec(out)?.[1] ?? NaN);
    const skipped = Number(/Skipped:\s+(\d+)/.exec(out)?.[1] ?? 0);
    const ms = Date.now() - t0;
    if (Number.isNaN(total) || Number.isNaN(ok)) {
      failed++;
      failures.push(`${rt} ${f}: exited ${r.status} without a uvu summary`);
      console.log(`✘ ${rt.padEnd(4)} ${f} (crashed, ${ms} ms)\n${out.trim().split("\n").slice(-15).join("\n")}`);
      continue;
    }
    const bad = total - ok - skipped + (r.status !== 0 && total === ok ? 1 : 0);
    passed += ok;
    failed += bad;
    if (bad) {
      failures.push(`${rt} ${f}`);
      console.log(`✘ ${rt.padEnd(4)} ${f}: ${ok}/${total} (${ms} ms)\n${out.trim().split("\n").slice(-40).join("\n")}`);
    } else {
      console.log(`✔ ${rt.padEnd(4)} ${f}: ${ok}/${total} (${ms} ms)`);
    }
  }
}
if (failures.length) console.log(`\nfailed:\n  ${failures.join("\n  ")}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
