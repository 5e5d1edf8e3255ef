#include "batched/stacked_trainer.h"

#include "batched/slice_gemm.h"

#include <compaudit/error.h>

#include <ATen/ATen.h>

#include <algorithm>

namespace compaudit::engine::batched {

StackedTrainer::StackedTrainer(StackedMlp& stack, const host::TrainingSpec& settings)
    : stack_(stack), optimizer_(settings, stack.population()) {
  for (auto& l : stack_.layers()) {
    weights_.push_back({at::empty_like(l.weight), optimizer_.add(l.weight)});
    biases_.push_back({at::empty_like(l.bias), optimizer_.add(l.bias)});
  }
}

void StackedTrainer::update(at::Tensor& param, const at::Tensor& keep, const ParamState& state, double lr,
                            const std::vector<std::int64_t>& rows, const std::vector<double>& lrs) {
  const float* grad = state.grad.data_ptr<float>();
  const bool all_step = rows.empty() || std::all_of(rows.begin(), rows.end(), [](auto r) { return r > 0; });
  if (all_step && lrs.empty() && optimizer_.in_step()) {  // the usual case: one pass over the whole stack
    optimizer_.step_all(state.index, param, keep, grad, lr);
    return;
  }
  const std::int64_t k_models = stack_.population(), per = param.numel() / k_models;
  for (std::int64_t k = 0; k < k_models; ++k)
    if (rows.empty() || rows[k] > 0)
      optimizer_.step_slice(state.index, param, keep, grad + k * per, k, lrs.empty() ? lr : lrs[k]);
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
  for (std::int64_t m = 0; m < k; ++m)
    if (rows.empty() || rows[m] > 0) optimizer_.finish_step(m);
}

}  // namespace compaudit::engine::batched
