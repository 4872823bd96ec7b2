// The loader's choice of SIMD build: relaxed SIMD detection, the CDL_SIMD_BUILD override and its
// errors, and that every build it can choose loads and runs.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ConfigError } from "../../src/errors.ts";
import { runtimeName } from "../../src/runtime.ts";
import { GEMM_WS_FLOATS } from "../../src/wasm/kernels.ts";
import { loadEngine, relaxedSimd, SIMD_BUILDS, simdBuild, withoutFma } from "../../src/wasm/loader.ts";

/** Runs fn with CDL_SIMD_BUILD set to value (or unset), restoring it after. */
function withBuildEnv<T>(value: string | undefined, fn: () => T): T {
  const before = process.env.CDL_SIMD_BUILD;
  if (value === undefined) delete process.env.CDL_SIMD_BUILD; else process.env.CDL_SIMD_BUILD = value;
  try {
    return fn();
  } finally {
    if (before === undefined) delete process.env.CDL_SIMD_BUILD; else process.env.CDL_SIMD_BUILD = before;
  }
}

test("relaxed SIMD is available on Node 20+ (flag turned on), Bun and Deno, so the -fma builds are chosen", () => {
  assert.ok(relaxedSimd(), "relaxed SIMD did not validate");
  const want = runtimeName().runtime === "node" ? "simd-fma" : "simd-fma-bc";
  assert.is(withBuildEnv(undefined, simdBuild), want);
});

test("CDL_SIMD_BUILD chooses any SIMD build", () => {
  for (const b of SIMD_BUILDS) assert.is(withBuildEnv(b, simdBuild), b);
});

test("CDL_SIMD_BUILD with an unknown build is a one-line ConfigError naming the allowed builds", () => {
  try {
    withBuildEnv("avx512", simdBuild);
    assert.unreachable("no error");
  } catch (e) {
    assert.instance(e, ConfigError);
    assert.match((e as Error).message, "CDL_SIMD_BUILD='avx512' is not a SIMD build (allowed: simd, simd-bc, simd-fma, simd-fma-bc");
    assert.not.match((e as Error).message, "\n");
  }
});

test("every SIMD build loads and computes the same 2×2 product", async () => {
  for (const b of SIMD_BUILDS) {
    const e = await loadEngine({ simdBuild: b, memoryMB: 2 });
    assert.is(e.build, b);
    const a = e.arena.f32(4), x = e.arena.f32(4), c = e.arena.f32(4), ws = e.arena.f32(GEMM_WS_FLOATS);
    a.view.set([1, 2, 3, 4]);
    x.view.set([5, 6, 7, 8]);
    e.kernels.gemm_nn_f32(c.ptr, a.ptr, x.ptr, 2, 2, 2, 0, ws.ptr);
    assert.equal(Array.from(c.view), [19, 22, 43, 50], b);
  }
});

test("withoutFma names the build's counterpart without fused multiply-add", () => {
  assert.equal(SIMD_BUILDS.map(withoutFma), ["simd", "simd-bc", "simd", "simd-bc"]);
});

test.run();
