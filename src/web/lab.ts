// The lab's page: it owns the settings (a query string of `cdl run` flags that round-trips through
// the URL), starts one simulation per Web Worker (src/web/worker.ts; a second one when comparing),
// keeps what the workers report, and redraws the views at most ~10 times a second, decoupled from
// the workers' frames. The views (src/web/views/*.ts) only draw what they are handed; the model code
// knows nothing of the page. Tests drive it through window.lab (exportRun, state).
import type { EvalRecord, NodeRecord } from "../experiment/recorder.ts";
import { ALGORITHMS, RUN_FLAGS } from "../experiment/config.ts";
import type { Frame, FromWorker, Setup, ToWorker, UpdateView } from "./protocol.ts";
import { LAB_DEFAULTS, describeSettings, labSettings } from "./settings.ts";
import { drawChart, esc, type Point } from "./views/chart.ts";
import { Controls } from "./views/controls.ts";
import { DigitsView } from "./views/digits.ts";
import { drawGraph, type LaneFlash } from "./views/graph.ts";
import { Heatmap } from "./views/heatmap.ts";
import { HowView } from "./views/how.ts";
import { NodePanel } from "./views/node-panel.ts";

type Summary = Extract<FromWorker, { type: "done" }>["summary"];
interface Exported { metrics: string; summary: string }

/** How long a message stays lit on its lane (wall ms), and the least time between two draws. */
const FLASH_MS = 700, DRAW_MS = 100;

/** One simulation in its own worker and everything it has reported so far. */
class Run {
  readonly worker: Worker;
  setup: Setup | null = null;
  frame: Frame | null = null;
  evals: EvalRecord[] = [];
  nodeSeries: NodeRecord[][] = [];
  predictions: number[][] | null = null;
  update: UpdateView | null = null;
  summary: Summary | null = null;
  error: { message: string; kind: "config" | "internal" } | null = null;
  /** The newest message over each direction of each edge ("from>to"), with its wall time. */
  readonly lanes = new Map<string, { from: number; to: number; lost: boolean; at: number }>();
  private exports: { resolve: (e: Exported) => void; reject: (e: Error) => void }[] = [];
  /** What the page sent before the run was built: the worker only takes controls once it has a run. */
  private queue: ToWorker[] = [];

  constructor(query: string, speed: number, private readonly changed: () => void, paused = false) {
    this.worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
    this.worker.onmessage = (e: MessageEvent<FromWorker>) => this.receive(e.data);
    this.worker.onerror = (e: ErrorEvent) => {
      this.error ??= { kind: "internal", message: e.message || "the simulation worker failed to load" };
      for (const x of this.exports.splice(0)) x.reject(new Error(this.error.message));
      changed();
    };
    this.send({ type: "start", query, paused });
    this.send({ type: "speed", value: speed });
  }

  send(m: ToWorker): void {
    if (m.type === "start" || this.setup) this.worker.postMessage(m);
    else this.queue.push(m);
  }
  stop(): void { this.worker.terminate(); }

  /** The run's metrics.jsonl and summary.json, as the worker has them now. */
  exportRun(): Promise<Exported> {
    if (this.error) return Promise.reject(new Error(this.error.message));
    return new Promise((resolve, reject) => { this.exports.push({ resolve, reject }); this.send({ type: "export" }); });
  }

  private receive(m: FromWorker): void {
    if (m.type === "setup") {
      this.setup = m.setup;
      this.nodeSeries = Array.from({ length: m.setup.nodes }, () => []);
      for (const q of this.queue.splice(0)) this.worker.postMessage(q);
    } else if (m.type === "frame") {
      const f = m.frame, now = performance.now();
      this.frame = f;
      this.evals.push(...f.evals);
      for (const r of f.nodeEvals) this.nodeSeries[r.node]?.push(r);
      if (f.predictions) this.predictions = f.predictions;
      if (f.update) this.update = f.update;
      for (const x of f.flashes) this.lanes.set(`${x.from}>${x.to}`, { from: x.from, to: x.to, lost: x.kind !== "delivered", at: now });
    } else if (m.type === "done") {
      this.summary = m.summary;
    } else if (m.type === "error") {
      this.error = { message: m.message, kind: m.kind };
      for (const e of this.exports.splice(0)) e.reject(new Error(m.message));
    } else if (m.type === "export") {
      for (const e of this.exports.splice(0)) e.resolve({ metrics: m.metrics, summary: m.summary });
    }
    this.changed();
  }

  /** The lanes still lit, fading from 1 to 0; the dark ones are forgotten. */
  flashes(now: number): LaneFlash[] {
    const out: LaneFlash[] = [];
    for (const [k, l] of this.lanes) {
      const fade = 1 - (now - l.at) / FLASH_MS;
      if (fade <= 0) this.lanes.delete(k);
      else out.push({ from: l.from, to: l.to, lost: l.lost, fade });
    }
    return out;
  }

  latestAccuracy(): (number | null)[] {
    return this.nodeSeries.map((s) => (s.length ? s[s.length - 1].testAccuracy : null));
  }

  state(): string { return this.error ? "error" : this.frame?.state ?? "starting"; }
}

const $ = <T extends Element = HTMLElement>(id: string) => document.getElementById(id) as unknown as T;
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const series = (evals: readonly EvalRecord[], pick: (e: EvalRecord) => number): Point[] => evals.map((e) => [e.t, pick(e)]);

// ---- state: the settings, the runs, what is selected ----
let settings = labSettings(location.search);
let compareAlg = new URLSearchParams(location.hash.slice(1)).get("compare");
let speed = Infinity;
/** The node whose details are shown (-1: none); node 0 to start with, so the panels are not empty. */
let selected = 0;
let run!: Run;
let other: Run | null = null;
let dirty = true;
const markDirty = () => { dirty = true; };

const controls = new Controls($<HTMLFormElement>("settings"), RUN_FLAGS, LAB_DEFAULTS, changeSetting);
const heatmap = new Heatmap($<HTMLCanvasElement>("heatmap"), select);
const digits = new DigitsView($("digits"));
const panel = new NodePanel($("node-panel"));
const how = new HowView($("how"));
let digitsFor: Setup | null = null;

/** (Re)starts the run of the current settings, and the compared one: fresh workers, nothing kept. */
function restart(): void {
  // A teacher who paused to change a setting gets the new run paused at t = 0, to start with Play.
  const paused = run?.state() === "paused";
  run?.stop();
  other?.stop();
  run = new Run(describeSettings(settings).query, speed, markDirty, paused);
  other = null;
  if (compareAlg) {
    const s = new Map(settings).set("algorithm", compareAlg);
    other = new Run(describeSettings(s).query, speed, markDirty, paused);
  }
  if (selected >= 0) run.send({ type: "watch", node: selected });
  controls.show(settings, LAB_DEFAULTS, RUN_FLAGS);
  markDirty();
}

function writeUrl(query: string): void {
  history.replaceState(null, "", `${location.pathname}${query ? `?${query}` : ""}${compareAlg ? `#compare=${encodeURIComponent(compareAlg)}` : ""}`);
}

function changeSetting(key: string, value: string): void {
  const before = describeSettings(settings).query;
  if (value) settings.set(key, value);
  else if (key in LAB_DEFAULTS) settings.set(key, LAB_DEFAULTS[key]);
  else settings.delete(key);
  const after = describeSettings(settings).query;
  if (after === before) return; // a second change event for the same value (e.g. on blur) restarts nothing
  writeUrl(after);
  restart();
}

function select(node: number): void {
  selected = node === selected ? -1 : node;
  run.send({ type: "watch", node: selected });
  markDirty();
}

// ---- the controls outside the settings form ----
$("play").addEventListener("click", () => {
  const paused = run.state() === "paused";
  for (const r of [run, other]) r?.send({ type: paused ? "play" : "pause" });
});
$("step").addEventListener("click", () => { for (const r of [run, other]) r?.send({ type: "step" }); });
$<HTMLSelectElement>("speed").addEventListener("change", (e) => {
  speed = Number((e.target as HTMLSelectElement).value);
  for (const r of [run, other]) r?.send({ type: "speed", value: speed });
});
$("reset").addEventListener("click", (e) => {
  e.preventDefault();
  settings = labSettings("");
  writeUrl("");
  restart();
});
const compareOn = $<HTMLInputElement>("compare-on"), compareSel = $<HTMLSelectElement>("compare-alg");
for (const a of ALGORITHMS) compareSel.add(new Option(a, a));
compareSel.value = compareAlg ?? "isolated";
compareOn.checked = compareAlg !== null;
const compareChanged = () => {
  compareAlg = compareOn.checked ? compareSel.value : null;
  writeUrl(location.search.slice(1));
  restart();
};
compareOn.addEventListener("change", compareChanged);
compareSel.addEventListener("change", () => { if (compareOn.checked) compareChanged(); });
// pointerdown, not click: the svg is redrawn ~10 times a second, so the element under the button
// when it goes down is often gone when it comes up, and no click would fire
$<SVGSVGElement>("graph").addEventListener("pointerdown", (e) => {
  const g = (e.target as Element).closest("[data-node]");
  if (g) select(Number(g.getAttribute("data-node")));
});
$("copy").addEventListener("click", () => {
  navigator.clipboard?.writeText($("command").textContent ?? "").then(() => { $("copy").textContent = "copied"; }, () => undefined);
});
let downloadUrls: string[] = [];
$("export").addEventListener("click", () => {
  run.exportRun().then(({ metrics, summary }) => {
    for (const u of downloadUrls) URL.revokeObjectURL(u);
    const box = $("downloads");
    box.textContent = "Downloaded: ";
    downloadUrls = [["metrics.jsonl", metrics, "application/x-ndjson"], ["summary.json", summary, "application/json"]].map(([name, text, type], i) => {
      const a = document.createElement("a");
      a.href = URL.createObjectURL(new Blob([text], { type }));
      a.download = a.textContent = name;
      if (i) box.append(" · ");
      box.append(a);
      a.click();
      return a.href;
    });
  }, (e: Error) => { $("downloads").textContent = `Nothing to export: ${e.message}`; });
});
window.addEventListener("resize", markDirty);

// ---- drawing ----
function draw(now: number): void {
  const s = run.setup, err = $("error");
  err.hidden = !run.error;
  err.textContent = run.error?.message ?? "";
  err.dataset.kind = run.error?.kind ?? "";
  $("status").innerHTML = status(run);
  $("play").textContent = run.state() === "paused" ? "Play" : "Pause";
  for (const id of ["play", "step"]) $<HTMLButtonElement>(id).disabled = !s || run.state() === "done" || run.state() === "error";
  $("command").textContent = s?.command ?? "…";
  controls.note("epsilon", !s ? "" : s.epsilon === null ? "not used by this algorithm or weight rule"
    : `in use: ${s.epsilon.toFixed(3)} · stable while ε ≤ 1/Δ = ${s.epsilonBound.toFixed(3)} (Δ = ${s.maxDegree})`);
  if (s && selected >= s.nodes) selected = -1;
  const xMax = Math.max(s?.duration ?? 1, other?.setup?.duration ?? 0);

  drawGraph($<SVGSVGElement>("graph"), {
    nodes: s?.nodes ?? 0, edges: s?.edges ?? [], accuracy: run.latestAccuracy(), views: run.frame?.nodes ?? null,
    flashes: run.flashes(now), linksDown: run.frame?.linksDown ?? [], selected, topology: s?.topologyName,
  });
  drawCharts(run, other, xMax);
  drawCompare(other, now);
  if (s) {
    heatmap.draw(s.histogram, s.classNames, selected);
    if (digitsFor !== s) { digits.setup(s.digits, s.classNames, s.nodes); digitsFor = s; }
    digits.draw(run.predictions, selected);
    const k = s.config;
    how.explain({ algorithm: String(k.algorithm), localSteps: String(k.localSteps), shareEvery: String(k.shareEvery),
      maxStaleness: String(k.maxStaleness), agreeSteps: String(k.agreeSteps) });
  }
  how.draw(run.update, selected);
  if (s && selected >= 0) {
    panel.draw({
      node: selected, histogram: s.histogram[selected] ?? [], classNames: s.classNames, view: run.frame?.nodes[selected] ?? null,
      accuracy: (run.nodeSeries[selected] ?? []).map((r) => [r.t, r.testAccuracy]), meanAccuracy: series(run.evals, (e) => e.meanAccuracy),
      xMax, maxStaleness: Number(s.config.maxStaleness),
    });
  } else panel.empty();
  if (run.lanes.size) dirty = true; // keep fading the lit lanes
}

function status(r: Run): string {
  if (r.error) return `<b>${r.error.kind === "config" ? "not started" : "failed"}</b>: see the message above`;
  const f = r.frame, s = r.setup;
  if (!s || !f) return "starting the simulation…";
  const last = r.evals[r.evals.length - 1];
  const of = f.state === "done" || f.t > s.duration ? "" : ` of ~${s.duration.toFixed(0)}`;
  const lines = [`<b>t = ${f.t.toFixed(1)}${of} virtual s</b> · <b>${f.state}</b>`,
    `${Math.round(f.samplesPerSecond).toLocaleString("en")} training samples/s${s.build ? ` (engine ${s.build})` : ""}`];
  if (r.summary) {
    const a = r.summary.accuracy;
    lines.push(`final accuracy: mean <b>${pct(a.mean)}</b> (min ${pct(a.min)}, max ${pct(a.max)}), mean model ${pct(r.summary.meanModelAccuracy)}`);
  } else if (last) lines.push(`mean accuracy ${pct(last.meanAccuracy)} (worst node ${pct(last.minAccuracy)})`);
  return lines.join("<br>");
}

function drawCharts(r: Run, o: Run | null, xMax: number): void {
  const e = r.evals, oe = o?.evals ?? [], oName = o ? String(o.setup?.config.algorithm ?? compareAlg) : "";
  drawChart($<SVGSVGElement>("chart-acc"), {
    xLabel: "virtual time (s)", yLabel: "test accuracy", xMax, yMin: 0, yMax: 1, yFormat: (y) => `${Math.round(y * 100)}%`,
    empty: "waiting for the first evaluation…",
    bands: [{ label: "worst…best node", color: "rgba(43,108,176,0.16)", lower: series(e, (x) => x.minAccuracy), upper: series(e, (x) => x.maxAccuracy) }],
    series: [
      { label: "mean of the nodes", color: "#2b6cb0", points: series(e, (x) => x.meanAccuracy) },
      { label: "mean model", color: "#7048e8", points: series(e, (x) => x.meanModelAccuracy) },
      ...(o ? [{ label: `${oName}: mean of the nodes`, color: "#e8590c", points: series(oe, (x) => x.meanAccuracy), dashed: true }] : []),
    ],
  });
  drawChart($<SVGSVGElement>("chart-dist"), {
    xLabel: "virtual time (s)", yLabel: "distance", xMax, log: true, empty: "waiting for the first evaluation…",
    series: [
      { label: "mean over nodes", color: "#2b6cb0", points: series(e, (x) => x.meanDistance) },
      { label: "farthest node", color: "#74c0fc", points: series(e, (x) => x.maxDistance) },
      ...(o ? [{ label: `${oName}: mean`, color: "#e8590c", points: series(oe, (x) => x.meanDistance), dashed: true }] : []),
    ],
  });
  drawChart($<SVGSVGElement>("chart-msg"), {
    xLabel: "virtual time (s)", yLabel: "messages", xMax, yFormat: (y) => (y >= 1000 ? `${+(y / 1000).toPrecision(3)}k` : String(y)),
    empty: "waiting for the first evaluation…",
    series: [
      { label: "sent", color: "#495057", points: series(e, (x) => x.sent) },
      { label: "delivered", color: "#2b6cb0", points: series(e, (x) => x.delivered) },
      { label: "lost", color: "#e03131", points: series(e, (x) => x.dropped) },
    ],
  });
}

function drawCompare(o: Run | null, now: number): void {
  $("compare-box").hidden = !o;
  if (!o) return;
  const s = o.setup, name = String(s?.config.algorithm ?? compareAlg);
  $("compare-title").textContent = `Compared run: ${name}, same settings otherwise (dashed orange in the charts)`;
  drawGraph($<SVGSVGElement>("graph2"), {
    nodes: s?.nodes ?? 0, edges: s?.edges ?? [], accuracy: o.latestAccuracy(), views: o.frame?.nodes ?? null,
    flashes: o.flashes(now), linksDown: o.frame?.linksDown ?? [], selected: -1, topology: s?.topologyName,
  });
  if (o.lanes.size) dirty = true;
  const last = o.evals[o.evals.length - 1], a = o.summary?.accuracy;
  $("compare-summary").innerHTML = o.error ? `<span class="bad">${esc(o.error.message)}</span>`
    : a ? `done · final accuracy: mean <b>${pct(a.mean)}</b> (min ${pct(a.min)}, max ${pct(a.max)}), mean model ${pct(o.summary!.meanModelAccuracy)}`
    : last ? `t = ${o.frame?.t.toFixed(1)} s · mean accuracy <b>${pct(last.meanAccuracy)}</b> (min ${pct(last.minAccuracy)}, max ${pct(last.maxAccuracy)})`
    : "starting…";
}

let lastDraw = -Infinity;
function loop(now: number): void {
  if (dirty && now - lastDraw >= DRAW_MS) {
    dirty = false;
    lastDraw = now;
    draw(now);
  }
  requestAnimationFrame(loop);
}

// ---- for the automated tests: window.lab ----
declare global { interface Window { lab: unknown } }
window.lab = {
  /** The main run's metrics.jsonl and summary.json (as far as it has got). */
  exportRun: (): Promise<Exported> => run.exportRun(),
  /** Where the main run is: virtual time, state, the latest mean accuracy, evaluation points so far, the error if any, its setup. */
  state: () => ({
    t: run.frame?.t ?? 0, state: run.state(), meanAccuracy: run.evals.length ? run.evals[run.evals.length - 1].meanAccuracy : null,
    evals: run.evals.length, error: run.error?.message ?? null, setup: run.setup,
  }),
};

restart();
requestAnimationFrame(loop);
