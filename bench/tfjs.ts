// TensorFlow.js with its WebAssembly backend (XNNPACK), set up once for the benchmarks that
// compare against it: SIMD binary, one thread, loaded from node_modules as a file path.
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { setThreadsCount, setWasmPaths } from "@tensorflow/tfjs-backend-wasm";

export type Tf = typeof tf;

/** The tf namespace with the 'wasm' backend active, single-threaded. */
export async function loadTfjsWasm(): Promise<Tf> {
  // The backend fetches its .wasm by URL in browsers; on Node it reads a file path with a
  // trailing slash, so point it at the package's dist/ directory.
  const require = createRequire(import.meta.url);
  const dist = dirname(require.resolve("@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm"));
  setWasmPaths(join(dist, "/"));
  // One thread, like our kernels: the comparison is per core.
  setThreadsCount(1);
  if (!(await tf.setBackend("wasm"))) throw new Error("tfjs: the wasm backend failed to initialise");
  await tf.ready();
  return tf;
}
