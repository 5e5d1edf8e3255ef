// execute() and the Executor's orchestration: groups of seeds, their cell tasks on the scheduler, the phases in
// order. See executor.h for the order of work and the determinism rules, executor_impl.h for the parts.
#include "run/executor_impl.h"

#include "batched/stacked_architecture.h"
#include "batched/threads.h"
#include "run/describe_run.h"
#include "run/failures.h"
#include "run/memorization_phase.h"
#include "run/metrics_phase.h"
#include "run/saved_predictions.h"
#include "run/scheduler.h"
#include "run/store_io.h"

#include <compaudit/error.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

namespace compaudit::engine {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Seeds per group: an arm's models of a group are trained as one stack, and a group's dense models stay in memory
// until its last arm is done. 64 MLPs of Fashion-MNIST's 784-256-128-10 are 60 MB of parameters.
constexpr std::size_t kMaxGroup = 64;

/// `arm`'s cells of `seeds` as `parts` tasks of contiguous seeds, sizes differing by at most one.
std::vector<CellTask> split(const host::ArmSpec& arm, const std::vector<std::int64_t>& seeds, std::size_t parts) {
  const std::size_t n = seeds.size();
  parts = std::clamp<std::size_t>(parts, 1, std::max<std::size_t>(n, 1));
  std::vector<CellTask> tasks;
  for (std::size_t p = 0; p < parts; ++p)
    tasks.push_back({&arm, {seeds.begin() + static_cast<std::ptrdiff_t>(p * n / parts),
                            seeds.begin() + static_cast<std::ptrdiff_t>((p + 1) * n / parts)}});
  return tasks;
}

/// Rough cost of an arm's cells, in model-epochs: the fine-tuning epochs, plus one for making (compressing) and
/// evaluating each model, so an arm that does not train still weighs a little. Only used to order tasks.
std::int64_t cost(const host::ArmSpec& arm, std::size_t seeds) {
  return static_cast<std::int64_t>(seeds) * (std::max(arm.finetune_epochs, 0) + 1);
}

/// The tasks of a group's non-dense arms: each arm split into one seed share per chain, as the dense cells are.
/// Whole-arm stacks would be bigger, but with two chains at once they measured no faster per model on the
/// Fashion-MNIST benchmark, and smaller tasks balance better. With several chains the biggest tasks come first, so
/// the small ones fill the gaps at the end; one chain keeps the pipeline's arm order (arm-major, as before).
std::vector<CellTask> arm_tasks(const host::Pipeline& pipeline, const std::vector<std::int64_t>& group, int chains) {
  std::vector<CellTask> tasks;
  for (const auto& arm : pipeline.arms)
    if (arm.name != "dense")
      for (auto& t : split(arm, group, static_cast<std::size_t>(chains))) tasks.push_back(std::move(t));
  if (chains > 1)
    std::stable_sort(tasks.begin(), tasks.end(), [](const CellTask& a, const CellTask& b) {
      return cost(*a.arm, a.seeds.size()) > cost(*b.arm, b.seeds.size());
    });
  return tasks;
}

}  // namespace

std::string pipeline_dir(const host::Pipeline& pipeline) {
  if (pipeline.path.empty()) return std::filesystem::current_path().string();
  return std::filesystem::absolute(pipeline.path).parent_path().lexically_normal().string();
}

std::string reference_arm(const host::Pipeline& pipeline, const host::ArmSpec& arm) {
  return host::reference_of(pipeline, arm);
}

Executor::Executor(const host::Pipeline& pipeline, const host::Registry& registry, const DataSplits& data,
                   store::Store& store, const ExecuteOptions& options)
    : pipeline_(pipeline), data_(data), store_(store), options_(options), plugins_(registry, pipeline),
      source_(pipeline, data, engine::pipeline_dir(pipeline)),
      plans_(pipeline, data, plugins_.augmentation(),
             [this](std::int64_t seed, const at::Tensor& x) { return predict_probabilities(cache_.dense(seed), x); }),
      cache_(store, source_, plans_, data), parts_{pipeline, data, store, plugins_, source_, plans_, cache_},
      analysis_(parts_, options.seed_filter) {}

std::vector<store::Predictions> Executor::evaluate(models::TrainableModel& model, const std::string& arm,
                                                   std::int64_t seed, at::Tensor* test_probabilities) {
  std::vector<store::Predictions> out;
  const at::Tensor test = predict_probabilities(model, data_.test.inputs);
  out.push_back(to_predictions(arm, seed, "test", test, data_.test.targets, /*all_probabilities=*/true));
  if (test_probabilities) *test_probabilities = test;
  if (pipeline_.memorization.enabled)
    out.push_back(to_predictions(arm, seed, "train", predict_probabilities(model, data_.train.inputs),
                                 data_.train.targets, /*all_probabilities=*/false));
  return out;
}

bool Executor::run_cell(const host::ArmSpec& arm, std::int64_t seed) {
  const std::string what = cell_name(arm.name, seed);
  progress_->start(what);
  const auto t0 = std::chrono::steady_clock::now();
  // Isolation (run/worker.h, docs/isolation.md): a worker process runs this same function for the cell and commits
  // it; a worker that crashes, hangs or runs out of memory fails only this cell, with the cause recorded.
  if (options_.isolate_cell) {
    const std::optional<std::string> error = options_.isolate_cell(arm.name, seed);
    progress_->finish(what, !error, seconds_since(t0));
    if (error) progress_->note(fmt::format("  {}: {}", what, *error));
    return !error;
  }
  // In process: a group of one, through the same code as the batched loop (so a cell's bits do not depend on
  // whether it ran alone, in a group, or in a worker) — and with a chain's threads where the loop would use chains.
  if (chain_count() > 1) batched::use_one_thread_here();
  return run_group(arm, {seed}) == 1;
}

int Executor::chain_count() const {
  // Chains only where cells are stacked architectures (batched/stacked_architecture.h) computed in this process; see
  // batched/threads.h. (A CNN that cannot stack still trains alone under the host lock, on its chain's one thread:
  // the bits of a 1-thread run.)
  if (options_.isolate_cell || plugins_.augmentation() || !batched::find_stacked_architecture(pipeline_.model.arch)) return 1;
  // `run --chains N` (docs/performance.md): --chains 1 keeps one chain with every thread intra-op.
  if (options_.chains > 0) return options_.chains;
  return std::max(1, at::get_num_threads());
}

std::vector<std::int64_t> Executor::pending(const host::ArmSpec& arm, const std::vector<std::int64_t>& seeds) {
  std::lock_guard<std::mutex> lock(host_mutex_);  // the progress line, and computed_ against other chains' commits
  std::vector<std::int64_t> todo;
  for (std::int64_t seed : seeds) {
    const auto c = store_.cell(arm.name, seed);
    if (c && (c->status == store::CellStatus::done || c->status == store::CellStatus::failed)) continue;
    if (out_of_budget()) {  // a pending cell and no budget left: stop as if killed
      stopped_ = true;
      break;
    }
    const auto dense = store_.cell("dense", seed);
    if (arm.name != "dense" && dense && dense->status == store::CellStatus::failed) {
      store_.fail_cell(arm.name, seed, fmt::format("the dense model of seed {} failed", seed),
                       store::FailureKind::dependency);
      progress_->finish(cell_name(arm.name, seed), false, 0.0);
      ++computed_;
    } else {
      todo.push_back(seed);
    }
  }
  return todo;
}

void Executor::run_task(const CellTask& task) {
  const std::vector<std::int64_t> todo = pending(*task.arm, task.seeds);
  if (!options_.isolate_cell) {
    if (!todo.empty()) run_group(*task.arm, todo);  // counts computed_ and sets stopped_ itself
    return;
  }
  for (std::int64_t seed : todo) {  // isolation: every cell in its own worker process (run/worker.h)
    if (out_of_budget()) {
      stopped_ = true;
      break;
    }
    run_cell(*task.arm, seed);
    ++computed_;
  }
}

void Executor::run_tasks(const std::vector<CellTask>& tasks, int chains) {
  // The pool's queue rather than a fixed share per chain: tasks differ in cost (seeds, fine-tuning epochs, masks),
  // so a chain that finishes early takes the next task instead of idling until the slowest share is done. A task
  // that throws is outside any cell (store, io): the run's error, rethrown here.
  run_on_chains(tasks.size(), chains, [&](std::size_t i) { run_task(tasks[i]); }, [this] { return !stopped_; });
}

ExecuteResult Executor::run() {  // the caller ran check_run_inputs before creating the store (api/engine_api.cpp)
  // In process, every compressor library is opened before any cell; isolated, each worker opens its cell's
  // (run_in_worker) so that a library that crashes while loading takes down only a worker.
  if (!options_.isolate_cell)
    for (const auto& arm : pipeline_.arms) plugins_.open_libraries(arm);
  describe_run(pipeline_, data_, engine::pipeline_dir(pipeline_), source_.model_path(), options_.extra_settings, store_);
  // Scale-out (docs/scaling.md): a shard computes only the seeds ExecuteOptions::seed_filter accepts.
  std::vector<std::int64_t> seeds;
  for (std::int64_t seed : pipeline_.seeds)
    if (!options_.seed_filter || options_.seed_filter(seed)) seeds.push_back(seed);
  std::vector<std::pair<std::string, std::int64_t>> all;
  for (std::int64_t seed : seeds)
    for (const auto& arm : pipeline_.arms) all.emplace_back(arm.name, seed);
  store_.ensure_cells(all);
  store_.reset_running_cells();
  reopen_cells(store_, options_.retry_failed, options_.quiet);  // resume: environmental failures, corrupt models

  ExecuteResult result;
  result.cells_total = static_cast<int>(all.size());
  int already = 0;
  for (const auto& c : store_.cells())
    if (c.status == store::CellStatus::done || c.status == store::CellStatus::failed) ++already;
  const int mem_units =
      options_.memorization && pipeline_.memorization.enabled && !store_.memorization("train") ? 1 : 0;
  const int attribution_units = static_cast<int>(analysis_.attribution_work(true).size());  // resume: what is left
  progress_ = std::make_unique<Progress>(result.cells_total + mem_units + attribution_units, already, options_.quiet);

  // In groups of seeds (kMaxGroup), two phases per group, each spread over the chains that run in parallel
  // (batched/threads.h): 1. the dense cells, split by seeds; 2. once every dense model of the group is there (or
  // failed) — the other arms start from them — the other arms' cells, as tasks of (arm, seeds) stacks taken from a
  // shared queue (arm_tasks). Groups bound how many dense models are held.
  // BLAS threads deliberately too: OpenBLAS does not follow at::set_num_threads, and its idle threads spin.
  batched::keep_freed_memory();
  const int chains = chain_count();
  batched::set_blas_threads(chains > 1 ? 1 : at::get_num_threads());
  for (std::size_t g = 0; g < seeds.size() && !stopped_; g += kMaxGroup) {
    const std::vector<std::int64_t> group(seeds.begin() + static_cast<std::ptrdiff_t>(g),
                                          seeds.begin() + static_cast<std::ptrdiff_t>(std::min(seeds.size(), g + kMaxGroup)));
    run_tasks(split(pipeline_.arms.front(), group, static_cast<std::size_t>(chains)), chains);
    if (!stopped_) run_tasks(arm_tasks(pipeline_, group, chains), chains);
    cache_.clear();  // the next group of seeds starts from its own dense models
  }
  if (stopped_) {
    progress_->close();
    result.stopped = true;
  }
  if (!result.stopped) {
    if (options_.memorization)  // scale-out: one shard computes it (docs/scaling.md)
      memorize(pipeline_, data_, source_, plans_, chain_count(), store_, *progress_);
    analysis_.attribute(*progress_);            // the seeds of this process (a shard attributes its own)
    progress_->close();
    if (options_.metrics)  // scale-out: shards leave metrics to `compaudit merge`
      measure(pipeline_, data_, plugins_, store_, *progress_, options_.hooks.metric_delay_ms);
  }
  for (const auto& c : store_.cells()) {
    if (c.status == store::CellStatus::done) ++result.cells_done;
    if (c.status == store::CellStatus::failed) ++result.cells_failed;
  }
  return result;
}

void check_run_inputs(const host::Pipeline& pipeline, const DataSplits& data) {
  // Saved outputs are read and checked in full before any cell, so a wrong shape or a NaN is an input error
  // (exit 4) that names the file, not a failed cell discovered after the models were computed.
  const std::size_t k = pipeline.seeds.size();
  if (!pipeline.model.predictions.empty()) saved_probabilities(pipeline.model.predictions, 0, k, data);
  for (const auto& arm : pipeline.arms)
    if (!arm.predictions.empty()) saved_probabilities(arm.predictions, 0, k, data);
  bool trains = pipeline.training.epochs > 0;
  for (const auto& arm : pipeline.arms) trains = trains || arm.finetune_epochs > 0;
  if (trains && data.train.size() == 0)
    throw Error(ErrorCode::data, "the pipeline trains (epochs or finetune_epochs > 0) but [data] gives no training "
                                 "examples", pipeline.data.where);
}

ExecuteResult execute(const host::Pipeline& pipeline, const host::Registry& registry, const DataSplits& data,
                      store::Store& store, const ExecuteOptions& options) {
  if (pipeline.arms.empty() || pipeline.arms.front().name != "dense")
    throw Error(ErrorCode::pipeline, "the first arm must be \"dense\"", {pipeline.path});
  if (pipeline.seeds.empty()) throw Error(ErrorCode::pipeline, "the population has no seeds", {pipeline.path});
  Executor executor(pipeline, registry, data, store, options);
  return executor.run();
}

}  // namespace compaudit::engine
