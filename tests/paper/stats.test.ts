// The paper runner's pure helpers (bench/paper/stats.ts): statistics over seeds, accuracy curves as
// step functions of virtual time, the claim check and --seeds parsing, against hand-computed cases.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ConfigError } from "../../src/errors.ts";
import {
  clampCurve, claimCheck, combineCurves, comparisonTime, firstReach, formatReach, mean, parseSeeds, pctMeanSd, sd, timeGoal, tradeoffPoint, valueAt,
} from "../../bench/paper/stats.ts";

const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-12, `${what}: ${a} ≠ ${b}`);

test("mean and sample sd (n − 1): a textbook case, one value, none", () => {
  close(mean([2, 4, 4, 4, 5, 5, 7, 9]), 5, "mean");
  close(sd([2, 4, 4, 4, 5, 5, 7, 9]), Math.sqrt(32 / 7), "sd"); // the population sd would be 2
  assert.ok(Number.isNaN(sd([0.95])), "sd of one value is undefined");
  assert.ok(Number.isNaN(mean([])));
});

test("valueAt reads a curve as a step function; null before its first point", () => {
  const c: [number, number][] = [[0, 0.1], [20, 0.5], [40, 0.9]];
  assert.is(valueAt(c, -1), null);
  assert.is(valueAt(c, 0), 0.1);
  assert.is(valueAt(c, 19.999), 0.1);
  assert.is(valueAt(c, 20), 0.5);
  assert.is(valueAt(c, 20 - 1e-12), 0.5, "an evaluation a hair after t still counts at t");
  assert.is(valueAt(c, 1e6), 0.9, "after the run its last value stays");
});

test("firstReach: the first point at or above the level, or null", () => {
  const c: [number, number][] = [[0, 0.1], [20, 0.9], [40, 0.85], [60, 0.95]];
  assert.is(firstReach(c, 0.9), 20, "at the level counts");
  assert.is(firstReach(c, 0.91), 60, "the first crossing, not the last");
  assert.is(firstReach(c, 0.99), null);
  assert.is(firstReach([], 0.5), null);
});

test("clampCurve moves points after the run's end to the end, keeping the later of two at one time", () => {
  assert.equal(clampCurve([[0, 0.1], [140, 0.8], [160, 0.9]], 150), [[0, 0.1], [140, 0.8], [150, 0.9]]);
  assert.equal(clampCurve([[0, 0.1], [150, 0.8], [160, 0.9]], 150), [[0, 0.1], [150, 0.9]]);
  assert.equal(clampCurve([[0, 0.1], [20, 0.5]], 30), [[0, 0.1], [20, 0.5]], "nothing after the end: unchanged");
});

test("combineCurves: mean, min, max over seeds on the union of their times, each carried forward", () => {
  const a: [number, number][] = [[0, 0.2], [10, 0.6], [20, 0.8]];
  const b: [number, number][] = [[0, 0.4], [15, 0.7]];
  const got = combineCurves([a, b]);
  assert.equal(got.map((p) => p.t), [0, 10, 15, 20]);
  const want = [[0.3, 0.2, 0.4], [0.5, 0.4, 0.6], [0.65, 0.6, 0.7], [0.75, 0.7, 0.8]]; // b stays at 0.7 after 15
  got.forEach((p, i) => {
    close(p.mean, want[i][0], `mean at ${p.t}`);
    close(p.min, want[i][1], `min at ${p.t}`);
    close(p.max, want[i][2], `max at ${p.t}`);
  });
  assert.equal(combineCurves([a]).map((p) => [p.t, p.mean, p.min, p.max]), a.map(([t, y]) => [t, y, y, y]), "one seed is itself");
  assert.equal(combineCurves([[[5, 0.5]], [[0, 0.1], [10, 0.3]]]).map((p) => p.t), [5, 10], "starts when every curve has started");
  assert.equal(combineCurves([a, []]), []);
});

test("claimCheck: passes on the mean and on every seed, on the mean only, or fails", () => {
  const all = claimCheck([{ seed: 1, value: 0.955 }, { seed: 2, value: 0.95 }], 0.95);
  assert.ok(all.passesMean && all.passesEvery, "at the level passes");
  const meanOnly = claimCheck([{ seed: 1, value: 0.97 }, { seed: 2, value: 0.936 }, { seed: 3, value: 0.96 }], 0.95);
  assert.ok(meanOnly.passesMean && !meanOnly.passesEvery);
  assert.equal(meanOnly.failing, [{ seed: 2, value: 0.936 }]);
  const none = claimCheck([{ seed: 1, value: 0.94 }, { seed: 2, value: 0.951 }], 0.95);
  assert.ok(!none.passesMean && !none.passesEvery);
  assert.ok(!claimCheck([{ seed: 1, value: NaN }], 0.5).passesEvery, "a NaN accuracy never passes");
  assert.ok(!claimCheck([], 0.5).passesEvery, "no seeds is no evidence");
});

test("comparisonTime: the cap, or the longest run when all end sooner", () => {
  assert.is(comparisonTime([150, 210, 260], 200), 200);
  assert.is(comparisonTime([150, 180], 200), 180);
  assert.is(comparisonTime([], 200), 200);
});

test("parseSeeds: distinct integers in order; anything else is one ConfigError line", () => {
  assert.equal(parseSeeds("3,1,2"), [3, 1, 2]);
  assert.equal(parseSeeds(" 7 "), [7]);
  assert.equal(parseSeeds("0,4294967295"), [0, 4294967295]);
  for (const bad of ["", "1,,2", "1.5", "-1", "x", "4294967296", "1e3", "1,2,1"]) {
    assert.throws(() => parseSeeds(bad), (e: Error) => e instanceof ConfigError && !e.message.includes("\n") && e.message.startsWith("--seeds"), `'${bad}'`);
  }
});

test("formatReach and pctMeanSd say what each seed did", () => {
  assert.is(formatReach([120]), "120");
  assert.is(formatReach([null]), "never");
  assert.is(formatReach([100, 120]), "110 (100–120)");
  assert.is(formatReach([80, 80]), "80");
  assert.is(formatReach([null, 100, 120]), "never on 1 of 3 (others 100–120)");
  assert.is(formatReach([]), "never");
  assert.is(pctMeanSd([0.9543]), "95.43");
  assert.is(pctMeanSd([0.95, 0.97]), `96.00 ± ${(100 * Math.SQRT2 * 0.01).toFixed(2)}`);
  assert.is(pctMeanSd([]), "—");
});

test("timeGoal compares each seed with the same seed's baselines; never reaching is later than any time", () => {
  const run = [{ seed: 1, final: 0.95, reach: 150 }, { seed: 2, final: 0.94, reach: 280 }, { seed: 3, final: 0.90, reach: null }];
  const sync = [{ seed: 1, final: 0.95, reach: 600 }, { seed: 2, final: 0.945, reach: null }, { seed: 3, final: 0.5, reach: null }];
  const server = [{ seed: 1, final: 0.98, reach: 100 }, { seed: 2, final: 0.98, reach: 180 }, { seed: 3, final: 0.98, reach: 120 }];
  assert.equal(timeGoal(run, sync, server, 1.5), [
    { seed: 1, accurate: true, sooner: true, nearServer: true }, // a tie in accuracy counts; 150 = 1.5 × 100
    { seed: 2, accurate: false, sooner: true, nearServer: false }, // sync never reaches it; 280 > 270
    { seed: 3, accurate: true, sooner: false, nearServer: false }, // neither reaches it: not sooner
  ]);
  assert.equal(timeGoal(run, sync.slice(1), server, 1.5).map((s) => s.seed), [2, 3], "a seed a baseline lacks is left out");
  assert.equal(timeGoal([{ seed: 1, final: 1, reach: 10 }], sync, [{ seed: 1, final: 1, reach: null }], 1.5)[0].nearServer, false,
    "a server that never reaches the level gives no time to be near");
});

test("tradeoffPoint: means over seeds of the time to the level and the final accuracy; none if a seed never got there", () => {
  const p = tradeoffPoint([{ seed: 1, final: 0.95, reach: 140 }, { seed: 2, final: 0.93, reach: 160 }, { seed: 3, final: 0.94, reach: 150 }]);
  assert.ok(p !== null);
  close(p.time, 150, "time");
  close(p.final, 0.94, "final");
  assert.is(tradeoffPoint([{ seed: 1, final: 0.95, reach: 140 }, { seed: 2, final: 0.89, reach: null }]), null);
  assert.is(tradeoffPoint([]), null);
});

test.run();
