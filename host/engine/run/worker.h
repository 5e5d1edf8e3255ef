// host/engine/run/worker.h — crash-isolated cells (docs/isolation.md).
//
// Host side: in isolation mode each pending cell is computed by a new `compaudit worker` process (posix_spawn of the
// compaudit executable — never a fork of this process, whose LibTorch threads are running). The worker opens the
// run's store with Store::Access::worker_of_lock_holder (this host keeps the run lock and waits), runs the
// executor's normal run_cell for the cell (so the bits are those of an in-process run) and commits it. The host
// waits with the cell's timeout; when the worker dies by a signal, exits without committing, is killed for taking
// too long or runs out of its memory limit, the cell is failed with that cause and the run goes on.
//
// Worker side: run_worker() is EngineApi::worker (`compaudit worker`, host/cli/src/cmd_worker.cpp).
#pragma once

#include "run/executor.h"

#include <compaudit/host/engine_api.h>
#include <compaudit/host/pipeline.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace compaudit::host {
class Registry;
}
namespace compaudit::store {
class Store;
}

namespace compaudit::engine {

/// What a host needs to start workers for one run.
struct IsolationSettings {
  std::string executable;                 ///< the `compaudit` executable
  std::string run_dir;
  std::vector<std::string> plugin_paths;  ///< passed on, so the worker discovers the same plugins
  int threads = 1;                        ///< the host's LibTorch thread count (bitwise-equal results)
  double timeout_seconds = 0;             ///< 0: none (covers the worker's whole life, start-up included)
  std::int64_t memory_mb = 0;             ///< RLIMIT_AS of the worker in MiB (always > 0 once resolved)
  bool quiet = false;
};

/// Decides whether this run isolates its cells: the request's --isolate, else the pipeline's [run] isolation;
/// "auto" isolates when a compressor or augmentation plugin of the pipeline is not built in (its library is not in
/// the built-in plugin directory) and a compaudit executable to start is known. Fills `settings` when it does.
/// Throws Error(pipeline) for "process" without a compaudit executable.
bool resolve_isolation(const host::RunRequest& request, const host::Pipeline& pipeline,
                       const host::Registry& registry, const std::string& run_dir, int threads,
                       IsolationSettings& settings);

/// Sets options.isolate_cell to dispatch every cell to a worker (run_cell_in_worker) with `settings`.
void enable_isolation(ExecuteOptions& options, const IsolationSettings& settings, store::Store& store);

/// Starts a worker for (arm, seed), waits for it and returns nullopt when it committed the cell done, else the
/// error the cell is failed with (committed by the worker, or recorded here from the worker's fate).
std::optional<std::string> run_cell_in_worker(const IsolationSettings& settings, store::Store& store,
                                              const std::string& arm, std::int64_t seed);

/// Fail before work, isolated (run/plugin_check.h): `compaudit worker --check-plugins` creates every plugin of
/// `pipeline` with the cells' limits, its log outside the run directory (which must not exist yet). Throws
/// host::PluginCreationError with the worker's failures, or — when it died, hung or ran out of memory inside a
/// plugin's create() — naming the plugin it was creating and how it ended.
void check_plugins_in_worker(const IsolationSettings& settings, const host::Pipeline& pipeline);

/// "killed by signal 11 (SIGSEGV)"-style name of a signal.
std::string describe_signal(int signal);

/// EngineApi::worker: computes and commits one cell. Returns 0 when the cell was committed (done, or failed by its
/// plugin as in-process), else the exit code of the error that prevented it (printed on stderr).
int run_worker(const host::WorkerRequest& request);

}  // namespace compaudit::engine
