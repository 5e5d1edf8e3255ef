// Provenance: which BLAS library and kernel set (OpenBLAS "core") this process computes with. The last bits of
// every matrix product depend on it, so a run records it in its settings ("blas") and prints it in its header
// line, and a resume under another kernel says so (docs/engine.md, "BLAS kernel").
#pragma once

#include <string>

namespace compaudit::store {
class Store;
}

namespace compaudit::engine {

/// E.g. "OpenBLAS 0.3.21 SkylakeX": OpenBLAS's version and the core whose kernels it loaded
/// (openblas_get_config, openblas_get_corename); "unknown" when libblas.so.3 is not OpenBLAS. Looks only at
/// libraries already loaded (LibTorch's), never loads one.
std::string blas_description();

/// On resume: when the run's recorded setting `key` ("blas", or "gemm": batched/slice_gemm.h) differs from `value`
/// and models are still to be trained (cells not finished, or the memorization estimate when `memorization` is
/// configured and not stored yet), what is computed now differs from the earlier cells in its last bits. Says so on
/// stderr and in the store's log; the run goes on. (A merge, whose shards may differ, only computes metrics.)
void note_kernel_change(store::Store& store, const std::string& key, const std::string& value, bool memorization);

}  // namespace compaudit::engine
