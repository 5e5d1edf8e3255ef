#include "batched/stacked_optimizer.h"

#include "batched/fused_step.h"

#include <compaudit/error.h>

#include <ATen/ATen.h>

#include <algorithm>

namespace compaudit::engine::batched {

StackedOptimizer::StackedOptimizer(const host::TrainingSpec& settings, std::int64_t population)
    : settings_(settings), steps_(static_cast<std::size_t>(population), 0) {
  if (settings.optimizer != "sgd" && settings.optimizer != "adam")
    throw Error(ErrorCode::pipeline, "unknown optimizer '" + settings.optimizer + "' (sgd or adam)", settings.where);
  adam_ = settings.optimizer == "adam";
}

std::size_t StackedOptimizer::add(const at::Tensor& param) {
  const auto population = static_cast<std::int64_t>(steps_.size());
  if (!param.is_contiguous() || param.scalar_type() != at::kFloat || param.size(0) != population)
    throw Error(ErrorCode::runtime, "StackedOptimizer: parameters must be contiguous float32 [K, ...]");
  Moments m;
  if (adam_) {
    m.first = at::zeros_like(param);
    m.second = at::zeros_like(param);
  } else if (settings_.momentum != 0.0) {
    m.first = at::empty_like(param);  // a model's first step sets its slice to that step's gradient (SgdStep::first)
  }
  moments_.push_back(std::move(m));
  return moments_.size() - 1;
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
  Moments& m = moments_.at(index);
  StepMask mask;
  if (keep.defined()) {
    if (keep.scalar_type() == at::kBool)  // bool is one byte, 0 or 1
      mask.keep = reinterpret_cast<const std::uint8_t*>(keep.data_ptr<bool>()) + begin;
    else
      mask.scale = keep.data_ptr<float>() + begin;
  }
  float* w = param.data_ptr<float>() + begin;
  const std::int64_t taken = steps_[static_cast<std::size_t>(model)];  // steps model `model` took before this one
  if (adam_) {
    AdamStep s;
    s.lr = lr;
    s.weight_decay = settings_.weight_decay;
    s.step = taken + 1;
    fused_adam(w, grad, m.first.data_ptr<float>() + begin, m.second.data_ptr<float>() + begin, mask, n, s);
    return;
  }
  SgdStep s;
  s.lr = lr;
  s.momentum = settings_.momentum;
  s.weight_decay = settings_.weight_decay;
  s.first = taken == 0;
  fused_sgd(w, grad, m.first.defined() ? m.first.data_ptr<float>() + begin : nullptr, mask, n, s);
}

}  // namespace compaudit::engine::batched
