// The kernel ABI: every export of the .wasm, re-exported from one file per op family.
// Signatures and meaning: src/wasm/kernels.ts (the hand-written TS interface of these exports).
export { gemm_nn_f32, gemm_nt_f32, gemm_tn_f32 } from "./gemm";
export { im2row_f32, row2im_f32, transpose01_f32 } from "./conv";
export { nonzero_f32, csr_cols_f32, spmm_f32, spmm_tn_f32 } from "./sparse";
export { bias_add_f32, bias_grad_f32 } from "./bias";
export { relu_fwd_f32, relu_bwd_f32, mul_f32 } from "./activation";
export { maxpool2d_fwd_f32, maxpool2d_bwd_f32 } from "./pool";
export { softmax_xent_f32 } from "./loss";
export { sgd_momentum_f32 } from "./optim";
export { axpy_f32, axpby_f32, scale_f32, sqdist_f32, nonfinite_f32 } from "./vector";
export { f16_encode_f32, absmax_f32, int8_encode_f32 } from "./codec";
