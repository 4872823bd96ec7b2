// The package's public API.
//
//   const engine = await loadEngine();                       // SIMD kernels, one fixed memory
//   const plan = planModel("lenet", [1, 28, 28], 10);        // or a LayerSpec[] list
//   const net = new Net(engine, plan, 32);                   // workspace for batches of ≤ 32
//   const p = net.newParams(); net.init(p.theta, new Rng(1));
//   net.loadBatch(ds, ds.train, indices, 0, 32);
//   const loss = net.trainStep(p, 32, { lr: 0.05, momentum: 0, weightDecay: 0 });
//   net.evaluate(p.theta, ds, ds.test);                      // { accuracy, loss, count }
//   p.theta.view                                             // the flat parameter vector (PyTorch layout)
export { loadEngine, FLAVORS, type Engine, type EngineOptions, type Flavor } from "./wasm/loader.ts";
export type { Kernels } from "./wasm/kernels.ts";
export type { F32Buf, I32Buf } from "./wasm/arena.ts";
export { Net, type ParamSet, type SgdOptions, type InitScheme, type EvalResult } from "./nn/net.ts";
export { planModel, PRESETS, PRESET_NAMES, ModelError, type LayerSpec, type ModelPlan, type PresetName } from "./nn/spec.ts";
export { Rng } from "./rng.ts";
export { fillBatch, type Dataset, type Split } from "./data/dataset.ts";
export { loadDataset, DATASET_NAMES, DatasetError } from "./data/registry.ts";
export { trainCentralized, type TrainConfig, type TrainResult } from "./train.ts";
