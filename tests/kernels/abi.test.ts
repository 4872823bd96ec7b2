// The ABI of the compiled kernels: every .wasm build exports exactly KERNEL_NAMES plus "memory",
// import only env.memory (and env.abort), keep no state (no globals, no data segments that would
// land in the arena's memory), the SIMD builds use v128 instructions and the scalar build none;
// the TS reference has exactly the same kernels with the same arity.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { KERNEL_NAMES } from "../../src/wasm/kernels.ts";
import { relaxedSimd, SIMD_BUILDS, wasmBytes } from "../../src/wasm/loader.ts";
import { referenceKernels } from "../../src/wasm/reference.ts";

// The -fma builds need relaxed SIMD to validate: relaxedSimd() turns it on where it can (Node 20).
const hasRelaxed = relaxedSimd();
const builds: Record<string, Uint8Array<ArrayBuffer>> = { scalar: await wasmBytes("scalar") };
for (const b of SIMD_BUILDS) if (hasRelaxed || !b.includes("fma")) builds[b] = await wasmBytes(b);

// --- a minimal reader of the binary format: sections, function types, locals and instructions,
// enough to tell which function bodies contain SIMD (0xfd-prefixed) instructions or v128 values.
// Every body must decode to exactly its end, so a mis-decoded immediate fails loudly instead of
// hiding a SIMD opcode.
class Reader {
  constructor(readonly b: Uint8Array, public i = 0) {}
  byte(): number { return this.b[this.i++]; }
  u32(): number {
    let n = 0, shift = 0, x: number;
    do { x = this.byte(); n += (x & 0x7f) * 2 ** shift; shift += 7; } while (x & 0x80);
    return n;
  }
  skipLeb(): void { while (this.byte() & 0x80); }
  skip(n: number): void { this.i += n; }
}
const V128 = 0x7b;

interface Body { start: number; end: number }
function sections(bytes: Uint8Array) {
  const r = new Reader(bytes, 8);
  const ids: number[] = [];
  const bodies: Body[] = [];
  let typesHaveV128 = false, importedFuncs = 0;
  while (r.i < bytes.length) {
    const id = r.byte(), size = r.u32(), end = r.i + size;
    ids.push(id);
    if (id === 1) typesHaveV128 = bytes.subarray(r.i, end).includes(V128); // only 0x60, counts and valtypes here
    if (id === 2) {
      for (let n = r.u32(); n > 0; n--) {
        r.skip(r.u32()); r.skip(r.u32()); // module and field names
        const kind = r.byte();
        if (kind === 0) { importedFuncs++; r.u32(); } else if (kind === 2) { const f = r.byte(); r.u32(); if (f & 1) r.u32(); } else throw new Error(`unexpected import kind ${kind}`);
      }
    }
    if (id === 10) {
      for (let n = r.u32(); n > 0; n--) { const len = r.u32(); bodies.push({ start: r.i, end: r.i + len }); r.skip(len); }
    }
    r.i = end;
  }
  return { ids, bodies, typesHaveV128, importedFuncs };
}

/** Decodes one function body: whether it declares v128 locals and how many 0xfd instructions it has. */
function scanBody(bytes: Uint8Array, { start, end }: Body) {
  const r = new Reader(bytes, start);
  let v128Locals = false, simdOps = 0;
  for (let n = r.u32(); n > 0; n--) { r.u32(); if (r.byte() === V128) v128Locals = true; }
  const memarg = () => { r.u32(); r.u32(); };
  while (r.i < end) {
    const op = r.byte();
    if (op === 0x02 || op === 0x03 || op === 0x04) { const t = bytes[r.i]; if (t === 0x40 || (t >= 0x7b && t <= 0x7f)) r.skip(1); else r.skipLeb(); }
    else if (op === 0x0c || op === 0x0d || op === 0x10 || (op >= 0x20 && op <= 0x26) || op === 0xd2) r.u32();
    else if (op === 0x0e) { for (let k = r.u32(); k >= 0; k--) r.u32(); }
    else if (op === 0x11) { r.u32(); r.u32(); }
    else if (op === 0x1c) { for (let k = r.u32(); k > 0; k--) r.byte(); }
    else if (op >= 0x28 && op <= 0x3e) memarg();
    else if (op === 0x3f || op === 0x40 || op === 0xd0) r.byte();
    else if (op === 0x41 || op === 0x42) r.skipLeb();
    else if (op === 0x43) r.skip(4);
    else if (op === 0x44) r.skip(8);
    else if (op === 0xfc) {
      const sub = r.u32();
      if (sub === 8) { r.u32(); r.byte(); } else if (sub === 10) r.skip(2); else if (sub === 11) r.byte();
      else if (sub === 12 || sub === 14) { r.u32(); r.u32(); } else if (sub === 9 || sub === 13 || sub >= 15) r.u32();
    } else if (op === 0xfd) {
      simdOps++;
      const sub = r.u32();
      if (sub <= 0x0b || sub === 0x5c || sub === 0x5d) memarg();
      else if (sub === 0x0c || sub === 0x0d) r.skip(16);
      else if (sub >= 0x15 && sub <= 0x22) r.byte();
      else if (sub >= 0x54 && sub <= 0x5b) { memarg(); r.byte(); }
    } else if ((op >= 0x06 && op <= 0x0a) || (op >= 0x12 && op <= 0x19)) throw new Error(`opcode 0x${op.toString(16)} is outside what this reader decodes`);
  }
  if (r.i !== end || bytes[end - 1] !== 0x0b) throw new Error(`body at ${start} did not decode to its end`);
  return { v128Locals, simdOps };
}

const RUNTIME_EXPORTS = ["__new", "__alloc", "__free", "__realloc", "__pin", "__unpin", "__collect", "__retain", "__release",
  "__rtti_base", "__heap_base", "__data_end", "__stack_pointer", "__setArgumentsLength", "_start", "_initialize"];

for (const [flavor, bytes] of Object.entries(builds)) {
  test(`${flavor}: validates; exports exactly KERNEL_NAMES and the memory`, () => {
    assert.ok(WebAssembly.validate(bytes), `build/cdl-${flavor}.wasm does not validate`);
    const exports = WebAssembly.Module.exports(new WebAssembly.Module(bytes));
    const fns = exports.filter((e) => e.kind === "function").map((e) => e.name);
    assert.equal(fns.slice().sort(), KERNEL_NAMES.slice().sort(), "function exports");
    assert.equal(exports.filter((e) => e.kind !== "function"), [{ name: "memory", kind: "memory" }], "non-function exports");
    const runtime = exports.filter((e) => RUNTIME_EXPORTS.includes(e.name) || e.name.startsWith("__"));
    assert.equal(runtime, [], "allocator/runtime exports");
  });

  test(`${flavor}: imports only env.memory (and env.abort)`, () => {
    const imports = WebAssembly.Module.imports(new WebAssembly.Module(bytes));
    const memory = imports.filter((i) => i.kind === "memory");
    assert.equal(memory, [{ module: "env", name: "memory", kind: "memory" }]);
    const others = imports.filter((i) => i.kind !== "memory");
    assert.ok(others.every((i) => i.module === "env" && i.name === "abort" && i.kind === "function"), `unexpected imports ${JSON.stringify(others)}`);
  });

  test(`${flavor}: no globals, start function or data segments (nothing is written into the shared memory at load)`, () => {
    const { ids } = sections(bytes);
    assert.not.ok(ids.includes(6), "global section");
    assert.not.ok(ids.includes(8), "start section");
    assert.not.ok(ids.includes(11) || ids.includes(12), "data section: it would overwrite arena buffers at instantiation");
  });
}

for (const flavor of SIMD_BUILDS.filter((b) => b in builds)) {
  test(`${flavor} build: uses v128 in the vectorised kernels`, () => {
    const bytes = builds[flavor];
    const { bodies, importedFuncs, typesHaveV128 } = sections(bytes);
    assert.not.ok(typesHaveV128, "no kernel signature takes v128");
    const index = exportIndices(bytes);
    const vectorised = ["im2row_f32", "row2im_f32", "transpose01_f32", "nonzero_f32", "spmm_f32", "spmm_tn_f32", "bias_add_f32", "bias_grad_f32", "relu_fwd_f32", "relu_bwd_f32",
      "mul_f32", "softmax_xent_f32", "sgd_momentum_f32", "axpy_f32", "axpby_f32", "scale_f32", "sqdist_f32", "nonfinite_f32"];
    for (const name of vectorised) {
      const { simdOps } = scanBody(bytes, bodies[index[name] - importedFuncs]);
      assert.ok(simdOps > 0, `${name} has no SIMD instructions in the ${flavor} build`);
    }
  });
}

/** How many times the byte sequence fd·sub (a SIMD opcode, sub as LEB128 bytes) occurs in the bodies: an upper bound, enough to see builds differ the intended way. */
function countSimd(bytes: Uint8Array, ...sub: number[]): number {
  const { bodies } = sections(bytes);
  let n = 0;
  for (const b of bodies) for (let i = b.start; i + sub.length < b.end; i++) if (bytes[i] === 0xfd && sub.every((x, k) => bytes[i + 1 + k] === x)) n++;
  return n;
}
const SPLAT32 = [0x09], SHUFFLE = [0x0d], RELAXED_MADD = [0x85, 0x02];

for (const [plain, bc] of [["simd", "simd-bc"], ["simd-fma", "simd-fma-bc"]]) {
  if (!builds[plain]) continue;
  test(`${bc} differs from ${plain} in how the GEMM micro-kernel broadcasts A (one v128 load + shuffles)`, () => {
    assert.ok(countSimd(builds[bc], ...SHUFFLE) > countSimd(builds[plain], ...SHUFFLE), `${bc} has more i8x16.shuffle`);
    assert.ok(countSimd(builds[bc], ...SPLAT32) < countSimd(builds[plain], ...SPLAT32), `${bc} has fewer v128.load32_splat`);
  });
}

test("only the -fma builds use f32x4.relaxed_madd", () => {
  for (const [name, bytes] of Object.entries(builds)) {
    const n = countSimd(bytes, ...RELAXED_MADD);
    if (name.includes("fma")) assert.ok(n >= 8, `${name}: ${n} relaxed_madd, want the micro-kernel's 8 or more`);
    else assert.is(n, 0, `${name} uses relaxed_madd`);
  }
});

test("scalar build: no SIMD instruction and no v128 value anywhere", () => {
  const { bodies, typesHaveV128 } = sections(builds.scalar);
  assert.not.ok(typesHaveV128, "v128 in a function type");
  bodies.forEach((b, k) => {
    const { v128Locals, simdOps } = scanBody(builds.scalar, b);
    assert.ok(!v128Locals && simdOps === 0, `function ${k}: ${simdOps} SIMD instructions, v128 locals ${v128Locals}`);
  });
  assert.ok(builds.scalar.length < builds.simd.length, "the scalar build should be the smaller one");
});

/** name → function index, from the export section. */
function exportIndices(bytes: Uint8Array): Record<string, number> {
  const r = new Reader(bytes, 8);
  const out: Record<string, number> = {};
  while (r.i < bytes.length) {
    const id = r.byte(), size = r.u32(), end = r.i + size;
    if (id === 7) {
      for (let n = r.u32(); n > 0; n--) {
        const len = r.u32();
        const name = new TextDecoder().decode(bytes.subarray(r.i, r.i + len));
        r.skip(len);
        const kind = r.byte(), idx = r.u32();
        if (kind === 0) out[name] = idx;
      }
    }
    r.i = end;
  }
  return out;
}

test("the TS reference has exactly KERNEL_NAMES, each with the arity of the wasm export", async () => {
  const ref = referenceKernels(new WebAssembly.Memory({ initial: 1, maximum: 1 })) as unknown as Record<string, Function>;
  assert.equal(Object.keys(ref).sort(), KERNEL_NAMES.slice().sort(), "reference kernels");
  const { instance } = await WebAssembly.instantiate(builds.simd, { env: { memory: new WebAssembly.Memory({ initial: 1 }), abort: () => {} } });
  const wasm = instance.exports as Record<string, Function>;
  for (const name of KERNEL_NAMES) assert.is(ref[name].length, wasm[name].length, `${name}: reference arity vs wasm`);
});

test("negative control: the reader sees SIMD in a hand-made v128 body and none in a scalar one", () => {
  // Bodies: no locals; [i32.const 0; v128.load; drop; end] and [i32.const 0; i32.load; drop; end].
  const simd = Uint8Array.of(0x00, 0x41, 0x00, 0xfd, 0x00, 0x04, 0x00, 0x1a, 0x0b);
  const scalar = Uint8Array.of(0x00, 0x41, 0x00, 0x28, 0x02, 0x00, 0x1a, 0x0b);
  assert.is(scanBody(simd, { start: 0, end: simd.length }).simdOps, 1);
  assert.is(scanBody(scalar, { start: 0, end: scalar.length }).simdOps, 0);
  assert.throws(() => scanBody(scalar, { start: 0, end: scalar.length - 1 }), /did not decode/);
});

test.run();
