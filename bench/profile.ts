// Where a training step's time goes: every kernel call of `--steps` minibatch steps, timed from JS
// and grouped by kernel (GEMMs also by shape M×N×K), against the whole step. Not a benchmark of
// record (wrapping each call adds a little); it answers "which kernel to work on next".
// Usage: npm run build && node dist/bench/profile.js [--model lenet|mlp|cifar-cnn] [--steps 100] [--build simd|simd-bc|simd-fma|simd-fma-bc]
// (--build: the SIMD build to load instead of this runtime's choice, see simdBuild() in src/wasm/loader.ts)
import { loadDataset } from "../src/data/registry.ts";
import { makeSyntheticCifar } from "../src/data/synthetic.ts";
import { SPARSE_MAX_DENSITY } from "../src/nn/layers.ts";
import { Net } from "../src/nn/net.ts";
import { planModel, PRESET_NAMES, type PresetName } from "../src/nn/spec.ts";
import { Rng } from "../src/rng.ts";
import { runtimeInfo } from "../src/runtime.ts";
import { memoryMBFor } from "../src/train.ts";
import { loadEngine, SIMD_BUILDS, simdBuild, type Engine, type SimdBuild } from "../src/wasm/loader.ts";

const arg = (name: string, def: string) => { const i = process.argv.indexOf(`--${name}`); return i >= 0 ? process.argv[i + 1] : def; };
const model = arg("model", "lenet") as PresetName;
const steps = Number(arg("steps", "100"));
const build = arg("build", simdBuild());
if (!PRESET_NAMES.includes(model) || !(steps >= 1) || !(SIMD_BUILDS as readonly string[]).includes(build)) {
  console.error(`usage: node dist/bench/profile.js [--model ${PRESET_NAMES.join("|")}] [--steps N ≥ 1] [--build ${SIMD_BUILDS.join("|")}]`);
  process.exit(2);
}
const batch = 32, warmup = 10;
const ds = model === "cifar-cnn" ? makeSyntheticCifar({ train: (steps + warmup) * batch, test: 1 }) : await loadDataset("mnist-10k");
const plan = planModel(model, ds.shape, ds.classes);
const engine = await loadEngine({ simdBuild: build as SimdBuild, memoryMB: memoryMBFor(Net.bytesNeeded(plan, batch) + Net.paramSetBytes(plan)) });

// Every kernel wrapped by a timer; the Net sees only the wrapped table.
const times = new Map<string, { ms: number; calls: number; flop: number }>();
const i32 = new Int32Array(engine.memory.buffer);
const density = new Map<number, { nnz: number; n: number }>(); // per dy chunk size (nonzero_f32 calls): how sparse dy was
const raw = engine.kernels as unknown as Record<string, (...a: number[]) => number>;
const timed: Record<string, (...a: number[]) => number> = {};
for (const [name, f] of Object.entries(raw)) {
  timed[name] = (...a: number[]) => {
    const t0 = performance.now();
    const r = f(...a);
    const ms = performance.now() - t0;
    // GEMMs: 2·M·N·K flops; spmm: 2·nnz·N (the CSR's row pointers give nnz).
    const gemm = name.startsWith("gemm_"), spmm = name === "spmm_f32", spmmT = name === "spmm_tn_f32";
    const key = gemm ? `${name} ${a[3]}×${a[4]}×${a[5]}` : spmm || spmmT ? `${name} ${a[5]}×${a[6]}` : name;
    const e = times.get(key) ?? { ms: 0, calls: 0, flop: 0 };
    e.ms += ms; e.calls++;
    if (name === "nonzero_f32") { // Conv2D's sparse-or-dense test on a chunk's dy
      const d = density.get(a[1]) ?? { nnz: 0, n: 0 };
      d.nnz += r; d.n += a[1];
      density.set(a[1], d);
    }
    e.flop += gemm ? 2 * a[3] * a[4] * a[5] : spmm ? 2 * (i32[(a[1] >> 2) + a[5]] - i32[a[1] >> 2]) * a[6]
      : spmmT ? 2 * (i32[(a[1] >> 2) + a[7]] - i32[a[1] >> 2]) * a[6] : 0;
    times.set(key, e);
    return r;
  };
}
const net = new Net({ ...engine, kernels: timed } as unknown as Engine, plan, batch);
const p = net.newParams();
net.init(p.theta, new Rng(1));
const order = new Rng(2).permutation(ds.train.count), dropout = new Rng(3);
let stepMs = 0;
for (let s = 0; s < warmup + steps; s++) {
  if (s === warmup) { times.clear(); stepMs = 0; }
  net.loadBatch(ds, ds.train, order, (s * batch) % (ds.train.count - batch), batch);
  const t0 = performance.now();
  net.trainStep(p, batch, { lr: 0.01, momentum: 0, weightDecay: 0 }, dropout);
  stepMs += performance.now() - t0;
}
const info = runtimeInfo();
console.log(`${model}, batch ${batch}, ${steps} steps, build ${build}, on ${info.runtime} ${info.runtimeVersion}, ${info.cpu}: ` +
  `${(stepMs / steps).toFixed(2)} ms a step, ${Math.round((steps * batch) / (stepMs / 1000))} samples/s (with the timers)`);
console.log("  ms/step  share  GFLOP/s  kernel");
for (const [key, e] of [...times].sort((a, b) => b[1].ms - a[1].ms)) {
  const gf = e.flop ? (e.flop / (e.ms / 1000) / 1e9).toFixed(1) : "";
  console.log(`${(e.ms / steps).toFixed(3).padStart(9)} ${((100 * e.ms) / stepMs).toFixed(1).padStart(5)}% ${gf.padStart(8)}  ${key}`);
}
for (const [n, d] of density) {
  console.log(`conv dy, chunks of ${n} values: ${((100 * d.nnz) / d.n).toFixed(1)}% nonzero (sparse backward at ≤ ${100 * SPARSE_MAX_DENSITY}%)`);
}
