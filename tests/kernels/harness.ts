// Shared helpers of the kernel conformance tests (tests/kernels/*.test.ts): every engine flavor
// loaded once per file, f32/i32 buffers with guard zones in an Arena, the max-difference
// comparison with a tolerance, and seeded random inputs.
// Layout: each buffer is G floats of GUARD, the n-element view, G floats of GUARD. G = 4 keeps the
// view 16-byte aligned (the Arena aligns the whole allocation); outputs start filled with GUARD
// so a missed write shows too, and assertGuards catches a write outside the view.
import * as assert from "uvu/assert";
import type { Rng } from "../../src/rng.ts";
import type { Arena } from "../../src/wasm/arena.ts";
import { FLAVORS, loadEngine, type Engine } from "../../src/wasm/loader.ts";

/** One engine per flavor (TS reference, wasm scalar, wasm SIMD), each with its own memory of memoryMB. */
export function loadEngines(memoryMB: number): Promise<Engine[]> {
  return Promise.all(FLAVORS.map((flavor) => loadEngine({ flavor, memoryMB })));
}

/** Guard-zone width in elements either side of every buffer. */
export const G = 4;
/** The guard value; also the initial content of every output buffer (truncated to −1234 in i32 buffers). */
export const GUARD = -1234.5;

export interface Buf { ptr: number; view: Float32Array; full: Float32Array }
export interface IBuf { ptr: number; view: Int32Array; full: Int32Array }

/** An f32 buffer of data (copied in) or of n elements (left as GUARD), between two guard zones. */
export function buf(arena: Arena, data: ArrayLike<number> | number): Buf {
  const n = typeof data === "number" ? data : data.length;
  const b = arena.f32(n + 2 * G);
  b.view.fill(GUARD);
  const view = b.view.subarray(G, G + n);
  if (typeof data !== "number") view.set(data);
  return { ptr: b.ptr + 4 * G, view, full: b.view };
}

/** The i32 counterpart of buf (labels, argmax indices). */
export function ibuf(arena: Arena, data: ArrayLike<number> | number): IBuf {
  const n = typeof data === "number" ? data : data.length;
  const b = arena.i32(n + 2 * G);
  b.view.fill(GUARD);
  const view = b.view.subarray(G, G + n);
  if (typeof data !== "number") view.set(data);
  return { ptr: b.ptr + 4 * G, view, full: b.view };
}

/** Fails if a kernel wrote into either guard zone of b (a Buf or IBuf). */
export function assertGuards(b: { full: Float32Array | Int32Array }, what: string) {
  const g = b.full instanceof Int32Array ? Math.trunc(GUARD) : GUARD;
  for (let i = 0; i < G; i++) {
    assert.ok(b.full[i] === g && b.full[b.full.length - 1 - i] === g, `${what}: wrote outside its region`);
  }
}

/** Largest |got[i] − want[i]| over want's length and its index (−1 if empty). */
export function maxDiff(got: ArrayLike<number>, want: ArrayLike<number>) {
  let diff = 0, at = -1;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    if (!(d <= diff)) { diff = d; at = i; } // NaN counts as the largest difference
  }
  return { diff, at };
}

/** Same length and max |got − want| ≤ tol; the message reports the max difference and where. */
export function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string) {
  assert.is(got.length, want.length, `${what}: length`);
  const { diff, at } = maxDiff(got, want);
  assert.ok(diff <= tol, `${what}: max |diff| ${diff} at ${at} (got ${got[at]}, want ${want[at]}), tol ${tol}`);
}

/** Multiples of 1/16 in [−4, 4]: every sum in these tests is then exact in f32. */
export const quantized = (rng: Rng, n: number) => Float64Array.from({ length: n }, () => (rng.int(129) - 64) / 16);
/** n standard normals from rng, in float64. */
export const normals = (rng: Rng, n: number) => Float64Array.from({ length: n }, () => rng.normal());
