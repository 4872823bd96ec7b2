// A bump allocator over the engine's one WebAssembly.Memory. Every buffer is 16-byte aligned
// (SIMD loads) and handed out as a typed-array view plus its byte offset for kernel calls.
// The memory never grows: growth would detach every view, so it is sized once, up front.

export interface F32Buf { readonly ptr: number; readonly view: Float32Array }
export interface I32Buf { readonly ptr: number; readonly view: Int32Array }

const ALIGN = 16;
/** Offset 0 is kept free so that a null pointer (0) can mean "no buffer" in the ABI. */
const BASE = 64;

export class Arena {
  private top = BASE;
  constructor(readonly memory: WebAssembly.Memory) {}

  get capacity(): number { return this.memory.buffer.byteLength; }
  get used(): number { return this.top; }

  private take(bytes: number, what: string): number {
    const ptr = this.top;
    const end = ptr + Math.ceil(bytes / ALIGN) * ALIGN;
    if (end > this.capacity) {
      const mb = (x: number) => (x / 2 ** 20).toFixed(1);
      throw new RangeError(
        `engine memory exhausted allocating ${what} (${mb(bytes)} MB): ${mb(this.top)} of ${mb(this.capacity)} MB in use; ` +
          `load the engine with a larger memoryMB`);
    }
    this.top = end;
    return ptr;
  }

  f32(n: number, what = "f32 buffer"): F32Buf {
    const ptr = this.take(n * 4, what);
    return { ptr, view: new Float32Array(this.memory.buffer, ptr, n) };
  }

  i32(n: number, what = "i32 buffer"): I32Buf {
    const ptr = this.take(n * 4, what);
    return { ptr, view: new Int32Array(this.memory.buffer, ptr, n) };
  }
}
