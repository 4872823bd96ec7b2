// Loads the kernels with the plain WebAssembly API (no @assemblyscript/loader: it is deprecated
// and our kernels take only numbers). The only module that touches WebAssembly.
import { readFile } from "node:fs/promises";
import v8 from "node:v8";
import { Arena } from "./arena.ts";
import { KERNEL_NAMES, type Kernels } from "./kernels.ts";
import { referenceKernels } from "./reference.ts";
import { ConfigError } from "../errors.ts";
import { runtimeName } from "../runtime.ts";

export type Flavor = "simd" | "scalar" | "reference";
export const FLAVORS: readonly Flavor[] = ["simd", "scalar", "reference"];

/**
 * The compiled builds (asconfig.json). The four SIMD builds differ only in the GEMM micro-kernel
 * (assembly/gemm.ts): `-fma` accumulates with relaxed SIMD's f32x4.relaxed_madd (fused multiply-add
 * where the runtime compiles it so), `-bc` broadcasts A with one load and shuffles, for runtimes that
 * bounds-check every wasm memory access. `simd` and `simd-bc` give bit-identical results, as do
 * `simd-fma` and `simd-fma-bc`.
 */
export type Build = "simd" | "simd-bc" | "simd-fma" | "simd-fma-bc" | "scalar";
export type SimdBuild = Exclude<Build, "scalar">;
export const SIMD_BUILDS: readonly SimdBuild[] = ["simd", "simd-bc", "simd-fma", "simd-fma-bc"];

// The smallest module that uses relaxed SIMD: (func (result v128) (f32x4.relaxed_madd (v128.const 0) ×3)).
const RELAXED_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // type section: () -> v128
  0x03, 0x02, 0x01, 0x00, // function section: one function of type 0
  0x0a, 0x3d, 0x01, 0x3b, 0x00, // code section: one body of 59 bytes, no locals
  ...[0, 1, 2].flatMap(() => [0xfd, 0x0c, ...new Array<number>(16).fill(0)]), // v128.const 0, three times
  0xfd, 0x85, 0x02, 0x0b, // f32x4.relaxed_madd (0xfd 0x105), end
]);

let relaxed: boolean | undefined;

/** An environment variable, or undefined when unset or unreadable (Deno without --allow-env). */
function env(name: string): string | undefined {
  try {
    return (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env[name] || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether this process's WebAssembly accepts relaxed SIMD. It is standard (WebAssembly 3.0) and on by
 * default in Node ≥ 22, Deno and Bun; Node 20's V8 (11.3) implements it behind
 * --experimental-wasm-relaxed-simd, so on Node we turn that flag on (v8.setFlagsFromString, once,
 * before any of our modules is compiled) unless CDL_RELAXED_SIMD=0. The answer is cached.
 */
export function relaxedSimd(): boolean {
  if (relaxed === undefined) {
    relaxed = WebAssembly.validate(RELAXED_PROBE);
    if (!relaxed && runtimeName().runtime === "node" && env("CDL_RELAXED_SIMD") !== "0") {
      v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
      relaxed = WebAssembly.validate(RELAXED_PROBE);
    }
  }
  return relaxed;
}

/**
 * The SIMD build for this runtime: `-fma` where relaxed SIMD is available (1.3–1.5× the GEMM
 * throughput of mul + add under V8; JavaScriptCore computes the same as mul + add, so on Bun it is
 * simd-bc's speed and results), `-bc` off Node: Node enables V8's WebAssembly trap handler, so memory
 * accesses cost no bounds check; Deno compiles an explicit bounds check into every access (no trap
 * handler) and Bun runs JavaScriptCore, and on both the `-bc` micro-kernel (half the loads) is
 * 20–50% faster (bench/README.md, "Runtimes"). CDL_SIMD_BUILD=<build> overrides the choice.
 */
export function simdBuild(): SimdBuild {
  const forced = env("CDL_SIMD_BUILD");
  if (forced !== undefined) {
    if (!(SIMD_BUILDS as readonly string[]).includes(forced)) {
      throw new ConfigError(`CDL_SIMD_BUILD='${forced}' is not a SIMD build (allowed: ${SIMD_BUILDS.join(", ")}; unset it for this runtime's choice)`);
    }
    return forced as SimdBuild; // an -fma build without relaxed SIMD is refused by loadEngine
  }
  // A browser's V8 (the lab) has the trap handler too: the same build as Node, hence the same bytes out.
  const rt = runtimeName().runtime, bc = rt === "bun" || rt === "deno";
  return relaxedSimd() ? (bc ? "simd-fma-bc" : "simd-fma") : (bc ? "simd-bc" : "simd");
}

/** The same build without fused multiply-add (simd-fma → simd, simd-fma-bc → simd-bc). */
export const withoutFma = (b: SimdBuild): SimdBuild => b.replace("-fma", "") as SimdBuild;

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
  simdBuild?: SimdBuild;
}

const PAGE = 65536;

/** The .wasm bytes of a build; `build/` sits two levels above this file in src/, in dist/src/ and
 * in the lab's dist/lab/js/src/ (src/web/build.ts), where the browser fetches it. */
export async function wasmBytes(build: Build): Promise<Uint8Array<ArrayBuffer>> {
  const url = new URL(`../../build/cdl-${build}.wasm`, import.meta.url);
  if (runtimeName().runtime === "browser") {
    const res = await fetch(url);
    if (!res.ok) throw new Error(`cannot fetch ${url}: ${res.status} ${res.statusText} (build the lab with \`npm run lab\`)`);
    return new Uint8Array(await res.arrayBuffer());
  }
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
  if (build !== null && build.includes("fma") && !relaxedSimd()) {
    throw new ConfigError(`the ${build} build needs relaxed SIMD, which this runtime does not accept; use simd or simd-bc (CDL_SIMD_BUILD)`);
  }
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
