#!/usr/bin/env node
// The `cdl` command: dispatches sub-commands and turns user errors into `error: …` lines (one per
// problem; a config file may have several) and exit code 2, never a stack trace.
import { ConfigError } from "../errors.ts";
import { DatasetError } from "../data/registry.ts";
import { ModelError } from "../nn/spec.ts";
import { UsageError } from "./args.ts";
import { clusterCommand } from "./cluster.ts";
import { dataCommand } from "./data.ts";
import { labCommand } from "./lab.ts";
import { keygenCommand, nodeCommand } from "./node.ts";
import { runCommand } from "./run.ts";
import { trainCommand } from "./train.ts";

const COMMANDS: Record<string, { run: (argv: string[]) => Promise<number>; help: string }> = {
  run: { run: (a) => runCommand(a), help: "a consensus run over a simulated unreliable network, or a baseline" },
  train: { run: trainCommand, help: "centralized training of one model" },
  node: { run: nodeCommand, help: "one node of a run as its own process, over a real network" },
  cluster: { run: clusterCommand, help: "N node processes on this machine (loopback), merged into one run" },
  keygen: { run: keygenCommand, help: "write a cluster key for cdl node" },
  data: { run: dataCommand, help: "list and fetch datasets" },
  lab: { run: labCommand, help: "build the browser lab and serve it on localhost" },
};

const USAGE = `usage: cdl <command> [flags]   (cdl <command> --help for its flags)\n\n` +
  Object.entries(COMMANDS).map(([k, c]) => `  ${k.padEnd(8)} ${c.help}`).join("\n") + "\n";

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === "--help" || cmd === "-h" || cmd === "help") { process.stdout.write(USAGE); return cmd ? 0 : 2; }
  const c = COMMANDS[cmd];
  if (!c) { console.error(`error: unknown command '${cmd}' (allowed: ${Object.keys(COMMANDS).join(", ")})`); return 2; }
  try {
    return await c.run(rest);
  } catch (e) {
    if (e instanceof UsageError || e instanceof ConfigError || e instanceof DatasetError || e instanceof ModelError) {
      for (const line of e.message.split("\n")) console.error(`error: ${line}`);
      return 2;
    }
    throw e;
  }
}

process.exitCode = await main(process.argv.slice(2));
