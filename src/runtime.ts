// What we are running on: the JS runtime, the CPU, the project's version. Used in reports.
import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";

/** The repository root: this file is src/runtime.ts, or dist/src/runtime.js once compiled for Node. */
export function repoRoot(): string {
  const up = import.meta.url.includes("/dist/src/") ? "../../" : "../";
  return fileURLToPath(new URL(up, import.meta.url));
}

export interface RuntimeInfo { runtime: string; runtimeVersion: string; cpu: string; cores: number; engineVersion: string }

/** The JS runtime we run on and its version. */
export function runtimeName(): { runtime: "node" | "bun" | "deno"; runtimeVersion: string } {
  const g = globalThis as { Bun?: { version: string }; Deno?: { version: { deno: string } } };
  return g.Bun ? { runtime: "bun", runtimeVersion: g.Bun.version } : g.Deno ? { runtime: "deno", runtimeVersion: g.Deno.version.deno }
    : { runtime: "node", runtimeVersion: process.versions.node };
}

export function runtimeInfo(): RuntimeInfo {
  const { runtime, runtimeVersion } = runtimeName();
  const cs = cpus();
  let engineVersion = "unknown";
  try {
    engineVersion = JSON.parse(readFileSync(repoRoot() + "package.json", "utf8")).version;
  } catch { /* reported as unknown */ }
  return { runtime, runtimeVersion, cpu: cs[0]?.model.trim() ?? "unknown", cores: cs.length, engineVersion };
}
