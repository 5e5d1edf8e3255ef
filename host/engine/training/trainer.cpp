#include "training/trainer.h"

#include "training/cross_entropy.h"
#include "training/optimizers.h"

#include <compaudit/error.h>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/optim/optimizer.h>

#include <cmath>
#include <memory>

namespace compaudit::engine {
std::unique_ptr<torch::optim::Optimizer> make_optimizer(const host::TrainingSpec& s, std::vector<at::Tensor> params) {
  const OptimizerSettings o = optimizer_settings(s);  // the table's torch twin (training/optimizers.h)
  for (auto& p : params) p.requires_grad_(true);
  return o.entry->torch(std::move(params), o.hyper);
}

void set_lr(torch::optim::Optimizer& opt, double lr) {
  for (auto& group : opt.param_groups()) group.options().set_lr(lr);
}

double scheduled_lr(const host::TrainingSpec& s, int epoch, int epochs, std::int64_t step, std::int64_t total) {
  if (s.schedule == "cosine") return 0.5 * s.lr * (1.0 + std::cos(M_PI * static_cast<double>(step) / std::max<std::int64_t>(1, total)));
  if (s.schedule == "step") {
    double lr = s.lr;
    if (epochs >= 2 && epoch >= epochs / 2) lr *= 0.1;
    if (epochs >= 4 && epoch >= (3 * epochs) / 4) lr *= 0.1;
    return lr;
  }
  if (s.schedule == "constant") return s.lr;
  throw Error(ErrorCode::pipeline, "unknown schedule '" + s.schedule + "' (constant, cosine or step)", s.where);
}

namespace {

// Cross entropy against hard or soft targets, weighted per example: sum(w * l) / sum(w). Weight 0 drops a sample.
at::Tensor batch_loss(const at::Tensor& logits, const Batch& b) {
  at::Tensor per_example;
  if (b.soft_targets.defined()) {
    const at::Tensor logp = at::log_softmax(logits, 1);
    per_example = -(b.soft_targets.to(logp.dtype()) * logp).sum(1);
  } else {
    per_example = cross_entropy_per_example(logits, b.targets);  // training/cross_entropy.h
  }
  if (!b.weights.defined()) return per_example.mean();
  const at::Tensor w = b.weights.to(per_example.dtype());
  return (per_example * w).sum() / w.sum().clamp_min(1e-12);
}

}  // namespace

std::uint64_t derive_seed(std::int64_t seed, const std::string& purpose) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : purpose) h = (h ^ c) * 1099511628211ULL;
  std::uint64_t z = h ^ (static_cast<std::uint64_t>(seed) * 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

double weight_sparsity(models::TrainableModel& model) {
  std::int64_t zeros = 0, total = 0;
  for (const Layer& l : model.layers()) {
    total += l.weight.numel();
    zeros += l.weight.numel() - l.weight.count_nonzero().item<std::int64_t>();
  }
  return total == 0 ? 0.0 : static_cast<double>(zeros) / static_cast<double>(total);
}

double train_model(models::TrainableModel& model, const Dataset& data, const TrainPlan& plan) {
  const std::int64_t n = data.size();
  const std::int64_t bs = std::max<std::int64_t>(1, plan.settings.batch_size);
  const std::int64_t batches = (n + bs - 1) / bs;
  std::int64_t total = batches * plan.epochs;
  if (plan.max_steps >= 0) total = std::min(total, plan.max_steps);
  if (total == 0 || n == 0) return 0.0;

  at::Generator order = at::make_generator<at::CPUGeneratorImpl>(plan.seed);
  AugmentationContext aug_ctx;
  if (plan.augmentation) {
    aug_ctx.generator = at::make_generator<at::CPUGeneratorImpl>(derive_seed(static_cast<std::int64_t>(plan.seed), "augment"));
    aug_ctx.teacher = plan.augmentation->teacher;
  }
  AugmentationState state;
  state.num_classes = plan.num_classes;
  state.is_image = plan.is_image;
  if (plan.augmentation) {
    state.sparsity = weight_sparsity(model);
    state.parameter_count = measure(model).nonzeros;
  }

  model.train(true);
  auto optimizer = make_optimizer(plan.settings, model.parameters_for_optimizer());
  const auto loss_fn = plan.request.loss;
  TrainingProgress progress;
  progress.total_steps = total;
  progress.epochs = plan.epochs;
  double epoch_loss = 0.0;
  for (int epoch = 0; epoch < plan.epochs && progress.step < total; ++epoch) {
    progress.epoch = epoch;
    state.epoch = epoch;
    const at::Tensor perm = at::randperm(n, order, at::kLong);
    double loss_sum = 0.0;
    std::int64_t loss_count = 0;
    for (std::int64_t b = 0; b < batches && progress.step < total; ++b) {
      const at::Tensor idx = perm.slice(0, b * bs, std::min(n, (b + 1) * bs));
      Batch batch{data.inputs.index_select(0, idx), data.targets.index_select(0, idx), {}, {}};
      if (plan.augmentation) {
        state.step = progress.step;
        plan.augmentation->apply(batch, state, aug_ctx);
      }
      set_lr(*optimizer, scheduled_lr(plan.settings, epoch, plan.epochs, progress.step, total));
      optimizer->zero_grad();
      const at::Tensor logits = model.forward(batch.inputs);
      const at::Tensor loss = loss_fn ? loss_fn(logits, batch.targets) : batch_loss(logits, batch);
      loss.backward();
      optimizer->step();
      {
        at::NoGradGuard no_grad;
        model.apply_masks();
        model.apply_projections(ProjectionTime::every_step);  // compression that must survive (a rank)
      }
      progress.step++;
      progress.last_loss = loss.item<double>();
      loss_sum += progress.last_loss;
      ++loss_count;
      if (plan.request.on_step) plan.request.on_step(progress);
    }
    epoch_loss = loss_count ? loss_sum / static_cast<double>(loss_count) : 0.0;
    if (plan.request.on_epoch) {
      plan.request.on_epoch(progress);
      model.train(true);  // the callback may have evaluated the model
    }
    if (plan.augmentation) {  // masks may have moved (gradual pruning): the policy follows the model's size
      state.sparsity = weight_sparsity(model);
      state.parameter_count = measure(model).nonzeros;
    }
  }
  {
    at::NoGradGuard no_grad;
    model.apply_projections(ProjectionTime::end_of_training);  // e.g. values back onto a quantization grid
  }
  model.train(false);
  return epoch_loss;
}

at::Tensor predict_probabilities(models::TrainableModel& model, const at::Tensor& inputs) {
  at::NoGradGuard no_grad;
  model.train(false);
  const std::int64_t n = inputs.size(0);
  std::vector<at::Tensor> parts;
  for (std::int64_t s = 0; s < n; s += 1024)
    parts.push_back(at::softmax(model.forward(inputs.slice(0, s, std::min(n, s + 1024))).to(at::kFloat), 1));
  return parts.empty() ? at::empty({0, 0}, at::kFloat) : at::cat(parts, 0);
}

}  // namespace compaudit::engine
