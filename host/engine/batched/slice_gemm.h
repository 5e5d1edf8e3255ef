// host/engine/batched/slice_gemm.h — the matrix products of a stacked population, one per model, through oneDNN.
//
// Why not at::bmm: LibTorch (Debian's) sends float products to OpenBLAS, whose kernel set depends on the CPU model
// tables of its release and on OPENBLAS_CORETYPE (this workplace exports Haswell, AVX2 only). oneDNN — which
// LibTorch itself depends on (libdnnl2) — generates its sgemm kernels for the CPU it runs on. Measured on the Zen 5
// we develop on, one thread (bench/audit_vs_pytorch, docs/performance.md): 128x784·784x256 at 183 GFLOPS against
// OpenBLAS-Haswell's 97, the digits shapes (64x64·64x128) 128 against 58.
//
// One product per slice, never mixing slices, so model k's bits do not depend on the other models in the stack.
// oneDNN runs on the calling thread's OpenMP thread count (the chains set it to 1: batched/threads.h).
#pragma once

#include <ATen/core/Tensor.h>

#include <string>

namespace compaudit::engine::batched {

/// out[k] = op_a(a[k]) · op_b(b[k]) + (accumulate ? out[k] : 0) for every slice k, where op_x transposes when
/// trans_x. All three are 3-D float32 tensors whose slices are row-major matrices (inner dimension contiguous);
/// `a` may repeat one matrix for every slice (stride 0 along dimension 0, as expand() makes). `out` is written in
/// place and must be contiguous with the product's shape. Throws Error(runtime) on a shape mismatch or oneDNN error.
void slice_gemm(at::Tensor& out, const at::Tensor& a, bool trans_a, const at::Tensor& b, bool trans_b, bool accumulate);

/// Provenance, as api/blas_info.h gives OpenBLAS's: "oneDNN 2.6.3 cpu_isa_avx512_core" — the library and the
/// instruction set its kernels were generated for here (they decide the products' last bits). The run records it
/// in its settings ("gemm").
std::string gemm_description();

}  // namespace compaudit::engine::batched
