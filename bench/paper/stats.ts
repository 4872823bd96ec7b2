// Pure helpers of the paper runner (bench/paper/run.ts): statistics over seeds, accuracy curves
// read as step functions of virtual time, the claim check and the --seeds / --jobs parsing.
// A curve is a list of [t, y] points (virtual seconds, accuracy in [0, 1]) in increasing t, one per
// evaluation point of a run; between two points the accuracy is that of the earlier point, and
// after the run's last point it stays at its last value (the run has ended; its models stay).
import { ConfigError } from "../../src/errors.ts";

export type Curve = readonly (readonly [number, number])[];

/** Slack when comparing virtual times, so an evaluation at 200.0000000001 s counts as at 200 s. */
const T_EPS = 1e-9;

export function mean(xs: readonly number[]): number {
  return xs.length ? xs.reduce((a, x) => a + x, 0) / xs.length : NaN;
}

/** Sample standard deviation (n − 1 in the denominator); NaN below two values. */
export function sd(xs: readonly number[]): number {
  if (xs.length < 2) return NaN;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
}

/** The curve's value at time t: its last point at or before t; null before its first point. */
export function valueAt(c: Curve, t: number): number | null {
  let v: number | null = null;
  for (const [x, y] of c) {
    if (x > t + T_EPS) break;
    v = y;
  }
  return v;
}

/**
 * The curve with every point after `end` moved to `end`. An asynchronous run records one more
 * evaluation point up to --eval-every after its last event (its models no longer change), so the
 * curve of a run that ended at 150 s may have a point at 160 s; read against virtual time, that
 * accuracy was there at 150 s. Of points that land on the same time, the last is kept.
 */
export function clampCurve(c: Curve, end: number): [number, number][] {
  const out: [number, number][] = [];
  for (const [x, y] of c) {
    const t = Math.min(x, end);
    if (out.length && out[out.length - 1][0] === t) out[out.length - 1] = [t, y];
    else out.push([t, y]);
  }
  return out;
}

/** Time of the curve's first point at or above `level`; null if it never gets there. */
export function firstReach(c: Curve, level: number): number | null {
  for (const [x, y] of c) if (y >= level) return x;
  return null;
}

/**
 * Mean, min and max over several curves (one per seed) at every time any of them has a point,
 * from the first time all of them have started; each curve read as a step function (valueAt).
 * One curve comes back as itself, with min = max = mean.
 */
export function combineCurves(cs: readonly Curve[]): { t: number; mean: number; min: number; max: number }[] {
  if (!cs.length || cs.some((c) => !c.length)) return [];
  const start = Math.max(...cs.map((c) => c[0][0]));
  const times = [...new Set(cs.flatMap((c) => c.map(([x]) => x)))].filter((x) => x >= start).sort((a, b) => a - b);
  return times.map((t) => {
    const ys = cs.map((c) => valueAt(c, t) as number);
    return { t, mean: mean(ys), min: Math.min(...ys), max: Math.max(...ys) };
  });
}

/** The claim check: does the mean over seeds reach `level`, and does every seed? `failing` lists the seeds below it. */
export function claimCheck(bySeed: readonly { seed: number; value: number }[], level: number):
  { mean: number; passesMean: boolean; passesEvery: boolean; failing: { seed: number; value: number }[] } {
  const m = mean(bySeed.map((s) => s.value));
  const failing = bySeed.filter((s) => !(s.value >= level));
  return { mean: m, passesMean: m >= level, passesEvery: bySeed.length > 0 && failing.length === 0, failing };
}

/**
 * The time budget at which a time report compares algorithms: `cap` (virtual s), or the total
 * virtual time of the longest run if every run ends before it (later the curves only stay flat).
 */
export function comparisonTime(totals: readonly number[], cap: number): number {
  return totals.length ? Math.min(cap, Math.max(...totals)) : cap;
}

/** Parses --seeds "1,2,3": distinct integers in [0, 2^32 − 1], in the order given. Throws a one-line ConfigError. */
export function parseSeeds(text: string): number[] {
  const parts = text.split(",").map((s) => s.trim());
  const seeds = parts.map((s) => (/^\d+$/.test(s) ? Number(s) : NaN));
  const bad = parts.filter((_, i) => !Number.isInteger(seeds[i]) || seeds[i] > 2 ** 32 - 1);
  if (!text.trim() || bad.length) throw new ConfigError(`--seeds takes integers in [0, 4294967295] separated by commas, e.g. 1,2,3; got '${text}'`);
  const dup = seeds.find((s, i) => seeds.indexOf(s) !== i);
  if (dup !== undefined) throw new ConfigError(`--seeds: seed ${dup} is given twice`);
  return seeds;
}

/** Formats mean ± sd of fractions as percentages ("95.43 ± 0.12"; one value: "95.43"). */
export function pctMeanSd(xs: readonly number[]): string {
  if (!xs.length) return "—";
  const m = (100 * mean(xs)).toFixed(2);
  return xs.length < 2 ? m : `${m} ± ${(100 * sd(xs)).toFixed(2)}`;
}

/** Formats the times (virtual s) at which each seed reached a level: "120", "113 (100–120)", "never", "never on 1 of 3 (others 100–120)". */
export function formatReach(ts: readonly (number | null)[]): string {
  const hit = ts.filter((t): t is number => t !== null);
  if (!hit.length) return "never";
  const f = (t: number) => String(Number(t.toPrecision(4)));
  const lo = Math.min(...hit), hi = Math.max(...hit);
  const span = lo === hi ? f(lo) : `${f(lo)}–${f(hi)}`;
  if (hit.length < ts.length) return `never on ${ts.length - hit.length} of ${ts.length} (others ${span})`;
  return lo === hi ? f(lo) : `${f(mean(hit))} (${span})`;
}

/** One seed of a run in a time report: its final mean node accuracy and the time it first reached the level (null: never). */
export interface TimeOutcome { seed: number; final: number; reach: number | null }

/** Per seed, a run against the same seed's synchronous and server baselines (see timeGoal). */
export interface GoalSeed { seed: number; accurate: boolean; sooner: boolean; nearServer: boolean }

/**
 * The time section's goal for an asynchronous run, seed by seed against the same seed's baselines:
 * its final accuracy is at least the synchronous baseline's (`accurate`); it reached the level, and
 * sooner than the synchronous baseline (which never reaching it counts as later: `sooner`); and
 * within `factor` × the server baseline's time (`nearServer`; false if the server never reached it,
 * as there is then no time to be near). A seed missing from a baseline is left out.
 */
export function timeGoal(run: readonly TimeOutcome[], sync: readonly TimeOutcome[], server: readonly TimeOutcome[], factor: number): GoalSeed[] {
  const out: GoalSeed[] = [];
  for (const r of run) {
    const y = sync.find((x) => x.seed === r.seed), v = server.find((x) => x.seed === r.seed);
    if (!y || !v) continue;
    out.push({
      seed: r.seed,
      accurate: r.final >= y.final,
      sooner: r.reach !== null && (y.reach === null || r.reach < y.reach),
      nearServer: r.reach !== null && v.reach !== null && r.reach <= factor * v.reach,
    });
  }
  return out;
}

/**
 * A run's point in a trade-off chart (final accuracy against time to the level): the means over
 * seeds of the time it first reached the level and of its final accuracy; null when a seed never
 * reached it (its time has no mean) or there are no seeds.
 */
export function tradeoffPoint(run: readonly TimeOutcome[]): { time: number; final: number } | null {
  if (!run.length || run.some((r) => r.reach === null)) return null;
  return { time: mean(run.map((r) => r.reach as number)), final: mean(run.map((r) => r.final)) };
}
