// The paper runner's manifests (bench/paper/manifest.ts): every shipped manifest is valid and every
// run it makes is a valid run config (a typo in a manifest fails here, not an hour into `npm run
// paper`); groups multiply runs, and a run limited to some groups is made only in those.
import { readdirSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ConfigError } from "../../src/errors.ts";
import { runConfigFromSettings, validateSettings } from "../../src/experiment/config.ts";
import { checkManifest, manifestDir, readManifest, rows, seedsOf } from "../../bench/paper/manifest.ts";

const files = readdirSync(manifestDir).filter((f) => f.endsWith(".json")).sort();

test("every bench/paper manifest reads, and each of its runs is a valid run config", () => {
  for (const name of ["mnist.json", "mnist-lenet.json", "time.json"]) assert.ok(files.includes(name), `${name} in ${manifestDir}`);
  for (const file of files) {
    const m = readManifest(file);
    const rs = rows(m);
    assert.ok(rs.length >= m.runs.length, `${file}: at least one row a run`);
    assert.is(new Set(rs.map((r) => r.name)).size, rs.length, `${file}: row names distinct`);
    for (const r of rs) {
      for (const seed of seedsOf(m)) {
        const cfg = runConfigFromSettings({ ...validateSettings({ ...r.settings, seed }, `${file} ${r.name}`), out: "/nonexistent" });
        assert.is(cfg.seed, seed);
      }
    }
  }
});

const base = { title: "t", base: { dataset: "mnist-10k", model: "mlp", nodes: 4 } };
const groups = [{ name: "a", settings: { drop: 0.1 } }, { name: "b", settings: { drop: 0.2 } }];

test("groups × runs, settings base < group < run; a run with \"groups\" is made in those only", () => {
  const m = checkManifest({ ...base, groups, runs: [{ name: "x", algorithm: "cdl", drop: 0.3 }, { name: "y", algorithm: "dpsgd", groups: ["b"] }] }, "g.json");
  const rs = rows(m);
  assert.equal(rs.map((r) => r.name), ["a/x", "b/x", "b/y"]);
  assert.is(rs[0].settings.drop, 0.3, "the run's own setting wins");
  assert.is(rs[2].settings.drop, 0.2, "then the group's");
  assert.is(rs[2].settings.groups, undefined, "\"groups\" is not a run setting");
  assert.is(rs[2].group, "b");
});

test("a run's \"groups\" must name the manifest's groups; unknown keys are refused", () => {
  const bad = (m: unknown, re: RegExp) =>
    assert.throws(() => checkManifest(m, "g.json"), (e: Error) => e instanceof ConfigError && re.test(e.message), String(re));
  bad({ ...base, groups, runs: [{ name: "y", groups: ["c"] }] }, /run "y": "groups" must be a non-empty list of this manifest's group names \(a, b\)/);
  bad({ ...base, groups, runs: [{ name: "y", groups: [] }] }, /run "y": "groups"/);
  bad({ ...base, runs: [{ name: "y", groups: ["a"] }] }, /it has none/);
  bad({ ...base, runs: [{ name: "y" }], colour: 1 }, /unknown key "colour"/);
});

test("a time report's \"goal\" names two of its runs and some of its groups", () => {
  const bad = (m: unknown, re: RegExp) =>
    assert.throws(() => checkManifest(m, "g.json"), (e: Error) => e instanceof ConfigError && re.test(e.message), String(re));
  const runs = [{ name: "x", algorithm: "cdl" }, { name: "s", algorithm: "dpsgd" }, { name: "f", algorithm: "fedavg" }];
  const goal = { sync: "s", server: "f", serverFactor: 1.5, groups: ["b"] };
  assert.equal(checkManifest({ ...base, report: "time", groups, runs, goal }, "g.json").goal, goal);
  bad({ ...base, report: "time", groups, runs, goal: { ...goal, sync: "z" } }, /"goal.sync" names run "z"/);
  bad({ ...base, report: "time", groups, runs, goal: { ...goal, groups: ["c"] } }, /"goal" belongs to a "time" report/);
  bad({ ...base, report: "time", groups, runs, goal: { ...goal, serverFactor: 0 } }, /"goal" belongs/);
  bad({ ...base, groups, runs, goal }, /"goal" belongs to a "time" report/);
});

test("a time report's \"tradeoff\" lists two or more of its runs, and needs a goal", () => {
  const bad = (m: unknown, re: RegExp) =>
    assert.throws(() => checkManifest(m, "g.json"), (e: Error) => e instanceof ConfigError && re.test(e.message), String(re));
  const runs = [{ name: "x", algorithm: "cdl" }, { name: "x2", algorithm: "cdl", epochs: 40 }, { name: "s", algorithm: "dpsgd" }, { name: "f", algorithm: "fedavg" }];
  const goal = { sync: "s", server: "f", serverFactor: 1.5, groups: ["b"] };
  assert.equal(checkManifest({ ...base, report: "time", groups, runs, goal, tradeoff: ["x", "x2"] }, "g.json").tradeoff, ["x", "x2"]);
  bad({ ...base, report: "time", groups, runs, goal, tradeoff: ["x", "y"] }, /"tradeoff" names run "y"/);
  bad({ ...base, report: "time", groups, runs, goal, tradeoff: ["x"] }, /at least two distinct run names/);
  bad({ ...base, report: "time", groups, runs, goal, tradeoff: ["x", "x"] }, /at least two distinct/);
  bad({ ...base, report: "time", groups, runs, tradeoff: ["x", "x2"] }, /"tradeoff" belongs to a "time" report with a "goal"/);
  // "tradeoffAlso": runs drawn as points beside the line, only with a "tradeoff".
  assert.equal(checkManifest({ ...base, report: "time", groups, runs, goal, tradeoff: ["x", "x2"], tradeoffAlso: ["s"] }, "g.json").tradeoffAlso, ["s"]);
  bad({ ...base, report: "time", groups, runs, goal, tradeoff: ["x", "x2"], tradeoffAlso: ["z"] }, /"tradeoffAlso" names run "z"/);
  bad({ ...base, report: "time", groups, runs, goal, tradeoffAlso: ["x"] }, /"tradeoffAlso" goes with a "tradeoff"/);
});

test.run();
