#include "batched/threads.h"

#include <ATen/Parallel.h>

#include <dlfcn.h>

namespace compaudit::engine::batched {

bool set_blas_threads(int threads) {
  // Looked up at run time: libtorch links "libblas.so.3", which Debian's alternatives point at OpenBLAS (pthreads
  // build) or at another BLAS without this function.
  using SetThreads = void (*)(int);
  static const auto set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (!set) return false;
  set(threads < 1 ? 1 : threads);
  return true;
}

void use_one_thread_here() {
  at::set_num_threads(1);
  set_blas_threads(1);
}

}  // namespace compaudit::engine::batched
