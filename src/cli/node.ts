// `cdl node`: one node of a run as its own process, over a real network (src/drivers/live.ts).
// `cdl keygen`: writes a cluster key. The run's settings are `cdl run`'s flags (or --config);
// the node's own flags say who it is, where it listens and where its neighbours are.
import { existsSync, readFileSync } from "node:fs";
import { readKeyFile, generateKey, loadClusterKey, writeKeyFile } from "../transport/key.ts";
import { runConfigFromArgs, RUN_FLAGS, type RunConfig } from "../experiment/config.ts";
import { parseTopology } from "../consensus/topology.ts";
import { LIVE_ALGORITHMS, liveProblems, runLiveNode, transportThreadFor, type LiveSummary } from "../drivers/live.ts";
import { ConfigError } from "../errors.ts";
import { Rng } from "../rng.ts";
import { helpText, parseFlags, UsageError, type FlagTable } from "./args.ts";
import { stopOnSignals } from "./signals.ts";

export const NODE_FLAGS: FlagTable = {
  id: { type: "int", min: 0, max: 2 ** 31 - 1, help: "this node's id in the topology (0 … nodes−1)" },
  listen: { type: "string", default: "127.0.0.1:0", help: "HOST:PORT to listen on (port 0: any free port)" },
  peers: { type: "string", default: "", help: "every neighbour's address: ID=HOST:PORT,ID=HOST:PORT,…" },
  key: { type: "string", help: "cluster key file (cdl keygen); or set CDL_CLUSTER_KEY to the key's hex" },
  "transport-thread": { type: "string", default: "auto", allowed: ["auto", "main", "worker"], help: "run sockets, HMAC and framing on the training thread or on a worker thread, off the training path (auto: worker when this machine has 2 cores or more)" },
  linger: { type: "number", default: 10, min: 0, help: "after its last step, keep agreeing while a neighbour still works, waiting at most this many seconds for a silent one" },
  pace: { type: "number", default: 0, min: 0, help: "every step takes at least this many wall seconds: the node sleeps the rest while its sockets work (0: full speed)" },
  "start-at": { type: "number", min: 0, help: "origin of the shared clock, ms since 1970 (default: now); a cluster gives every node the same" },
  "start-file": { type: "string", help: "once loaded, write 'ready' into --out and wait for this file to hold the shared clock's origin (ms since 1970): cdl cluster writes it when every node is ready" },
};

/** How long a node waits for its --start-file before giving up (a cluster that died leaves no process behind). */
const START_WAIT_S = 300;

/** Polls `file` until it holds the origin (ms since 1970); exits 130 if stopped meanwhile (nothing has run yet). */
async function originFrom(file: string, stopped: () => boolean): Promise<number> {
  for (const t0 = Date.now(); ;) {
    if (stopped()) process.exit(130);
    if (Date.now() - t0 > START_WAIT_S * 1000) throw new ConfigError(`--start-file ${file}: no origin written after ${START_WAIT_S} s; is the cluster that started this node still running?`);
    if (existsSync(file)) {
      const v = Number(readFileSync(file, "utf8").trim());
      if (!Number.isFinite(v) || v < 0) throw new ConfigError(`--start-file ${file}: expected the origin in ms since 1970, got '${readFileSync(file, "utf8").trim().slice(0, 40)}'`);
      return v;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Defaults of a live run that differ from a simulated one's: a node's own steps as the budget (a
 * wall-clock budget needs a step time), and no modelled delay on top of the real network's. */
export const LIVE_DEFAULTS: Readonly<Record<string, unknown>> = { budget: "steps", latency: 0, bandwidth: Infinity };

/** Splits argv into the flags of `table` and the rest (the run's flags). */
export function splitFlags(argv: readonly string[], table: FlagTable): { own: string[]; rest: string[] } {
  const own: string[] = [], rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i], name = a.startsWith("--") ? a.slice(2).split("=")[0] : "";
    const mine = name in table;
    const takesValue = mine && table[name].type !== "bool" && !a.includes("=");
    (mine ? own : rest).push(a);
    if (takesValue && i + 1 < argv.length) own.push(argv[++i]);
  }
  return { own, rest };
}

/** "1=127.0.0.1:7001,2=[::1]:7002" → Map; a malformed entry is a UsageError naming it. */
export function parsePeers(spec: string): Map<number, string> {
  const peers = new Map<number, string>();
  for (const part of spec.split(",").map((p) => p.trim()).filter(Boolean)) {
    const m = /^(\d+)=(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(part);
    if (!m || Number(m[3]) > 65535) throw new UsageError(`cdl node: --peers entry '${part}' is not ID=HOST:PORT`);
    if (peers.has(Number(m[1]))) throw new UsageError(`cdl node: --peers names node ${m[1]} twice`);
    peers.set(Number(m[1]), `${m[2]}:${m[3]}`);
  }
  return peers;
}

/** "host:port" → parts (IPv6 in brackets). */
export function parseListen(spec: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(spec);
  if (!m || Number(m[2]) > 65535) throw new UsageError(`cdl node: --listen '${spec}' is not HOST:PORT`);
  return { host: m[1].replace(/^\[|\]$/g, ""), port: Number(m[2]) };
}

const NODE_SUMMARY = `One node of a Consensus Driven Learning run as its own process, talking to its neighbours over
the network (WebSocket, every message signed with the cluster key). Give it the run's flags (the same
on every node: they fix the topology, the data split, the initial model) plus its own below.
Algorithms: ${LIVE_ALGORITHMS.join(", ")} (fedavg and dpsgd run only in the simulator). θ on the wire:
--compress f32, f16 or int8 (the difference codecs run only in the simulator). Budgets: --budget
steps (the live default) or --budget time with --step-cost SECONDS (a normal node's wall time per step).
SIGINT/SIGTERM: finish the step, checkpoint, write the node's summary marked interrupted, exit; --resume
continues from the checkpoint in --out. Example, node 1 of a 3-node ring:
  cdl keygen --out cluster.key   (copy the file to every machine)
  cdl node --id 1 --listen 0.0.0.0:7001 --peers 0=10.0.0.5:7000,2=10.0.0.7:7002 --key cluster.key \\
    --nodes 3 --topology ring --model mlp --dataset mnist-10k --split classes:2 --out node-1`;

export async function nodeCommand(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(helpText("node", NODE_SUMMARY, { ...NODE_FLAGS, ...RUN_FLAGS }));
    return 0;
  }
  const { own, rest } = splitFlags(argv, NODE_FLAGS);
  const { flags } = parseFlags("cdl node", own, NODE_FLAGS);
  if (flags.id === undefined) throw new UsageError("cdl node: --id is required (this node's id in the topology)");
  const { config, json, quiet } = runConfigFromArgs(rest, LIVE_DEFAULTS);
  if (!config.out && !config.resume) throw new UsageError("cdl node: --out DIR is required (the node's metrics, summary, final model and checkpoints)");
  const { host, port } = parseListen(flags.listen as string);
  const peers = parsePeers(flags.peers as string);
  if (!config.resume) { // the settings' problems first, before the key: the same graph every node builds
    const adj = parseTopology(config.topology, config.nodes, new Rng(config.seed).fork(1)).adj[flags.id as number] ?? [];
    const problems = liveProblems(config, { id: flags.id as number, peers }, adj);
    if (problems.length) throw new ConfigError(problems.join("\n"));
  }
  const startFile = flags["start-file"] as string | undefined;
  if (startFile !== undefined && flags["start-at"] !== undefined) throw new UsageError("cdl node: give --start-at or --start-file, not both");
  const key = loadClusterKey({ file: flags.key as string | undefined, env: process.env.CDL_CLUSTER_KEY });
  const stop = stopOnSignals();
  const out = (config.resume ?? config.out)!;
  const cfg: RunConfig = { ...config, out, resume: undefined };
  let s: LiveSummary;
  try {
    s = await runLiveNode(cfg, {
      id: flags.id as number, host, port, peers, key,
      startAt: (flags["start-at"] as number | undefined) ?? Date.now(), out, resume: config.resume !== undefined,
      ...(startFile ? { awaitStart: () => originFrom(startFile, stop.requested) } : {}),
      evalEvery: config.evalEvery ?? 2, linger: flags.linger as number, pace: flags.pace as number, transportWorker: transportThreadFor(flags["transport-thread"] as "auto" | "main" | "worker", 1) === "worker", shouldStop: stop.requested,
      log: quiet ? undefined : (line) => console.error(line),
    });
  } finally {
    stop.release();
  }
  if (json) console.log(JSON.stringify(s));
  else {
    const rej = Object.entries(s.transport.rejected).map(([k, v]) => `${k} ${v}`).join(", ") || "none";
    console.log(`node ${s.node}${s.interrupted ? " (interrupted)" : ""}: ${(100 * s.accuracy).toFixed(2)}% on ${s.testEvaluated} test samples after ${s.steps} steps; ` +
      `sent ${s.transport.sent} (${s.injected.dropped} dropped by --drop/--link-mtbf), received ${s.transport.received}, rejected: ${rej}, reconnects ${s.transport.reconnects}; ${out}/summary.json`);
  }
  if (s.interrupted) return stop.exitCode();
  return 0;
}

const KEYGEN_FLAGS: FlagTable = {
  out: { type: "string", default: "cluster.key", help: "file to write (mode 0600; an existing file is kept)" },
  force: { type: "bool", default: false, help: "overwrite an existing key file" },
};

export async function keygenCommand(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(helpText("keygen", "Writes a new cluster key (32 random bytes, hex). Every node of a cluster needs the same key.", KEYGEN_FLAGS));
    return 0;
  }
  const { flags, positional } = parseFlags("cdl keygen", argv, KEYGEN_FLAGS);
  if (positional.length) throw new UsageError(`cdl keygen: unexpected argument '${positional[0]}' (use --out FILE)`);
  writeKeyFile(flags.out as string, generateKey(), flags.force as boolean);
  readKeyFile(flags.out as string); // read back: the same checks every node makes
  console.log(`wrote ${flags.out} (keep it secret; copy it to every node's machine)`);
  return 0;
}
