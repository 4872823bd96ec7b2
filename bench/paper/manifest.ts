// The paper runner's manifests (bench/paper/<name>.json): reading and checking one, and the rows it
// makes (see run.ts's header for the keys). Apart from run.ts so that tests can check every manifest.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError } from "../../src/errors.ts";
import type { Manifest } from "../../src/experiment/config.ts";

/** bench/paper/, where the manifests are (from the sources or from dist/). */
export const manifestDir = fileURLToPath(new URL(import.meta.url.includes("/dist/") ? "../../../bench/paper/" : "./", import.meta.url));

/** A bench/paper manifest: config.ts's Manifest and the runner's own keys (see the file header). */
export interface PaperManifest extends Manifest {
  seeds?: number[];
  target?: { run: string; meanAccuracy: number };
  groups?: { name: string; title?: string; settings: Record<string, unknown> }[];
  report?: "grid" | "time" | "sweep";
  /** report "sweep": the setting its runs vary (each run sets it), drawn on the x axis. */
  sweep?: string;
  reach?: number;
  timeBudget?: number;
  /** report "time": the goal each asynchronous (cdl…) run is checked against in the named groups. */
  goal?: { sync: string; server: string; serverFactor: number; groups: string[] };
  /** report "time" with a goal: runs that differ only in their learning time T, in order of T, drawn
   * per goal group as final accuracy against time to `reach` beside the goal's two baselines. */
  tradeoff?: string[];
  /** report "time" with a tradeoff: other runs drawn as single points in the trade-off chart (e.g. a
   * schedule that is not one learning time T). */
  tradeoffAlso?: string[];
}

const MANIFEST_KEYS = ["title", "claim", "base", "runs", "seeds", "target", "groups", "report", "sweep", "reach", "timeBudget", "goal", "tradeoff", "tradeoffAlso"];

/** One row of a manifest's table: a run, in a group if the manifest has groups; settings unvalidated. */
export interface Row { name: string; run: string; group?: string; settings: Record<string, unknown> }

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Reads and checks bench/paper/<file> (in `dir`, default this directory); every problem is one line of the ConfigError. */
export function readManifest(file: string, dir = manifestDir): PaperManifest {
  let m: unknown;
  try {
    m = JSON.parse(readFileSync(join(dir, file), "utf8"));
  } catch (e) {
    throw new ConfigError(`bench/paper/${file}: ${(e as Error).message.split("\n")[0]}`);
  }
  return checkManifest(m, file);
}

/** Checks a parsed manifest named `file` in messages; every problem is one line of the ConfigError. */
export function checkManifest(m: unknown, file: string): PaperManifest {
  const p: string[] = [];
  if (!isObject(m)) throw new ConfigError(`bench/paper/${file}: expected a JSON object`);
  for (const k of Object.keys(m)) if (!MANIFEST_KEYS.includes(k)) p.push(`unknown key "${k}" (allowed: ${MANIFEST_KEYS.join(", ")})`);
  if (typeof m.title !== "string") p.push(`"title" must be a string`);
  if (!isObject(m.base)) p.push(`"base" must be an object of settings`);
  const runs = Array.isArray(m.runs) ? m.runs : [];
  if (!runs.length || !runs.every((r) => isObject(r) && typeof r.name === "string" && /^[\w.+-]+$/.test(r.name))) {
    p.push(`"runs" must be a non-empty list of objects, each with a "name" of letters, digits and . _ + -`);
  }
  const names = runs.map((r) => (isObject(r) ? r.name : undefined));
  if (new Set(names).size !== names.length) p.push(`run names must be distinct`);
  /** Says so if `key` names a run that is not in "runs". */
  const runNamed = (key: string, run: unknown) => {
    if (!names.includes(run as string)) p.push(`"${key}" names run "${run}", which is not in "runs"`);
  };
  /** Whether x is a list of at least `min` distinct strings. */
  const distinctNames = (x: unknown, min: number): x is string[] =>
    Array.isArray(x) && x.length >= min && x.every((y) => typeof y === "string") && new Set(x).size === x.length;
  if (m.seeds !== undefined && (!Array.isArray(m.seeds) || !m.seeds.length || !m.seeds.every((s) => Number.isInteger(s) && s >= 0 && s <= 2 ** 32 - 1) || new Set(m.seeds).size !== m.seeds.length)) {
    p.push(`"seeds" must be a non-empty list of distinct integers in [0, 4294967295]`);
  }
  if (m.target !== undefined) {
    const t = m.target;
    if (!isObject(t) || typeof t.run !== "string" || typeof t.meanAccuracy !== "number" || !(t.meanAccuracy > 0 && t.meanAccuracy <= 1)) {
      p.push(`"target" must be { "run": NAME, "meanAccuracy": a fraction in (0, 1] }`);
    } else runNamed("target", t.run);
  }
  if (m.groups !== undefined) {
    const g = m.groups;
    if (!Array.isArray(g) || !g.length || !g.every((x) => isObject(x) && typeof x.name === "string" && /^[\w.+-]+$/.test(x.name) && isObject(x.settings) && (x.title === undefined || typeof x.title === "string"))) {
      p.push(`"groups" must be a non-empty list of { "name", "title"?, "settings": {…} }, names of letters, digits and . _ + -`);
    } else if (new Set(g.map((x) => x.name)).size !== g.length) p.push(`group names must be distinct`);
  }
  // A run may be limited to some groups: "groups": ["stragglers"] (a comparison one scenario needs).
  const groupNames = Array.isArray(m.groups) ? m.groups.map((x) => (isObject(x) ? x.name : undefined)) : [];
  for (const r of runs) {
    if (!isObject(r) || r.groups === undefined) continue;
    if (!Array.isArray(r.groups) || !r.groups.length || !r.groups.every((x) => groupNames.includes(x))) {
      p.push(`run "${r.name}": "groups" must be a non-empty list of this manifest's group names (${groupNames.join(", ") || "it has none"})`);
    }
  }
  if (m.report !== undefined && m.report !== "grid" && m.report !== "time" && m.report !== "sweep") p.push(`"report" must be "grid", "time" or "sweep"`);
  if (m.report === "sweep" && (typeof m.sweep !== "string" || !(m.runs as Record<string, unknown>[]).every((r) => typeof r[m.sweep as string] === "number"))) {
    p.push(`a "sweep" report needs "sweep": the setting every run sets to a number`);
  }
  if (m.target !== undefined && (m.report === "time" || m.groups !== undefined)) p.push(`"target" is checked by the grid report of a manifest without groups only`);
  if (m.reach !== undefined && !(typeof m.reach === "number" && m.reach > 0 && m.reach <= 1)) p.push(`"reach" must be a fraction in (0, 1]`);
  if (m.timeBudget !== undefined && !(typeof m.timeBudget === "number" && m.timeBudget > 0)) p.push(`"timeBudget" must be a number of virtual seconds > 0`);
  if (m.goal !== undefined) {
    const g = m.goal;
    if (m.report !== "time" || !isObject(g) || typeof g.sync !== "string" || typeof g.server !== "string" || typeof g.serverFactor !== "number" || !(g.serverFactor > 0) ||
      !Array.isArray(g.groups) || !g.groups.length || !g.groups.every((x) => groupNames.includes(x))) {
      p.push(`"goal" belongs to a "time" report: { "sync": RUN, "server": RUN, "serverFactor": a number > 0, "groups": [names of this manifest's groups] }`);
    } else {
      for (const k of ["sync", "server"] as const) runNamed(`goal.${k}`, g[k]);
    }
  }
  if (m.tradeoff !== undefined) {
    const t = m.tradeoff;
    if (m.goal === undefined || !distinctNames(t, 2)) {
      p.push(`"tradeoff" belongs to a "time" report with a "goal": a list of at least two distinct run names, in order of their learning time`);
    } else for (const x of t) runNamed("tradeoff", x);
  }
  if (m.tradeoffAlso !== undefined) {
    const t = m.tradeoffAlso;
    if (m.tradeoff === undefined || !distinctNames(t, 1)) {
      p.push(`"tradeoffAlso" goes with a "tradeoff": a non-empty list of distinct run names drawn as points beside it`);
    } else for (const x of t) runNamed("tradeoffAlso", x);
  }
  if (p.length) throw new ConfigError(p.map((x) => `bench/paper/${file}: ${x}`).join("\n"));
  return m as unknown as PaperManifest;
}

/** A run's own settings: the entry without its name and the groups it is limited to. */
export function ownSettings(r: PaperManifest["runs"][number]): Record<string, unknown> {
  const { name: _n, groups: _g, ...over } = r;
  return over;
}

/** Whether a run is made in a group: every run is, unless it lists the groups it is limited to. */
export const inGroup = (r: PaperManifest["runs"][number], group: string) => !Array.isArray(r.groups) || r.groups.includes(group);

/** The manifest's rows: its runs, or every group × run (a run limited to some groups only in those). */
export function rows(m: PaperManifest): Row[] {
  if (!m.groups) return m.runs.map((r) => ({ name: r.name, run: r.name, settings: { ...m.base, ...ownSettings(r) } }));
  return m.groups.flatMap((g) => m.runs.filter((r) => inGroup(r, g.name))
    .map((r) => ({ name: `${g.name}/${r.name}`, run: r.name, group: g.name, settings: { ...m.base, ...g.settings, ...ownSettings(r) } })));
}

export function seedsOf(m: PaperManifest): number[] {
  return m.seeds ?? [typeof m.base.seed === "number" ? m.base.seed : 1];
}
