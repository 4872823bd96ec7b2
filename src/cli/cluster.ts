// `cdl cluster`: N live node processes on loopback, one run (src/drivers/cluster.ts).
import { join } from "node:path";
import { runConfigFromArgs, RUN_FLAGS } from "../experiment/config.ts";
import { runExperiment } from "../experiment/run.ts";
import { RUNTIMES, runCluster, type ClusterSummary, type RuntimeName } from "../drivers/cluster.ts";
import { writeAtomic } from "../io/dirs.ts";
import { helpText, parseFlags, UsageError, type FlagTable } from "./args.ts";
import { LIVE_DEFAULTS, splitFlags } from "./node.ts";
import { transportThreadFor } from "../drivers/live.ts";
import { stopOnSignals } from "./signals.ts";

export const CLUSTER_FLAGS: FlagTable = {
  runtimes: { type: "string", default: "node", help: "runtimes of the node processes, assigned in turn: e.g. node,bun,deno" },
  "kill-every": { type: "number", default: 0, min: 0, help: "kill a random node process every this many wall seconds and restart it from its checkpoint (0: never)" },
  timeout: { type: "number", default: 900, above: 0, help: "stop every process and fail after this many wall seconds" },
  "transport-thread": { type: "string", default: "auto", allowed: ["auto", "main", "worker"], help: "each node's transport on its training thread or on a worker thread (auto: worker when this machine has 2 cores per node)" },
  "start-delay": { type: "string", default: "auto", help: "seconds from starting the processes to the shared clock's origin, or auto: the clock starts 0.5 s after every node has loaded" },
  linger: { type: "number", default: 10, min: 0, help: "each node, after its last step, keeps agreeing while a neighbour still works, waiting at most this many seconds for a silent one (cdl node --linger)" },
  pace: { type: "string", default: "auto", help: "every step of every node takes at least this many wall seconds (cdl node --pace), so the transport has time to deliver; auto: full speed when there are no more nodes than cores, else 2 × nodes per core × a node's CPU per step, measured before the nodes start (learning + frames over loopback)" },
  twin: { type: "bool", default: false, help: "then simulate the run on the clock the nodes measured (step time, snapshot ages) into --out/twin, and compare" },
};

/** Runs the cluster's simulated twin (summary.twin) into out/twin and records its accuracy in the cluster's summary.json. */
async function runTwin(s: ClusterSummary): Promise<void> {
  const twin = s.twin!;
  const file = join(s.out, "twin.json");
  writeAtomic(file, JSON.stringify(twin.settings, null, 2) + "\n");
  const { config } = runConfigFromArgs(["--config", file, "--out", join(s.out, "twin")]);
  const r = await runExperiment(config, { workers: "auto" });
  twin.accuracy = { mean: r.accuracy.mean, min: r.accuracy.min, max: r.accuracy.max };
  writeAtomic(join(s.out, "summary.json"), JSON.stringify(s, null, 2) + "\n");
}

const SUMMARY = `N processes on this machine, each one node of the run (cdl node), talking over loopback WebSocket
connections signed with a fresh cluster key; their outputs merged into --out like a simulated run's
(metrics.jsonl, summary.json, report.html). The run's flags are cdl run's; live defaults: --budget
steps, --latency 0 --bandwidth inf (the real network's delay only). Fault injection at the sender:
--drop, --link-mtbf/--link-mttr, --latency, --jitter.
Algorithms: cdl, cdl-on-receive, isolated (fedavg and dpsgd run only in the simulator). θ on the
wire: --compress f32, f16 or int8 (the difference codecs run only in the simulator).`;

/** A flag that takes seconds ≥ 0 or "auto" (--start-delay, --pace). */
function secondsOrAuto(flag: string, v: string): number | "auto" {
  if (v === "auto") return v;
  const x = Number(v);
  if (v.trim() === "" || !Number.isFinite(x) || x < 0) throw new UsageError(`cdl cluster: --${flag} takes seconds ≥ 0 or auto, got '${v}'`);
  return x;
}

export async function clusterCommand(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(helpText("cluster", SUMMARY, { ...CLUSTER_FLAGS, ...RUN_FLAGS }));
    return 0;
  }
  const { own, rest } = splitFlags(argv, CLUSTER_FLAGS);
  const { flags } = parseFlags("cdl cluster", own, CLUSTER_FLAGS);
  const runtimes = (flags.runtimes as string).split(",").map((r) => r.trim()) as RuntimeName[];
  const bad = runtimes.filter((r) => !(RUNTIMES as readonly string[]).includes(r));
  if (bad.length || !runtimes.length) throw new UsageError(`cdl cluster: --runtimes ${flags.runtimes}: unknown ${bad.join(", ")} (allowed: ${RUNTIMES.join(", ")})`);
  const { config, json, quiet } = runConfigFromArgs(rest, LIVE_DEFAULTS);
  if (config.resume) throw new UsageError("cdl cluster: --resume is for cdl run and cdl node; a cluster restarts its killed nodes from their checkpoints itself");
  const stop = stopOnSignals((sig) => console.error(`${sig}: stopping the nodes (they checkpoint and write their summaries)…`));
  try {
    const s = await runCluster(config, {
      runtimes, killEvery: flags["kill-every"] as number, transportThread: transportThreadFor(flags["transport-thread"] as "auto" | "main" | "worker", config.nodes), timeout: flags.timeout as number, startDelay: secondsOrAuto("start-delay", flags["start-delay"] as string), linger: flags.linger as number, pace: secondsOrAuto("pace", flags.pace as string),
      quiet, log: (l) => { if (!json) console.error(l); }, shouldStop: stop.requested,
    });
    if (flags.twin && s.twin && !s.interrupted) {
      if (!json) console.error(`simulating the twin: step ${(1000 * s.twin.stepCost).toFixed(2)} ms, snapshot age ${(1000 * s.twin.latency).toFixed(2)} + ${(1000 * s.twin.jitter).toFixed(2)} ms, ${(100 * s.twin.loss).toFixed(1)}% lost beyond --drop…`);
      await runTwin(s);
    }
    if (json) console.log(JSON.stringify(s));
    else {
      const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
      console.log([
        `final accuracy on ${s.testEvaluated} test samples${s.interrupted ? " (interrupted)" : ""}:`,
        ...s.accuracy.perNode.map((a, i) => `  node ${String(i).padStart(3)} (${s.messages.perNode[i].runtime.padEnd(4)}) ${pct(a).padStart(7)}   steps ${s.steps.perNode[i]}   sent ${s.messages.perNode[i].sent} (${(s.messages.perNode[i].bytes / 2 ** 20).toFixed(1)} MiB), received ${s.messages.perNode[i].received}, reconnects ${s.messages.perNode[i].reconnects}`),
        `  mean ${pct(s.accuracy.mean)}   min ${pct(s.accuracy.min)}   max ${pct(s.accuracy.max)}   mean model θ̄ ${pct(s.meanModelAccuracy)}`,
        `consensus distance: mean ${s.consensusDistance.mean.toPrecision(3)}, max ${s.consensusDistance.max.toPrecision(3)}; ${s.kills.length} kills; wall ${s.wallSeconds.toFixed(1)} s`,
        ...(s.twin?.accuracy ? [`simulated twin (${s.out}/twin): mean ${pct(s.twin.accuracy.mean)}, ${(100 * (s.accuracy.mean - s.twin.accuracy.mean)).toFixed(2)} points from the cluster's`] : []),
        `report: ${s.out}/report.html (summary.json, metrics.jsonl, accuracy.svg, node-*/)`,
      ].join("\n"));
    }
    return s.interrupted ? stop.exitCode() : 0;
  } finally {
    stop.release();
  }
}
