#include "batched/batched_train.h"

#include "batched/stacked_architecture.h"
#include "batched/stacked_trainer.h"
#include "training/optimizers.h"

#include <compaudit/error.h>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>

namespace compaudit::engine::batched {

namespace {

// How many fields an aggregate has (C++17: the most brace-initialisers it accepts), so that a field added to
// TrainingSpec stops the build here until someone decides how the stacked path handles it.
struct AnyField {
  template <class T>
  operator T() const;  // never defined: only used in unevaluated contexts
};
template <class T, class... Fields>
constexpr std::size_t field_count(long) {
  return sizeof...(Fields);
}
template <class T, class... Fields>
constexpr auto field_count(int) -> decltype(T{Fields{}..., AnyField{}}, std::size_t{}) {
  return field_count<T, Fields..., AnyField>(0);
}

// Every TrainingSpec field, and what the stacked path does with it (never ignored):
//   epochs, batch_size, lr, schedule  train_population / train_on_subsets run train_model's loop: the same step
//                                     count, batches and scheduled_lr (training/trainer.h)
//   optimizer, momentum, weight_decay the optimizer table (training/optimizers.h): the entry's fused step and the
//                                     options it implements; anything else is a reason to train alone
//   threads                           how many threads run the process (threads.h), not how a model trains
//   where                             where the table is in the pipeline file (error messages)
static_assert(field_count<host::TrainingSpec>(0) == 9,
              "TrainingSpec has a new field: implement it in the stacked path or make stacked_settings_problem "
              "return a reason for it (then update this count)");

std::string stacked_settings_problem(const host::TrainingSpec& s) { return stacked_optimizer_problem(s); }

}  // namespace

std::string batchable_plan(const TrainPlan& plan) {
  if (plan.augmentation) return "an augmentation policy runs on every batch";
  if (plan.request.loss || plan.request.on_step || plan.request.on_epoch)
    return "a compressor's training request (loss or callbacks)";
  return stacked_settings_problem(plan.settings);
}

std::string projection_problem(const models::TrainableModel& model) {
  if (model.has_projections(ProjectionTime::every_step)) return "a compressor's projection runs after every step";
  if (model.has_projections(ProjectionTime::end_of_training)) return "a compressor's projection runs after training";
  return "";
}

std::string batchable_models(const std::vector<models::TrainableModel*>& models, const at::Tensor& probe) {
  return can_stack(models, probe);
}

void check_population_plans(const std::vector<TrainPlan>& plans, const char* who) {
  for (const auto& p : plans) {
    if (const std::string why = batchable_plan(p); !why.empty())
      throw Error(ErrorCode::runtime, std::string(who) + ": not batchable: " + why);
    const TrainPlan& first = plans.front();
    if (p.epochs != first.epochs || p.max_steps != first.max_steps || p.settings.batch_size != first.settings.batch_size)
      throw Error(ErrorCode::runtime, std::string(who) + ": plans differ in more than their seeds");
  }
}

void train_population(const std::vector<models::TrainableModel*>& models, const Dataset& data,
                      const std::vector<TrainPlan>& plans) {
  if (models.empty()) return;
  if (plans.size() != models.size()) throw Error(ErrorCode::runtime, "train_population: one plan per model");
  check_population_plans(plans, "train_population");
  for (const auto* m : models)
    if (const std::string why = projection_problem(*m); !why.empty())
      throw Error(ErrorCode::runtime, "train_population: not batchable: " + why);
  const TrainPlan& plan = plans.front();
  // The same step count as train_model.
  const std::int64_t n = data.size();
  const std::int64_t bs = std::max<std::int64_t>(1, plan.settings.batch_size);
  const std::int64_t batches = (n + bs - 1) / bs;
  std::int64_t total = batches * plan.epochs;
  if (plan.max_steps >= 0) total = std::min(total, plan.max_steps);
  if (total == 0 || n == 0) return;

  const auto K = static_cast<std::int64_t>(models.size());
  std::vector<at::Generator> order;
  for (const auto& p : plans) order.push_back(at::make_generator<at::CPUGeneratorImpl>(p.seed));

  // A registered architecture (can_stack admits nothing else): the same batches and schedule as train_model.
  const auto stack = pack(models);
  StackedTrainer trainer(*stack, plan.settings);
  std::int64_t step = 0;
  std::vector<at::Tensor> perms(static_cast<std::size_t>(K)), idx(static_cast<std::size_t>(K));
  for (int epoch = 0; epoch < plan.epochs && step < total; ++epoch) {
    for (std::int64_t k = 0; k < K; ++k) perms[k] = at::randperm(n, order[k], at::kLong);
    for (std::int64_t b = 0; b < batches && step < total; ++b) {
      const std::int64_t lo = b * bs, hi = std::min(n, (b + 1) * bs);
      for (std::int64_t k = 0; k < K; ++k) idx[k] = perms[k].slice(0, lo, hi);
      const at::Tensor rows = at::cat(idx, 0);  // model k's batch is row block k
      std::vector<std::int64_t> shape{K, hi - lo};  // each example keeps its shape (a CNN reads [C, H, W])
      for (auto d : data.inputs.sizes().slice(1)) shape.push_back(d);
      const at::Tensor x = data.inputs.index_select(0, rows).reshape(shape);
      const at::Tensor y = data.targets.index_select(0, rows).reshape({K, hi - lo});
      trainer.step(x, y, scheduled_lr(plan.settings, epoch, plan.epochs, step, total));
      ++step;
    }
  }
  stack->unpack(models);
  for (auto* m : models) m->train(false);
}

std::vector<at::Tensor> predict_population(const std::vector<models::TrainableModel*>& models,
                                           const at::Tensor& inputs) {
  at::NoGradGuard no_grad;
  const auto K = static_cast<std::int64_t>(models.size());
  std::vector<std::vector<at::Tensor>> parts(static_cast<std::size_t>(K));
  const std::int64_t n = inputs.size(0);
  if (!models.empty()) {
    // The chunk is fixed per architecture (stacked_architecture.cpp), so a model's probabilities do not depend on it.
    const std::int64_t chunk = find_stacked_architecture(models.front()->architecture())->eval_chunk;
    const auto stack = pack(models);
    for (std::int64_t s = 0; s < n; s += chunk) {
      const at::Tensor p = at::softmax(stack->forward_shared(inputs.slice(0, s, std::min(n, s + chunk))), 2);
      for (std::int64_t k = 0; k < K; ++k) parts[k].push_back(p[k]);
    }
  }
  std::vector<at::Tensor> out;
  for (auto& pk : parts) out.push_back(pk.empty() ? at::empty({0, 0}, at::kFloat) : at::cat(pk, 0));
  return out;
}

}  // namespace compaudit::engine::batched
