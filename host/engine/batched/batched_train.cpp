#include "batched/batched_train.h"

#include "batched/cnn_trainer.h"
#include "batched/stacked_cnn.h"
#include "batched/stacked_mlp.h"
#include "batched/stacked_trainer.h"

#include <compaudit/error.h>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>

namespace compaudit::engine::batched {

std::string batchable_plan(const TrainPlan& plan) {
  if (plan.augmentation) return "an augmentation policy runs on every batch";
  if (plan.request.loss || plan.request.on_step || plan.request.on_epoch)
    return "a compressor's training request (loss or callbacks)";
  return "";
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

  // Built-in CNNs and MLPs (can_stack admits nothing else): the same batches and schedule, their own stack.
  auto train = [&](auto& trainer) {
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
  };
  if (models.front()->architecture() == "cnn") {
    StackedCnn stack(models);
    CnnTrainer trainer(stack, plan.settings);
    train(trainer);
    stack.unpack(models);
  } else {
    StackedMlp stack(models);
    StackedTrainer trainer(stack, plan.settings);
    train(trainer);
    stack.unpack(models);
  }
  for (auto* m : models) m->train(false);
}

std::vector<at::Tensor> predict_population(const std::vector<models::TrainableModel*>& models,
                                           const at::Tensor& inputs) {
  at::NoGradGuard no_grad;
  const auto K = static_cast<std::int64_t>(models.size());
  std::vector<std::vector<at::Tensor>> parts(static_cast<std::size_t>(K));
  const std::int64_t n = inputs.size(0);
  auto predict = [&](const auto& stack, std::int64_t chunk) {
    for (std::int64_t s = 0; s < n; s += chunk) {
      const at::Tensor p = at::softmax(stack.forward_shared(inputs.slice(0, s, std::min(n, s + chunk))), 2);
      for (std::int64_t k = 0; k < K; ++k) parts[k].push_back(p[k]);
    }
  };
  // A CNN's im2col of 1024 Fashion images is ~115 MB per block; 256 keeps its buffers near 30 MB. A model's
  // probabilities do not depend on the chunk size it is evaluated in with other models (fixed per architecture).
  if (!models.empty() && models.front()->architecture() == "cnn")
    predict(StackedCnn(models), 256);
  else
    predict(StackedMlp(models), 1024);
  std::vector<at::Tensor> out;
  for (auto& pk : parts) out.push_back(pk.empty() ? at::empty({0, 0}, at::kFloat) : at::cat(pk, 0));
  return out;
}

}  // namespace compaudit::engine::batched
