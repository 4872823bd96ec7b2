// TypeScript reference of assembly/codec.ts: the level codecs exactly as src/node/compress.ts
// encodes and decodes them (its per-element functions), over the engine's memory.
import type { Kernels } from "../kernels.ts";
import type { Mem } from "./mem.ts";
import { f16FromF32Bits, f16ToNumber } from "../../node/compress.ts";

type CodecKernels = Pick<Kernels, "f16_encode_f32" | "absmax_f32" | "int8_encode_f32">;

export function codecRef({ f32 }: Mem): CodecKernels {
  const u32 = new Uint32Array(f32.buffer), u16 = new Uint16Array(f32.buffer), i8 = new Int8Array(f32.buffer);
  return {
    f16_encode_f32(xPtr, n, hPtr, ownPtr) {
      const x = xPtr >> 2, h = hPtr >> 1, own = ownPtr >> 2;
      for (let i = 0; i < n; i++) {
        const b = f16FromF32Bits(u32[x + i]);
        u16[h + i] = b;
        f32[own + i] = f16ToNumber(b);
      }
    },
    absmax_f32(xPtr, n) {
      const x = xPtr >> 2;
      let m = 0;
      for (let i = 0; i < n; i++) {
        const a = Math.abs(f32[x + i]);
        if (a !== a) return NaN;
        if (a > m) m = a;
      }
      return m;
    },
    int8_encode_f32(xPtr, n, s, qPtr, ownPtr) {
      const x = xPtr >> 2, own = ownPtr >> 2;
      s = Math.fround(s);
      for (let i = 0; i < n; i++) {
        const v = f32[x + i] / s, r = Math.min(127, Math.floor(Math.abs(v) + 0.5)), q = v < 0 ? -r : r;
        i8[qPtr + i] = q;
        f32[own + i] = i8[qPtr + i] * s; // as compress.ts decodes: the stored q (−0 is 0)
      }
    },
  };
}
