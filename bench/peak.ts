// The f32x4 fused multiply-add peak of this core under V8, measured in the same run as the GEMM
// benchmark, so a GEMM figure can be read as a fraction of what the core can do at all (the machines
// here are shared and their clocks move). The probe is a wasm loop of eight independent chains
// c_i = c_i·b + a of f32x4.relaxed_madd (one vfmadd under V8, as in the -fma builds' micro-kernel),
// with no memory traffic: eight chains cover the latency (twelve measured the same on the EPYC here),
// so the loop runs at the FMA units' throughput; 8 flops per f32x4 multiply-add. Each step depends on
// the last, so no compiler can hoist a product out of the loop (a·b + c with a, b invariant would
// let one that does not fuse, like JavaScriptCore, hoist a·b and time additions only).
// Usage: npm run build && node dist/bench/peak.js
import { pathToFileURL } from "node:url";
import { relaxedSimd } from "../src/wasm/loader.ts";

const CHAINS = 8;

/** The probe module: export "peak"(n: i32) → f32 runs n ≥ 1 iterations of CHAINS multiply-adds. */
export function peakModule(): Uint8Array<ArrayBuffer> {
  const f32 = (x: number) => [0x43, ...new Uint8Array(Float32Array.of(x).buffer)];
  const splat = [0xfd, 0x13], add = [0xfd, 0xe4, 0x01], madd = [0xfd, 0x85, 0x02];
  const get = (i: number) => [0x20, i], set = (i: number) => [0x21, i];
  // Locals: 0 = n (param), 1 = a, 2 = b, 3 .. 3 + CHAINS − 1 = the accumulators (v128, zero).
  const body: number[] = [
    0x01, CHAINS + 2, 0x7b, // one local entry: CHAINS + 2 v128
    ...f32(1e-3), ...splat, ...set(1), ...f32(1), ...splat, ...set(2),
    0x03, 0x40, // loop
  ];
  for (let c = 3; c < 3 + CHAINS; c++) {
    body.push(...get(c), ...get(2), ...get(1), ...madd, ...set(c)); // c = c·b + a
  }
  body.push(...get(0), 0x41, 0x01, 0x6b, 0x22, 0x00, 0x0d, 0x00, 0x0b); // n = n − 1; br_if n ≠ 0; end loop
  body.push(...get(3));
  for (let c = 4; c < 3 + CHAINS; c++) body.push(...get(c), ...add);
  body.push(0xfd, 0x1f, 0x00, 0x0b); // f32x4.extract_lane 0 (keeps the chains live); end
  const section = (id: number, bytes: number[]) => [id, ...leb(bytes.length), ...bytes];
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [0x01, 0x60, 0x01, 0x7f, 0x01, 0x7d]), // type 0: (i32) → f32
    ...section(3, [0x01, 0x00]), // function 0 has type 0
    ...section(7, [0x01, 0x04, ...Array.from("peak", (ch) => ch.charCodeAt(0)), 0x00, 0x00]), // export "peak" = func 0
    ...section(10, [0x01, ...leb(body.length), ...body]),
  ]);
}

function leb(n: number): number[] {
  const out: number[] = [];
  do { let b = n & 0x7f; n >>>= 7; if (n) b |= 0x80; out.push(b); } while (n);
  return out;
}

/** The probe, ready to time: each run() is `flops` floating-point operations; null without relaxed SIMD. */
export async function peakProbe(iterations = 2e6): Promise<{ run: () => void; flops: number } | null> {
  if (!relaxedSimd()) return null;
  const instance = await WebAssembly.instantiate(new WebAssembly.Module(peakModule()));
  const peak = instance.exports.peak as (n: number) => number;
  peak(1000); // compile the optimized tier before timing
  return { run: () => { peak(iterations); }, flops: iterations * CHAINS * 8 };
}

/** GFLOP/s of the probe: the best of `rounds` timed runs (a peak, so the best is the figure); null without relaxed SIMD. */
export async function measurePeak(rounds = 7): Promise<number | null> {
  const probe = await peakProbe(2e7);
  if (!probe) return null;
  let best = 0;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    probe.run();
    best = Math.max(best, probe.flops / ((performance.now() - t0) / 1000) / 1e9);
  }
  return best;
}

const direct = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (direct) {
  const fma = await measurePeak();
  console.log(`f32x4 fused multiply-add peak, one thread: ${fma === null ? "unavailable (no relaxed SIMD)" : `${fma.toFixed(1)} GFLOP/s`}`);
}
