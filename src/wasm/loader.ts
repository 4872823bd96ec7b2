// Loads the kernels with the plain WebAssembly API (no @assemblyscript/loader: it is deprecated
// and our kernels take only numbers). The only module that touches WebAssembly.
import { readFile } from "node:fs/promises";
import { Arena } from "./arena.ts";
import { KERNEL_NAMES, type Kernels } from "./kernels.ts";
import { referenceKernels } from "./reference.ts";
import { runtimeName } from "../runtime.ts";

export type Flavor = "simd" | "scalar" | "reference";
export const FLAVORS: readonly Flavor[] = ["simd", "scalar", "reference"];

/** The compiled builds: `simd-bc` is the SIMD build for runtimes with bounds-checked wasm memory (see assembly/gemm.ts). */
export type Build = "simd" | "simd-bc" | "scalar";

/**
 * The SIMD build for this runtime. Node enables V8's WebAssembly trap handler, so memory accesses
 * cost no bounds check and the default build is fastest; Deno compiles an explicit bounds check into
 * every access (no trap handler) and Bun runs JavaScriptCore, and on both the `simd-bc` build's GEMM
 * (half the loads) is 20–50% faster (bench/README.md, "Runtimes"). Both compute bit-identical results.
 */
export function simdBuild(): Build {
  return runtimeName().runtime === "node" ? "simd" : "simd-bc";
}

export interface Engine {
  readonly flavor: Flavor;
  /** The .wasm build behind the kernels (null for the TS reference). */
  readonly build: Build | null;
  readonly kernels: Kernels;
  readonly memory: WebAssembly.Memory;
  readonly arena: Arena;
}

export interface EngineOptions {
  /** Which implementation of the kernels: the SIMD build (default), the scalar build of the same sources, or the TS reference. */
  flavor?: Flavor;
  /** Size of the one memory, fixed for the engine's life (default 256 MB). */
  memoryMB?: number;
  /** The SIMD build to load instead of this runtime's choice (simdBuild()); for tests and benchmarks. */
  simdBuild?: Exclude<Build, "scalar">;
}

const PAGE = 65536;

/** The .wasm bytes of a build; `build/` sits two levels above this file in src/ and in dist/src/. */
export async function wasmBytes(build: Build): Promise<Uint8Array<ArrayBuffer>> {
  const url = new URL(`../../build/cdl-${build}.wasm`, import.meta.url);
  try {
    return new Uint8Array(await readFile(url));
  } catch (e) {
    throw new Error(`cannot read ${url.pathname}: the WebAssembly kernels are not built; run \`npm run build\``);
  }
}

export async function loadEngine(opts: EngineOptions = {}): Promise<Engine> {
  const flavor = opts.flavor ?? "simd";
  if (!FLAVORS.includes(flavor)) throw new Error(`unknown engine flavor '${flavor}' (allowed: ${FLAVORS.join(", ")})`);
  const memoryMB = opts.memoryMB ?? 256;
  if (!(memoryMB > 0 && memoryMB <= 4095)) throw new Error(`engine memoryMB must be in 1..4095, got ${memoryMB}`);
  const pages = Math.ceil((memoryMB * 2 ** 20) / PAGE);
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
  let kernels: Kernels;
  const build: Build | null = flavor === "reference" ? null : flavor === "simd" ? opts.simdBuild ?? simdBuild() : "scalar";
  if (build === null) {
    kernels = referenceKernels(memory);
  } else {
    const module = await WebAssembly.compile(await wasmBytes(build));
    const instance = await WebAssembly.instantiate(module, {
      env: {
        memory,
        abort: () => { throw new Error("kernel abort"); },
      },
    });
    const ex = instance.exports as Record<string, unknown>;
    const missing = KERNEL_NAMES.filter((k) => typeof ex[k] !== "function");
    if (missing.length) throw new Error(`build/cdl-${build}.wasm lacks ${missing.join(", ")}: rebuild with \`npm run build\``);
    kernels = ex as unknown as Kernels;
  }
  return { flavor, build, kernels, memory, arena: new Arena(memory) };
}
