// execute(): the cell loop. See executor.h for the order of work and the determinism rules.
#include "run/executor_impl.h"

#include "run/context.h"
#include "run/state_io.h"
#include "run/store_io.h"

#include <compaudit/error.h>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <chrono>
#include <filesystem>

namespace compaudit::engine {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

bool is_control(const host::ArmSpec& arm) { return arm.name != "dense" && arm.steps.empty(); }

}  // namespace

std::string cell_name(const std::string& arm, std::int64_t seed) { return fmt::format("{} seed {}", arm, seed); }

std::string pipeline_dir(const host::Pipeline& pipeline) {
  if (pipeline.path.empty()) return std::filesystem::current_path().string();
  return std::filesystem::absolute(pipeline.path).parent_path().lexically_normal().string();
}

std::string reference_arm(const host::Pipeline& pipeline, const host::ArmSpec& arm) {
  if (arm.name == "dense") return "dense";
  if (is_control(arm)) return "dense";
  if (arm.finetune_epochs > 0)
    for (const auto& a : pipeline.arms)
      if (is_control(a) && a.finetune_epochs > 0) return a.name;
  return "dense";
}

Executor::Executor(const host::Pipeline& pipeline, const host::Registry& registry, const DataSplits& data,
                   store::Store& store, const ExecuteOptions& options)
    : pipeline_(pipeline), registry_(registry), data_(data), store_(store), options_(options),
      pipeline_dir_(engine::pipeline_dir(pipeline)) {
  if (pipeline_.augmentation) {
    const auto& use = *pipeline_.augmentation;
    const host::Manifest* m = registry_.find(use.plugin);
    if (!m) throw Error(ErrorCode::pipeline, "augmentation plugin '" + use.plugin + "' is not installed", use.where);
    augmentation_id_ = use.plugin;
    augmentation_ = loader_.instantiate_as<Augmentation>(*m, use.params);
    dense_hook_.apply = [this](Batch& b, const AugmentationState& s, AugmentationContext& c) {
      host::guarded(augmentation_id_, "apply", [&] { augmentation_->apply(b, s, c); });
    };
  }
}

std::unique_ptr<models::TrainableModel> Executor::new_model(std::int64_t seed) const {
  return models::make_model(pipeline_.model, data_.input_shape, data_.num_classes, seed, pipeline_dir_);
}

TrainPlan Executor::dense_plan(std::int64_t seed) const {
  TrainPlan plan;
  plan.settings = pipeline_.training;
  plan.epochs = pipeline_.training.epochs;
  plan.seed = derive_seed(seed, "dense");
  plan.augmentation = augmentation_ ? &dense_hook_ : nullptr;
  plan.num_classes = data_.num_classes;
  plan.is_image = data_.is_image;
  return plan;
}

TrainPlan Executor::finetune_plan(std::int64_t seed, int epochs, const std::string& purpose) {
  TrainPlan plan = dense_plan(seed);
  plan.epochs = epochs;
  plan.seed = derive_seed(seed, purpose);
  if (augmentation_) {
    // The teacher of a difficulty policy is this seed's dense model; built lazily, only if the policy asks.
    finetune_hook_.apply = dense_hook_.apply;
    finetune_hook_.teacher = [this, seed](const at::Tensor& x) { return predict_probabilities(dense_model(seed), x); };
    plan.augmentation = &finetune_hook_;
  }
  return plan;
}

std::vector<std::pair<std::string, at::Tensor>> Executor::rewind_point(std::int64_t seed, std::int64_t step) {
  const auto key = std::make_pair(seed, step);
  if (auto it = rewinds_.find(key); it != rewinds_.end()) return it->second;
  // Re-run the dense training's first `step` steps: the run is deterministic, so these are the values the dense
  // model had then. Cheaper than recording snapshots at every step for a request we cannot foresee.
  auto model = new_model(seed);
  if (step > 0) {
    TrainPlan plan = dense_plan(seed);
    plan.max_steps = step;
    train_model(*model, data_.train, plan);
  }
  std::vector<std::pair<std::string, at::Tensor>> params;
  for (const auto& [name, t] : model->named_parameters()) params.emplace_back(name, t.detach().clone());
  rewinds_[key] = params;
  return params;
}

at::Tensor Executor::calibration_batch(std::int64_t seed, std::int64_t n) const {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(derive_seed(seed, "calibration"));
  const at::Tensor perm = at::randperm(data_.train.size(), gen, at::kLong);
  return data_.train.inputs.index_select(0, perm.slice(0, 0, std::min(n, data_.train.size())));
}

models::TrainableModel& Executor::dense_model(std::int64_t seed) {
  if (dense_ && dense_seed_ == seed) return *dense_;
  dense_.reset();
  const auto blob = store_.blob("dense", seed, "state");
  if (!blob) throw Error(ErrorCode::runtime, fmt::format("the dense model of seed {} is not available", seed));
  auto model = new_model(seed);
  model->load_state(decode_state(*blob));
  dense_ = std::move(model);
  dense_seed_ = seed;
  return *dense_;
}

std::vector<std::shared_ptr<Compressor>>& Executor::compressors(const host::ArmSpec& arm) {
  auto it = compressors_.find(arm.name);
  if (it != compressors_.end()) return it->second;
  std::vector<std::shared_ptr<Compressor>> chain;
  for (const auto& step : arm.steps) {
    const host::Manifest* m = registry_.find(step.plugin);
    if (!m) throw Error(ErrorCode::pipeline, "compressor plugin '" + step.plugin + "' is not installed", step.where);
    chain.push_back(loader_.instantiate_as<Compressor>(*m, step.params));
  }
  return compressors_[arm.name] = std::move(chain);
}

std::vector<store::Predictions> Executor::evaluate(models::TrainableModel& model, const std::string& arm,
                                                   std::int64_t seed) {
  std::vector<store::Predictions> out;
  out.push_back(to_predictions(arm, seed, "test", predict_probabilities(model, data_.test.inputs),
                               data_.test.targets, /*all_probabilities=*/true));
  if (pipeline_.memorization.enabled)
    out.push_back(to_predictions(arm, seed, "train", predict_probabilities(model, data_.train.inputs),
                                 data_.train.targets, /*all_probabilities=*/false));
  return out;
}

void Executor::compute_cell(const host::ArmSpec& arm, std::int64_t seed, store::Cell& cell,
                            std::unique_ptr<models::TrainableModel>& model) {
  // Each cell re-seeds LibTorch's global generator too, for plugins that draw without our generators.
  at::manual_seed(derive_seed(seed, arm.name));
  const auto t0 = std::chrono::steady_clock::now();
  if (arm.name == "dense") {
    model = new_model(seed);
    train_model(*model, data_.train, dense_plan(seed));
  } else {
    model = dense_model(seed).clone();
    auto& chain = compressors(arm);
    for (std::size_t i = 0; i < chain.size(); ++i) {
      CellContext context(*this, *model, arm.name, seed);
      const std::string& id = arm.steps[i].plugin;
      CompressionRecord record = host::guarded(id, "compress", [&] { return chain[i]->compress(*model, context); });
      cell.records.push_back({{"plugin", id}, {"summary", record.summary}, {"details", record.details},
                              {"log", context.lines()}});
    }
    if (arm.finetune_epochs > 0) train_model(*model, data_.train, finetune_plan(seed, arm.finetune_epochs, "finetune"));
  }
  cell.train_seconds = seconds_since(t0);
  cell.size = size_json(*model);
}

bool Executor::run_cell(const host::ArmSpec& arm, std::int64_t seed) {
  const std::string what = cell_name(arm.name, seed);
  progress_->start(what);
  const auto t0 = std::chrono::steady_clock::now();
  store_.start_cell(arm.name, seed);
  store::Cell cell;
  cell.arm = arm.name;
  cell.seed = seed;
  try {
    std::unique_ptr<models::TrainableModel> model;
    compute_cell(arm, seed, cell, model);
    const auto t1 = std::chrono::steady_clock::now();
    auto predictions = evaluate(*model, arm.name, seed);
    cell.eval_seconds = seconds_since(t1);
    cell.status = store::CellStatus::done;
    const auto state = encode_state(model->state());
    store_.transaction([&] {
      store_.put_blob(arm.name, seed, "state", state);
      store_.finish_cell(cell, predictions);
    });
    if (arm.name == "dense") {  // later cells of this seed start from it
      dense_ = std::move(model);
      dense_seed_ = seed;
    }
    progress_->finish(what, true, seconds_since(t0));
    return true;
  } catch (const std::exception& e) {
    store_.fail_cell(arm.name, seed, e.what());
    store_.log("error", what + ": " + e.what());
    progress_->finish(what, false, seconds_since(t0));
    progress_->note(fmt::format("  {}: {}", what, e.what()));
    return false;
  }
}

ExecuteResult Executor::run() {
  describe_run();
  std::vector<std::pair<std::string, std::int64_t>> all;
  for (std::int64_t seed : pipeline_.seeds)
    for (const auto& arm : pipeline_.arms) all.emplace_back(arm.name, seed);
  store_.ensure_cells(all);
  store_.reset_running_cells();

  ExecuteResult result;
  result.cells_total = static_cast<int>(all.size());
  int already = 0;
  for (const auto& c : store_.cells())
    if (c.status == store::CellStatus::done || c.status == store::CellStatus::failed) ++already;
  const int mem_units = pipeline_.memorization.enabled && !store_.memorization("train") ? 1 : 0;
  progress_ = std::make_unique<Progress>(result.cells_total + mem_units, already, options_.quiet);

  for (std::int64_t seed : pipeline_.seeds) {
    for (const auto& arm : pipeline_.arms) {
      const auto existing = store_.cell(arm.name, seed);
      if (existing && (existing->status == store::CellStatus::done || existing->status == store::CellStatus::failed))
        continue;
      if (options_.stop_after_cells >= 0 && computed_ >= options_.stop_after_cells) {
        progress_->close();
        result.stopped = true;
        break;
      }
      const auto dense = store_.cell("dense", seed);
      if (arm.name != "dense" && dense && dense->status == store::CellStatus::failed) {
        store_.fail_cell(arm.name, seed, fmt::format("the dense model of seed {} failed", seed));
        progress_->finish(cell_name(arm.name, seed), false, 0.0);
      } else {
        run_cell(arm, seed);
      }
      ++computed_;
    }
    if (result.stopped) break;
  }
  if (!result.stopped) {
    memorization();
    progress_->close();
    metrics();
  }
  for (const auto& c : store_.cells()) {
    if (c.status == store::CellStatus::done) ++result.cells_done;
    if (c.status == store::CellStatus::failed) ++result.cells_failed;
  }
  return result;
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
