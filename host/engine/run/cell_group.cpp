// Executor::run_group: the cells of one arm for a group of seeds (population batching).
//
//   1. models, one seed at a time: dense cells start from a fresh model; the others from a deep copy of dense model
//      k through the arm's chain of compressors (plugins always see one model, through the SDK Model interface; a
//      plugin that throws fails its own cell and leaves the group);
//   2. training (dense: the dense plan; other arms: fine-tuning when finetune_epochs > 0) and evaluation, as one
//      stack when the models and plans allow it (batched/: built-in MLPs and CNNs), else one model at a time —
//      TorchScript and ResNet models, an augmentation policy, models a compressor gave an activation hook, and
//      models a compressor gave projections (Model::set_projection) when they are trained;
//   3. each cell committed on its own (state blob + predictions + record in one transaction), in seed order.
// A group of one is what run_cell (and so a `compaudit worker`) computes: since a model's result does not depend on
// the others in its stack (batched/stacked_mlp.h), a cell has the same bits alone, in any group, and on resume.
#include "run/executor_impl.h"

#include "batched/batched_train.h"
#include "batched/stacked_mlp.h"
#include "run/context.h"
#include "run/failures.h"
#include "run/realized.h"
#include "run/inert_model.h"
#include "data/npy.h"
#include "run/saved_predictions.h"
#include "run/state_io.h"
#include "run/store_io.h"

#include <compaudit/error.h>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <chrono>
#include <map>
#include <mutex>

namespace compaudit::engine {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

/// One cell of a group on its way through the phases: its model, plan, predictions, or why it failed.
struct CellSlot {
  std::int64_t seed = 0;
  store::Cell cell;
  std::unique_ptr<models::TrainableModel> model;
  TrainPlan plan;
  std::vector<store::Predictions> predictions;
  at::Tensor test_probabilities;  // float32 [N, C], stored beside the fp16 predictions (AUCs need float32)
  std::string error;  // non-empty: the cell failed
  store::FailureKind kind = store::FailureKind::plugin;  // why (resume retries the environment's failures)
  double own_seconds = 0;  // making / compressing its model
};

int Executor::run_group(const host::ArmSpec& arm, const std::vector<std::int64_t>& seeds) {
  // Plugins, the CompressionContext's services, the progress line and commits: one chain at a time.
  std::unique_lock<std::mutex> lock(host_mutex_);
  std::vector<CellSlot> slots(seeds.size());
  for (std::size_t i = 0; i < seeds.size(); ++i) {
    CellSlot& s = slots[i];
    s.seed = seeds[i];
    s.cell.arm = arm.name;
    s.cell.seed = s.seed;
    store_.start_cell(arm.name, s.seed);
  }
  progress_->start(seeds.size() == 1 ? cell_name(arm.name, seeds[0])
                                     : fmt::format("{} seeds {}..{}", arm.name, seeds.front(), seeds.back()));

  for (CellSlot& s : slots) make_model(arm, s);  // compress: plugins see one model per call
  train_and_evaluate(arm, slots, lock);         // chains in parallel while the lock is released
  return commit(arm, slots);                    // each cell on its own, in seed order
}

void Executor::make_model(const host::ArmSpec& arm, CellSlot& s) {
  const bool is_dense = arm.name == "dense";
  const std::string& saved = is_dense ? pipeline_.model.predictions : arm.predictions;  // saved outputs, if any
  const auto t0 = std::chrono::steady_clock::now();
  try {
    // Each cell re-seeds LibTorch's global generator too, for plugins that draw without our generators (a training
    // control draws its arm's streams).
    at::manual_seed(derive_seed(s.seed, arm.control_of.empty() ? arm.name : arm.control_of));
    if (!saved.empty()) {  // outputs computed elsewhere: no model, nothing to train or evaluate
      // The file is read once per run (every seed's block is in it), under the host lock held here.
      auto& file = saved_outputs_[saved];
      if (!file.defined()) file = read_npy(saved);
      const at::Tensor probs =
          saved_probabilities(file, saved, source_.seed_index(s.seed), pipeline_.seeds.size(), data_);
      s.predictions.push_back(to_predictions(arm.name, s.seed, "test", probs, data_.test.targets, true));
      s.test_probabilities = probs;
    } else if (is_dense) {
      s.model = source_.new_model(s.seed);
    } else if (arm.search || arm.search_uniform) {  // [search]: the chain is found per seed (run/analysis_phase.cpp)
      nlohmann::json records = nlohmann::json::array();
      s.model = arm.search ? analysis_.searched_model(arm, s.seed, records, *progress_)
                            : analysis_.uniform_model(arm, s.seed, records, *progress_);
      for (auto& r : records) s.cell.records.push_back(std::move(r));
    } else {
      s.model = cache_.dense(s.seed).clone();
      auto& chain = plugins_.chain(arm);
      // A training control (docs/pipelines.md, "Controls"): its arm's training steps, on its arm's random streams,
      // with every compression call made inert; the model must come out dense.
      const bool control = !arm.control_of.empty();
      const std::int64_t zeros_before = control ? weight_zeros(*s.model) : 0;
      for (std::size_t i = 0; i < chain.size(); ++i) {
        CellContext context(parts_, *s.model, arm.name, s.seed, arm.control_of);
        InertCompressionModel inert(*s.model);
        Model& seen = control ? static_cast<Model&>(inert) : *s.model;
        const std::string& id = arm.steps[i].plugin;
        CompressionRecord record = host::guarded(id, "compress", [&] { return chain[i]->compress(seen, context); });
        s.cell.records.push_back(
            {{"plugin", id}, {"summary", control ? "control, compression inert: " + record.summary : record.summary},
             {"details", record.details}, {"log", context.lines()}});
        // What the step trained, so a control can be checked against its arm (only for steps that trained).
        if (context.trained()["steps"].get<std::int64_t>() > 0) s.cell.records.back()["trained"] = context.trained();
        if (control) s.cell.records.back()["inert"] = inert.calls();
      }
      if (control)
        if (const std::string why = dense_problem(*s.model, zeros_before); !why.empty())
          throw Error(ErrorCode::runtime, fmt::format("training control '{}' did not stay dense: {}", arm.name, why));
    }
  } catch (const std::exception& e) {
    s.error = e.what();
    s.kind = failure_kind(e);
    s.model.reset();
  }
  s.own_seconds = seconds_since(t0);
}

void Executor::train_and_evaluate(const host::ArmSpec& arm, std::vector<CellSlot>& slots,
                                  std::unique_lock<std::mutex>& lock) {
  const bool is_dense = arm.name == "dense";
  // The models that made it: one stack per layer shape among the models that can be
  // stacked (each judged alone, so a cell takes the same path in any group), the rest one at a time.
  const bool trains = is_dense ? pipeline_.training.epochs > 0 : arm.finetune_epochs > 0;
  const Dataset& probe_set = data_.test.size() > 0 ? data_.test : data_.train;
  const at::Tensor probe = probe_set.inputs.slice(0, 0, std::min<std::int64_t>(8, probe_set.size()));
  std::map<std::string, std::vector<CellSlot*>> stacks;  // by layer shapes
  std::vector<CellSlot*> alone;
  for (CellSlot& s : slots) {
    if (!s.error.empty() || !s.model) continue;  // failed, or saved predictions
    if (trains) s.plan = is_dense ? plans_.dense(s.seed) : plans_.finetune(s.seed, arm.finetune_epochs, "finetune");
    std::string why = trains ? batched::batchable_plan(s.plan) : "";
    if (why.empty()) why = batched::batchable_models({s.model.get()}, probe);
    if (why.empty() && trains) why = batched::projection_problem(*s.model);
    if (why.empty()) {
      stacks[batched::shape_signature(*s.model)].push_back(&s);
    } else {
      alone.push_back(&s);
      store_.log("info", fmt::format("{}: trained alone: {}", cell_name(arm.name, s.seed), why));
    }
  }
  lock.unlock();  // training and evaluation: chains in parallel
  for (auto& [signature, stack] : stacks) {
    std::vector<models::TrainableModel*> models;
    std::vector<TrainPlan> plans;
    for (CellSlot* s : stack) {
      models.push_back(s->model.get());
      plans.push_back(s->plan);
    }
    try {
      const auto t0 = std::chrono::steady_clock::now();
      if (trains) batched::train_population(models, data_.train, plans);
      const double train_share = seconds_since(t0) / static_cast<double>(stack.size());
      const auto t1 = std::chrono::steady_clock::now();
      const auto test = batched::predict_population(models, data_.test.inputs);
      std::vector<at::Tensor> train;
      if (pipeline_.memorization.enabled) train = batched::predict_population(models, data_.train.inputs);
      const double eval_share = seconds_since(t1) / static_cast<double>(stack.size());
      for (std::size_t i = 0; i < stack.size(); ++i) {
        CellSlot& s = *stack[i];
        s.predictions.push_back(to_predictions(arm.name, s.seed, "test", test[i], data_.test.targets, true));
        s.test_probabilities = test[i];
        if (!train.empty())
          s.predictions.push_back(to_predictions(arm.name, s.seed, "train", train[i], data_.train.targets, false));
        s.cell.train_seconds = s.own_seconds + train_share;
        s.cell.eval_seconds = eval_share;
      }
    } catch (const std::exception& e) {  // not a plugin: an engine failure (memory, ...) fails the stack's cells
      for (CellSlot* s : stack) {
        s->error = e.what();
        s->kind = failure_kind(e);
      }
    }
  }
  // One at a time, under the lock: these models may run plugin code (an activation hook, an augmentation policy).
  lock.lock();
  for (CellSlot* s : alone) {
    try {
      const auto t1 = std::chrono::steady_clock::now();
      // The plan again, now: a fine-tuning plan's augmentation teacher is set for one seed at a time.
      if (trains)
        train_model(*s->model, data_.train,
                    is_dense ? plans_.dense(s->seed) : plans_.finetune(s->seed, arm.finetune_epochs, "finetune"));
      s->cell.train_seconds = s->own_seconds + seconds_since(t1);
      const auto t2 = std::chrono::steady_clock::now();
      s->predictions = evaluate(*s->model, arm.name, s->seed, &s->test_probabilities);
      s->cell.eval_seconds = seconds_since(t2);
    } catch (const std::exception& e) {  // an augmentation plugin, or the engine
      s->error = e.what();
      s->kind = failure_kind(e);
    }
  }
}

int Executor::commit(const host::ArmSpec& arm, std::vector<CellSlot>& slots) {
  const bool is_dense = arm.name == "dense";
  // Under the host lock (held since run_group took it).
  int done = 0;
  for (CellSlot& s : slots) {
    if (out_of_budget()) {
      stopped_ = true;  // as if killed: the rest stays "running", and resume makes it pending again
      break;
    }
    const std::string what = cell_name(arm.name, s.seed);
    ++computed_;
    try {
      if (!s.error.empty()) throw Error(ErrorCode::runtime, s.error);
      s.cell.status = store::CellStatus::done;
      std::vector<std::uint8_t> state;  // none for saved predictions: there is no model
      if (s.model) {
        s.cell.size = size_json(*s.model);
        // What compression the final model still has (after fine-tuning), against this seed's dense model.
        if (!is_dense) s.cell.size["realized"] = realized_json(*s.model, &cache_.dense(s.seed), s.cell.records);
        state = encode_state(s.model->state());
      }
      store_.transaction([&] {
        if (s.model) store_.put_blob(arm.name, s.seed, "state", state);
        if (s.test_probabilities.defined())
          store_.put_blob(arm.name, s.seed, kTestProbabilitiesBlob, probabilities_blob(s.test_probabilities));
        store_.finish_cell(s.cell, s.predictions);
      });
      if (is_dense && s.model) cache_.keep_dense(s.seed, std::move(s.model));  // later arms of this seed start from it
      progress_->finish(what, true, s.cell.train_seconds + s.cell.eval_seconds);
      ++done;
    } catch (const std::exception& e) {
      const std::string error = s.error.empty() ? e.what() : s.error;
      // A commit that failed (a full disk, ...) is the environment's failure: resume computes the cell again.
      store_.fail_cell(arm.name, s.seed, error, s.error.empty() ? failure_kind(e) : s.kind);
      store_.log("error", what + ": " + error);
      progress_->finish(what, false, s.cell.train_seconds);
      progress_->note(fmt::format("  {}: {}", what, error));
    }
  }
  return done;
}

}  // namespace compaudit::engine
