#include "batched/stacked_trainer.h"

#include "batched/fused_step.h"
#include "batched/slice_gemm.h"

#include <compaudit/error.h>

#include <ATen/ATen.h>

#include <algorithm>

namespace compaudit::engine::batched {
namespace {

StepMask step_mask(const at::Tensor& keep) {
  StepMask mask;
  if (!keep.defined()) return mask;
  if (keep.scalar_type() == at::kBool)
    mask.keep = reinterpret_cast<const std::uint8_t*>(keep.data_ptr<bool>());  // bool is one byte, 0 or 1
  else
    mask.scale = keep.data_ptr<float>();
  return mask;
}

}  // namespace

StackedTrainer::StackedTrainer(StackedMlp& stack, const host::TrainingSpec& settings)
    : stack_(stack), settings_(settings) {
  if (settings.optimizer != "sgd" && settings.optimizer != "adam")
    throw Error(ErrorCode::pipeline, "unknown optimizer '" + settings.optimizer + "' (sgd or adam)", settings.where);
  adam_ = settings.optimizer == "adam";
  for (auto& l : stack_.layers()) {
    for (auto* p : {&l.weight, &l.bias})
      if (!p->is_contiguous() || p->scalar_type() != at::kFloat)
        throw Error(ErrorCode::runtime, "StackedTrainer: parameters must be contiguous float32");
    weights_.push_back({at::empty_like(l.weight), {}, {}});
    biases_.push_back({at::empty_like(l.bias), {}, {}});
  }
  steps_.assign(static_cast<std::size_t>(stack_.population()), 0);
}

void StackedTrainer::update(at::Tensor& param, const at::Tensor& keep, ParamState& state, double lr,
                            const std::vector<std::int64_t>& rows, const std::vector<double>& lrs) {
  if (adam_ && !state.moment1.defined()) {
    state.moment1 = at::zeros_like(param);
    state.moment2 = at::zeros_like(param);
  }
  if (!adam_ && settings_.momentum != 0.0 && !state.moment1.defined()) state.moment1 = at::empty_like(param);
  const auto n = static_cast<std::size_t>(param.numel());
  const bool all_step = rows.empty() || std::all_of(rows.begin(), rows.end(), [](auto r) { return r > 0; });
  const bool in_step = std::all_of(steps_.begin(), steps_.end(), [&](auto t) { return t == steps_.front(); });
  if (all_step && in_step && lrs.empty()) {  // the usual case: one pass over the whole stack
    update_range(param, keep, state, lr, 0, n, steps_.front() + 1, steps_.front() == 0);
    return;
  }
  const std::size_t per = n / steps_.size();
  for (std::size_t k = 0; k < steps_.size(); ++k)
    if (rows.empty() || rows[k] > 0)
      update_range(param, keep, state, lrs.empty() ? lr : lrs[k], k * per, per, steps_[k] + 1, steps_[k] == 0);
}

void StackedTrainer::update_range(at::Tensor& param, const at::Tensor& keep, ParamState& state, double lr,
                                  std::size_t begin, std::size_t n, std::int64_t adam_step, bool first) {
  float* w = param.data_ptr<float>() + begin;
  const float* g = state.grad.data_ptr<float>() + begin;
  StepMask mask = step_mask(keep);
  if (mask.keep) mask.keep += begin;
  if (mask.scale) mask.scale += begin;
  if (adam_) {
    AdamStep s;
    s.lr = lr;
    s.weight_decay = settings_.weight_decay;
    s.step = adam_step;
    fused_adam(w, g, state.moment1.data_ptr<float>() + begin, state.moment2.data_ptr<float>() + begin, mask, n, s);
    return;
  }
  SgdStep s;
  s.lr = lr;
  s.momentum = settings_.momentum;
  s.weight_decay = settings_.weight_decay;
  s.first = first;
  fused_sgd(w, g, s.momentum != 0.0 ? state.moment1.data_ptr<float>() + begin : nullptr, mask, n, s);
}

void StackedTrainer::step(const at::Tensor& inputs, const at::Tensor& targets, double lr,
                          const std::vector<std::int64_t>& rows, const std::vector<double>& lrs) {
  at::NoGradGuard no_grad;
  auto& layers = stack_.layers();
  const std::int64_t k = stack_.population(), b = inputs.size(1);

  activations_.assign(1, inputs.reshape({k, b, -1}).contiguous());
  for (const auto& l : layers) {
    at::Tensor z = l.bias.expand({k, b, l.bias.size(2)}).contiguous();  // z = b + a·Wᵀ: start from the bias rows
    slice_gemm(z, activations_.back(), false, l.weight, true, /*accumulate=*/true);
    if (l.relu) z.relu_();
    activations_.push_back(std::move(z));
  }

  // d(mean cross entropy)/d logits, in the order autograd's log_softmax backward computes it: softmax/B − 1/B at
  // the target class.
  at::Tensor dz = at::softmax(activations_.back(), 2);
  if (rows.empty()) {
    const double inv_b = 1.0 / static_cast<double>(b);
    dz.mul_(inv_b);
    dz.scatter_add_(2, targets.reshape({k, b, 1}), at::full({k, b, 1}, -inv_b, dz.options()));
  } else {  // model k's mean is over its own rows[k] rows (the same float factor as above); padding gets none
    if (static_cast<std::int64_t>(rows.size()) != k)
      throw Error(ErrorCode::runtime, "StackedTrainer: one row count per model");
    at::Tensor scale = at::zeros({k, b, 1}, dz.options());
    for (std::int64_t m = 0; m < k; ++m)
      if (rows[m] > 0) scale[m].narrow(0, 0, std::min(rows[m], b)).fill_(1.0 / static_cast<double>(rows[m]));
    dz.mul_(scale);
    dz.scatter_add_(2, targets.reshape({k, b, 1}), scale.neg());
  }

  for (auto l = static_cast<std::int64_t>(layers.size()) - 1; l >= 0; --l) {
    auto& layer = layers[static_cast<std::size_t>(l)];
    at::Tensor dx;
    const at::Tensor& a = activations_[static_cast<std::size_t>(l)];
    if (l > 0) {  // before the step changes W_l
      dx = at::empty_like(a);
      slice_gemm(dx, dz, false, layer.weight, false, false);
    }
    slice_gemm(weights_[static_cast<std::size_t>(l)].grad, dz, true, a, false, false);
    at::sum_out(biases_[static_cast<std::size_t>(l)].grad, dz, {1}, /*keepdim=*/true);
    update(layer.weight, layer.keep_w, weights_[static_cast<std::size_t>(l)], lr, rows, lrs);
    update(layer.bias, layer.keep_b, biases_[static_cast<std::size_t>(l)], lr, rows, lrs);
    if (l > 0) dz = layers[static_cast<std::size_t>(l) - 1].relu ? at::threshold_backward(dx, a, 0) : dx;
  }
  for (std::size_t m = 0; m < steps_.size(); ++m)
    if (rows.empty() || rows[m] > 0) ++steps_[m];
}

}  // namespace compaudit::engine::batched
