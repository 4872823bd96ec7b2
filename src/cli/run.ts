// `cdl run`: a consensus run (or a baseline) over the simulated unreliable network.
import { runConfigFromArgs, RUN_FLAGS } from "../experiment/config.ts";
import { runExperiment, type RunSummary } from "../experiment/run.ts";
import { helpText } from "./args.ts";
import { Progress } from "./progress.ts";

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

export async function runCommand(argv: string[], defaults: string[] = []): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(helpText("run", "Consensus Driven Learning over a simulated unreliable network, or a baseline.", RUN_FLAGS));
    return 0;
  }
  const { config, json, quiet } = runConfigFromArgs([...defaults, ...argv]);
  const progress = new Progress(!quiet, 2000);
  const s = await runExperiment(config, {
    onStart: (w) => {
      if (json) return;
      console.log(`cdl run: ${config.algorithm} on ${w.ds.name} (${w.trainCount} train samples), ${config.model}, ${w.topology.n} nodes, ` +
        `${w.topology.name} (Δ=${w.topology.maxDegree}, λ₂=${w.lambda2.toFixed(4)}, ε=${w.epsilon.toFixed(4)}, weights ${config.weights}), split ${config.split}, ` +
        `drop ${config.drop}, link mtbf/mttr ${config.linkMtbf}/${config.linkMttr} s, seed ${config.seed}`);
      console.log(`budget ${w.nodes[0].budgetSteps} steps of ${config.batch} per node, step cost ${(w.stepCost * 1000).toFixed(1)} ms virtual, message ${(w.messageBytes / 1024).toFixed(0)} KiB`);
    },
    onEval: (e, w) => {
      const steps = w.nodes.reduce((a, n) => a + n.steps, 0), budget = w.nodes.reduce((a, n) => a + n.budgetSteps, 0);
      progress.update(`t=${e.t.toFixed(1)}s  ${Math.round((100 * steps) / budget)}% of budget  mean acc ${pct(e.meanAccuracy)} ` +
        `(min ${pct(e.minAccuracy)})  θ̄ ${pct(e.meanModelAccuracy)}  distance ${e.meanDistance.toPrecision(3)}  ` +
        `msgs ${e.delivered}/${e.sent} delivered`);
    },
  });
  progress.done();
  if (json) console.log(JSON.stringify(s));
  else console.log(summaryTable(s));
  return 0;
}

export function summaryTable(s: RunSummary): string {
  const rows = s.accuracy.perNode.map((a, i) => `  node ${String(i).padStart(3)}  ${pct(a).padStart(7)}   loss ${s.loss.perNode[i].toFixed(4)}   steps ${s.steps.perNode[i]}`);
  const maxRows = 24;
  const shown = rows.length > maxRows ? [...rows.slice(0, maxRows), `  … ${rows.length - maxRows} more nodes in summary.json`] : rows;
  const m = s.messages;
  return [
    `final accuracy on ${s.dataset.testEvaluated} test samples:`,
    ...shown,
    `  mean ${pct(s.accuracy.mean)}   min ${pct(s.accuracy.min)}   max ${pct(s.accuracy.max)}   mean model θ̄ ${pct(s.meanModelAccuracy)}`,
    `consensus distance: mean ${s.consensusDistance.mean.toPrecision(3)}, max ${s.consensusDistance.max.toPrecision(3)}`,
    `messages: ${m.sent} sent, ${m.delivered} delivered, ${m.dropped} lost (drop ${m.droppedBy.drop}, link down ${m.droppedBy["link-down"]}, crashed ${m.droppedBy.crashed}), ${m.stale} stale, ${m.rejected} rejected; ${(m.bytesSent / 2 ** 20).toFixed(1)} MiB sent`,
    `virtual time ${s.virtualSeconds.toFixed(1)} s; wall ${s.wallSeconds.toFixed(1)} s (training ${s.trainSeconds.toFixed(1)} s at ${Math.round(s.samplesPerSecond)} samples/s, evaluation ${s.evalSeconds.toFixed(1)} s, simulation overhead ${(100 * s.simulationOverhead).toFixed(1)}%)`,
    `report: ${s.out}/report.html (summary.json, metrics.jsonl, accuracy.svg, consensus.svg, histogram.txt)`,
  ].join("\n");
}
