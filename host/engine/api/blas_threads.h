// host/engine/api/blas_threads.h — OpenBLAS's own thread pool, sized like LibTorch's (scale-out determinism).
#pragma once

namespace compaudit::engine {

/// Sets OpenBLAS's thread count (Debian's libtorch calls OpenBLAS through libblas.so.3 for matrix products) to
/// `threads`. OpenBLAS otherwise sizes its pool from the CPUs this process may run on, and its products change in
/// the last bits with it: the same pipeline with `threads = 1` gave different fp16 probabilities (1-3 values per
/// 451x10 matrix) when run on 2 free cores and when bound to one core, as mpirun and Slurm bind ranks. With this,
/// results depend on the configured thread count only. Returns false when the BLAS is not OpenBLAS (nothing to do).
bool set_blas_threads_like_torch(int threads);

}  // namespace compaudit::engine
