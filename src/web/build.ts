// Builds the lab: a static directory a browser opens from any web server (or `cdl lab`'s own).
//   index.html, lab.css      the page (src/web/)
//   js/src/**.js             the compiled modules the page and its worker import (tsc's output in
//                            dist/src, only those reachable from lab.js and worker.js)
//   js/node/*.js             stand-ins for the node: modules some of them import (the file system,
//                            paths, zlib…): every export throws "… is not available in the browser",
//                            so a lab code path that reached for the file system would fail loudly
//   js/build/*.wasm          the engine builds; the loader fetches the one this browser runs
//   data/mnist-10k.cdl.gz    the dataset, packed (src/data/pack.ts) and gzipped
// No bundler: the browser loads the same modules Node runs, as ES modules.
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { packDataset } from "../data/pack.ts";
import { loadDataset } from "../data/registry.ts";
import { ConfigError } from "../errors.ts";
import { repoRoot } from "../runtime.ts";

/** The modules the page starts from, relative to dist/src. */
const ENTRIES = ["web/lab.js", "web/worker.js"];
/** The datasets the lab ships. */
export const LAB_DATASETS = ["mnist-10k"];

const IMPORT = /(?:^|[\s;])(?:import|export)\s+(?:([\w*{}\s,$]+?)\s+from\s+)?["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;

/** The import specifiers of a compiled module, with what each import statement names. */
function imports(code: string): { spec: string; clause: string | null }[] {
  return [...code.matchAll(IMPORT)].map((m) => ({ spec: m[2] ?? m[3], clause: m[1] ?? null }));
}

/** Names a `import {a, b as c}` / `import x` / `import * as y` clause takes from its module. */
function importedNames(clause: string): { named: string[]; default: boolean } {
  const named = [...clause.matchAll(/\{([^}]*)\}/g)].flatMap((m) => m[1].split(",").map((x) => x.trim().split(/\s+as\s+/)[0]).filter(Boolean));
  const rest = clause.replace(/\{[^}]*\}/g, "").replace(/\*\s+as\s+[\w$]+/, "").replace(/,/g, " ").trim();
  return { named, default: rest.length > 0 };
}

/** A stand-in for a node: module: the names the lab's modules import from it, each throwing when used. */
function shim(mod: string, names: Set<string>): string {
  const no = `const no = (n) => function () { throw new Error(\`node:${mod} \${n}() is not available in the browser\`); };\n`;
  const exports = [...names].sort().map((n) => `export const ${n} = no("${n}");`).join("\n");
  return `// A stand-in for node:${mod} in the browser lab (src/web/build.ts): nothing here works.\n${no}${exports}\n` +
    `export default new Proxy({}, { get: (_, k) => no(String(k)) });\n`;
}

/** Copies the modules reachable from the entries into out/js/src, node: imports pointed at shims. */
function copyModules(distSrc: string, out: string): number {
  const todo = [...ENTRIES], seen = new Set<string>();
  const nodeNames = new Map<string, Set<string>>();
  const files = new Map<string, string>();
  while (todo.length) {
    const rel = todo.pop()!;
    if (seen.has(rel)) continue;
    seen.add(rel);
    const path = join(distSrc, rel);
    if (!existsSync(path)) throw new ConfigError(`${path} is missing: build the TypeScript first (npm run build)`);
    let code = readFileSync(path, "utf8");
    for (const { spec, clause } of imports(code)) {
      if (spec.startsWith(".")) { todo.push(join(dirname(rel), spec)); continue; }
      if (!spec.startsWith("node:")) throw new Error(`${rel} imports the package '${spec}', which a browser cannot load; keep it out of the lab's modules`);
      const mod = spec.slice(5).replace(/\//g, "-");
      const set = nodeNames.get(mod) ?? new Set<string>();
      nodeNames.set(mod, set);
      if (clause) importedNames(clause).named.forEach((n) => set.add(n));
    }
    code = code.replace(/(\bfrom\s*|\bimport\s*\(?\s*)(["'])node:([\w/]+)\2/g, (_m, lead: string, q: string, mod: string) => {
      const to = relative(dirname(join(out, "js/src", rel)), join(out, "js/node", `${mod.replace(/\//g, "-")}.js`));
      return `${lead}${q}${to.startsWith(".") ? to : "./" + to}${q}`;
    });
    files.set(rel, code);
  }
  for (const [rel, code] of files) {
    mkdirSync(dirname(join(out, "js/src", rel)), { recursive: true });
    writeFileSync(join(out, "js/src", rel), code);
  }
  mkdirSync(join(out, "js/node"), { recursive: true });
  for (const [mod, names] of nodeNames) writeFileSync(join(out, "js/node", `${mod}.js`), shim(mod, names));
  return files.size;
}

export interface LabBuild { out: string; modules: number; dataBytes: number }

/** Builds the lab into `out` (replacing what was there). */
export async function buildLab(out: string): Promise<LabBuild> {
  const root = repoRoot();
  const distSrc = join(root, "dist", "src");
  out = resolve(out);
  if (existsSync(out)) {
    if (!existsSync(join(out, "index.html")) && readdirSync(out).length) throw new ConfigError(`--out ${out} exists and is not a lab build; choose another directory`);
    rmSync(out, { recursive: true, force: true });
  }
  mkdirSync(out, { recursive: true });
  const modules = copyModules(distSrc, out);
  for (const f of ["index.html", "lab.css"]) cpSync(join(root, "src", "web", f), join(out, f));
  mkdirSync(join(out, "js", "build"), { recursive: true });
  for (const f of readdirSync(join(root, "build"))) if (f.endsWith(".wasm")) cpSync(join(root, "build", f), join(out, "js", "build", f));
  mkdirSync(join(out, "data"), { recursive: true });
  let dataBytes = 0;
  for (const name of LAB_DATASETS) {
    const gz = gzipSync(packDataset(await loadDataset(name)), { level: 9 });
    writeFileSync(join(out, "data", `${name}.cdl.gz`), gz);
    dataBytes += gz.length;
  }
  return { out, modules, dataBytes };
}
