#include "batched/stacked_trainer.h"

#include "training/cross_entropy.h"

#include <compaudit/error.h>

#include <ATen/ATen.h>

#include <algorithm>

namespace compaudit::engine::batched {

StackedTrainer::StackedTrainer(StackedArchitecture& stack, const host::TrainingSpec& settings)
    : StackedTrainer(stack, optimizer_settings(settings)) {}

StackedTrainer::StackedTrainer(StackedArchitecture& stack, const OptimizerSettings& settings)
    : stack_(stack), optimizer_(settings, stack.population()), params_(stack.packed_parameters()) {
  for (const auto& p : params_) optimizer_.add(p.value);  // index i: params_[i]
}

void StackedTrainer::gradient(std::size_t index, const float* grad) {
  StackedParameter& p = params_[index];
  const std::vector<std::int64_t>& rows = *rows_;
  const std::vector<double>& lrs = *lrs_;
  const std::int64_t k_models = stack_.population();
  const bool all_step = rows.empty() || std::all_of(rows.begin(), rows.end(), [](auto r) { return r > 0; });
  if (count_ == k_models && all_step && lrs.empty() && optimizer_.in_step()) {  // one pass over the whole stack
    optimizer_.step_all(index, p.value, p.keep, grad, lr_);
    return;
  }
  const std::int64_t per = p.value.numel() / k_models;
  for (std::int64_t k = first_; k < first_ + count_; ++k)
    if (rows.empty() || rows[k] > 0)
      optimizer_.step_slice(index, p.value, p.keep, grad + (k - first_) * per, k, lrs.empty() ? lr_ : lrs[k]);
}

void StackedTrainer::pass(std::int64_t first, const at::Tensor& inputs, const at::Tensor& targets, double lr,
                          const std::vector<std::int64_t>& rows, const std::vector<double>& lrs) {
  first_ = first;
  count_ = inputs.size(0);
  lr_ = lr;
  rows_ = &rows;
  lrs_ = &lrs;
  const at::Tensor& logits = stack_.forward(first, inputs);
  // d(sum over models of their mean cross entropy)/d logits; rows: model k's mean over its own rows (padding: none).
  const std::vector<std::int64_t> no_rows;
  const at::Tensor dlogits =
      mean_cross_entropy_grad(logits, targets, rows.empty() ? no_rows : std::vector<std::int64_t>(
                                                                            rows.begin() + first,
                                                                            rows.begin() + first + count_));
  stack_.backward(dlogits, *this);
  for (std::int64_t k = first; k < first + count_; ++k)
    if (rows.empty() || rows[k] > 0) optimizer_.finish_step(k);
}

void StackedTrainer::step(const at::Tensor& inputs, const at::Tensor& targets, double lr) {
  at::NoGradGuard no_grad;
  const std::int64_t k_models = stack_.population(), per_pass = stack_.models_per_pass();
  for (std::int64_t first = 0; first < k_models; first += per_pass)
    pass(first, inputs.narrow(0, first, per_pass), targets.narrow(0, first, per_pass), lr, {}, {});
}

void StackedTrainer::step_models(const std::vector<at::Tensor>& inputs, const std::vector<at::Tensor>& targets,
                                 const std::vector<double>& lrs) {
  at::NoGradGuard no_grad;
  const std::int64_t k_models = stack_.population();
  const auto n = static_cast<std::size_t>(k_models);
  if (inputs.size() != n || targets.size() != n || lrs.size() != n)
    throw Error(ErrorCode::runtime, "StackedTrainer::step_models: one batch and one learning rate per model");
  if (stack_.models_per_pass() == 1) {  // model by model: each on its own batch, of its own size, no padding
    for (std::int64_t k = 0; k < k_models; ++k) {
      if (!inputs[k].defined()) continue;
      pass(k, inputs[k].unsqueeze(0), targets[k].unsqueeze(0), lrs[k], {}, lrs);
    }
    return;
  }
  // One pass over the whole stack: batches padded to the step's largest; padding rows get no gradient.
  std::vector<std::int64_t> rows(n, 0);
  std::int64_t width = 0;
  std::size_t any = n;
  for (std::size_t k = 0; k < n; ++k)
    if (inputs[k].defined()) {
      rows[k] = inputs[k].size(0);
      width = std::max(width, rows[k]);
      any = k;
    }
  if (any == n) return;
  const std::int64_t features = inputs[any][0].numel();
  at::Tensor x = at::zeros({k_models, width, features}, inputs[any].options());
  at::Tensor y = at::zeros({k_models, width}, targets[any].options());
  for (std::size_t k = 0; k < n; ++k) {
    if (rows[k] == 0) continue;
    x[static_cast<std::int64_t>(k)].narrow(0, 0, rows[k]).copy_(inputs[k].reshape({rows[k], features}));
    y[static_cast<std::int64_t>(k)].narrow(0, 0, rows[k]).copy_(targets[k]);
  }
  pass(0, x, y, 0.0, rows, lrs);
}

}  // namespace compaudit::engine::batched
