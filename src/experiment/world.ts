// Everything a consensus run is made of, built once from a RunConfig: the dataset and its
// partition, the topology, the network model, one engine + net shared by all nodes, and each
// node's own state (θ, momentum, shard, Rng streams, inbox). Memory is sized here, up front.
//
// A node's step is a pure function of its own NodeState and its inbox (plus the shared,
// stateless net as a calculator), so steps could run on worker threads with identical results.
import type { Dataset } from "../data/dataset.ts";
import { classHistogram, partition } from "../data/partition.ts";
import { loadDataset } from "../data/registry.ts";
import { laplacianExtremes } from "../consensus/spectral.ts";
import { fromEdges, parseTopology, type Topology } from "../consensus/topology.ts";
import { resolveEpsilon } from "../consensus/weights.ts";
import { ConfigError } from "../errors.ts";
import { Net, type ParamSet } from "../nn/net.ts";
import { planModel, type ModelPlan } from "../nn/spec.ts";
import { Rng } from "../rng.ts";
import { averageMessageBytes, levelBytes, messageBytes as compressMessageBytes, parseCompression, Scratch, Sender, tensorsOf, type Compression, type MessageKind, type Tensor } from "../node/compress.ts";
import { Network, sumStats, type NodeStats } from "../sim/network.ts";
import { memoryMBFor } from "../train.ts";
import type { F32Buf } from "../wasm/arena.ts";
import { loadEngine } from "../wasm/loader.ts";
import type { RunConfig } from "./config.ts";

/**
 * A parameter snapshot in flight or in an inbox: immutable while anyone holds it, shared by all its
 * recipients. The asynchronous algorithms count its holders (scheduled deliveries and inbox slots)
 * and hand its array back to a pool when the count returns to zero, so a run does not allocate a
 * fresh θ-sized array (and page it in, and collect it) for every shared step.
 */
export interface Snapshot {
  readonly from: number;
  /** The sender's step count (learning + agreement steps) when it was taken: newer replaces older. */
  readonly step: number;
  readonly sentAt: number;
  readonly theta: Float32Array;
  /** Under a difference codec: the message's encoded size, kind and sequence number. */
  readonly bytes?: number;
  readonly kind?: MessageKind;
  readonly seq?: number;
  /** Every value is finite. A receiver ignores a snapshot carrying NaN/Inf (it must not spread);
   * the property belongs to the content, so it is computed once per snapshot, by a SIMD kernel. */
  readonly finite: boolean;
  /** Deliveries scheduled and inboxes holding it (maintained by the simulator's driver; unused elsewhere). */
  holders: number;
}

export interface NodeState {
  readonly id: number;
  readonly params: ParamSet;
  /** Indices of this node's training samples. */
  readonly shard: Int32Array;
  /** The current local epoch's order over the shard, and the position in it. */
  order: Int32Array;
  cursor: number;
  readonly shuffleRng: Rng;
  readonly dropoutRng: Rng;
  readonly augRng: Rng;
  steps: number;
  readonly budgetSteps: number;
  /** Step times spent in the final agreement phase (after the learning budget). */
  agreeSteps: number;
  done: boolean;
  /** Latest snapshot from each neighbour, newest by sender step. */
  readonly inbox: Map<number, Snapshot>;
  /** Training loss accumulated since the last evaluation point. */
  lossSum: number;
  lossCount: number;
  /** Snapshots that arrived no newer than the inbox's from the same sender (ignored). */
  outOfOrder: number;
  /** Inbox entries a consensus step left out because they were older than --max-staleness (counted per step). */
  tooOld: number;
  /** Snapshots rejected on arrival because they carried NaN/Inf. */
  rejected: number;
  /** Difference messages (--compress topk/diff-int8) that could not be applied: one before them was lost. */
  gaps: number;
  /** Under a difference codec: this node's encoder (its public copy θ̂), and per sender the
   * sequence number of the last message applied (−1: waiting for a refresh). */
  sender: Sender | null;
  readonly linkSeq: Map<number, number>;
  consensusSteps: number;
  /** When this node last came up: 0, or the time it rejoined after a crash (--heal counts silence from it). */
  upSince: number;
  /** --heal: the nodes past a silent neighbour this node sends to, each with the time it first did. */
  readonly heal: Map<number, number>;
}

export interface World {
  readonly cfg: RunConfig;
  readonly ds: Dataset;
  readonly plan: ModelPlan;
  readonly net: Net;
  readonly topology: Topology;
  readonly lambda2: number;
  readonly epsilon: number;
  readonly network: Network;
  /** fedavg's client–server star (the server is node `nodes.length`), whose messages count too; else null. */
  serverNetwork: Network | null;
  readonly nodes: NodeState[];
  readonly histogram: number[][];
  /** Virtual seconds of one minibatch step on a normal node. */
  readonly stepCost: number;
  /** Bytes of one parameter snapshot on the wire (under --compress). */
  readonly messageBytes: number;
  /** --compress, and θ's tensors (each layer's weights, then its bias) the codecs scale separately. */
  readonly compression: Compression;
  readonly tensors: readonly Tensor[];
  /** The encoded snapshot, reused (one encode at a time), a view of engine memory (the codec kernels write it). */
  readonly wire: Uint8Array;
  /** K, local steps between consensus steps (rounds: per round), with --local-steps auto resolved (see localStepsFor). */
  readonly localSteps: number;
  /** The fixed test subset of evaluation points. */
  readonly evalIndices: Int32Array;
  /** Engine scratch for a received snapshot, and for the mean model. */
  readonly scratch: F32Buf;
  readonly mean: F32Buf;
  readonly trainCount: number;
}

/** Forward multiply-accumulates of one sample, from the plan (conv and dense layers). */
export function macsPerSample(plan: ModelPlan): number {
  let macs = 0;
  for (const l of plan.layers) {
    if (l.spec.type === "conv2d") macs += l.weightCount * l.outShape[1] * l.outShape[2];
    else if (l.spec.type === "dense") macs += l.weightCount;
  }
  return macs;
}

/**
 * Builds the world of a run; `preloaded` skips loading cfg.dataset (it must be that dataset).
 * `only`: the world of one node of the run (a live node process) or of some (a simulation worker
 * thread, src/drivers/workers.ts): the same topology, shards, Rng streams and initial model as those
 * nodes have in the whole run, and engine memory for them alone; `nodes` then holds those nodes.
 */
export async function buildWorld(cfg: RunConfig, preloaded?: Dataset, only?: number | readonly number[]): Promise<World> {
  const ds = preloaded ?? await loadDataset(cfg.dataset, { dataDir: cfg.dataDir });
  const plan = planModel(cfg.model, ds.shape, ds.classes);
  const root = new Rng(cfg.seed);
  const compression = parseCompression(cfg.compress ?? "f32");
  if (compression.kind === "delta" && (cfg.algorithm === "dpsgd" || cfg.algorithm === "fedavg")) {
    throw new ConfigError(`--compress ${cfg.compress}: difference codecs run with the asynchronous algorithms (cdl, cdl-on-receive); ${cfg.algorithm} takes f32, f16 or int8`);
  }
  const central = cfg.algorithm === "centralized";
  const n = central ? 1 : cfg.nodes;
  const trainCount = Math.min(cfg.trainLimit ?? ds.train.count, ds.train.count);
  if (n > trainCount) throw new ConfigError(`--nodes ${n} exceeds the ${trainCount} training samples of ${ds.name}: every node needs data`);

  // Sizes first, before anything big is allocated: the engine memory of every node's θ (and
  // momentum) must fit WebAssembly's 4 GB.
  const ids = only === undefined ? null : new Set(typeof only === "number" ? [only] : only);
  for (const id of ids ?? []) if (!(Number.isInteger(id) && id >= 0 && id < n)) throw new ConfigError(`--id ${id} is not a node of this run (0 … ${n - 1})`);
  const serverSets = cfg.algorithm === "fedavg" ? 1 : 0;
  const held = ids === null ? n + serverSets : ids.size;
  const tensors = tensorsOf(plan), wireLength = wireBytes(compression, tensors);
  const bytes = Net.bytesNeeded(plan, cfg.batch) + held * Net.paramSetBytes(plan) + 2 * (plan.numParams * 4 + 16) + wireLength + 16;
  const mb = memoryMBFor(bytes);
  if (mb > 4095) {
    throw new ConfigError(`${n} nodes of ${cfg.model} need ${mb} MB of engine memory, above WebAssembly's 4 GB: use fewer --nodes or a smaller --model`);
  }

  const topology = central ? fromEdges(1, [], "single") : parseTopology(cfg.topology, n, root.fork(1));
  const { lambda2 } = n > 1 ? laplacianExtremes(topology) : { lambda2: 0 };
  const epsilon = resolveEpsilon(topology, cfg.epsilon);

  const labels = ds.train.labels.subarray(0, trainCount);
  const parts = central ? [Int32Array.from({ length: trainCount }, (_, i) => i)] : partition(labels, ds.classes, n, cfg.split, root.fork(2));
  const histogram = classHistogram(labels, parts, ds.classes);
  parts.forEach((p, i) => {
    if (p.length === 0) throw new ConfigError(`--split ${cfg.split} leaves node ${i} without data (${n} nodes, ${trainCount} samples); use fewer nodes or another split`);
  });

  const engine = await loadEngine({ flavor: cfg.engine, memoryMB: mb });
  const net = new Net(engine, plan, cfg.batch);
  const scratch = engine.arena.f32(plan.numParams, "snapshot scratch");
  const mean = engine.arena.f32(plan.numParams, "mean model");
  const wirePtr = engine.arena.f32(Math.ceil(wireLength / 4), "encoded snapshot").ptr;

  // Every node starts from the same initial model (a common seed), as in the consensus literature.
  const init = root.fork(3);
  const samplesPerNode = Math.round((cfg.epochs * trainCount) / n);
  const budgetSteps = Math.max(1, Math.ceil(samplesPerNode / cfg.batch));
  const nodes: NodeState[] = [];
  for (let i = 0; i < n; i++) {
    const streams = root.fork(100 + i); // forked for every node, held or not, so each node's streams are the same
    if (ids !== null && !ids.has(i)) continue;
    const params = net.newParams();
    if (nodes.length === 0) net.init(params.theta, init, cfg.init);
    else params.theta.view.set(nodes[0].params.theta.view);
    const shuffleRng = streams.fork(1);
    nodes.push({
      id: i, params, shard: parts[i], order: shuffleRng.shuffle(parts[i].slice()), cursor: 0,
      shuffleRng, dropoutRng: streams.fork(2), augRng: streams.fork(3),
      steps: 0, budgetSteps, agreeSteps: 0, done: false, inbox: new Map(), lossSum: 0, lossCount: 0, outOfOrder: 0, tooOld: 0, rejected: 0, gaps: 0, consensusSteps: 0, sender: null, linkSeq: new Map(), upSince: 0, heal: new Map(),
    });
  }

  const network = new Network(topology, {
    drop: cfg.drop, linkMtbf: cfg.linkMtbf, linkMttr: cfg.linkMttr, latency: cfg.latency, bandwidth: cfg.bandwidth,
    jitter: cfg.jitter, stragglers: cfg.stragglers, stragglerFactor: cfg.stragglerFactor, stepJitter: cfg.stepJitter,
    crashRate: cfg.crashRate, crashDowntime: cfg.crashDowntime,
  }, cfg.seed);

  const messageBytes = Math.round(averageMessageBytes(compression, tensors));
  if (compression.kind === "delta") {
    const scratch = new Scratch(plan.numParams); // one thread: every sender shares it
    for (const s of nodes) s.sender = new Sender(compression, tensors, scratch);
  }
  const stepCost = cfg.stepCost ?? (6 * macsPerSample(plan) * cfg.batch) / (cfg.nodeGflops * 1e9);
  const testCount = Math.min(cfg.testLimit ?? ds.test.count, ds.test.count);
  const evalIndices = root.fork(4).permutation(testCount).subarray(0, Math.min(cfg.evalSamples, testCount));
  evalIndices.sort();
  return {
    cfg, ds, plan, net, topology, lambda2, epsilon, network, serverNetwork: null, nodes, histogram, stepCost,
    messageBytes, compression, tensors, wire: new Uint8Array(engine.memory.buffer, wirePtr, wireLength),
    localSteps: localStepsFor(cfg, network.transferTime(messageBytes) + cfg.jitter, stepCost),
    evalIndices, scratch, mean, trainCount,
  };
}

/**
 * --local-steps auto: for cdl, the steps of about two message times (at least 1). A node that mixes
 * every step with snapshots τ steps old is pulled back towards where its neighbours were, and in
 * steady state moves at about 1/(1 + ε·d·τ) of its learning speed (10× slower with 1 ms mlp steps
 * and 14 ms messages); mixing every 2τ steps cuts that drag to 1/(1 + ε·d/2). The price is drift
 * between mixes, which highly biased data pays for (ALGORITHM.md gives both measurements), so it is
 * an option, not the default. Where a step is slower than a message it is 1. The round-based
 * baselines take 1 (a round waits for the exchange anyway).
 */
export function localStepsFor(cfg: RunConfig, messageSeconds: number, stepCost: number): number {
  if (cfg.localSteps !== "auto") return cfg.localSteps;
  if (cfg.algorithm !== "cdl") return 1;
  return Math.max(1, Math.ceil((2 * messageSeconds) / stepCost - 1e-9));
}

/** The largest message of a compression (the size of the reused encode buffer). */
function wireBytes(c: Compression, tensors: readonly Tensor[]): number {
  if (c.kind === "level") return levelBytes(c.codec, tensors);
  const m = compressMessageBytes(c, tensors);
  return Math.max(m.refresh, m.delta, m.sync);
}

/** Node i's message counters: its topology links plus, under fedavg, its link to the server. */
export function messageStats(w: World, i: number): NodeStats {
  return w.serverNetwork ? sumStats([w.network.stats(i), w.serverNetwork.stats(i)]) : w.network.stats(i);
}

/** Message counters of the whole run: every node's, and the fedavg server's. */
export function messageTotals(w: World): NodeStats {
  return w.serverNetwork ? sumStats([w.network.totals(), w.serverNetwork.totals()]) : w.network.totals();
}

/** Mean model θ̄ into w.mean and each node's distance ‖θ_i − θ̄‖. */
export function consensusDistances(w: World): number[] {
  const k = w.net.engine.kernels, n = w.plan.numParams, m = w.nodes.length;
  w.mean.view.fill(0);
  for (const s of w.nodes) k.axpy_f32(w.mean.ptr, s.params.theta.ptr, n, 1 / m);
  return w.nodes.map((s) => Math.sqrt(k.sqdist_f32(s.params.theta.ptr, w.mean.ptr, n)));
}

