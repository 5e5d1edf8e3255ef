#include "batched/threads.h"

#include <ATen/Parallel.h>

#include <dlfcn.h>
#include <malloc.h>

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

void keep_freed_memory() {
  mallopt(M_MMAP_THRESHOLD, 256 << 20);  // blocks below 256 MiB come from the heap, so they are reused...
  mallopt(M_TRIM_THRESHOLD, 512 << 20);  // ...and the heap's top is not handed back after every step
  mallopt(M_TOP_PAD, 64 << 20);
}

}  // namespace compaudit::engine::batched
