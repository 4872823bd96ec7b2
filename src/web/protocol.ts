// The lab's two halves talk only through these messages: the page (src/web/lab.ts) draws and
// steers; the Web Worker (src/web/worker.ts) runs the simulator on the engine and reports. Every
// setting travels as the page URL's query string ("nodes=8&topology=ring&…", the `cdl run` flag
// names without dashes in front), which the worker parses with the CLI's own flag table, so a bad
// value gets the CLI's message word for word.
import type { EvalRecord, NodeRecord } from "../experiment/recorder.ts";

/** Page → worker. */
export type ToWorker =
  /** Build the run of these settings (a query string) and start it (paused: false) or hold it at t = 0. */
  | { type: "start"; query: string; paused: boolean }
  | { type: "play" }
  | { type: "pause" }
  /** Run one step time (every node about one step), then pause. */
  | { type: "step" }
  /** Virtual seconds per wall second; Infinity = as fast as the machine goes. */
  | { type: "speed"; value: number }
  /** The node whose inbox and last consensus update the frames detail (-1: none). */
  | { type: "watch"; node: number }
  /** Ask for the run's metrics.jsonl and summary.json (answered by an "export" message). */
  | { type: "export" };

/** One edge of the graph, as drawn: nodes a < b. */
export type Edge = [number, number];

/** What a run is, sent once when it is built. */
export interface Setup {
  /** The settings after defaults (the RunConfig's fields). */
  config: Record<string, unknown>;
  /** The same run on the command line: `cdl run` and the settings that differ from the defaults. */
  command: string;
  /** Every setting as a query string, for the URL (the settings after the lab defaults, see src/web/settings.ts). */
  query: string;
  nodes: number;
  edges: Edge[];
  topologyName: string;
  maxDegree: number;
  lambda2: number;
  /** ε in use and its stability bound 1/Δ (null for algorithms that do not mix with ε). */
  epsilon: number | null;
  epsilonBound: number;
  weights: string;
  /** [node][class] training samples of each node. */
  histogram: number[][];
  classNames: string[];
  /** Virtual seconds of one step of a normal node, and the run's expected length. */
  stepCost: number;
  duration: number;
  evalEvery: number;
  evalSamples: number;
  /** A few test digits (28×28 bytes each, row-major), whose predictions the frames carry. */
  digits: { index: number; label: number; pixels: Uint8Array }[];
  /** The engine build that runs (e.g. simd-fma) and the runtime. */
  build: string | null;
}

/** One message over an edge since the previous frame. */
export interface Flash {
  from: number;
  to: number;
  /** delivered: it arrived; the others: it was lost (random drop, link down, a crashed end). */
  kind: "delivered" | "drop" | "link-down" | "crashed";
}

export interface NodeView {
  steps: number;
  /** Finished its budget (learning and agreeing). */
  done: boolean;
  /** Not crashed right now. */
  up: boolean;
  /** The newest snapshot held from each neighbour: its sender step and age (virtual s). */
  inbox: { from: number; step: number; age: number }[];
  sent: number;
  delivered: number;
  dropped: number;
  received: number;
  outOfOrder: number;
  tooOld: number;
  rejected: number;
}

/** The numbers of the watched node's last consensus step θ_i ← w_ii·θ_i + Σ_j w_ij·θ_j. */
export interface UpdateView {
  node: number;
  t: number;
  epsilon: number | null;
  rule: string;
  self: number;
  peers: { from: number; weight: number; step: number; age: number }[];
  /** ‖θ_i − m‖ before and after the step, m = the plain mean of the mixed snapshots. */
  distBefore: number;
  distAfter: number;
  /** ‖θ_i(after) − θ_i(before)‖. */
  moved: number;
}

/** The run's state, sent at most ~10 times a second. */
export interface Frame {
  /** Virtual time reached. */
  t: number;
  /** Running, paused, or finished (the final evaluation is done). */
  state: "running" | "paused" | "done";
  /** Wall milliseconds the simulation has run (paused time excluded) and training samples per wall second. */
  wallMs: number;
  samplesPerSecond: number;
  /** Evaluation points recorded since the previous frame (the same records metrics.jsonl holds). */
  evals: EvalRecord[];
  nodeEvals: NodeRecord[];
  nodes: NodeView[];
  /** Messages since the previous frame (at most a few hundred; the rest are counted in nodes). */
  flashes: Flash[];
  /** Indices into Setup.edges of the links that are down now. */
  linksDown: number[];
  /** [node][digit]: the class each node predicts for each of Setup.digits (at the last evaluation point); null until the first. */
  predictions: number[][] | null;
  update: UpdateView | null;
}

/** Worker → page. */
export type FromWorker =
  | { type: "setup"; setup: Setup }
  | { type: "frame"; frame: Frame }
  /** The run is over: final accuracies on the full test set, as summary.json holds them. */
  | { type: "done"; summary: { accuracy: { mean: number; min: number; max: number; perNode: number[] }; meanModelAccuracy: number } }
  /** A setting is wrong (the CLI's message) or the run failed. */
  | { type: "error"; message: string; kind: "config" | "internal" }
  | { type: "export"; metrics: string; summary: string };
