#include "api/blas_threads.h"

#include <dlfcn.h>

namespace compaudit::engine {

bool set_blas_threads_like_torch(int threads) {
  // The engine is opened RTLD_LOCAL, so OpenBLAS is not in the global scope (dlsym(RTLD_DEFAULT) misses it): ask the
  // already loaded library itself. RTLD_NOLOAD never loads anything new.
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

}  // namespace compaudit::engine
