// The paper's experiments (Crandall & Webb, arXiv:2005.10300) as configs, run in one command:
//   npm run paper -- [manifest ...] [--seeds 1,2,3] [--jobs N] [--only NAME] [--epochs E] [--out DIR]
// Each manifest (bench/paper/<name>.json) holds shared settings and a list of runs; every run is a
// `cdl run` on the same data, partition, budgets and failure model, repeated over the manifest's
// seeds. Every (run, seed) is its own child process (this script with --worker), --jobs of them at
// a time; each is deterministic on its own, so results do not depend on --jobs. Results go to
// DIR/results/<manifest>/<run>/seed-<s>/ and a summary with charts to DIR/RESULTS.md (DIR defaults
// to bench/paper).
//
// Manifest keys besides config.ts's Manifest (title, claim, base, runs):
//   seeds      seeds every run is repeated with (default: [base.seed] or [1]); --seeds overrides
//   target     { run, meanAccuracy }: the claim's threshold on that run's mean node accuracy, checked
//              on the mean over seeds and on every seed
//   groups     [{ name, title, settings }]: scenarios; every run is repeated in each, named
//              <group>/<run>, with settings = base, then the group's, then the run's; a run with
//              "groups": [names] is made in those groups only
//   report     "grid" (default: one table and chart of all runs) or "time" (per group: accuracy
//              over virtual time, time to `reach`, accuracy at `timeBudget` virtual s, final accuracy)
//   reach, timeBudget   the time report's accuracy level (default 0.9) and budget (default 200 s)
//   goal       { sync, server, serverFactor, groups }: in those groups of a time report, every cdl… run
//              is checked seed by seed: final ≥ sync's, `reach` sooner than sync, within
//              serverFactor × server's time to `reach`
//   tradeoff   [run names, in order of their learning time T]: in the goal's groups, a chart of final
//              accuracy against time to `reach` (means over seeds), the runs joined as one line, the
//              goal's baselines as points and its two thresholds as dashed lines; runs of the list
//              made in some groups only are drawn there and not in the accuracy-over-time chart
//   tradeoffAlso [run names]: drawn in that chart as single points beside the line (a run that is not
//              one learning time T, e.g. a restarted schedule)
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseFlags, UsageError, type FlagTable } from "../../src/cli/args.ts";
import { DatasetError } from "../../src/data/idx.ts";
import { loadDataset } from "../../src/data/registry.ts";
import { ConfigError } from "../../src/errors.ts";
import { runConfigFromSettings, validateSettings } from "../../src/experiment/config.ts";
import { runExperiment, type RunSummary } from "../../src/experiment/run.ts";
import { ModelError } from "../../src/nn/spec.ts";
import { lineChart, PALETTE, type Series } from "../../src/report/svg.ts";
import { runtimeInfo } from "../../src/runtime.ts";
import { manifestDir, ownSettings, readManifest, rows, seedsOf, type PaperManifest, type Row } from "./manifest.ts";
import { clampCurve, claimCheck, combineCurves, comparisonTime, firstReach, formatReach, mean, parseSeeds, pctMeanSd, timeGoal, tradeoffPoint, valueAt, type Curve, type GoalSeed, type TimeOutcome } from "./stats.ts";

const here = manifestDir;
const self = fileURLToPath(import.meta.url);

/** One child process: a row under one seed. */
interface Task { id: string; file: string; row: Row; seed: number; out: string; settings: Record<string, unknown> }
interface SeedResult { seed: number; s: RunSummary; curve: Curve }
interface RowResult { row: Row; seeds: SeedResult[] }
interface Failure { task: Task; message: string }

const pct = (x: number) => (100 * x).toFixed(2);

const seedDir = (root: string, id: string, row: string, seed: number) => join(root, "results", id, row, `seed-${seed}`);

/** The task's settings checked now, before any run starts (the child checks them again). */
function checkTask(t: Task): void {
  const where = `bench/paper/${t.file} run ${t.row.name} seed ${t.seed}`;
  runConfigFromSettings({ ...validateSettings(t.settings, where), out: t.out });
}

/** Mean node accuracy at each evaluation point of a run's metrics.jsonl (on its evaluation subset), none later than the run's end. */
function accuracyCurve(out: string, end: number): Curve {
  const evals = readFileSync(join(out, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l)).filter((e) => e.type === "eval");
  return clampCurve(evals.map((e) => [e.t, e.meanAccuracy] as [number, number]), end);
}

/** A finished run read back from its directory, or null if it has no complete result. */
function readSeed(out: string, seed: number): SeedResult | null {
  if (!existsSync(join(out, "summary.json")) || !existsSync(join(out, "metrics.jsonl"))) return null;
  const s = JSON.parse(readFileSync(join(out, "summary.json"), "utf8")) as RunSummary;
  return s.interrupted ? null : { seed, s, curve: accuracyCurve(out, s.virtualSeconds) };
}

// ---- child processes ---------------------------------------------------------------------------

/** The child: one run, written into its directory (overwriting an earlier result). Returns the exit code. */
async function worker(arg: string): Promise<number> {
  const { settings, out, where } = JSON.parse(arg) as { settings: Record<string, unknown>; out: string; where: string };
  try {
    const cfg = runConfigFromSettings({ ...validateSettings(settings, where), out });
    const ds = await loadDataset(cfg.dataset, { dataDir: cfg.dataDir });
    await runExperiment(cfg, { dataset: ds, overwrite: true });
    return 0;
  } catch (e) {
    if (e instanceof ConfigError || e instanceof DatasetError || e instanceof ModelError) {
      process.stderr.write(`error: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}

const live = new Set<ChildProcess>();

/** Runs one task in a child process; resolves with its exit code and what it wrote to stderr. */
function spawnTask(t: Task): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  // A stale summary must not pass for this run's if the run fails.
  rmSync(join(t.out, "summary.json"), { force: true });
  const arg = JSON.stringify({ settings: t.settings, out: t.out, where: `bench/paper/${t.file} run ${t.row.name} seed ${t.seed}` });
  return new Promise((done) => {
    const child = spawn(process.execPath, [self, "--worker", arg], { stdio: ["ignore", "ignore", "pipe"] });
    live.add(child);
    let stderr = "";
    child.stderr!.on("data", (b: Buffer) => { stderr += b.toString(); });
    child.on("error", (e) => { live.delete(child); done({ code: null, signal: null, stderr: e.message }); });
    child.on("close", (code, signal) => { live.delete(child); done({ code, signal, stderr }); });
  });
}

/** Runs the tasks, `jobs` at a time, in order; one progress line per start and per end. */
async function runTasks(tasks: readonly Task[], jobs: number): Promise<Failure[]> {
  const failures: Failure[] = [];
  let next = 0, finished = 0;
  const label = (t: Task) => `[${t.id}] ${t.row.name} seed ${t.seed}`;
  const lane = async () => {
    while (next < tasks.length) {
      const t = tasks[next++];
      process.stderr.write(`${label(t)}: started (${next}/${tasks.length})\n`);
      const t0 = performance.now();
      const r = await spawnTask(t);
      const wall = `${((performance.now() - t0) / 1000).toFixed(0)} s wall`;
      finished++;
      const res = r.code === 0 ? readSeed(t.out, t.seed) : null;
      if (res) {
        const s = res.s;
        process.stderr.write(`${label(t)}: mean accuracy ${pct(s.accuracy.mean)}% (worst node ${pct(s.accuracy.min)}%, θ̄ ${pct(s.meanModelAccuracy)}%), ` +
          `${s.virtualSeconds.toFixed(1)} virtual s, ${wall} (${finished}/${tasks.length} done)\n`);
      } else {
        const why = r.stderr.trim().split("\n").filter((l) => l.trim()).slice(r.code === 2 ? 0 : -3).join(" / ") ||
          (r.signal ? `killed by ${r.signal}` : `exit ${r.code}`);
        failures.push({ task: t, message: why });
        process.stderr.write(`${label(t)}: FAILED after ${wall}: ${why} (${finished}/${tasks.length} done)\n`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, tasks.length) }, lane));
  return failures;
}

// ---- the report --------------------------------------------------------------------------------

/** What the section says about how it was made. */
interface Made { seeds: number[]; epochs?: number; only?: string; jobs: number; date: string; report?: boolean }

function gridTable(results: readonly RowResult[]): string {
  const lines = results.map(({ row, seeds }) => {
    const c = seeds[0].s.config, s0 = seeds[0].s;
    const accs = seeds.map((r) => r.s.accuracy.mean);
    const m = seeds.map((r) => r.s.messages);
    const delivered = mean(m.map((x) => (x.sent ? x.delivered / x.sent : NaN)));
    return `| ${row.name} | ${c.algorithm} | ${s0.topology.name} | ${c.drop} | ${c.linkMtbf === Infinity || c.linkMtbf === null ? "—" : `${c.linkMtbf}/${c.linkMttr} s`} | ` +
      `${seeds.map((r) => r.seed).join(",")} | **${pctMeanSd(accs)}** | ${pct(Math.min(...accs))} | ${pct(Math.min(...seeds.map((r) => r.s.accuracy.min)))} | ` +
      `${pct(mean(seeds.map((r) => r.s.meanModelAccuracy)))} | ${mean(seeds.map((r) => r.s.consensusDistance.mean)).toPrecision(3)} | ` +
      `${Number.isNaN(delivered) ? "—" : (100 * delivered).toFixed(1)} | ${(mean(m.map((x) => x.bytesSent)) / s0.topology.nodes / 2 ** 20).toFixed(0)} | ` +
      `${s0.steps.budget} | ${mean(seeds.map((r) => r.s.wallSeconds)).toFixed(0)} |`;
  });
  return [
    "| run | algorithm | topology | drop | link mtbf/mttr | seeds | mean acc % (± sd) | min over seeds % | worst node % | θ̄ acc % | consensus dist. | msgs delivered % | MiB sent / node | steps/node | wall s |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ...lines,
  ].join("\n");
}

/** The claim check in words, or "" without a target. */
function claimText(m: PaperManifest, results: readonly RowResult[], seeds: readonly number[]): string {
  if (!m.target) return "";
  const { run, meanAccuracy: level } = m.target;
  const head = `**Claim check** (the manifest's \`target\`): \`${run}\` must reach a mean node accuracy of at least ${Number((100 * level).toPrecision(4))}%, on the mean over seeds and on every seed.`;
  const r = results.find((x) => x.row.name === run);
  if (!r) return `${head} Not measured: \`${run}\` has no results.`;
  const got = r.seeds.map((x) => ({ seed: x.seed, value: x.s.accuracy.mean }));
  const c = claimCheck(got, level);
  const partial = got.length < seeds.length ? ` (only ${got.length} of the ${seeds.length} seeds have results)` : "";
  const over = `Over seed${got.length > 1 ? "s" : ""} ${got.map((x) => x.seed).join(", ")}${partial} its mean node accuracy is ${pctMeanSd(got.map((x) => x.value))}%`;
  const low = got.reduce((a, b) => (b.value < a.value ? b : a));
  const failing = c.failing.map((f) => `seed ${f.seed} reaches ${pct(f.value)}%`).join(", ");
  const verdict = c.passesMean && c.passesEvery ? `it **passes on the mean and on every seed**${got.length > 1 ? ` (lowest: seed ${low.seed}, ${pct(low.value)}%)` : ""}.`
    : c.passesMean ? `it **passes on the mean but not on every seed**: ${failing}.`
    : `it **fails on the mean**, and not every seed passes: ${failing}.`;
  return `${head} ${over}: ${verdict}`;
}

/** A chart of mean node accuracy over virtual time per row, mean over seeds, with thin min and max lines over several seeds. */
function accuracyChart(title: string, results: readonly RowResult[], label: (r: Row) => string, bold: (r: RowResult) => boolean): string {
  const series: Series[] = results.flatMap((r, i) => {
    const color = PALETTE[i % PALETTE.length];
    const cc = combineCurves(r.seeds.map((x) => x.curve));
    const line = (k: "mean" | "min" | "max") => cc.map((p) => [p.t, 100 * p[k]] as [number, number]);
    const main: Series = { name: label(r.row), points: line("mean"), color, width: bold(r) ? 2.5 : 1.5, dash: bold(r) ? undefined : "5 3" };
    if (r.seeds.length < 2) return [main];
    const band = (k: "min" | "max"): Series => ({ name: `${label(r.row)} ${k}`, points: line(k), color, width: 0.75, opacity: 0.45, legend: false });
    return [main, band("min"), band("max")];
  });
  const seeds = Math.max(0, ...results.map((r) => r.seeds.length));
  return lineChart({
    title: `${title}: mean node accuracy${seeds > 1 ? ", mean over seeds (thin: min and max)" : ""}`,
    xLabel: "virtual time (s)", yLabel: "mean node accuracy (%)", yRange: [0, 100], series,
  });
}

function reportLinks(id: string, results: readonly RowResult[]): string {
  return `Per-run reports: ${results.map((r) => `${r.row.name} (${r.seeds.map((x) => `[seed ${x.seed}](results/${id}/${r.row.name}/seed-${x.seed}/report.html)`).join(", ")})`).join("; ")}.`;
}

function missingText(rowsOf: readonly Row[], results: readonly RowResult[], seeds: readonly number[], failures: readonly Failure[]): string {
  const notes: string[] = [];
  for (const f of failures) notes.push(`\`${f.task.row.name}\` seed ${f.task.seed} failed: ${f.message.replace(/^error: /, "")}`);
  for (const row of rowsOf) {
    const have = results.find((r) => r.row.name === row.name)?.seeds.map((x) => x.seed) ?? [];
    const lost = seeds.filter((s) => !have.includes(s) && !failures.some((f) => f.task.row.name === row.name && f.task.seed === s));
    if (lost.length) notes.push(`\`${row.name}\` has no results for seed${lost.length > 1 ? "s" : ""} ${lost.join(", ")}`);
  }
  return notes.length ? `**Missing:** ${notes.join("; ")}.\n` : "";
}

function madeText(id: string, made: Made, results: readonly RowResult[]): string {
  const info = runtimeInfo();
  const builds = [...new Set(results.flatMap((r) => r.seeds.map((x) => x.s.versions.build ?? "TS reference")))].join(", ");
  const cmd = `npm run paper -- ${id} --seeds ${made.seeds.join(",")}${made.epochs ? ` --epochs ${made.epochs}` : ""}`;
  if (made.report) {
    return `Measured with \`${cmd}\` (rows possibly re-run alone with \`--only\`); this section was redrawn from the stored results ` +
      `(results/${id}/) with \`npm run paper -- ${id} --report\` on ${made.date}, on ${info.runtime} ${info.runtimeVersion}, ${info.cpu}. SIMD build of the runs: ${builds || "—"}.`;
  }
  return `Measured with \`${cmd}\`` +
    (made.only ? `; ${made.only} re-run alone on ${made.date} with \`--only ${made.only}\` (the other rows are read back from their results)` : ` on ${made.date}`) +
    ` on ${info.runtime} ${info.runtimeVersion}, ${info.cpu} (${info.cores} cores; one thread a run, ${made.jobs} run${made.jobs > 1 ? "s" : ""} at a time), ` +
    `engine ${info.engineVersion}, SIMD build ${builds || "—"}.`;
}

/** Final mean node accuracy against MiB sent per node, one point per row that sent anything (mean
 * over seeds). The y axis fits the points (they differ by tenths of a point, not tens), every row is
 * in the legend, and rows past the palette's tenth colour are rings instead of dots. */
function bytesChart(title: string, results: readonly RowResult[]): string | null {
  const sending = results.filter((r) => r.seeds[0].s.messages.bytesSent > 0);
  if (!sending.length) return null;
  const mib = (r: RowResult) => mean(r.seeds.map((x) => x.s.messages.bytesSent)) / r.seeds[0].s.topology.nodes / 2 ** 20;
  return lineChart({
    title: `${title}: final mean node accuracy against MiB sent per node`, xLabel: "MiB sent per node", yLabel: "mean node accuracy (%)",
    legendMax: sending.length, legendWidth: 220, height: Math.max(420, 100 + 17 * sending.length),
    xRange: [0, 1.05 * Math.max(...sending.map(mib))],
    series: sending.map((r, i) => ({
      name: r.row.name, color: PALETTE[i % PALETTE.length], width: 2.5, legend: true, marker: i < PALETTE.length ? "dot" : "ring",
      points: [[mib(r), 100 * mean(r.seeds.map((x) => x.s.accuracy.mean))]] as [number, number][],
    })),
  });
}

function gridSection(id: string, file: string, m: PaperManifest, rowsOf: readonly Row[], results: readonly RowResult[], failures: readonly Failure[], made: Made, outDir: string): string {
  writeFileSync(join(outDir, "accuracy.svg"), accuracyChart(m.title, results, (r) => r.name, (r) => r.seeds[0].s.config.algorithm === "cdl"));
  const bytes = bytesChart(m.title, results);
  if (bytes) writeFileSync(join(outDir, "bytes.svg"), bytes);
  const base = Object.entries(m.base).map(([k, v]) => `--${k} ${v}`).join(" ");
  return [
    `## ${m.title}`,
    m.claim ? `\n${m.claim}\n` : "",
    `Shared settings: \`${base}\` (every other setting at its default; see \`bench/paper/${file}\`).`,
    "",
    `Each row is its run over the seeds listed: mean node accuracy on the full test set as mean ± sd over seeds (sd with n − 1), ` +
      `the lowest of those means, the worst single node over all seeds, and θ̄'s accuracy, consensus distance, delivered messages and wall time as means over seeds.`,
    "",
    claimText(m, results, made.seeds),
    "",
    gridTable(results),
    "",
    `![mean accuracy over time](results/${id}/accuracy.svg)`,
    "",
    bytes ? `![accuracy against MiB sent per node](results/${id}/bytes.svg)` : "",
    "",
    reportLinks(id, results),
    "",
    missingText(rowsOf, results, made.seeds, failures),
    madeText(id, made, results),
    "",
  ].join("\n").replace(/\n{3,}/g, "\n\n");
}

const outcomes = (r: RowResult, reach: number): TimeOutcome[] => r.seeds.map((x) => ({ seed: x.seed, final: x.s.accuracy.mean, reach: firstReach(x.curve, reach) }));

/** The time goal of one scenario: each asynchronous run against the same seed's baselines (stats.ts timeGoal). */
function goalText(goal: NonNullable<PaperManifest["goal"]>, rs: readonly RowResult[], reach: number, level: string): string {
  const sync = rs.find((r) => r.row.run === goal.sync), server = rs.find((r) => r.row.run === goal.server);
  const head = `**Goal check** (the manifest's \`goal\`), seed by seed against the same seed's \`${goal.sync}\` and \`${goal.server}\`:`;
  if (!sync || !server) return `${head} no results for ${!sync ? goal.sync : goal.server}.`;
  const cell = (seeds: GoalSeed[], ok: (s: GoalSeed) => boolean) => {
    const miss = seeds.filter((s) => !ok(s)).map((s) => s.seed);
    return !miss.length ? "**every seed**" : `${seeds.length - miss.length} of ${seeds.length} (not seed${miss.length > 1 ? "s" : ""} ${miss.join(", ")})`;
  };
  const lines = [head, "", `| run | final ≥ ${goal.sync} | ${level} sooner than ${goal.sync} | ${level} within ${goal.serverFactor}× ${goal.server}'s time |`, "|---|---|---|---|"];
  for (const r of rs.filter((x) => x.seeds[0].s.config.algorithm.startsWith("cdl"))) {
    const seeds = timeGoal(outcomes(r, reach), outcomes(sync, reach), outcomes(server, reach), goal.serverFactor);
    lines.push(`| ${r.row.run} | ${cell(seeds, (s) => s.accurate)} | ${cell(seeds, (s) => s.sooner)} | ${cell(seeds, (s) => s.nearServer)} |`);
  }
  return lines.join("\n");
}

/**
 * One scenario's trade-off: the `tradeoff` runs (one setting, learning times T in order) as a line
 * of (time to the level, final accuracy), means over seeds, beside the goal's baselines, with the
 * goal's thresholds dashed: the sync baseline's final accuracy and serverFactor × the server's time.
 * `left`: the runs of the list with results that are not drawn (a seed never reached the level);
 * no chart if none can be drawn.
 */
function tradeoffChart(title: string, m: PaperManifest, rs: readonly RowResult[], reach: number, level: string): { svg: string | null; left: string[] } {
  const goal = m.goal!, byRun = (n: string) => rs.find((r) => r.row.run === n);
  const left: string[] = [];
  const line = m.tradeoff!.flatMap((n) => {
    const r = byRun(n), p = r && tradeoffPoint(outcomes(r, reach));
    if (r && !p) left.push(n);
    return p ? [[p.time, 100 * p.final] as [number, number]] : [];
  });
  if (!line.length) return { svg: null, left };
  const sync = byRun(goal.sync), server = byRun(goal.server);
  const base = (r: RowResult | undefined) => (r ? tradeoffPoint(outcomes(r, reach)) : null);
  const ps = base(sync), pv = base(server);
  const syncFinal = sync ? 100 * mean(sync.seeds.map((x) => x.s.accuracy.mean)) : null;
  const serverTimes = server ? outcomes(server, reach).flatMap((o) => (o.reach === null ? [] : [o.reach])) : [];
  const limit = serverTimes.length ? goal.serverFactor * mean(serverTimes) : null;
  // Runs drawn beside the line as single points (tradeoffAlso): those every seed of which reached the level.
  const also = (m.tradeoffAlso ?? []).flatMap((name, k) => {
    const r = byRun(name), p = r && tradeoffPoint(outcomes(r, reach));
    if (r && !p) left.push(name);
    return p ? [{ name, k, time: p.time, final: 100 * p.final }] : [];
  });
  const xs = [...also.map((x) => x.time), ...line.map((p) => p[0]), ...(ps ? [ps.time] : []), ...(pv ? [pv.time] : []), ...(limit !== null ? [limit] : [])];
  const ys = [...also.map((x) => x.final), ...line.map((p) => p[1]), ...(ps ? [100 * ps.final] : []), ...(pv ? [100 * pv.final] : []), ...(syncFinal !== null ? [syncFinal] : [])];
  const x1 = 50 * Math.ceil((1.1 * Math.max(...xs)) / 50), y0 = Math.floor(Math.min(...ys)) - 1, y1 = Math.min(100, Math.ceil(Math.max(...ys)) + 1);
  const series: Series[] = [
    { name: `${m.tradeoff![0]} … ${m.tradeoff!.at(-1)}`, points: line, color: PALETTE[0], width: 2.5 },
    ...line.map((p): Series => ({ name: "point", points: [p], color: PALETTE[0], legend: false })),
  ];
  for (const x of also) series.push({ name: x.name, points: [[x.time, x.final]], color: PALETTE[3 + x.k] });
  if (ps) series.push({ name: `${goal.sync}`, points: [[ps.time, 100 * ps.final]], color: PALETTE[1] });
  if (pv) series.push({ name: `${goal.server}`, points: [[pv.time, 100 * pv.final]], color: PALETTE[2], marker: "ring" });
  if (syncFinal !== null) series.push({ name: `${goal.sync}'s final accuracy`, points: [[0, syncFinal], [x1, syncFinal]], color: PALETTE[1], width: 1, dash: "5 3" });
  if (limit !== null) series.push({ name: `${goal.serverFactor}× ${goal.server}'s time`, points: [[limit, y0], [limit, y1]], color: PALETTE[2], width: 1, dash: "5 3" });
  return {
    svg: lineChart({
      title: `${title}: the learning time's trade-off`,
      xLabel: `virtual time to ${level} mean node accuracy (s), mean over seeds`, yLabel: "final mean node accuracy (%), mean over seeds", xRange: [0, x1], yRange: [y0, y1], series,
    }),
    left,
  };
}

function timeSection(id: string, file: string, m: PaperManifest, rowsOf: readonly Row[], results: readonly RowResult[], failures: readonly Failure[], made: Made, outDir: string): string {
  const reach = m.reach ?? 0.9, cap = m.timeBudget ?? 200, level = `${Number((100 * reach).toPrecision(4))}%`;
  const base = Object.entries(m.base).map(([k, v]) => `--${k} ${v}`).join(" ");
  const evalSamples = results[0]?.seeds[0]?.s.config.evalSamples;
  const parts = [
    `## ${m.title}`,
    m.claim ? `\n${m.claim}\n` : "",
    `Shared settings: \`${base}\` (every other setting at its default; see \`bench/paper/${file}\`). Runs: ` +
      m.runs.map((r) => {
        const f = Object.entries(ownSettings(r)).map(([k, v]) => `--${k} ${v}`).join(" ");
        const only = Array.isArray(r.groups) ? `, in ${r.groups.join(", ")} only` : "";
        return `\`${r.name}\`${f ? ` (\`${f}\`${only})` : only ? ` (${only.slice(2)})` : ""}`;
      }).join(", ") + ".",
    "",
    `Per scenario: mean node accuracy over virtual time (on the ${evalSamples ?? "evaluation"}-sample evaluation subset, mean over seeds ${made.seeds.join(", ")}); ` +
      `**time to ${level}** is the first evaluation point at or above it (mean over seeds, and the range); **accuracy at B** is the last evaluation point at or before ` +
      `B = ${cap} virtual s, or at the end of the scenario's longest run if all end sooner; **final** is every node on the full test set after the run (mean ± sd over seeds); ` +
      `**virtual time** is when the run ended (mean over seeds). An evaluation point after a run's last event counts at its end.`,
    "",
  ];
  for (const g of m.groups ?? [{ name: "", title: undefined, settings: {} }]) {
    const rs = results.filter((r) => (r.row.group ?? "") === g.name);
    const settings = Object.entries(g.settings).map(([k, v]) => `--${k} ${v}`).join(" ");
    parts.push(`### ${g.title ?? g.name}`, "", settings ? `Scenario settings: \`${settings}\`.` : "No scenario settings beyond the shared ones.", "");
    if (!rs.length) { parts.push("No results.", ""); continue; }
    const svg = `accuracy-${g.name || "all"}.svg`;
    // The trade-off's extra points (runs made in some groups only) are drawn in its own chart.
    const drawn = rs.filter((r) => !m.tradeoff?.includes(r.row.run) || !Array.isArray(m.runs.find((x) => x.name === r.row.run)?.groups));
    writeFileSync(join(outDir, svg), accuracyChart(`${m.title}: ${g.title ?? g.name}`, drawn, (r) => r.run, (r) => r.seeds[0].s.config.algorithm.startsWith("cdl")));
    const B = comparisonTime(rs.flatMap((r) => r.seeds.map((x) => x.s.virtualSeconds)), cap);
    parts.push(`| run | algorithm | seeds | time to ${level} (s) | acc. at ${Number(B.toPrecision(4))} s % | final acc. % | virtual time s | wall s |`, "|---|---|---|---|---|---|---|---|");
    for (const r of rs) {
      const atB = r.seeds.map((x) => valueAt(x.curve, B)).filter((v): v is number => v !== null);
      parts.push(`| ${r.row.run} | ${r.seeds[0].s.config.algorithm} | ${r.seeds.map((x) => x.seed).join(",")} | ${formatReach(r.seeds.map((x) => firstReach(x.curve, reach)))} | ` +
        `${pctMeanSd(atB)} | **${pctMeanSd(r.seeds.map((x) => x.s.accuracy.mean))}** | ${mean(r.seeds.map((x) => x.s.virtualSeconds)).toFixed(1)} | ` +
        `${mean(r.seeds.map((x) => x.s.wallSeconds)).toFixed(0)} |`);
    }
    if (m.goal?.groups.includes(g.name)) parts.push("", goalText(m.goal, rs, reach, level));
    parts.push("", `![mean accuracy over time, ${g.title ?? g.name}](results/${id}/${svg})`, "");
    const trade = m.tradeoff && m.goal?.groups.includes(g.name) ? tradeoffChart(g.title ?? g.name, m, rs, reach, level) : null;
    if (trade?.svg) {
      const file = `tradeoff-${g.name}.svg`;
      writeFileSync(join(outDir, file), trade.svg);
      parts.push(`![final accuracy against time to ${level}, ${g.title ?? g.name}](results/${id}/${file})`, "");
    }
    if (trade?.left.length) parts.push(`Not in the trade-off chart (a seed never reached ${level}): ${trade.left.map((n) => `\`${n}\``).join(", ")}.`, "");
  }
  parts.push(reportLinks(id, results), "", missingText(rowsOf, results, made.seeds, failures), madeText(id, made, results), "");
  return parts.join("\n").replace(/\n{3,}/g, "\n\n");
}

/**
 * A curve, not points: final mean node accuracy against the swept setting, one line per group
 * (mean over seeds; thin: min and max), with λ₂ of each group's graph and the delivered share.
 */
function sweepSection(id: string, file: string, m: PaperManifest, rowsOf: readonly Row[], results: readonly RowResult[], failures: readonly Failure[], made: Made, outDir: string): string {
  const key = m.sweep!, x = (r: RowResult) => Number(r.row.settings[key]);
  const groups = m.groups ?? [{ name: "", title: undefined, settings: {} }];
  const series: Series[] = groups.flatMap((g, i) => {
    const rs = results.filter((r) => (r.row.group ?? "") === g.name).sort((a, b) => x(a) - x(b));
    const color = PALETTE[i % PALETTE.length], label = g.title ?? g.name;
    const at = (f: (accs: number[]) => number) => rs.map((r) => [x(r), 100 * f(r.seeds.map((s) => s.s.accuracy.mean))] as [number, number]);
    const main: Series = { name: label, points: at(mean), color, width: 2.5, legend: true };
    if (Math.max(...rs.map((r) => r.seeds.length)) < 2) return [main];
    return [main, { name: `${label} min`, points: at((a) => Math.min(...a)), color, width: 0.75, opacity: 0.45, legend: false },
      { name: `${label} max`, points: at((a) => Math.max(...a)), color, width: 0.75, opacity: 0.45, legend: false }];
  });
  writeFileSync(join(outDir, "sweep.svg"), lineChart({
    title: `${m.title}: final mean node accuracy against --${key}`, xLabel: `--${key}`, yLabel: "mean node accuracy (%)", yRange: [0, 100], series,
  }));
  const base = Object.entries(m.base).map(([k, v]) => `--${k} ${v}`).join(" ");
  const lines = results.slice().sort((a, b) => (a.row.group ?? "").localeCompare(b.row.group ?? "") || x(a) - x(b)).map((r) => {
    const s0 = r.seeds[0].s, ms = r.seeds.map((q) => q.s.messages);
    return `| ${r.row.group ?? ""} | ${x(r)} | ${r.seeds.map((q) => q.seed).join(",")} | **${pctMeanSd(r.seeds.map((q) => q.s.accuracy.mean))}** | ` +
      `${pct(Math.min(...r.seeds.map((q) => q.s.accuracy.min)))} | ${mean(r.seeds.map((q) => q.s.consensusDistance.mean)).toPrecision(3)} | ` +
      `${s0.topology.lambda2.toPrecision(3)} | ${(100 * mean(ms.map((q) => (q.sent ? q.delivered / q.sent : NaN)))).toFixed(1)} |`;
  });
  return [
    `## ${m.title}`,
    m.claim ? `\n${m.claim}\n` : "",
    `Shared settings: \`${base}\`; groups: ${groups.map((g) => `${g.title ?? g.name} (\`${Object.entries(g.settings).map(([k, v]) => `--${k} ${v}`).join(" ")}\`)`).join(", ")} (see \`bench/paper/${file}\`).`,
    "",
    `| group | --${key} | seeds | mean acc % (± sd) | worst node % | consensus dist. | λ₂ | msgs delivered % |`,
    "|---|---|---|---|---|---|---|---|",
    ...lines,
    "",
    `![final accuracy against --${key}](results/${id}/sweep.svg)`,
    "",
    reportLinks(id, results),
    "",
    missingText(rowsOf, results, made.seeds, failures),
    madeText(id, made, results),
    "",
  ].join("\n").replace(/\n{3,}/g, "\n\n");
}

// ---- the command -------------------------------------------------------------------------------

const cores = os.availableParallelism?.() ?? os.cpus().length;

const FLAGS: FlagTable = {
  seeds: { type: "string", help: "seeds every run is repeated with, e.g. 1,2,3 (default: each manifest's \"seeds\")" },
  jobs: { type: "int", default: cores, min: 1, max: 1024, help: "runs at a time, each its own process" },
  only: { type: "string", help: "re-run only this run (NAME, or GROUP/NAME, or a GROUP); the other rows are read back from their results" },
  epochs: { type: "number", above: 0, help: "override every run's --epochs (quick checks)" },
  out: { type: "string", help: "directory for results/ and RESULTS.md (default bench/paper)" },
  report: { type: "bool", default: false, help: "run nothing: write the sections from the results on disk" },
  help: { type: "bool", default: false, help: "this text" },
};

function help(): string {
  const rows = Object.entries(FLAGS).map(([k, s]) => `  --${k.padEnd(8)} ${s.help}${s.default !== undefined && s.type !== "bool" ? ` (default ${s.default})` : ""}`);
  const names = readdirSync(here).filter((f) => f.endsWith(".json")).sort().map((f) => f.replace(/\.json$/, ""));
  return `usage: npm run paper -- [manifest ...] [flags]\nRuns bench/paper/<manifest>.json (default: all of ${names.join(", ")}) over seeds and writes RESULTS.md.\n\n${rows.join("\n")}\n`;
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === "--worker") return worker(argv[1]);
  const { flags, positional } = parseFlags("paper", argv, FLAGS);
  if (flags.help) { process.stdout.write(help()); return 0; }
  const seedsFlag = flags.seeds === undefined ? undefined : parseSeeds(flags.seeds as string);
  const jobs = flags.jobs as number, only = flags.only as string | undefined, epochs = flags.epochs as number | undefined;
  const root = resolve((flags.out as string | undefined) ?? here);
  const files = positional.length ? positional.map((n) => (n.endsWith(".json") ? n : `${n}.json`)) : readdirSync(here).filter((f) => f.endsWith(".json")).sort();
  for (const f of files) if (!existsSync(join(here, f))) throw new ConfigError(`no manifest bench/paper/${f}`);

  // Every manifest and every run's settings are checked before the first run starts.
  const plans = files.map((file) => {
    const id = file.replace(/\.json$/, "");
    const m = readManifest(file);
    const rs = rows(m);
    const seeds = seedsFlag ?? seedsOf(m);
    const picked = (r: Row) => !only || r.name === only || r.run === only || r.group === only;
    const tasks: Task[] = rs.filter(picked).flatMap((row) => seeds.map((seed) => ({
      id, file, row, seed, out: seedDir(root, id, row.name, seed),
      settings: { ...row.settings, ...(epochs ? { epochs } : {}), seed },
    })));
    return { id, file, m, rs, seeds, tasks };
  });
  const tasks = flags.report ? [] : plans.flatMap((p) => p.tasks);
  if (only && !tasks.length && !flags.report) throw new ConfigError(`--only ${only}: no run, group or group/run of that name in ${files.join(", ")}`);
  for (const t of tasks) checkTask(t);

  const stop = (sig: NodeJS.Signals) => { for (const c of live) c.kill(sig); process.exit(sig === "SIGINT" ? 130 : 143); };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  process.stderr.write(`${tasks.length} runs, ${Math.min(jobs, tasks.length)} at a time; results in ${join(root, "results")}\n`);
  const failures = await runTasks(tasks, jobs);

  const date = new Date().toISOString().slice(0, 10);
  for (const p of plans) {
    const outDir = join(root, "results", p.id);
    mkdirSync(outDir, { recursive: true });
    const results: RowResult[] = p.rs.map((row) => ({
      row, seeds: p.seeds.map((seed) => readSeed(seedDir(root, p.id, row.name, seed), seed)).filter((x): x is SeedResult => x !== null),
    })).filter((r) => r.seeds.length > 0);
    const made: Made = { seeds: p.seeds, epochs, only, jobs, date, report: !!flags.report };
    const fails = failures.filter((f) => f.task.id === p.id);
    const section = p.m.report === "time" ? timeSection(p.id, p.file, p.m, p.rs, results, fails, made, outDir)
      : p.m.report === "sweep" ? sweepSection(p.id, p.file, p.m, p.rs, results, fails, made, outDir)
      : gridSection(p.id, p.file, p.m, p.rs, results, fails, made, outDir);
    writeFileSync(join(outDir, "SECTION.md"), section);
    console.log(section);
  }
  // RESULTS.md gathers the latest section of every manifest, so manifests can be run one at a time.
  const sections = readdirSync(join(root, "results")).sort()
    .map((id) => join(root, "results", id, "SECTION.md")).filter((p) => existsSync(p)).map((p) => readFileSync(p, "utf8"));
  writeFileSync(join(root, "RESULTS.md"), [
    "# Paper experiments: results",
    "",
    "Accuracy is every node's final model on the full test set; θ̄ is the mean of the nodes' models. Virtual time is the",
    "simulation's clock (see the README). Rows are means over seeds (see each section). Each section says the command and",
    "date that produced it.",
    "",
    ...sections,
  ].join("\n"));
  if (failures.length) process.stderr.write(`${failures.length} of ${tasks.length} runs failed: ${failures.map((f) => `${f.task.id} ${f.task.row.name} seed ${f.task.seed}`).join(", ")}\n`);
  return failures.length ? 1 : 0;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (e) {
  if (e instanceof UsageError || e instanceof ConfigError) {
    console.error(`error: ${e.message}`);
    process.exitCode = 2;
  } else throw e;
}
