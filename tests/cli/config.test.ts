// `cdl run` settings: the --config file (strict JSON types, a BOM, every problem one line), the
// flags, the cross-setting checks on the assembled RunConfig, and the settings the run will wire.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "../../src/errors.ts";
import { UsageError } from "../../src/cli/args.ts";
import {
  MAX_EVAL_POINTS, MIN_EVAL_EVERY, readConfigFile, RUN_FLAGS, runConfig, runConfigFromArgs, runConfigFromSettings, SETTING_KEYS, validateSettings,
} from "../../src/experiment/config.ts";

const dir = mkdtempSync(join(tmpdir(), "cdl-cli-config-"));
let k = 0;
/** A config file holding `content` (a string is written as is; anything else as JSON). */
function file(content: unknown): string {
  const p = join(dir, `c${k++}.json`);
  writeFileSync(p, typeof content === "string" ? content : JSON.stringify(content));
  return p;
}

/** The lines of the ConfigError (or UsageError) that f throws; fails if it throws none. */
function problems(f: () => unknown, type: typeof ConfigError | typeof UsageError = ConfigError): string[] {
  try {
    f();
  } catch (e) {
    assert.instance(e, type, String(e));
    return (e as Error).message.split("\n");
  }
  return assert.unreachable("accepted") as never;
}

test("--config: wrong JSON types are refused, one line per problem, naming key, value and what is allowed", () => {
  const p = file({ nodes: true, lr: [], out: null, model: ["mlp"], topology: {}, seed: 1.5, augment: 1, drop: "0.1", "local-steps": 0 });
  const lines = problems(() => readConfigFile(p));
  assert.equal(lines, [
    `--config ${p}: "nodes" must be an integer in [1, 100000], got true (a boolean; write a JSON number)`,
    `--config ${p}: "lr" must be a finite number ≥ 0, got [] (an array; write a JSON number)`,
    `--config ${p}: "out" must be a string, got null (leave the key out for the default)`,
    `--config ${p}: "model" must be one of ${RUN_FLAGS.model.allowed!.join(", ")}, got ["mlp"] (an array)`,
    `--config ${p}: "topology" must be a string, got {} (an object)`,
    `--config ${p}: "seed" must be an integer in [0, 4294967295], got 1.5`,
    `--config ${p}: "augment" must be true or false, got 1 (a number; write true or false)`,
    `--config ${p}: "drop" must be a finite number in [0, 1], got "0.1" (a string; write a JSON number)`,
    `--config ${p}: "local-steps" must be an integer ≥ 1, or auto, got 0`,
  ]);
});

test("--config: a UTF-8 BOM is accepted; malformed JSON and a non-object are one line", () => {
  assert.equal(readConfigFile(file("\uFEFF{\"nodes\": 4}")), { nodes: 4 });
  assert.is(problems(() => readConfigFile(file("{nodes: 4}"))).length, 1);
  assert.match(problems(() => readConfigFile(file("[1]")))[0], /expected a JSON object of settings, got an array/);
  assert.match(problems(() => readConfigFile(file("null")))[0], /got null/);
  assert.match(problems(() => readConfigFile(join(dir, "missing.json")))[0], /--config .*missing\.json: .*ENOENT|no such file/i);
});

test("--config: the keys it accepts are exactly the keys an error lists; flags-only keys say so", () => {
  const p = file({ json: true, quiet: false, config: "x.json", resume: "runs/a", colour: 1 });
  const lines = problems(() => readConfigFile(p));
  assert.equal(lines.slice(0, 4), ["json", "quiet", "config", "resume"].map((f) => `--config ${p}: "${f}" is a command-line flag (--${f}), not a setting`));
  const listed = /\(allowed: (.*)\)$/.exec(lines[4])![1].split(", ");
  assert.equal(listed, [...SETTING_KEYS]);
  for (const key of listed) assert.ok(RUN_FLAGS[key] && !["json", "quiet", "config", "resume"].includes(key), key);
  // Every listed key is accepted with a value of its type (its default, or a sample).
  const sample: Record<string, unknown> = { "data-dir": "d", epsilon: 0.3, "step-cost": 0.01, "eval-every": 1, out: "o", "train-limit": 5, "test-limit": 5, "checkpoint-every": 10, "max-lead": 1, "lead-mode": "min-wait", "lr-restart": 0.4, "lr-restart-peak": 0.5 };
  const all = Object.fromEntries(listed.map((key) => [key, RUN_FLAGS[key].default ?? sample[key]]));
  for (const [key, v] of Object.entries(all)) assert.ok(v !== undefined, `a sample value for ${key}`);
  const json = JSON.parse(JSON.stringify(all)); // Infinity defaults become null, as in summary.json
  assert.equal(Object.keys(validateSettings(json, "t")), listed);
});

test("--config: camelCase keys; null and \"inf\" mean infinity where the flag allows it", () => {
  assert.equal(readConfigFile(file({ linkMtbf: null, "time-limit": "inf", bandwidth: "Infinity", maxStaleness: null })),
    { "link-mtbf": Infinity, "time-limit": Infinity, bandwidth: Infinity, "max-staleness": Infinity });
  const lines = problems(() => readConfigFile(file({ stepCost: "inf", lr: null, linkMtbf: 5, "link-mtbf": 6 })));
  assert.match(lines[0], /"stepCost" must be a finite number > 0, got "inf"/);
  assert.match(lines[1], /"lr" must be a finite number ≥ 0, got null \(null stands for infinity, not allowed here/);
  assert.match(lines[2], /"link-mtbf" is given twice/);
});

test("--config: a paper manifest of one run is that run; its base must be an object", () => {
  assert.equal(readConfigFile(file({ title: "t", base: { nodes: 4 }, runs: [{ name: "a", drop: 0.3 }] })), { nodes: 4, drop: 0.3 });
  assert.match(problems(() => readConfigFile(file({ title: "t", base: "x", runs: [{ name: "a" }] })))[0], /"base" and its run must be JSON objects/);
  assert.match(problems(() => readConfigFile(file({ title: "t", base: {}, runs: [{ name: "a", resume: "r" }] })))[0], /"resume" is a command-line flag/);
});

test("flags: decimal only, finite unless infinity means something, flags override the file", () => {
  const refuse = (argv: string[], pattern: RegExp) => {
    const lines = problems(() => runConfigFromArgs(argv), UsageError);
    assert.is(lines.length, 1);
    assert.match(lines[0], pattern);
  };
  refuse(["--nodes", "0x10"], /--nodes must be an integer in \[1, 100000\], got '0x10'/);
  refuse(["--seed", "1.5"], /--seed must be an integer in \[0, 4294967295\], got '1.5'/);
  refuse(["--local-steps", "0"], /--local-steps must be an integer ≥ 1, or auto, got '0'/);
  refuse(["--share-every", "0"], /--share-every must be an integer ≥ 1, got '0'/);
  refuse(["--time-limit", "0"], /--time-limit must be a number > 0, or inf, got '0'/);
  refuse(["--eval-every", "1e-4"], new RegExp(`--eval-every must be a finite number ≥ ${MIN_EVAL_EVERY}, got '1e-4'`));
  refuse(["--checkpoint-every", "0"], /--checkpoint-every must be a finite number > 0/);
  refuse(["--checkpoint-every", "inf"], /--checkpoint-every must be a finite number > 0/);
  refuse(["--init", "lecun"], /--init must be one of pytorch, he, glorot, got 'lecun'/);
  refuse(["--lr", "5", "extra"], /unexpected argument 'extra'/);
  for (const flag of ["step-cost", "lr", "eval-every", "latency", "jitter", "weight-decay", "momentum", "link-mttr", "crash-rate", "crash-downtime", "epsilon", "node-gflops", "straggler-factor"]) {
    refuse([`--${flag}`, "inf"], new RegExp(`--${flag} must be a finite number`));
  }
  for (const flag of ["bandwidth", "link-mtbf", "max-staleness", "time-limit"]) {
    assert.is((runConfigFromArgs([`--${flag}`, "inf"]).config as unknown as Record<string, number>)[flag.replace(/-([a-z])/g, (_, c) => c.toUpperCase())], Infinity, flag);
  }
  const p = file({ nodes: 4, lr: 0.1 });
  const { config, json, quiet } = runConfigFromArgs(["--config", p, "--lr", "0.2", "--json", "--resume", "runs/x"]);
  assert.equal([config.nodes, config.lr, config.resume, json, quiet], [4, 0.2, "runs/x", true, false]);
});

test("a run needs a finite budget: infinite epochs only with a finite time limit", () => {
  const msg = "a run needs a finite budget: give --epochs N or --time-limit SECONDS";
  assert.equal(problems(() => runConfigFromArgs(["--epochs", "inf"])), [msg]);
  assert.equal(problems(() => runConfigFromSettings(readConfigFile(file({ epochs: null })))), [msg]);
  assert.equal(problems(() => runConfig({ epochs: Infinity })), [msg]);
  const c = runConfigFromArgs(["--epochs", "inf", "--time-limit", "60"]).config;
  assert.equal([c.epochs, c.timeLimit], [Infinity, 60]);
  assert.is(runConfigFromSettings(readConfigFile(file({ epochs: null, timeLimit: 60 }))).epochs, Infinity);
});

test("--eval-every: at most MAX_EVAL_POINTS points within a finite --time-limit, never below MIN_EVAL_EVERY", () => {
  assert.is(runConfigFromArgs(["--time-limit", "100", "--eval-every", String(100 / MAX_EVAL_POINTS)]).config.evalEvery, 100 / MAX_EVAL_POINTS);
  const lines = problems(() => runConfigFromArgs(["--time-limit", "1000", "--eval-every", "0.001"]));
  assert.equal(lines, [`--eval-every 0.001 gives more than ${MAX_EVAL_POINTS} evaluation points within --time-limit 1000: use --eval-every ≥ 0.01`]);
  assert.is(runConfigFromArgs(["--eval-every", String(MIN_EVAL_EVERY)]).config.evalEvery, MIN_EVAL_EVERY);
  assert.equal(problems(() => runConfig({ epochs: Infinity, timeLimit: 1e9, evalEvery: 1 })).length, 1);
});

test("RunConfig defaults of the new settings: init pytorch, no checkpoints, no resume", () => {
  const c = runConfig();
  assert.is(c.init, "pytorch");
  assert.is(c.checkpointEvery, undefined);
  assert.is(c.resume, undefined);
  assert.equal(RUN_FLAGS.init.allowed, ["pytorch", "he", "glorot"]);
  assert.is(runConfigFromArgs(["--init", "he", "--checkpoint-every", "30"]).config.checkpointEvery, 30);
  assert.is(readConfigFile(file({ init: "glorot", checkpointEvery: 5 }))["checkpoint-every"], 5);
});

test("runConfig (programmatic) checks its values like a config file's, every problem a line", () => {
  const lines = problems(() => runConfig({ nodes: 0, lr: Number.NaN, model: "resnet" as never, linkMtbf: Infinity }));
  assert.equal(lines, [
    "runConfig: nodes must be an integer in [1, 100000], got 0",
    "runConfig: lr must be a finite number ≥ 0, got NaN",
    `runConfig: model must be one of ${RUN_FLAGS.model.allowed!.join(", ")}, got "resnet"`,
  ]);
  assert.match(problems(() => runConfig({ nosuch: 1 } as never))[0], /runConfig: nosuch is not a RunConfig setting/);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
