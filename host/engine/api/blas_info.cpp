// blas_description(): asks the OpenBLAS LibTorch loaded which kernels it chose (api/blas_info.h).
#include "api/blas_info.h"

#include <compaudit/store/store.h>

#include <fmt/format.h>

#include <dlfcn.h>

#include <sstream>

namespace compaudit::engine {

std::string blas_description() {
  // As in batched/threads.cpp: the engine is opened RTLD_LOCAL, so OpenBLAS is not in the global scope; ask the
  // library itself by name. RTLD_NOLOAD loads nothing new. libblas.so.3 may be another BLAS (Debian alternatives):
  // then it has no openblas_get_corename and the answer is "unknown".
  using Text = char* (*)();
  for (const char* name : {"libopenblas.so.0", "libblas.so.3"}) {
    void* lib = ::dlopen(name, RTLD_NOW | RTLD_NOLOAD);
    if (!lib) continue;
    auto corename = reinterpret_cast<Text>(::dlsym(lib, "openblas_get_corename"));
    auto config = reinterpret_cast<Text>(::dlsym(lib, "openblas_get_config"));
    std::string text;
    if (corename && corename()) {
      // openblas_get_config() reads "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ... SkylakeX MAX_THREADS=64":
      // its first two words name the library and version, which change the bits as much as the core does.
      std::string library = "OpenBLAS", version;
      if (config && config()) {
        std::istringstream words(config());
        std::string first;
        if (words >> first >> version) library = first;
      }
      text = library + (version.empty() ? "" : " " + version) + " " + corename();
    }
    ::dlclose(lib);  // drops only the reference RTLD_NOLOAD took
    if (!text.empty()) return text;
  }
  return "unknown";
}

void note_kernel_change(store::Store& store, const std::string& key, const std::string& value, bool memorization) {
  const auto settings = store.run().settings;
  if (!settings.is_object() || !settings.contains(key)) return;  // not described yet, or a run from before
  const std::string recorded = settings[key].is_string() ? settings[key].get<std::string>() : "";
  if (recorded == value) return;
  bool trains = memorization && !store.memorization("train");
  for (const auto& cell : store.cells())
    trains = trains || cell.status == store::CellStatus::pending || cell.status == store::CellStatus::running;
  if (!trains) return;
  const std::string text = fmt::format(
      "the run started with {} {} and resumes with {}: models trained now differ from the earlier ones in their "
      "last bits (set {} to resume with the same kernels; docs/engine.md)", key == "blas" ? "BLAS" : "GEMM", recorded,
      value, key == "blas" ? "OPENBLAS_CORETYPE" : "ONEDNN_MAX_CPU_ISA");
  fmt::print(stderr, "compaudit run: warning: {}\n", text);
  store.log("warning", text);
}

}  // namespace compaudit::engine
