// compaudit/host/engine_api.h — the boundary between the LibTorch-free front end and the execution engine.
//
// The `compaudit` executable does not link LibTorch (starting a process that does costs ~0.55 s here). Commands that
// execute models (run, export, worker) open libcompaudit_engine.so — found beside the host library — with Boost.DLL
// and call through this table. Both sides are built in one tree, so C++ types may cross it.
#pragma once

#include <compaudit/host/plugin_check.h>

#include <cstdint>
#include <string>
#include <vector>

namespace compaudit::host {

/// Hooks for the project's tests, injected by them — never read from the environment, never set by the `compaudit`
/// executable. The engine tests set them on the RunRequest; tests that drive the CLI as a process use the test
/// build's `compaudit-testhooks` executable, whose hidden options --test-stop-after-cells and --test-metric-delay-ms
/// set them (host/cli/CMakeLists.txt; tests/README.md, "Test hooks"). Neither changes a result.
struct TestHooks {
  /// Stop (as if killed, exit 0) after this many cells computed in this process; -1: never. For resume tests.
  int stop_after_cells = -1;
  /// A pause in milliseconds before each metric result is stored, so that a kill can land inside the metrics phase
  /// (which otherwise takes milliseconds). For durability tests.
  int metric_delay_ms = 0;
};

struct RunRequest {
  std::string pipeline_path;               ///< Pipeline to run (empty with resume).
  std::string run_dir;                     ///< Override of the pipeline's output; with resume, the run to continue.
  bool resume = false;
  std::vector<std::string> plugin_paths;   ///< --plugin-path values, searched first.
  int threads = 0;                         ///< 0: the pipeline's setting, else all cores.
  /// --chains: chains of cells computed in parallel where cells batch (built-in MLP / CNN, in process); 0: one per
  /// thread. Changes no result, only the speed (docs/performance.md).
  int chains = 0;
  bool quiet = false;
  TestHooks test_hooks;                    ///< tests only (see TestHooks)
  // --- scale-out (docs/scaling.md; engine side in host/engine/api/shard.cpp, mpi_run.cpp) ---
  int shard_index = 0;                     ///< --shard I/N: I (0 <= I < N)
  int shard_count = 0;                     ///< --shard I/N: N; 0 = not sharded (every cell)
  bool mpi = false;                        ///< --mpi: shard across MPI ranks, gather the stores at rank 0, merge
  // --- isolation (docs/isolation.md; engine side in host/engine/run/worker*.cpp) ---
  std::string isolation;                   ///< --isolate: "process" | "none" | "auto"; empty: the pipeline's [run]
  double cell_timeout = -1;                ///< --cell-timeout seconds; < 0: the pipeline's; 0: no limit
  std::int64_t cell_memory_mb = -1;        ///< --cell-memory MiB; < 0: the pipeline's; 0: the machine's memory
  std::string worker_executable;           ///< the `compaudit` to start workers with (the CLI sets /proc/self/exe)
  /// --retry-failed (with --resume): compute every failed cell again, the plugins' own failures included; without
  /// it resume retries only cells that failed for a reason outside them (I/O, disk full, memory, timeout, signal).
  bool retry_failed = false;
};

/// `compaudit worker` (internal; docs/isolation.md): computes one cell of a run whose host holds the run lock and
/// waits. The CLI applies the memory limit and the parent-death signal before it opens the engine.
struct WorkerRequest {
  std::string run_dir;
  std::string arm;
  std::int64_t seed = 0;
  std::vector<std::string> plugin_paths;
  int threads = 0;                         ///< the host's LibTorch thread count (same bits as in-process)
  /// Instead of a cell: create every plugin of this pipeline file and exit 3 when one cannot be created — `run`'s
  /// check before any work, isolated (docs/isolation.md). run_dir, arm and seed are unused then.
  std::string check_plugins;
};

/// Exit code of a worker that ran out of memory (operator new failed under its limit): the host records
/// "out of memory (limit N MiB)". Distinct from every code in exit_codes.h.
constexpr int COMPAUDIT_WORKER_EXIT_OUT_OF_MEMORY = 10;

/// `compaudit merge OUT_DIR SHARD_DIR...` (docs/scaling.md): joins shard stores into a new run in out_dir, then
/// computes what needs every cell (memorization if no shard has it, metrics) and writes the reports.
struct MergeRequest {
  std::string out_dir;
  std::vector<std::string> shard_dirs;
  std::string pipeline_path;               ///< Optional: where the pipeline is on this machine (default: stored path)
  std::vector<std::string> plugin_paths;
  int threads = 0;                         ///< 0: the count the shards ran with
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
  int (*merge)(const MergeRequest& request);  ///< scale-out: join shard stores, compute metrics, report
  int (*worker)(const WorkerRequest& request);  ///< isolation: compute and commit one cell (docs/isolation.md)
  /// `validate --load`: creates every plugin `pipeline` uses in this process (compaudit/host/plugin_check.h);
  /// the failures, empty when all were created.
  std::vector<PluginCreationFailure> (*create_plugins)(const Pipeline& pipeline, const Registry& registry);
};

constexpr int COMPAUDIT_ENGINE_API_VERSION = 2;  // 2: create_plugins

}  // namespace compaudit::host

#define COMPAUDIT_ENGINE_ENTRY_NAME "compaudit_engine_entry"
