// host/engine/run/executor_impl.h — internals of execute(), shared by the run/*.cpp files. Not an interface.
//
// The Executor orchestrates; the parts it wires together each have one job and their own header:
//   run/scheduler.h        where tasks run: the calling thread, or chains on a boost::asio::thread_pool
//   run/plugin_set.h       the plugin objects of the run (compressor chains, metrics, the augmentation policy)
//   run/model_source.h     seed k's fresh model (built-in, TorchScript reset, or checkpoint k)
//   run/training_plans.h   seed k's dense and fine-tuning plans
//   run/model_cache.h      the group's dense models and rewind points
//   run/run_parts.h        the parts above as one struct of references, which the phases and CellContext take
//   phases: run/describe_run.h (the run into the store), cells (run/cell_group.cpp: make / compress, train,
//   evaluate, commit), run/memorization_phase.h, run/analysis_phase.h (attribution, and the [search] arms'
//   models), run/metrics_phase.h (measure).
#pragma once

#include "data/dataset.h"
#include "run/analysis_phase.h"
#include "run/executor.h"
#include "run/model_cache.h"
#include "run/model_source.h"
#include "run/plugin_set.h"
#include "run/progress.h"
#include "run/run_parts.h"
#include "run/training_plans.h"
#include "training/trainer.h"

#include <compaudit/host/pipeline.h>
#include <compaudit/host/registry.h>
#include <compaudit/models/models.h>
#include <compaudit/store/store.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace compaudit::engine {

struct CellSlot;  // one cell of a group on its way through the phases (run/cell_group.cpp)

/// A unit of work for a chain: the cells of one arm for some seeds of the current group, computed as one stack.
struct CellTask {
  const host::ArmSpec* arm = nullptr;
  std::vector<std::int64_t> seeds;
};

class Executor {
 public:
  Executor(const host::Pipeline& pipeline, const host::Registry& registry, const DataSplits& data,
           store::Store& store, const ExecuteOptions& options);
  ExecuteResult run();
  /// Isolation, worker side (defined in run/worker_cell.cpp): computes and commits the one cell (arm, seed) with
  /// run_cell — the in-process code path, so the bits are the same — without describing the run or the loop.
  bool run_in_worker(const std::string& arm, std::int64_t seed);

 private:
  bool run_cell(const host::ArmSpec& arm, std::int64_t seed);
  /// The cells of `arm` for `seeds` (pending, dense model available) as one group (run/cell_group.cpp): models
  /// made (dense) or compressed one by one (plugins see one model at a time), then trained and evaluated together
  /// as one stack when they can be (batched/), else one at a time; each cell committed on its own. Returns the
  /// number of cells committed done; sets stopped_ when stop_after_cells ran out.
  int run_group(const host::ArmSpec& arm, const std::vector<std::int64_t>& seeds);
  // run_group's phases, each under the host lock except where train_and_evaluate releases it:
  /// Compress: the slot's model, made (dense: a fresh model; saved predictions: read) or compressed from a copy of
  /// dense model k by the arm's chain ([search] arms: by the search). A plugin that throws fails only this slot.
  void make_model(const host::ArmSpec& arm, CellSlot& slot);
  /// Train (dense plan, or fine-tuning) and evaluate the slots whose models were made: stacked where they can be,
  /// with `lock` released so that chains run in parallel; else one at a time under it.
  void train_and_evaluate(const host::ArmSpec& arm, std::vector<CellSlot>& slots,
                          std::unique_lock<std::mutex>& lock);
  /// Commit each slot's cell on its own (model state, predictions, record in one transaction), in seed order; keep a
  /// dense model for the group's other arms. Returns how many were committed done; stops when the budget runs out.
  int commit(const host::ArmSpec& arm, std::vector<CellSlot>& slots);
  /// Runs `tasks` on `chains` chains (run/scheduler.h), each chain taking the next task when it is free; chains share
  /// the Executor under host_mutex_. Returns when every task is done, the stop_after_cells budget ran out, or a
  /// chain threw (rethrown here).
  void run_tasks(const std::vector<CellTask>& tasks, int chains);
  /// The pending cells of one task: in a group (run_group), or each in its own worker when isolated.
  void run_task(const CellTask& task);
  /// The seeds among `seeds` whose `arm` cell still has to be computed; fails those whose dense model failed, and
  /// sets stopped_ when a pending cell finds no budget left.
  std::vector<std::int64_t> pending(const host::ArmSpec& arm, const std::vector<std::int64_t>& seeds);
  bool out_of_budget() const {
    return options_.hooks.stop_after_cells >= 0 && computed_ >= options_.hooks.stop_after_cells;
  }
  /// How many chains run in parallel: one per thread for batchable MLP pipelines, else 1 (batched/threads.h).
  int chain_count() const;
  /// test_probabilities, when given, receives the float32 [N, C] test probabilities (stored beside the fp16 ones).
  std::vector<store::Predictions> evaluate(models::TrainableModel& model, const std::string& arm,
                                           std::int64_t seed, at::Tensor* test_probabilities = nullptr);

  const host::Pipeline& pipeline_;
  const DataSplits& data_;
  store::Store& store_;
  ExecuteOptions options_;
  PluginSet plugins_;
  ModelSource source_;
  TrainingPlans plans_;
  ModelCache cache_;
  RunParts parts_;          // the parts above, as the phases and the CompressionContext see them
  AnalysisPhase analysis_;  // [attribution] after the cells, [search] arms' models (host lock)
  std::unique_ptr<Progress> progress_;
  std::atomic<bool> stopped_{false};  // stop_after_cells ran out
  std::atomic<int> computed_{0};
  // Chains in parallel: held while a chain makes or compresses models (plugins, the parts above and the
  // CompressionContext's services run one at a time, as with one chain) and while it commits; released while it
  // trains and evaluates.
  std::mutex host_mutex_;
  std::map<std::string, at::Tensor> saved_outputs_;  // saved predictions files as read (cell_group.cpp; host lock)
};

}  // namespace compaudit::engine
