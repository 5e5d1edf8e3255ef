#include "batched/cnn_trainer.h"

#include "batched/conv_kernels.h"
#include "batched/slice_gemm.h"

#include <compaudit/error.h>

#include <ATen/ATen.h>

#include <utility>

namespace compaudit::engine::batched {
CnnTrainer::CnnTrainer(StackedCnn& stack, const host::TrainingSpec& settings)
    : stack_(stack), optimizer_(settings, stack.population()) {
  for (auto& l : stack_.layers()) {
    weights_.push_back({at::empty({1, l.weight.size(1), l.weight.size(2)}, at::kFloat), optimizer_.add(l.weight)});
    biases_.push_back({at::empty({1, l.bias.size(1), l.bias.size(2)}, at::kFloat), optimizer_.add(l.bias)});
  }
}

void CnnTrainer::step_model(std::int64_t k, const at::Tensor& x, const at::Tensor& y, double lr) {
  auto& layers = stack_.layers();
  const std::size_t blocks = layers.size() - 1;
  const std::int64_t b = x.size(0);
  stack_.forward_model(k, x, ws_);

  // d(mean cross entropy)/d logits, as StackedTrainer: softmax/B − 1/B at the target class.
  const double inv_b = 1.0 / static_cast<double>(b);
  const at::Tensor dlogits = at::softmax(ws_.logits, 2).mul_(inv_b);
  dlogits.scatter_add_(2, y.reshape({1, b, 1}), at::full({1, b, 1}, -inv_b, dlogits.options()));

  // The classifier: its input is the last block's pooled output, flattened (h, w, c).
  auto& fc = layers.back();
  const std::int64_t classes = fc.weight.size(1), features = fc.weight.size(2);
  // da before W moves
  slice_gemm(ensure_buffer(da_, {1, b, features}), dlogits, false, fc.weight.narrow(0, k, 1), false, false);
  slice_gemm(weights_.back().grad, dlogits, true, ws_.acts[blocks].view({1, b, features}), false, false);
  column_sums(dlogits.data_ptr<float>(), b, classes, biases_.back().grad.data_ptr<float>());
  optimizer_.step_slice(weights_.back().index, fc.weight, fc.keep_w, weights_.back().grad.data_ptr<float>(), k, lr);
  optimizer_.step_slice(biases_.back().index, fc.bias, fc.keep_b, biases_.back().grad.data_ptr<float>(), k, lr);

  for (auto l = static_cast<std::int64_t>(blocks) - 1; l >= 0; --l) {
    auto& layer = layers[static_cast<std::size_t>(l)];
    const ConvShape& s = ws_.shapes[static_cast<std::size_t>(l)];
    const std::int64_t out = layer.weight.size(1);
    ParamState& gw = weights_[static_cast<std::size_t>(l)];
    ParamState& gb = biases_[static_cast<std::size_t>(l)];
    ensure_buffer(dz_, {1, s.rows(), out});
    pool_relu_backward(da_.data_ptr<float>(), ws_.argmax[static_cast<std::size_t>(l)].data_ptr<std::int32_t>(),
                       ConvShape{s.b, s.h, s.w, out}, dz_.data_ptr<float>(), gb.grad.data_ptr<float>());
    slice_gemm(gw.grad, dz_, true, ws_.cols[static_cast<std::size_t>(l)], false, false);
    if (l > 0)  // the gradient of the block's input, before W moves (the first block's input is the data)
      slice_gemm(ensure_buffer(dcols_, {1, s.rows(), 9 * s.c}), dz_, false, layer.weight.narrow(0, k, 1), false,
                 false);
    optimizer_.step_slice(gw.index, layer.weight, layer.keep_w, gw.grad.data_ptr<float>(), k, lr);
    optimizer_.step_slice(gb.index, layer.bias, layer.keep_b, gb.grad.data_ptr<float>(), k, lr);
    if (l > 0) {
      col2im3x3(dcols_.data_ptr<float>(), s, ensure_buffer(da_next_, {1, s.rows(), s.c}).data_ptr<float>());
      std::swap(da_, da_next_);
    }
  }
}

void CnnTrainer::step(const at::Tensor& inputs, const at::Tensor& targets, double lr) {
  at::NoGradGuard no_grad;
  for (std::int64_t k = 0; k < stack_.population(); ++k) {
    step_model(k, inputs[k], targets[k], lr);
    optimizer_.finish_step(k);
  }
}

void CnnTrainer::step_models(const std::vector<at::Tensor>& inputs, const std::vector<at::Tensor>& targets,
                             const std::vector<double>& lrs) {
  at::NoGradGuard no_grad;
  const auto k_models = static_cast<std::size_t>(stack_.population());
  if (inputs.size() != k_models || targets.size() != k_models || lrs.size() != k_models)
    throw Error(ErrorCode::runtime, "CnnTrainer::step_models: one batch and one learning rate per model");
  for (std::size_t k = 0; k < k_models; ++k) {
    if (!inputs[k].defined()) continue;
    step_model(static_cast<std::int64_t>(k), inputs[k], targets[k], lrs[k]);
    optimizer_.finish_step(static_cast<std::int64_t>(k));
  }
}

}  // namespace compaudit::engine::batched
