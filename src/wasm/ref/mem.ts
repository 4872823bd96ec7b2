// Views of the engine memory for the TypeScript reference kernels: a pointer p addresses
// f32[p >> 2] / i32[p >> 2]. The memory never grows, so the views stay valid.
export interface Mem { readonly f32: Float32Array; readonly i32: Int32Array }

export function memViews(memory: WebAssembly.Memory): Mem {
  return { f32: new Float32Array(memory.buffer), i32: new Int32Array(memory.buffer) };
}
