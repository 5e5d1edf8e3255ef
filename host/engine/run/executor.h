// host/engine/run/executor.h — executes a validated pipeline into a run directory's results store.
//
// Units of work, in order (each finished one is in the store before the next starts):
//   1. cells, in groups of seeds: the dense cells (train dense model k), then every other arm's cells
//      (clone dense model k, apply the arm's chain of compressors, fine-tune with masks held; "dense+ft" only
//      fine-tunes); an arm's models of a group are trained and evaluated as one stack when they can be (population
//      batching, run/cell_group.cpp and batched/), and each cell is committed on its own; with several chains the
//      other arms' cells are tasks (arm, seed share) the chains take from one queue (executor.cpp, arm_tasks);
//   2. memorization (when configured): T models on subsets of the training set, one score per training example;
//   3. metrics: every metric plugin on every arm against its reference population.
// A cell whose plugin throws is marked failed with the error text; the run goes on. With resume, done cells are
// skipped (a dense model needed by a later cell is restored from the stored state), and the results are the same
// as an uninterrupted run's: every random stream is derived from the seed and the cell's purpose.
#pragma once

#include "data/dataset.h"

#include <compaudit/host/engine_api.h>
#include <compaudit/host/pipeline.h>

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace compaudit::store {
class Store;
}
namespace compaudit::host {
class Registry;
}

namespace compaudit::engine {

struct ExecuteOptions {
  bool quiet = false;
  /// Chains of cells in parallel where cells batch (`run --chains`); 0: one per LibTorch thread. Changes no result.
  int chains = 0;
  /// Injected by tests (RunRequest::test_hooks): stop after N cells as if killed, a pause before each metric result.
  host::TestHooks hooks;
  /// `run --resume --retry-failed`: every failed cell is computed again, not only those that failed for a reason
  /// outside the cell (I/O, disk full, memory, timeout, signal), which are always (run/failures.h).
  bool retry_failed = false;
  // --- scale-out (docs/scaling.md): set by api/shard.cpp for `run --shard I/N` and `--mpi` ---
  /// When set, only the cells of the seeds it accepts are added to the store and computed (a shard's seeds);
  /// every cell of an accepted seed is computed, so a shard never needs another shard's dense model.
  std::function<bool(std::int64_t seed)> seed_filter;
  bool memorization = true;  ///< false: skip the memorization phase (another shard computes it)
  bool metrics = true;       ///< false: stop after the cells; metrics need every cell (`compaudit merge`)
  /// Merged into the run settings when the run is described (a shard stores {"shard": {...}} so resume knows).
  nlohmann::json extra_settings = nlohmann::json::object();
  // --- isolation (docs/isolation.md): set by run/worker.h enable_isolation() ---
  /// When set, a pending cell is computed and committed by a `compaudit worker` process instead of in this one.
  /// Returns nullopt when the worker committed the cell done, else the error the cell is now failed with (its
  /// plugin's error, or "killed by signal 11 (SIGSEGV)", "timed out after 30 s", "out of memory (limit N MiB)").
  std::function<std::optional<std::string>(const std::string& arm, std::int64_t seed)> isolate_cell;
};

struct ExecuteResult {
  int cells_total = 0;
  int cells_done = 0;     ///< done cells in the store at the end
  int cells_failed = 0;
  bool stopped = false;   ///< stopped early by hooks.stop_after_cells: no metrics were computed
};

/// Writes the run's description (settings, arms, data) into `store` when it is new, then executes the pipeline.
/// Throws compaudit::Error for problems outside a cell (data, a plugin that cannot be loaded for metrics, io).
ExecuteResult execute(const host::Pipeline& pipeline, const host::Registry& registry, const DataSplits& data,
                      store::Store& store, const ExecuteOptions& options);

/// Checks what can be checked of a run's inputs before its store is touched: saved predictions files in full (dtype,
/// shape, rows, NaN / inf), and that a pipeline that trains has training data. Throws Error(data) naming the file.
/// Called once per run, before its store is created or opened (api/engine_api.cpp).
void check_run_inputs(const host::Pipeline& pipeline, const DataSplits& data);

/// The reference arm a given arm is compared against (host::reference_of): itself for "dense"; for a compressed arm its
/// matched control — its training control, or the dense control of its fine-tuning budget — else "dense".
std::string reference_arm(const host::Pipeline& pipeline, const host::ArmSpec& arm);

/// Directory of the pipeline file (relative data and model paths are resolved against it).
std::string pipeline_dir(const host::Pipeline& pipeline);

}  // namespace compaudit::engine
