// host/engine/run/executor_impl.h — internals of execute(), shared by the run/*.cpp files. Not an interface.
#pragma once

#include "analysis/attribution.h"
#include "data/dataset.h"
#include "run/executor.h"
#include "run/progress.h"
#include "training/trainer.h"

#include <compaudit/compressor.h>
#include <compaudit/host/loader.h>
#include <compaudit/host/pipeline.h>
#include <compaudit/host/registry.h>
#include <compaudit/models/models.h>
#include <compaudit/store/store.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace compaudit::engine {

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

  // --- services for the CompressionContext (run/context.cpp) ---
  const host::Pipeline& pipeline() const { return pipeline_; }
  const DataSplits& data() const { return data_; }
  store::Store& store() { return store_; }
  /// A fresh model of `seed`: its initial weights when trained here, the seed's checkpoint when pretrained.
  std::unique_ptr<models::TrainableModel> new_model(std::int64_t seed) const;
  /// Position of `seed` in the pipeline's seeds (its checkpoint, its block of saved predictions).
  std::size_t seed_index(std::int64_t seed) const;
  /// The dense training plan of `seed` (also used to re-run its first steps for rewinding).
  TrainPlan dense_plan(std::int64_t seed) const;
  /// The fine-tuning plan of `seed` (shared by every arm, so the control and the compressed arms see the same
  /// batches), with `epochs` epochs, the teacher being dense model `seed`.
  TrainPlan finetune_plan(std::int64_t seed, int epochs, const std::string& purpose);
  /// Dense model `seed`'s parameters after `step` optimizer steps (0 = initialisation); cached.
  std::vector<std::pair<std::string, at::Tensor>> rewind_point(std::int64_t seed, std::int64_t step);
  /// A deterministic batch of up to n training inputs.
  at::Tensor calibration_batch(std::int64_t seed, std::int64_t n) const;

 private:
  /// Opens (load checks, no object created) the libraries of `arm`'s compressors. A library that cannot be loaded
  /// fails every cell that uses it the same way, so it is the run's plugin error (exit 3), not a cell's result.
  void open_compressor_libraries(const host::ArmSpec& arm);
  void describe_run();
  std::string resolve_model_path() const;
  bool run_cell(const host::ArmSpec& arm, std::int64_t seed);
  /// The cells of `arm` for `seeds` (pending, dense model available) as one group (run/cell_group.cpp): models
  /// made (dense) or compressed one by one (plugins see one model at a time), then trained and evaluated together
  /// as one stack when they can be (batched/), else one at a time; each cell committed on its own. Returns the
  /// number of cells committed done; sets stopped_ when stop_after_cells ran out.
  int run_group(const host::ArmSpec& arm, const std::vector<std::int64_t>& seeds);
  /// Runs `tasks` on `chains` chains in parallel (batched/threads.h), each chain taking the next task from the
  /// list when it is free; chains share the Executor under host_mutex_. Returns when every task is done, the
  /// stop_after_cells budget ran out, or a chain threw (rethrown here).
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
  models::TrainableModel& dense_model(std::int64_t seed);
  std::vector<std::shared_ptr<Compressor>>& compressors(const host::ArmSpec& arm);
  /// test_probabilities, when given, receives the float32 [N, C] test probabilities (stored beside the fp16 ones).
  std::vector<store::Predictions> evaluate(models::TrainableModel& model, const std::string& arm,
                                           std::int64_t seed, at::Tensor* test_probabilities = nullptr);
  void memorization();
  /// [attribution] (run/analysis_phase.cpp): each matching arm and seed whose cell is done and whose record is not
  /// stored yet, into the blob "attribution"; a failure is recorded there and the run goes on.
  void attribution();
  /// The (arm, seed) pairs attribution() has left to do: those whose cells are done, or, `planned`, not failed
  /// (what the progress total counts before the cells run).
  std::vector<std::pair<std::string, std::int64_t>> attribution_work(bool planned) const;
  /// A [search] arm's model for `seed` (run/analysis_phase.cpp): the search on the validation split (its record in
  /// the blob "search"), then the chosen per-layer steps applied to a copy of the dense model, their compression
  /// records appended to `records`. Throws when no configuration passes the gates (the cell fails) or a plugin throws.
  std::unique_ptr<models::TrainableModel> searched_model(const host::ArmSpec& arm, std::int64_t seed,
                                                         nlohmann::json& records);
  /// The `[search] uniform` arm's model for `seed`: the search's plugin on every searched layer with the one value
  /// whose stored bytes come closest to the searched arm's (run/analysis_phase.cpp).
  std::unique_ptr<models::TrainableModel> uniform_model(const host::ArmSpec& arm, std::int64_t seed,
                                                        nlohmann::json& records);
  /// The search's record for `seed`, computed once (also for the uniform arm) and stored in the blob "search" of
  /// the searched arm: read back from there on resume.
  const nlohmann::json& search_record(std::int64_t seed);
  /// One step of the search's plugin on `layers` of `model` at `value`; its compression record appended to
  /// `records` when given.
  void compress_layers(models::TrainableModel& model, const std::string& arm, std::int64_t seed,
                       const std::vector<std::string>& layers, const ParamValue& value,
                       nlohmann::json* records);
  /// [attribution] / [search] critical_class: a class name of the data or a 0-based index; nullopt when empty.
  std::optional<analysis::CriticalClass> critical_class(const std::string& text) const;
  /// The model of a done cell, restored from the store.
  std::unique_ptr<models::TrainableModel> stored_model(const std::string& arm, std::int64_t seed) const;
  void metrics();

  const host::Pipeline& pipeline_;
  const host::Registry& registry_;
  const DataSplits& data_;
  store::Store& store_;
  ExecuteOptions options_;
  std::string pipeline_dir_;
  host::Loader loader_;
  std::shared_ptr<Augmentation> augmentation_;
  std::string augmentation_id_;
  AugmentationHook dense_hook_;     // augmentation without a teacher (dense training)
  AugmentationHook finetune_hook_;  // with this seed's dense model as the teacher (one cell at a time)
  std::map<std::string, std::vector<std::shared_ptr<Compressor>>> compressors_;  // by arm name
  std::map<std::string, std::string> compressor_errors_;                         // arm -> load error
  // Dense models of the current group of seeds (trained here, or restored from the store on resume).
  std::map<std::int64_t, std::unique_ptr<models::TrainableModel>> dense_models_;
  std::atomic<bool> stopped_{false};  // stop_after_cells ran out
  // Chains in parallel: held while a chain makes or compresses models (plugins and the CompressionContext's
  // services run one at a time, as with one chain) and while it commits; released while it trains and evaluates.
  std::mutex host_mutex_;
  std::map<std::pair<std::int64_t, std::int64_t>, std::vector<std::pair<std::string, at::Tensor>>> rewinds_;
  std::map<std::string, at::Tensor> saved_outputs_;  // saved predictions files as read (cell_group.cpp; host lock)
  // Checkpoint 0's parameters (names, shapes), read once: every other checkpoint must match them (new_model).
  mutable std::mutex checkpoint_mutex_;
  mutable std::vector<std::pair<std::string, std::vector<std::int64_t>>> first_checkpoint_;
  std::unique_ptr<Progress> progress_;
  std::map<std::int64_t, nlohmann::json> search_records_;  // [search] records by seed (host lock)
  std::atomic<int> computed_{0};
};

/// "<arm> seed <k>", how progress lines and logs name a cell.
std::string cell_name(const std::string& arm, std::int64_t seed);

}  // namespace compaudit::engine
