// What we are running on: the JS runtime, the CPU, the project's version. Used in reports.
// In the browser lab (src/web/) the node: modules are build-time stubs that throw: only
// runtimeName and runtimeInfo are called there, and they do not touch them.
import { readFileSync } from "node:fs";
import * as os from "node:os";
import { fileURLToPath } from "node:url";

/** The repository root: this file is src/runtime.ts, or dist/src/runtime.js once compiled for Node. */
export function repoRoot(): string {
  const up = import.meta.url.includes("/dist/src/") ? "../../" : "../";
  return fileURLToPath(new URL(up, import.meta.url));
}

export interface RuntimeInfo { runtime: string; runtimeVersion: string; cpu: string; cores: number; engineVersion: string }

export type Runtime = "node" | "bun" | "deno" | "browser";

/** The JS runtime we run on and its version (a browser: its user agent's product, e.g. Chrome/156.0.1.2). */
export function runtimeName(): { runtime: Runtime; runtimeVersion: string } {
  const g = globalThis as { Bun?: { version: string }; Deno?: { version: { deno: string } }; process?: { versions?: { node?: string } }; navigator?: { userAgent?: string } };
  if (g.Bun) return { runtime: "bun", runtimeVersion: g.Bun.version };
  if (g.Deno) return { runtime: "deno", runtimeVersion: g.Deno.version.deno };
  if (g.process?.versions?.node) return { runtime: "node", runtimeVersion: g.process.versions.node };
  const ua = g.navigator?.userAgent ?? "";
  return { runtime: "browser", runtimeVersion: /(?:Chrome|Firefox|Version)\/[\d.]+/.exec(ua)?.[0] ?? (ua || "unknown") };
}

/** The cores this process may use (the default thread count of `cdl run --workers auto`). */
export function cores(): number {
  if (runtimeName().runtime === "browser") return (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 1;
  const o = os as { availableParallelism?: () => number; cpus: () => unknown[] };
  return typeof o.availableParallelism === "function" ? o.availableParallelism() : o.cpus().length;
}

export function runtimeInfo(): RuntimeInfo {
  const { runtime, runtimeVersion } = runtimeName();
  if (runtime === "browser") {
    const cores = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 1;
    return { runtime, runtimeVersion, cpu: "unknown (a browser does not say)", cores, engineVersion: "unknown" }; // a page cannot read package.json
  }
  const cs = os.cpus();
  let engineVersion = "unknown";
  try {
    engineVersion = JSON.parse(readFileSync(repoRoot() + "package.json", "utf8")).version;
  } catch { /* reported as unknown */ }
  return { runtime, runtimeVersion, cpu: cs[0]?.model.trim() ?? "unknown", cores: cs.length, engineVersion };
}
