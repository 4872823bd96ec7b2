// A simulation worker thread (see workers.ts): it owns some nodes of a run, with its own engine,
// and runs the commands the event loop sends it, in order, through the node program
// (src/node/program.ts) — the same functions the one-thread simulator calls. Exports nothing.
import { parentPort } from "node:worker_threads";
import { buildWorld, type NodeState, type Snapshot, type World } from "../experiment/world.ts";
import { agree, learn, snapshot } from "../node/program.ts";
import { ConfigError } from "../errors.ts";
import { applyImage, nodeImage, OP, RULES, SLOT_HEAD, sharedDataset, type FromWorker, type ToWorker } from "./workers.ts";

interface Slot { gen: Int32Array; theta: Float32Array }

function main(): void {
  const port = parentPort;
  if (!port) throw new Error("workers-main is a worker entry: the simulator starts it (src/drivers/workers.ts)");
  const post = (m: FromWorker) => port.postMessage(m);
  let w: World | null = null, index = 0, done: Int32Array | null = null, count = 0, trainMs = 0, failed = false;
  const nodes = new Map<number, NodeState>();
  const homes = new Map<number, { theta: Float32Array; momentum: Float32Array }>();
  const slots: Slot[] = [];

  const init = async (m: Extract<ToWorker, { type: "init" }>) => {
    index = m.index;
    done = new Int32Array(m.control);
    w = await buildWorld(m.cfg, sharedDataset(m.data), m.nodes.map((n) => n.id));
    m.nodes.forEach((img, j) => {
      const s = w!.nodes.find((x) => x.id === img.id)!;
      const home = { theta: new Float32Array(m.homes[j].theta), momentum: new Float32Array(m.homes[j].momentum) };
      s.params.theta.view.set(home.theta);
      s.params.momentum.view.set(home.momentum);
      applyImage(s, img);
      s.steps = img.steps;
      nodes.set(s.id, s);
      homes.set(s.id, home);
    });
    post({ type: "ready" });
  };

  /** Waits until slot `id` holds generation `gen` (written by whichever worker took that snapshot). */
  const ready = (id: number, gen: number): Float32Array => {
    const g = slots[id].gen;
    for (;;) {
      const v = Atomics.load(g, 0);
      if (v >= gen) return slots[id].theta;
      Atomics.wait(g, 0, v);
    }
  };

  const run = (m: Extract<ToWorker, { type: "run" }>) => {
    const world = w!;
    for (const s of m.slots) slots[s.id] = { gen: new Int32Array(s.sab, 0, 1), theta: new Float32Array(s.sab, SLOT_HEAD, world.plan.numParams) };
    const c = m.cmds;
    for (let i = 0; i < c.length;) {
      const op = c[i], id = c[i + 1];
      if (op === OP.learn) {
        const t0 = performance.now();
        learn(world, nodes.get(id)!, c[i + 2]);
        trainMs += performance.now() - t0;
        i += 3;
      } else if (op === OP.snapshot) {
        const s = nodes.get(id)!, slot = slots[c[i + 2]];
        if (!snapshot(world, s, 0, slot.theta).finite) {
          throw new ConfigError(`node ${s.id}'s parameters are no longer finite after its local step ${s.steps} (it diverged): lower --lr (now ${world.cfg.lr})`);
        }
        Atomics.store(slot.gen, 0, c[i + 3]);
        Atomics.notify(slot.gen, 0);
        i += 4;
      } else if (op === OP.agree) {
        const k = c[i + 3], mine = c[i + 4], got: Snapshot[] = [];
        for (let j = 0; j < k; j++) {
          const at = i + 6 + 3 * j;
          got.push({ from: c[at + 2], theta: ready(c[at], c[at + 1]) } as Snapshot);
        }
        agree(world, nodes.get(id)!, got, RULES[c[i + 2]], mine < 0 ? undefined : ready(mine, c[i + 5]));
        i += 6 + 3 * k;
      } else if (op === OP.evaluate) {
        const t0 = performance.now();
        const out = [...nodes.values()].map((s) => {
          const ev = world.net.evaluate(s.params.theta, world.ds, world.ds.test, { indices: world.evalIndices });
          homes.get(s.id)!.theta.set(s.params.theta.view);
          const r = { id: s.id, ...ev, lossSum: s.lossSum, lossCount: s.lossCount };
          s.lossSum = 0;
          s.lossCount = 0;
          return r;
        });
        post({ type: "evaluated", req: c[i + 2], nodes: out, trainMs, evalMs: performance.now() - t0 });
        i += 3;
      } else if (op === OP.sync) {
        const out = [...nodes.values()].map((s) => {
          const home = homes.get(s.id)!;
          home.theta.set(s.params.theta.view);
          home.momentum.set(s.params.momentum.view);
          return nodeImage(s);
        });
        post({ type: "synced", req: c[i + 2], nodes: out, trainMs });
        i += 3;
      } else if (op === OP.final) {
        const limit = c[i + 3];
        const out = [...nodes.values()].map((s) => ({ id: s.id, ...world.net.evaluate(s.params.theta, world.ds, world.ds.test, { limit }) }));
        post({ type: "finals", req: c[i + 2], nodes: out });
        i += 4;
      } else {
        throw new Error(`simulation worker: unknown command ${op} at ${i}`);
      }
      Atomics.store(done!, index, ++count);
    }
    post({ type: "progress" });
  };

  // Messages run one after another: a batch never starts before the one before it (or init) ends.
  let chain: Promise<void> = Promise.resolve();
  port.on("message", (m: ToWorker) => {
    chain = chain.then(async () => {
      if (failed) return;
      try {
        if (m.type === "init") await init(m);
        else run(m);
      } catch (e) {
        failed = true;
        const err = e as Error;
        post({ type: "failed", name: err instanceof ConfigError ? "ConfigError" : err.name, message: err.message });
      }
    });
  });
}

main();
