// The lab's Web Worker: the simulator of `cdl run`, on the same engine build, in the page. It
// builds the world from the page's settings (parsed with the CLI's flag table), runs the same
// simulate() as the CLI with two extra hooks — a gate that holds the run for pause, single step
// and speed, and an observer that sees messages and one node's consensus steps — and posts what the
// page draws, at most 10 frames a second. Neither hook changes the run: what it records is
// byte-for-byte the metrics.jsonl `cdl run` writes for the same settings and SIMD build.
import type { Dataset } from "../data/dataset.ts";
import { unpackDataset } from "../data/pack.ts";
import { mixingWeights } from "../consensus/weights.ts";
import { ConfigError } from "../errors.ts";
import type { Hooks, Observer } from "../experiment/algorithms.ts";
import { Recorder } from "../experiment/recorder.ts";
import { evalInterval, metricsText, nominalDuration, simulate, summarize, type Outcome } from "../experiment/run.ts";
import { agreeDeadline } from "../node/program.ts";
import { buildWorld, messageStats, type NodeState, type World } from "../experiment/world.ts";
import type { Flash, Frame, FromWorker, Setup, ToWorker, UpdateView } from "./protocol.ts";
import { describeSettings, labConfig, labSettings } from "./settings.ts";

interface Scope {
  postMessage(m: FromWorker): void;
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
}
const scope = globalThis as unknown as Scope;
const post = (m: FromWorker) => scope.postMessage(m);

/** The packed datasets the lab ships (src/web/build.ts writes them beside the page). */
const DATA_URL = new URL("../../../data/", import.meta.url);
const FRAME_MS = 100, YIELD_MS = 40, MAX_FLASHES = 400;

let data: Promise<Dataset> | null = null;

async function fetchDataset(name: string): Promise<Dataset> {
  const url = new URL(`${name}.cdl.gz`, DATA_URL);
  const res = await fetch(url);
  if (!res.ok) throw new Error(`cannot fetch ${url}: ${res.status} (rebuild the lab with \`npm run lab\`)`);
  const plain = res.body!.pipeThrough(new DecompressionStream("gzip"));
  return unpackDataset(new Uint8Array(await new Response(plain).arrayBuffer()), url.pathname);
}

/** The run in this worker: its controls, and what it has seen since the last frame. */
class Session {
  paused: boolean;
  speed = Infinity;
  private stepUntil: number | null = null;
  private resume: (() => void) | null = null;
  private t = 0;
  private wallMs = 0;
  private since = performance.now();
  private lastFrame = 0;
  private lastYield = performance.now();
  private virtAnchor = 0;
  private wallAnchor = performance.now();
  private flashes: Flash[] = [];
  private sentEvals = 0;
  /** Per node, how many of its evaluation records earlier frames carried. */
  private sentNodeEvals: number[];
  private predictions: number[][] | null = null;
  watched = -1;
  private update: UpdateView | null = null;
  private lastCapture = -Infinity;
  private pending: { before: Float32Array; mean: Float32Array | null; view: UpdateView } | null = null;
  done = false;
  outcome: Outcome | null = null;

  constructor(readonly w: World, readonly hooks: Hooks, readonly setup: Setup, paused: boolean) {
    this.paused = paused;
    this.sentNodeEvals = w.nodes.map(() => 0);
    hooks.gate = (t) => this.gate(t);
    hooks.observer = this.observer();
    hooks.onEval = () => { this.predictions = predict(w, setup); };
  }

  control(m: ToWorker): void {
    if (m.type === "play") { this.paused = false; this.stepUntil = null; this.release(); }
    else if (m.type === "pause") { this.paused = true; }
    else if (m.type === "step") { this.paused = false; this.stepUntil = this.t + this.w.stepCost; this.release(); }
    else if (m.type === "speed") { this.speed = m.value > 0 ? m.value : Infinity; this.reanchor(); }
    else if (m.type === "watch") { this.watched = m.node; this.update = null; this.lastCapture = -Infinity; this.frame(); }
  }

  private release(): void {
    this.since = performance.now();
    this.reanchor();
    const r = this.resume;
    this.resume = null;
    r?.();
  }

  private reanchor(): void {
    this.virtAnchor = this.t;
    this.wallAnchor = performance.now();
  }

  private gate(t: number): Promise<void> | null {
    this.t = t;
    const now = performance.now();
    if (this.stepUntil !== null && t >= this.stepUntil) { this.stepUntil = null; this.paused = true; }
    if (now - this.lastFrame >= FRAME_MS) this.frame();
    if (this.paused) {
      this.wallMs += now - this.since;
      this.frame();
      return new Promise((r) => { this.resume = r; });
    }
    if (Number.isFinite(this.speed)) {
      const ahead = (t - this.virtAnchor) / this.speed * 1000 - (now - this.wallAnchor);
      if (ahead > 1) { this.lastYield = now; return sleep(Math.min(ahead, YIELD_MS)); }
    }
    if (now - this.lastYield >= YIELD_MS) { this.lastYield = now; return sleep(0); }
    return null;
  }

  private observer(): Observer {
    const flash = (f: Flash) => { if (this.flashes.length < MAX_FLASHES) this.flashes.push(f); };
    return {
      sent: (from, to, _t, r) => { if (!r.delivered) flash({ from, to, kind: r.reason }); },
      arrived: (snap, to) => flash({ from: snap.from, to, kind: "delivered" }),
      agreeing: (s, got, t, rule) => {
        // The copies and sums below cost a few steps' time: at most one capture per frame.
        if (s.id !== this.watched || performance.now() - this.lastCapture < FRAME_MS) return;
        this.lastCapture = performance.now();
        const sorted = [...got].sort((a, b) => a.from - b.from);
        const deg = (i: number) => this.w.topology.degree(i);
        const m = mixingWeights(rule, { epsilon: this.w.epsilon }, deg(s.id), sorted.map((g) => ({ peer: g.from, degree: deg(g.from) })));
        let mean: Float32Array | null = null;
        if (sorted.length) {
          mean = new Float32Array(s.params.theta.view.length);
          for (const g of sorted) for (let i = 0; i < mean.length; i++) mean[i] += g.theta[i] / sorted.length;
        }
        this.pending = {
          before: s.params.theta.view.slice(), mean,
          view: {
            node: s.id, t, epsilon: rule === "laplacian" ? this.w.epsilon : null, rule, self: m.self,
            peers: sorted.map((g, j) => ({ from: g.from, weight: m.peers[j], step: g.step, age: t - g.sentAt })),
            distBefore: mean ? dist(s.params.theta.view, mean) : 0, distAfter: 0, moved: 0,
          },
        };
      },
      agreed: (s: NodeState) => {
        const p = this.pending;
        if (!p || s.id !== this.watched) return;
        p.view.distAfter = p.mean ? dist(s.params.theta.view, p.mean) : 0;
        p.view.moved = dist(s.params.theta.view, p.before);
        this.update = p.view;
        this.pending = null;
      },
    };
  }

  /** Posts the state now (called at most every FRAME_MS while running, and when pausing or finishing). */
  frame(): void {
    const w = this.w, r = this.hooks.recorder, now = performance.now();
    this.lastFrame = now;
    const running = !this.paused && !this.done;
    const wallMs = this.wallMs + (running ? now - this.since : 0);
    const samples = w.nodes.reduce((a, s) => a + s.steps, 0) * w.cfg.batch;
    const t = this.done && this.outcome ? this.outcome.end : this.t;
    const frame: Frame = {
      t, state: this.done ? "done" : this.paused ? "paused" : "running", wallMs,
      samplesPerSecond: wallMs > 0 ? samples / (wallMs / 1000) : 0,
      evals: r.evals.slice(this.sentEvals),
      nodeEvals: r.nodeSeries.flatMap((ser, i) => ser.slice(this.sentNodeEvals[i])),
      nodes: w.nodes.map((s) => {
        const st = messageStats(w, s.id);
        return {
          steps: s.steps, done: s.done, up: w.network.isUp(s.id, t),
          inbox: [...s.inbox.values()].sort((a, b) => a.from - b.from).map((x) => ({ from: x.from, step: x.step, age: t - x.sentAt })),
          sent: st.sent, delivered: st.delivered, dropped: st.dropped.drop + st.dropped["link-down"] + st.dropped.crashed,
          received: st.received, outOfOrder: s.outOfOrder, tooOld: s.tooOld, rejected: s.rejected,
        };
      }),
      flashes: this.flashes,
      linksDown: this.setup.edges.flatMap(([a, b], e) => (w.network.linkUp(a, b, t) ? [] : [e])),
      predictions: this.predictions,
      update: this.watched >= 0 ? this.update : null,
    };
    this.sentNodeEvals = r.nodeSeries.map((ser) => ser.length);
    this.sentEvals = r.evals.length;
    this.flashes = [];
    post({ type: "frame", frame });
  }

  finish(o: Outcome): void {
    this.wallMs += performance.now() - this.since;
    this.outcome = o;
    this.done = true;
    this.frame();
  }

  summaryJson(): string {
    const o: Outcome = this.outcome ?? { end: this.t, runMs: this.wallMs, interrupted: true, state: null, finals: null, threads: 1 };
    const s = summarize(this.w, this.hooks, "lab", o, this.wallMs);
    return JSON.stringify(s, null, 2) + "\n";
  }
}

/** A macrotask after `ms`; for 0 a MessageChannel message, because browsers clamp nested
 * setTimeout(0) to 4 ms, which at one yield per 40 ms would cost the run 10%. */
const channel = new MessageChannel();
const woken: (() => void)[] = [];
channel.port1.onmessage = () => woken.shift()?.();
const sleep = (ms: number) => new Promise<void>((r) => {
  if (ms > 0) setTimeout(r, ms);
  else { woken.push(r); channel.port2.postMessage(0); }
});

function dist(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) { const d = a[i] - b[i]; s += d * d; }
  return Math.sqrt(s);
}

/** The first test digit of each class (up to 10), shown with every node's prediction. */
function pickDigits(ds: Dataset): Setup["digits"] {
  const size = ds.shape[0] * ds.shape[1] * ds.shape[2], out: Setup["digits"] = [];
  for (let c = 0; c < Math.min(ds.classes, 10); c++) {
    const index = ds.test.labels.indexOf(c);
    if (index >= 0) out.push({ index, label: c, pixels: ds.test.images.slice(index * size, (index + 1) * size) });
  }
  return out;
}

/** [node][digit] predicted class of Setup.digits (a forward pass, like an evaluation: no state changes). */
function predict(w: World, setup: Setup): number[][] {
  const idx = Int32Array.from(setup.digits, (d) => d.index), B = idx.length;
  return w.nodes.map((s) => {
    w.net.loadBatch(w.ds, w.ds.test, idx, 0, B);
    return w.net.predictBatch(s.params.theta, B);
  });
}

/** The virtual length of the run the charts are drawn to: the agreement phase included. */
function runLength(w: World): number {
  const async = w.cfg.algorithm !== "fedavg" && w.cfg.algorithm !== "dpsgd";
  return async && w.cfg.budget === "time" && Number.isFinite(agreeDeadline(w)) ? agreeDeadline(w) : nominalDuration(w);
}

let session: Session | null = null, starting = false;
/** Controls and exports that arrived while the run was being built, applied once it exists. */
const early: ToWorker[] = [];

async function start(query: string, paused: boolean): Promise<void> {
  const settings = labSettings(query);
  const cfg = labConfig(settings);
  if (cfg.dataset !== "mnist-10k") throw new ConfigError(`--dataset ${cfg.dataset}: the lab ships mnist-10k only; run ${cfg.dataset} with cdl run`);
  data ??= fetchDataset("mnist-10k");
  const w = await buildWorld(cfg, await data);
  const evalEvery = evalInterval(w);
  const { command, query: q } = describeSettings(settings);
  const rounds = cfg.algorithm === "fedavg" || cfg.algorithm === "dpsgd";
  const setup: Setup = {
    config: { ...cfg }, command, query: q, nodes: w.nodes.length,
    edges: w.topology.edges.map(([a, b]) => (a < b ? [a, b] : [b, a])),
    topologyName: w.topology.name, maxDegree: w.topology.maxDegree, lambda2: w.lambda2,
    epsilon: !rounds && cfg.weights === "laplacian" && cfg.algorithm !== "isolated" && cfg.algorithm !== "centralized" ? w.epsilon : null,
    epsilonBound: w.topology.maxDegree > 0 ? 1 / w.topology.maxDegree : Infinity,
    weights: cfg.weights, histogram: w.histogram, classNames: [...w.ds.classNames],
    stepCost: w.stepCost, duration: runLength(w), evalEvery, evalSamples: w.evalIndices.length,
    digits: pickDigits(w.ds), build: w.net.engine.build,
  };
  const hooks: Hooks = { recorder: new Recorder(w), evalEvery, trainMs: 0 };
  const s = new Session(w, hooks, setup, paused);
  session = s;
  post({ type: "setup", setup });
  for (const m of early.splice(0)) handle(m);
  const o = await simulate(w, hooks);
  s.finish(o);
  const sum = JSON.parse(s.summaryJson());
  post({ type: "done", summary: { accuracy: sum.accuracy, meanModelAccuracy: sum.meanModelAccuracy } });
}

function handle(m: ToWorker): void {
  if (m.type === "start") {
    if (session || starting) { post({ type: "error", kind: "internal", message: "this worker already runs a run: start a new worker for a new run" }); return; }
    starting = true;
    start(m.query, m.paused).catch((err: unknown) => {
      const config = err instanceof ConfigError;
      post({ type: "error", kind: config ? "config" : "internal", message: config ? (err as Error).message : String((err as Error)?.stack ?? err) });
    });
  } else if (!session) {
    early.push(m);
  } else if (m.type === "export") {
    post({ type: "export", metrics: metricsText(session.hooks.recorder), summary: session.summaryJson() });
  } else {
    session.control(m);
  }
}

scope.onmessage = (e) => handle(e.data);
