// The lab's settings are `cdl run`'s settings, held as a query string with the flag names
// ("nodes=8&split=classes:2"). The page opens on the README's main job (`npm start`): 8 nodes on a
// ring, mnist-10k, 2 classes per node, 20% drops and failing links — until the URL says otherwise.
// The worker parses the same string with the CLI's flag table (RUN_FLAGS), so values are checked
// once, in one place, with one set of messages.
import { parseFlags, UsageError } from "../cli/args.ts";
import { ConfigError } from "../errors.ts";
import { RUN_FLAGS, runCommandLine, runConfigFromSettings, type RunConfig } from "../experiment/config.ts";

/** What the page runs when the URL does not say (the README's `npm start`, with evaluation points
 * dense enough to watch: every 2 virtual s on 500 test digits). */
export const LAB_DEFAULTS: Readonly<Record<string, string>> = Object.freeze({
  dataset: "mnist-10k", model: "mlp", nodes: "8", topology: "ring", split: "classes:2", drop: "0.2",
  "link-mtbf": "20", "link-mttr": "5", epochs: "40", lr: "0.2", "lr-schedule": "linear", warmup: "0.1",
  "agree-steps": "100", "step-cost": "0.04", "eval-every": "2", "eval-samples": "500",
});

/** Flags of `cdl run` that are not run settings, or make no sense in a page. */
const NOT_IN_LAB = ["config", "resume", "json", "quiet", "out", "data-dir", "checkpoint-every", "engine"];

/** The page's settings: LAB_DEFAULTS overlaid with a query string (the URL's wins). */
export function labSettings(query: string): Map<string, string> {
  const m = new Map(Object.entries(LAB_DEFAULTS));
  for (const [k, v] of new URLSearchParams(query)) m.set(k, v);
  return m;
}

/** Parses settings with the CLI's flag table into a RunConfig; a bad one throws the CLI's one-line ConfigError. */
export function labConfig(settings: Map<string, string>): RunConfig {
  const argv: string[] = [];
  for (const [k, v] of settings) {
    if (NOT_IN_LAB.includes(k)) throw new ConfigError(`--${k} is a command-line flag the lab does not take`);
    argv.push(`--${k}`, v);
  }
  try {
    const { flags } = parseFlags("cdl run", argv, RUN_FLAGS);
    const kebab: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(flags)) if (!NOT_IN_LAB.includes(k)) kebab[k] = v;
    return runConfigFromSettings(kebab);
  } catch (e) {
    if (e instanceof UsageError) throw new ConfigError(e.message);
    throw e;
  }
}

/** The settings as a command line (those that differ from `cdl run`'s defaults) and as a query
 * string (all of them, so a shared URL means the same run even if the lab's defaults change). */
export function describeSettings(settings: Map<string, string>): { command: string; query: string } {
  const q = new URLSearchParams();
  for (const [k, v] of settings) q.set(k, v);
  return { command: runCommandLine(settings), query: q.toString() };
}
