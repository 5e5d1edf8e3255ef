#include "batched/stacked_trainer.h"

#include "batched/fused_step.h"
#include "batched/slice_gemm.h"

#include <compaudit/error.h>

#include <ATen/ATen.h>

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
}

void StackedTrainer::update(at::Tensor& param, const at::Tensor& keep, ParamState& state, double lr) {
  const auto n = static_cast<std::size_t>(param.numel());
  float* w = param.data_ptr<float>();
  const float* g = state.grad.data_ptr<float>();
  if (adam_) {
    if (!state.moment1.defined()) {
      state.moment1 = at::zeros_like(param);
      state.moment2 = at::zeros_like(param);
    }
    AdamStep s;
    s.lr = lr;
    s.weight_decay = settings_.weight_decay;
    s.step = steps_ + 1;
    fused_adam(w, g, state.moment1.data_ptr<float>(), state.moment2.data_ptr<float>(), step_mask(keep), n, s);
    return;
  }
  SgdStep s;
  s.lr = lr;
  s.momentum = settings_.momentum;
  s.weight_decay = settings_.weight_decay;
  s.first = !state.moment1.defined();
  if (s.momentum != 0.0 && s.first) state.moment1 = at::empty_like(param);
  fused_sgd(w, g, s.momentum != 0.0 ? state.moment1.data_ptr<float>() : nullptr, step_mask(keep), n, s);
}

void StackedTrainer::step(const at::Tensor& inputs, const at::Tensor& targets, double lr) {
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
  const double inv_b = 1.0 / static_cast<double>(b);
  at::Tensor dz = at::softmax(activations_.back(), 2).mul_(inv_b);
  dz.scatter_add_(2, targets.reshape({k, b, 1}), at::full({k, b, 1}, -inv_b, dz.options()));

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
    update(layer.weight, layer.keep_w, weights_[static_cast<std::size_t>(l)], lr);
    update(layer.bias, layer.keep_b, biases_[static_cast<std::size_t>(l)], lr);
    if (l > 0) dz = layers[static_cast<std::size_t>(l) - 1].relu ? at::threshold_backward(dx, a, 0) : dx;
  }
  ++steps_;
}

}  // namespace compaudit::engine::batched
