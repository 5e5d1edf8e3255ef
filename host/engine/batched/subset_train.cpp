#include "batched/subset_train.h"

#include "batched/batched_train.h"
#include "batched/stacked_architecture.h"
#include "batched/stacked_trainer.h"

#include <compaudit/error.h>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>

namespace compaudit::engine::batched {

void train_on_subsets(const std::vector<models::TrainableModel*>& models, const Dataset& data,
                      const std::vector<at::Tensor>& subsets, const std::vector<TrainPlan>& plans) {
  if (models.empty()) return;
  const auto K = static_cast<std::int64_t>(models.size());
  if (plans.size() != models.size() || subsets.size() != models.size())
    throw Error(ErrorCode::runtime, "train_on_subsets: one plan and one subset per model");
  check_population_plans(plans, "train_on_subsets");
  const TrainPlan& plan = plans.front();

  // Per model, train_model's step count: its own number of batches per epoch, and the total its schedule runs to.
  const std::int64_t bs = std::max<std::int64_t>(1, plan.settings.batch_size);
  std::vector<std::int64_t> n(K), batches(K), total(K), done(K, 0);
  std::int64_t most_batches = 0;
  for (std::int64_t k = 0; k < K; ++k) {
    n[k] = subsets[k].size(0);
    batches[k] = (n[k] + bs - 1) / bs;
    total[k] = batches[k] * plan.epochs;
    if (plan.max_steps >= 0) total[k] = std::min(total[k], plan.max_steps);
    most_batches = std::max(most_batches, batches[k]);
  }
  std::vector<at::Generator> order;
  for (const auto& p : plans) order.push_back(at::make_generator<at::CPUGeneratorImpl>(p.seed));

  // Each step: which models take one (rows[k] > 0: its batch size), their batches and learning rates.
  std::vector<at::Tensor> perms(static_cast<std::size_t>(K));
  std::vector<std::int64_t> rows(K);
  std::vector<double> lrs(K);
  const auto for_each_step = [&](const auto& step) {
    for (int epoch = 0; epoch < plan.epochs; ++epoch) {
      for (std::int64_t k = 0; k < K; ++k)  // as train_model: a model draws a permutation while it has steps left
        if (done[k] < total[k]) perms[k] = at::randperm(n[k], order[k], at::kLong);
      for (std::int64_t b = 0; b < most_batches; ++b) {
        bool any = false;
        for (std::int64_t k = 0; k < K; ++k) {
          rows[k] = done[k] < total[k] && b < batches[k] ? std::min(bs, n[k] - b * bs) : 0;
          if (rows[k] > 0) lrs[k] = scheduled_lr(plan.settings, epoch, plan.epochs, done[k], total[k]);
          any = any || rows[k] > 0;
        }
        if (!any) break;
        step([&](std::int64_t k) {  // model k's batch: rows of the data set
          return subsets[k].index_select(0, perms[k].slice(0, b * bs, b * bs + rows[k]));
        });
        for (std::int64_t k = 0; k < K; ++k) done[k] += rows[k] > 0 ? 1 : 0;
      }
    }
  };

  // Each model gets its own batch, of its own size; the trainer steps them model by model or pads them into one pass
  // (StackedTrainer::step_models), as the architecture computes.
  const auto stack = pack(models);
  StackedTrainer trainer(*stack, plan.settings);
  std::vector<at::Tensor> xs(static_cast<std::size_t>(K)), ys(static_cast<std::size_t>(K));
  for_each_step([&](const auto& batch_rows) {
    for (std::int64_t k = 0; k < K; ++k) {
      xs[k] = ys[k] = at::Tensor();
      if (rows[k] == 0) continue;
      const at::Tensor idx = batch_rows(k);
      xs[k] = data.inputs.index_select(0, idx);
      ys[k] = data.targets.index_select(0, idx);
    }
    trainer.step_models(xs, ys, lrs);
  });
  stack->unpack(models);
  for (auto* m : models) m->train(false);
}

}  // namespace compaudit::engine::batched
