// The paper's experiments (Crandall & Webb, arXiv:2005.10300) as configs, run in one command:
//   npm run paper -- [manifest ...] [--only NAME] [--epochs E]
// Each manifest (bench/paper/<name>.json) holds shared settings and a list of runs; every run is a
// `cdl run` on the same data, partition, budgets and failure model. Results go to
// bench/paper/results/<manifest>/<run>/ and a summary with charts to bench/paper/RESULTS.md.
import { readdirSync, readFileSync, writeFileSync, mkdirSync, existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadDataset } from "../../src/data/registry.ts";
import type { Dataset } from "../../src/data/dataset.ts";
import { manifestRunSettings, runConfigFromSettings, validateSettings, type Manifest } from "../../src/experiment/config.ts";
import { runExperiment, type RunSummary } from "../../src/experiment/run.ts";
import { lineChart, PALETTE } from "../../src/report/svg.ts";
import { runtimeInfo } from "../../src/runtime.ts";
import { simdBuild } from "../../src/wasm/loader.ts";

const here = fileURLToPath(new URL(import.meta.url.includes("/dist/") ? "../../../bench/paper/" : "./", import.meta.url));

interface Done { name: string; s: RunSummary; curve: [number, number][] }

const pct = (x: number) => (100 * x).toFixed(2);

function table(done: readonly Done[]): string {
  const rows = done.map(({ name, s }) => {
    const c = s.config;
    return `| ${name} | ${c.algorithm} | ${s.topology.name} | ${c.drop} | ${c.linkMtbf === Infinity || c.linkMtbf === null ? "—" : `${c.linkMtbf}/${c.linkMttr} s`} | ` +
      `**${pct(s.accuracy.mean)}** | ${pct(s.accuracy.min)} | ${pct(s.accuracy.max)} | ${pct(s.meanModelAccuracy)} | ` +
      `${s.consensusDistance.mean.toPrecision(3)} | ${s.messages.delivered}/${s.messages.sent} | ${s.steps.budget} | ${s.wallSeconds.toFixed(0)} |`;
  });
  return [
    "| run | algorithm | topology | drop | link mtbf/mttr | mean acc % | min % | max % | θ̄ acc % | consensus dist. | msgs delivered/sent | steps/node | wall s |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ...rows,
  ].join("\n");
}

/** Mean node accuracy (%) at each evaluation point of a run's metrics.jsonl. */
function accuracyCurve(out: string): [number, number][] {
  const evals = readFileSync(join(out, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l)).filter((e) => e.type === "eval");
  return evals.map((e) => [e.t, 100 * e.meanAccuracy]);
}

/** A finished run read back from its directory, or null if it has not been run. */
function readDone(out: string, name: string): Done | null {
  if (!existsSync(join(out, "summary.json")) || !existsSync(join(out, "metrics.jsonl"))) return null;
  return { name, s: JSON.parse(readFileSync(join(out, "summary.json"), "utf8")) as RunSummary, curve: accuracyCurve(out) };
}

async function runManifest(file: string, only: string | undefined, epochs: number | undefined, cache: Map<string, Dataset>): Promise<string> {
  const id = file.replace(/\.json$/, "");
  const m = JSON.parse(readFileSync(join(here, file), "utf8")) as Manifest;
  const outDir = join(here, "results", id);
  mkdirSync(outDir, { recursive: true });
  const done: Done[] = [];
  for (const r of m.runs) {
    if (only && r.name !== only) {
      // --only re-runs one run; the others' latest results are read back, so the section stays whole.
      const prev = readDone(join(outDir, r.name), r.name);
      if (prev) done.push(prev);
      continue;
    }
    const name = r.name;
    const settings = validateSettings({ ...manifestRunSettings(m, r), ...(epochs ? { epochs } : {}) }, `${file} run ${name}`);
    const cfg = runConfigFromSettings({ ...settings, out: join(outDir, name) });
    let ds = cache.get(cfg.dataset);
    if (!ds) cache.set(cfg.dataset, (ds = await loadDataset(cfg.dataset, { dataDir: cfg.dataDir })));
    const t0 = performance.now();
    process.stderr.write(`[${id}] ${name}: ${cfg.algorithm} ${cfg.topology} drop ${cfg.drop} … `);
    const s = await runExperiment(cfg, { dataset: ds });
    process.stderr.write(`mean accuracy ${pct(s.accuracy.mean)}% (${((performance.now() - t0) / 1000).toFixed(0)} s)\n`);
    done.push({ name, s, curve: accuracyCurve(s.out) });
  }
  const chart = lineChart({
    title: `${m.title}: mean node accuracy over virtual time`, xLabel: "virtual time (s)", yLabel: "mean node accuracy (%)", yRange: [0, 100],
    series: done.map((d, i) => ({ name: d.name, points: d.curve, color: PALETTE[i % PALETTE.length], width: d.s.config.algorithm === "cdl" ? 2.5 : 1.5, dash: d.s.config.algorithm === "cdl" ? undefined : "5 3" })),
  });
  writeFileSync(join(outDir, "accuracy.svg"), chart);
  const base = Object.entries(m.base).map(([k, v]) => `--${k} ${v}`).join(" ");
  const info = runtimeInfo();
  const section = [
    `## ${m.title}`,
    m.claim ? `\n${m.claim}\n` : "",
    `Shared settings: \`${base}\` (every other setting at its default; see \`bench/paper/${file}\`).`,
    "",
    table(done),
    "",
    `![mean accuracy over time](results/${id}/accuracy.svg)`,
    "",
    `Per-run reports: ${done.map((d) => `[${d.name}](results/${id}/${d.name}/report.html)`).join(", ")}.`,
    "",
    `Measured with \`npm run paper -- ${id}${epochs ? ` --epochs ${epochs}` : ""}\`` +
      (only ? `; ${only} re-run alone on ${new Date().toISOString().slice(0, 10)} with \`--only ${only}\` (the other rows are read back from their results)` : ` on ${new Date().toISOString().slice(0, 10)}`) +
      ` on ${info.runtime} ${info.runtimeVersion}, ${info.cpu} (${info.cores} cores; one thread), engine ${info.engineVersion}, SIMD build ${simdBuild()}.`,
    "",
  ].join("\n");
  writeFileSync(join(outDir, "SECTION.md"), section);
  return section;
}

const args = process.argv.slice(2);
const oi = args.indexOf("--only"), ei = args.indexOf("--epochs");
const only = oi >= 0 ? args[oi + 1] : undefined;
const epochs = ei >= 0 ? Number(args[ei + 1]) : undefined;
const named = args.filter((a, i) => !a.startsWith("--") && !(oi >= 0 && i === oi + 1) && !(ei >= 0 && i === ei + 1));
const manifests = named.length ? named.map((n) => (n.endsWith(".json") ? n : `${n}.json`)) :
  readdirSync(here).filter((f) => f.endsWith(".json")).sort();
for (const f of manifests) if (!existsSync(join(here, f))) { console.error(`no manifest bench/paper/${f}`); process.exit(2); }
const cache = new Map<string, Dataset>();
for (const f of manifests) console.log(await runManifest(f, only, epochs, cache));
// RESULTS.md gathers the latest section of every manifest, so manifests can be run one at a time.
const sections = readdirSync(join(here, "results")).sort()
  .map((id) => join(here, "results", id, "SECTION.md")).filter((p) => existsSync(p)).map((p) => readFileSync(p, "utf8"));
writeFileSync(join(here, "RESULTS.md"), [
  "# Paper experiments: results",
  "",
  "Accuracy is every node's final model on the full test set; θ̄ is the mean of the nodes' models. Virtual time is the",
  "simulation's clock (see the README). Each section says the command and date that produced it.",
  "",
  ...sections,
].join("\n"));
