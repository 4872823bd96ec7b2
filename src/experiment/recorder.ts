// Metrics of a run: evaluation points over virtual time, written as metrics.jsonl lines. Every
// value is a function of (config, seed) only (no wall-clock time), so the file is
// byte-identical across runs with the same config and seed.
import type { EvalResult } from "../nn/net.ts";
import type { World } from "./world.ts";
import { consensusDistances, messageStats, messageTotals } from "./world.ts";

export interface NodeRecord {
  type: "node";
  t: number;
  node: number;
  steps: number;
  epoch: number;
  testAccuracy: number;
  testLoss: number;
  /** Mean training loss of the node's minibatches since the previous evaluation point (null if none). */
  trainLoss: number | null;
  consensusDistance: number;
  sent: number;
  delivered: number;
  dropped: number;
  bytesSent: number;
  received: number;
  /** Snapshots that arrived no newer than the one held from the same sender. */
  outOfOrder: number;
  /** Inbox entries left out of consensus steps as older than --max-staleness (per step). */
  tooOld: number;
  rejected: number;
  /** Difference messages that could not be applied (one before them was lost). */
  gaps: number;
}

export interface EvalRecord {
  type: "eval";
  t: number;
  meanAccuracy: number;
  minAccuracy: number;
  maxAccuracy: number;
  meanLoss: number;
  meanDistance: number;
  maxDistance: number;
  /** Accuracy of the mean model θ̄ (what perfect agreement would give). */
  meanModelAccuracy: number;
  sent: number;
  delivered: number;
  dropped: number;
}

export class Recorder {
  readonly lines: string[] = [];
  readonly evals: EvalRecord[] = [];
  readonly nodeSeries: NodeRecord[][];
  /** Wall time spent evaluating (points; on worker threads, the longest worker's share of each). */
  evalMs = 0;

  constructor(private readonly w: World) {
    this.nodeSeries = w.nodes.map(() => []);
  }

  /** Continues from the lines of a checkpoint (evaluation points already recorded). */
  restore(lines: readonly string[]): void {
    for (const line of lines) {
      this.lines.push(line);
      const r = JSON.parse(line) as NodeRecord | EvalRecord;
      if (r.type === "node") this.nodeSeries[r.node].push(r);
      else this.evals.push(r);
    }
  }

  /** Evaluates every node on the fixed test subset at virtual time t and records the point;
   * `evaluated`: the nodes' evaluations on that subset, done elsewhere (simulation worker threads). */
  point(t: number, evaluated?: readonly EvalResult[]): EvalRecord {
    const t0 = performance.now();
    const w = this.w, { net, ds } = w;
    const dist = consensusDistances(w);
    const recs: NodeRecord[] = w.nodes.map((s, i) => {
      const ev = evaluated?.[i] ?? net.evaluate(s.params.theta, ds, ds.test, { indices: w.evalIndices });
      const st = messageStats(w, i);
      const r: NodeRecord = {
        type: "node", t, node: i, steps: s.steps, epoch: (s.steps * w.cfg.batch) / s.shard.length,
        testAccuracy: ev.accuracy, testLoss: ev.loss, trainLoss: s.lossCount ? s.lossSum / s.lossCount : null,
        consensusDistance: dist[i], sent: st.sent, delivered: st.delivered,
        dropped: st.dropped.drop + st.dropped["link-down"] + st.dropped.crashed, bytesSent: st.bytesSent,
        received: st.received, outOfOrder: s.outOfOrder, tooOld: s.tooOld, rejected: s.rejected, gaps: s.gaps,
      };
      s.lossSum = 0;
      s.lossCount = 0;
      return r;
    });
    const meanModel = net.evaluate(w.mean, ds, ds.test, { indices: w.evalIndices });
    const acc = recs.map((r) => r.testAccuracy);
    const tot = messageTotals(w);
    const e: EvalRecord = {
      type: "eval", t,
      meanAccuracy: avg(acc), minAccuracy: Math.min(...acc), maxAccuracy: Math.max(...acc),
      meanLoss: avg(recs.map((r) => r.testLoss)), meanDistance: avg(dist), maxDistance: Math.max(...dist),
      meanModelAccuracy: meanModel.accuracy,
      sent: tot.sent, delivered: tot.delivered, dropped: tot.dropped.drop + tot.dropped["link-down"] + tot.dropped.crashed,
    };
    for (const r of recs) {
      this.lines.push(JSON.stringify(r));
      this.nodeSeries[r.node].push(r);
    }
    this.lines.push(JSON.stringify(e));
    this.evals.push(e);
    this.evalMs += performance.now() - t0;
    return e;
  }
}

export const avg = (a: readonly number[]) => (a.length ? a.reduce((x, y) => x + y, 0) / a.length : NaN);
