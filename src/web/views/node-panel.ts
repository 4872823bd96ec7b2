// One node up close: what data it has (its class histogram as bars), how its accuracy went (its own
// curve against the network's mean), its inbox (the newest snapshot from each neighbour: the
// sender's step and its age, greyed once older than --max-staleness) and its message counters.
import type { NodeView } from "../protocol.ts";
import { drawChart, esc, type Point } from "./chart.ts";

export interface NodePanelData {
  node: number;
  histogram: readonly number[];
  classNames: readonly string[];
  view: NodeView | null;
  /** The node's test accuracy over virtual time, and the network's mean for comparison. */
  accuracy: readonly Point[];
  meanAccuracy: readonly Point[];
  xMax: number;
  /** Virtual seconds after which a snapshot is left out of consensus steps. */
  maxStaleness: number;
}

export class NodePanel {
  private shown = -2;
  private body!: HTMLElement;
  private hist!: SVGSVGElement;
  private chart!: SVGSVGElement;

  constructor(private readonly host: HTMLElement) {
    this.empty();
  }

  /** Nothing selected: a hint. */
  empty(): void {
    if (this.shown === -1) return;
    this.shown = -1;
    this.host.innerHTML = `<h2>A node up close</h2><p class="caption">Click a node in the network (or a row of the
      heat map) to see its data, its accuracy, its inbox and its message counters.</p>`;
  }

  draw(d: NodePanelData): void {
    if (this.shown !== d.node) {
      this.shown = d.node;
      this.host.innerHTML = `<h2>Node ${d.node} up close</h2>
        <div class="node-body"></div>
        <h3>Its training data</h3><svg class="hist"></svg>
        <h3>Its accuracy</h3><svg class="chart small"></svg>`;
      this.body = this.host.querySelector(".node-body")!;
      this.hist = this.host.querySelector(".hist")!;
      this.chart = this.host.querySelector(".chart")!;
    }
    const v = d.view;
    const last = d.accuracy.length ? d.accuracy[d.accuracy.length - 1][1] : null;
    const kv = (k: string, val: string | number, tip = "") => `<div title="${esc(tip)}"><span>${k}</span> <b>${val}</b></div>`;
    this.body.innerHTML = v ? `<div class="kv">
        ${kv("state", !v.up ? "crashed" : v.done ? "done" : "working")}
        ${kv("steps", v.steps, "minibatch steps taken (learning and agreeing)")}
        ${kv("accuracy", last === null ? "–" : `${(last * 100).toFixed(1)}%`, "on held-out test digits at the last evaluation")}
        ${kv("sent", v.sent, "snapshots sent to neighbours")}
        ${kv("delivered", v.delivered, "of those, arrived")}
        ${kv("lost", v.dropped, "of those, dropped, or lost on a down link or to a crashed neighbour")}
        ${kv("received", v.received, "snapshots that arrived here")}
        ${kv("out of order", v.outOfOrder, "arrived no newer than the one already held from that sender: ignored")}
        ${kv("too old", v.tooOld, `inbox entries left out of consensus steps as older than ${d.maxStaleness} s (counted per step)`)}
        ${kv("rejected", v.rejected, "contained NaN or Inf: ignored")}
      </div>${inboxTable(v, d.maxStaleness)}` : `<p class="caption">waiting for the run…</p>`;
    drawHistogram(this.hist, d.histogram, d.classNames);
    drawChart(this.chart, {
      xLabel: "virtual time (s)", yLabel: "accuracy", xMax: d.xMax, yMin: 0, yMax: 1,
      yFormat: (y) => `${Math.round(y * 100)}%`, empty: "no evaluation yet",
      series: [
        { label: "network mean", color: "#868e96", points: d.meanAccuracy, dashed: true },
        { label: `node ${d.node}`, color: "#2b6cb0", points: d.accuracy },
      ],
    });
  }
}

function inboxTable(v: NodeView, maxStaleness: number): string {
  if (!v.inbox.length) return `<h3>Its inbox</h3><p class="caption">Empty: nothing has arrived yet.</p>`;
  const rows = v.inbox.map((e) => `<tr class="${e.age > maxStaleness ? "stale" : ""}"><td>node ${e.from}</td>` +
    `<td>${e.step}</td><td>${e.age.toFixed(2)} s</td><td>${e.age > maxStaleness ? "too old: skipped" : "fresh: mixed"}</td></tr>`).join("");
  return `<h3>Its inbox</h3><table class="small"><tr><th>newest snapshot from</th><th>sender's step</th><th>age</th><th></th></tr>${rows}</table>`;
}

/** Bars of the node's samples per class, with the class names under them. */
function drawHistogram(svg: SVGSVGElement, counts: readonly number[], names: readonly string[]): void {
  const W = svg.clientWidth || 300, H = svg.clientHeight || 90, C = Math.max(1, counts.length);
  const max = Math.max(1, ...counts), bw = (W - 8) / C, ih = H - 30;
  const out: string[] = [];
  counts.forEach((c, k) => {
    const h = (c / max) * ih, x = 4 + k * bw;
    out.push(`<rect x="${x + 2}" y="${14 + ih - h}" width="${Math.max(1, bw - 4)}" height="${h}" fill="${c ? "#4a78b5" : "#e9ecef"}"><title>${esc(names[k] ?? String(k))}: ${c} samples</title></rect>`,
      `<text x="${x + bw / 2}" y="${H - 4}" text-anchor="middle">${esc((names[k] ?? String(k)).slice(0, Math.max(1, Math.floor(bw / 6))))}</text>`);
    if (c) out.push(`<text x="${x + bw / 2}" y="${11 + ih - h}" text-anchor="middle">${c}</text>`);
  });
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.innerHTML = out.join("");
}
