// The kernel ABI: every export of the .wasm, re-exported from one file per op family.
export { scale_f32 } from "./vector";
