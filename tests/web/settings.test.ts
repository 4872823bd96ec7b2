// The lab's settings are cdl run's: the same parser, the same messages, and the command line the
// page shows is the run it runs.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { runConfigFromArgs } from "../../src/experiment/config.ts";
import { describeSettings, LAB_DEFAULTS, labConfig, labSettings } from "../../src/web/settings.ts";
import { ConfigError } from "../../src/errors.ts";

/** Splits the page's command line (words, single-quoted words) back into argv. */
function argvOf(command: string): string[] {
  return [...command.matchAll(/'((?:[^']|'\\'')*)'|(\S+)/g)].map((m) => (m[1] !== undefined ? m[1].replace(/'\\''/g, "'") : m[2])).slice(2);
}

test("the page's defaults are the README's main job, and its command line is the same run", () => {
  const s = labSettings("");
  assert.equal(Object.fromEntries(s), LAB_DEFAULTS);
  const { command, query } = describeSettings(s);
  assert.match(command, /^cdl run --model mlp --split classes:2 --drop 0.2 /);
  assert.not.match(command, /--nodes|--topology|--dataset/, "settings at the CLI's defaults are left out");
  assert.equal(runConfigFromArgs(argvOf(command)).config, labConfig(s));
  assert.equal(labSettings(query), s, "the URL's query string gives back every setting");
});

test("the URL's settings win over the lab's defaults; odd values survive the command line", () => {
  const s = labSettings("nodes=5&topology=small-world:2,0.3&split=dirichlet:0.5&lr=0.1");
  const c = labConfig(s);
  assert.equal([c.nodes, c.topology, c.split, c.lr, c.model], [5, "small-world:2,0.3", "dirichlet:0.5", 0.1, "mlp"]);
  const { command } = describeSettings(s);
  assert.equal(runConfigFromArgs(argvOf(command)).config, c);
  const q = describeSettings(labSettings("seed=3&topology=file:my graph.txt")).command;
  assert.match(q, /--topology 'file:my graph.txt'/);
  const argv = argvOf(q);
  assert.is(argv[argv.indexOf("--topology") + 1], "file:my graph.txt");
});

function configError(query: string): string {
  try {
    labConfig(labSettings(query));
  } catch (e) {
    assert.instance(e, ConfigError);
    return (e as Error).message;
  }
  assert.unreachable(`expected a ConfigError for ${query}`);
  return "";
}

test("a bad value gets the CLI's own message; flags that are not settings are refused", () => {
  assert.match(configError("nodes=0"), /--nodes.*0/);
  assert.match(configError("algorithm=gossip"), /--algorithm must be one of cdl, cdl-on-receive.*got .gossip./);
  assert.match(configError("colour=red"), /unknown flag --colour/);
  assert.match(configError("out=/tmp/x"), /--out is a command-line flag the lab does not take/);
  assert.match(configError("drop=1.5"), /--drop/);
});

test.run();
