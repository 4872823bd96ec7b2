// `cdl run`: a consensus run (or a baseline) over the simulated unreliable network.
import { asyncThreads } from "../experiment/algorithms.ts";
import { CHECKPOINT_FILE } from "../experiment/checkpoint.ts";
import { runConfigFromArgs, RUN_FLAGS } from "../experiment/config.ts";
import type { EvalRecord } from "../experiment/recorder.ts";
import { nominalDuration, runExperiment, type RunSummary } from "../experiment/run.ts";
import type { World } from "../experiment/world.ts";
import { agreeDeadline, learnDeadline } from "../node/program.ts";
import { helpText, UsageError } from "./args.ts";
import { stopOnSignals } from "./signals.ts";
import { Progress } from "./progress.ts";

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

/** Flags a resumed run accepts: the rest of its settings come from its checkpoint. */
const RESUME_FLAGS = new Set(["--resume", "--quiet", "--json", "--workers"]);

export async function runCommand(argv: string[], defaults: string[] = []): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(helpText("run", "Consensus Driven Learning over a simulated unreliable network, or a baseline.\n" +
      "fedavg and dpsgd (a server, a barrier) run only in this simulator. SIGINT/SIGTERM stop a run between two events and\n" +
      "leave a checkpoint and a summary marked interrupted; --resume DIR continues it exactly.", RUN_FLAGS));
    return 0;
  }
  const { config, json, quiet, workers } = runConfigFromArgs([...defaults, ...argv]);
  if (config.resume) {
    const other = argv.filter((a) => a.startsWith("--") && !RESUME_FLAGS.has(a.split("=")[0]));
    if (other.length) throw new UsageError(`cdl run --resume continues a run with its own settings; drop ${other.join(" ")}`);
  }
  const progress = new Progress(!quiet, 2000);
  // SIGINT/SIGTERM: finish the current event, then write the checkpoint and an interrupted summary.
  const stop = stopOnSignals((sig) => progress.done(`${sig}: stopping after the current event; writing a checkpoint…`));
  let s: RunSummary;
  try {
    s = await runExperiment(config, {
      resume: config.resume, shouldStop: stop.requested, workers, // resumed: the run's own settings come from its checkpoint
      onStart: (w) => { if (!json) console.log(header(w, threadsFor(w, workers))); },
      onEval: (e, w) => progress.update(progressLine(e, w, threadsFor(w, workers))),
      onFinalEval: (w, n) => progress.update(`final evaluation: ${w.nodes.length} nodes on ${n} test samples…`, true),
    });
  } finally {
    stop.release();
  }
  progress.done();
  if (json) console.log(JSON.stringify(s));
  else console.log(summaryTable(s));
  if (s.interrupted) {
    console.error(`interrupted at virtual time ${s.virtualSeconds.toFixed(2)} s; checkpoint ${s.out}/${CHECKPOINT_FILE}; continue with: cdl run --resume ${s.out}`);
    return stop.exitCode();
  }
  if (s.samplesPerSecond === null) {
    console.error(`error: nothing trained: no node completed a learning step in ${s.virtualSeconds.toFixed(2)} virtual s (see --time-limit, --crash-rate, --step-cost)`);
    return 1;
  }
  return 0;
}

/** λ₂ and other small positive figures: fixed point when readable, else scientific. */
const small = (x: number) => (x === 0 || x >= 1e-3 ? x.toFixed(4) : x.toExponential(2));

/** Threads a run's nodes will run on for --workers N (src/drivers/workers.ts). */
function threadsFor(w: World, workers: number | "auto"): number {
  return w.cfg.algorithm === "fedavg" || w.cfg.algorithm === "dpsgd" ? 1 : asyncThreads(w, workers);
}

function header(w: World, threads: number): string {
  const c = w.cfg;
  const weights = c.algorithm === "dpsgd" ? "weights metropolis" : c.algorithm === "fedavg" ? "server mean by shard size"
    : c.algorithm === "isolated" || c.algorithm === "centralized" ? "no mixing" : `ε=${w.epsilon.toFixed(4)}, weights ${c.weights}`;
  const lines = [
    `cdl run: ${c.algorithm} on ${w.ds.name} (${w.trainCount} train samples), ${c.model}, ${w.topology.n} nodes, ` +
    `${w.topology.name} (Δ=${w.topology.maxDegree}, λ₂=${small(w.lambda2)}, ${weights}), split ${c.split}, ` +
    `drop ${c.drop}, link mtbf/mttr ${c.linkMtbf}/${c.linkMttr} s, seed ${c.seed}`,
  ];
  const rounds = c.algorithm === "dpsgd" || c.algorithm === "fedavg";
  const budget = c.budget === "time" && !rounds
    ? `budget: every node learns until virtual time ${learnDeadline(w).toFixed(2)} s (${w.nodes[0].budgetSteps} steps of ${c.batch} on a normal node)` +
      (c.agreeSteps > 0 && c.algorithm !== "isolated" && c.algorithm !== "centralized" ? `, then agrees until ${agreeDeadline(w).toFixed(2)} s` : "")
    : `budget: ${w.nodes[0].budgetSteps} steps of ${c.batch} per node`;
  const msg = w.network.transferTime(w.messageBytes) + c.jitter;
  lines.push(`${budget}; step cost ${(w.stepCost * 1000).toFixed(1)} ms virtual, message ${(w.messageBytes / 1024).toFixed(0)} KiB in ${(msg * 1000).toFixed(1)} ms; ` +
    `K = ${w.localSteps} local steps per ${rounds ? "round" : "consensus step"}${c.localSteps === "auto" && c.algorithm === "cdl" ? " (auto: about two message times)" : ""}`);
  const missing = w.histogram[0].map((_, k) => k).filter((k) => w.histogram.every((row) => row[k] === 0));
  if (missing.length) {
    lines.push(`note: ${missing.length} of ${w.ds.classes} classes are on no node (${missing.map((k) => w.ds.classNames?.[k] ?? k).join(", ")}): ` +
      `split ${c.split} over ${w.topology.n} nodes; the test set still has them, so no node can exceed ${(100 * (1 - missing.length / w.ds.classes)).toFixed(0)}% or so`);
  }
  // Evaluation can cost more than training with many nodes: say so, with what to change.
  const points = nominalDuration(w) / (c.evalEvery ?? nominalDuration(w) / 12) + 1;
  const testCount = Math.min(c.testLimit ?? w.ds.test.count, w.ds.test.count);
  const evalForwards = w.nodes.length * (w.evalIndices.length * points + testCount);
  const trainForwards = 3 * w.nodes.length * w.nodes[0].budgetSteps * c.batch; // a step ≈ 3 forward passes
  if (evalForwards > trainForwards) {
    lines.push(`note: evaluating ${w.nodes.length} nodes (${w.evalIndices.length} test samples at ~${Math.round(points)} points, then ${testCount} each at the end) ` +
      `will take about ${(evalForwards / trainForwards).toFixed(1)}× the training time; lower --eval-samples or --test-limit, or raise --eval-every, to spend less`);
  }
  if (c.checkpointEvery) lines.push(`checkpoints every ${c.checkpointEvery} virtual s in ${c.out ?? "the run directory"}`);
  if (threads > 1) lines.push(`${threads} worker threads compute the nodes (results are the same as on one)`);
  return lines.join("\n");
}

function progressLine(e: EvalRecord, w: World, threads: number): string {
  const c = w.cfg, rounds = c.algorithm === "dpsgd" || c.algorithm === "fedavg";
  let where: string;
  if (c.budget === "time" && !rounds) {
    const T = learnDeadline(w);
    const A = agreeDeadline(w);
    // An evaluation point after the last step (the run ends between two points) is the end: 100%.
    where = e.t <= T || A <= T ? `${Math.round(Math.min(100, (100 * e.t) / T))}% of learning time`
      : `agreeing ${Math.round(Math.min(100, (100 * (e.t - T)) / (A - T)))}%`;
  } else {
    const steps = w.nodes.reduce((a, n) => a + n.steps, 0), budget = w.nodes.reduce((a, n) => a + n.budgetSteps, 0);
    where = steps < budget ? `${Math.round((100 * steps) / budget)}% of budget` : `agreeing ${w.nodes[0].agreeSteps}/${c.agreeSteps} steps`;
  }
  return `t=${e.t.toFixed(1)}s  ${where}  mean acc ${pct(e.meanAccuracy)} (min ${pct(e.minAccuracy)}, on ${w.evalIndices.length} test samples)  ` +
    `θ̄ ${pct(e.meanModelAccuracy)}  distance ${e.meanDistance.toPrecision(3)}  msgs ${e.delivered}/${e.sent} delivered` +
    (threads > 1 ? `  (${threads} worker threads)` : "");
}

export function summaryTable(s: RunSummary): string {
  const rows = s.accuracy.perNode.map((a, i) => `  node ${String(i).padStart(3)}  ${pct(a).padStart(7)}   loss ${s.loss.perNode[i].toFixed(4)}   steps ${s.steps.perNode[i]}`);
  const maxRows = 24;
  const shown = rows.length > maxRows ? [...rows.slice(0, maxRows), `  … ${rows.length - maxRows} more nodes in summary.json`] : rows;
  const m = s.messages;
  return [
    s.interrupted ? `interrupted: accuracy at the last evaluation point, on ${s.dataset.testEvaluated} test samples:` : `final accuracy on ${s.dataset.testEvaluated} test samples:`,
    ...shown,
    `  mean ${pct(s.accuracy.mean)}   min ${pct(s.accuracy.min)}   max ${pct(s.accuracy.max)}   mean model θ̄ ${pct(s.meanModelAccuracy)}`,
    `consensus distance: mean ${s.consensusDistance.mean.toPrecision(3)}, max ${s.consensusDistance.max.toPrecision(3)}`,
    `messages: ${m.sent} sent = ${m.delivered} delivered + ${m.dropped} lost (drop ${m.droppedBy.drop}, link down ${m.droppedBy["link-down"]}, crashed ${m.droppedBy.crashed}) + ${m.inFlight} in flight at the end; ` +
      `of the delivered, ${m.outOfOrder} out of order, ${m.rejected} rejected (NaN/Inf)${m.gaps ? `, ${m.gaps} differences after a lost one (not applied)` : ""}; ${m.tooOld} inbox entries too old to mix; ${(m.bytesSent / 2 ** 20).toFixed(1)} MiB sent`,
    `virtual time ${s.virtualSeconds.toFixed(1)} s; wall ${s.wallSeconds.toFixed(1)} s (training ${s.trainSeconds.toFixed(1)} s${s.workers > 1 ? " summed over the threads" : ""} at ${s.samplesPerSecond === null ? "—" : Math.round(s.samplesPerSecond)} samples/s, evaluation ${s.evalSeconds.toFixed(1)} s, ` +
    (s.workers > 1 ? `${s.workers} worker threads, parallel efficiency ${(100 * s.parallelEfficiency).toFixed(0)}%)` : `simulation overhead ${(100 * s.simulationOverhead).toFixed(1)}%)`),
    `report: ${s.out}/report.html (summary.json, metrics.jsonl, accuracy.svg, consensus.svg, histogram.txt)`,
  ].join("\n");
}
