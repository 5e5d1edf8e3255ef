// compaudit/host/engine_api.h — the boundary between the LibTorch-free front end and the execution engine.
//
// The `compaudit` executable does not link LibTorch (starting a process that does costs ~0.55 s here). Commands that
// execute models (run, export, worker) open libcompaudit_engine.so — found beside the host library — with Boost.DLL
// and call through this table. Both sides are built in one tree, so C++ types may cross it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace compaudit::host {

struct RunRequest {
  std::string pipeline_path;               ///< Pipeline to run (empty with resume).
  std::string run_dir;                     ///< Override of the pipeline's output; with resume, the run to continue.
  bool resume = false;
  std::vector<std::string> plugin_paths;   ///< --plugin-path values, searched first.
  int threads = 0;                         ///< 0: the pipeline's setting, else all cores.
  bool quiet = false;
};

struct ExportRequest {
  std::string run_dir;
  std::string arm;
  std::int64_t seed = 0;
  std::string output;
  std::vector<std::string> plugin_paths;
};

/// Function table exported by the engine library as `compaudit_engine_entry`. Each function prints its own errors
/// (to stderr) and returns a process exit code (see docs/cli.md).
struct EngineApi {
  int version;  ///< COMPAUDIT_ENGINE_API_VERSION
  int (*run)(const RunRequest& request);
  int (*export_model)(const ExportRequest& request);
};

constexpr int COMPAUDIT_ENGINE_API_VERSION = 1;

}  // namespace compaudit::host

#define COMPAUDIT_ENGINE_ENTRY_NAME "compaudit_engine_entry"
