#include "batched/stacked_optimizer.h"

#include "batched/fused_step.h"

#include <compaudit/error.h>

#include <ATen/ATen.h>

#include <algorithm>

namespace compaudit::engine::batched {

StackedOptimizer::StackedOptimizer(const host::TrainingSpec& settings, std::int64_t population)
    : StackedOptimizer(optimizer_settings(settings), population) {}

StackedOptimizer::StackedOptimizer(const OptimizerSettings& settings, std::int64_t population)
    : settings_(settings), steps_(static_cast<std::size_t>(population), 0) {
  if (settings_.entry->fused == nullptr)
    throw Error(ErrorCode::runtime, "StackedOptimizer: optimizer '" + settings_.entry->name + "' has no stacked step");
}

std::size_t StackedOptimizer::add(const at::Tensor& param) {
  const auto population = static_cast<std::int64_t>(steps_.size());
  if (!param.is_contiguous() || param.scalar_type() != at::kFloat || param.size(0) != population)
    throw Error(ErrorCode::runtime, "StackedOptimizer: parameters must be contiguous float32 [K, ...]");
  Buffers b;
  const int count = settings_.entry->buffers(settings_.hyper);
  if (count >= 1) b.first = at::zeros_like(param);
  if (count >= 2) b.second = at::zeros_like(param);
  buffers_.push_back(std::move(b));
  return buffers_.size() - 1;
}

bool StackedOptimizer::in_step() const {
  return std::all_of(steps_.begin(), steps_.end(), [&](std::int64_t t) { return t == steps_.front(); });
}

void StackedOptimizer::step_slice(std::size_t index, at::Tensor& param, const at::Tensor& keep, const float* grad,
                                  std::int64_t k, double lr) {
  const auto n = static_cast<std::size_t>(param.numel()) / steps_.size();
  step_range(index, param, keep, grad, static_cast<std::size_t>(k) * n, n, k, lr);
}

void StackedOptimizer::step_all(std::size_t index, at::Tensor& param, const at::Tensor& keep, const float* grad,
                                double lr) {
  if (!in_step()) throw Error(ErrorCode::runtime, "StackedOptimizer::step_all: the models are at different steps");
  step_range(index, param, keep, grad, 0, static_cast<std::size_t>(param.numel()), 0, lr);
}

void StackedOptimizer::step_range(std::size_t index, at::Tensor& param, const at::Tensor& keep, const float* grad,
                                  std::size_t begin, std::size_t n, std::int64_t model, double lr) {
  Buffers& b = buffers_.at(index);
  StepMask mask;
  if (keep.defined()) {
    if (keep.scalar_type() == at::kBool)  // bool is one byte, 0 or 1
      mask.keep = reinterpret_cast<const std::uint8_t*>(keep.data_ptr<bool>()) + begin;
    else
      mask.scale = keep.data_ptr<float>() + begin;
  }
  OptimizerHyper h = settings_.hyper;
  h.lr = lr;
  settings_.entry->fused(param.data_ptr<float>() + begin, grad,
                         b.first.defined() ? b.first.data_ptr<float>() + begin : nullptr,
                         b.second.defined() ? b.second.data_ptr<float>() + begin : nullptr, mask, n, h,
                         steps_[static_cast<std::size_t>(model)] + 1);  // this model's 1-based step
}

}  // namespace compaudit::engine::batched
