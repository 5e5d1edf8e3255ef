// Opens the real libcompaudit_engine.so the way the CLI does (dlopen + compaudit_engine_entry), so the engine tests
// go through the same boundary as `compaudit run` and `compaudit export`.
#pragma once

#include <compaudit/host/engine_api.h>

#include <dlfcn.h>

#include <array>
#include <cstdio>
#include <stdexcept>
#include <string>

namespace engine_test {

inline const compaudit::host::EngineApi& engine() {
  static const compaudit::host::EngineApi* api = [] {
    void* handle = dlopen(COMPAUDIT_ENGINE_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    if (!handle) throw std::runtime_error(std::string("cannot open the engine: ") + dlerror());
    using Entry = const compaudit::host::EngineApi* (*)();
    auto entry = reinterpret_cast<Entry>(dlsym(handle, COMPAUDIT_ENGINE_ENTRY_NAME));
    if (!entry) throw std::runtime_error("the engine has no compaudit_engine_entry");
    return entry();
  }();
  return *api;
}

/// The request run_pipeline sends: run `pipeline` into `run_dir` (or resume it) with the test build's plugins,
/// quietly; threads 0: the pipeline's own. Tests that need more (test hooks, chains) set it on the request.
inline compaudit::host::RunRequest pipeline_request(const std::string& pipeline, const std::string& run_dir = {},
                                                    bool resume = false, int threads = 0) {
  compaudit::host::RunRequest r;
  r.pipeline_path = resume ? std::string() : pipeline;
  r.run_dir = run_dir;
  r.resume = resume;
  r.plugin_paths = {COMPAUDIT_TEST_PLUGIN_DIR};
  r.quiet = true;
  r.threads = threads;
  return r;
}

inline int run_pipeline(const std::string& pipeline, const std::string& run_dir = {}, bool resume = false,
                        int threads = 0) {
  return engine().run(pipeline_request(pipeline, run_dir, resume, threads));
}

/// run_pipeline with the engine's test hook that stops the run, as if killed, after `cells` cells computed.
inline int run_stopped_after(const std::string& pipeline, const std::string& run_dir, int cells, int threads = 0) {
  compaudit::host::RunRequest r = pipeline_request(pipeline, run_dir, /*resume=*/false, threads);
  r.test_hooks.stop_after_cells = cells;
  return engine().run(r);
}

/// Runs a shell command, returns its standard output; throws when it exits non-zero.
inline std::string shell(const std::string& command) {
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  if (!p) throw std::runtime_error("popen failed");
  std::array<char, 4096> buf{};
  while (fgets(buf.data(), buf.size(), p)) out += buf.data();
  if (pclose(p) != 0) throw std::runtime_error("command failed: " + command + "\n" + out);
  return out;
}

}  // namespace engine_test
