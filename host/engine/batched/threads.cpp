#include "batched/threads.h"

#include <ATen/Parallel.h>

#include <dlfcn.h>
#include <malloc.h>

namespace compaudit::engine::batched {

bool set_blas_threads(int threads) {
  // Looked up at run time: libtorch links "libblas.so.3", which Debian's alternatives point at OpenBLAS (pthreads
  // build) or at another BLAS without this function. The engine is opened RTLD_LOCAL, so OpenBLAS is not in the
  // global scope (dlsym(RTLD_DEFAULT) misses it): ask the already loaded library itself. RTLD_NOLOAD never loads
  // anything new.
  //
  // Besides speed, this is about bits: OpenBLAS otherwise sizes its pool from the CPUs the process may run on, and
  // its products change in the last bits with it (the same `threads = 1` pipeline gave different fp16
  // probabilities on 2 free cores and bound to one core, as mpirun and Slurm bind ranks).
  using SetThreads = void (*)(int);
  for (const char* name : {"libopenblas.so.0", "libblas.so.3"}) {
    void* lib = ::dlopen(name, RTLD_NOW | RTLD_NOLOAD);
    if (!lib) continue;
    auto set = reinterpret_cast<SetThreads>(::dlsym(lib, "openblas_set_num_threads"));
    if (set) set(threads < 1 ? 1 : threads);
    ::dlclose(lib);  // drops only the reference RTLD_NOLOAD took; libtorch keeps the library loaded
    if (set) return true;
  }
  return false;
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
