#include "batched/cnn_trainer.h"

#include "batched/conv_kernels.h"
#include "batched/fused_step.h"
#include "batched/slice_gemm.h"

#include <compaudit/error.h>

#include <ATen/ATen.h>

#include <utility>

namespace compaudit::engine::batched {
namespace {

at::Tensor& ensure(at::Tensor& t, at::IntArrayRef sizes) {
  if (!t.defined())
    t = at::empty(sizes, at::kFloat);
  else
    t.resize_(sizes);
  return t;
}

// Slice k of a stacked mask (slice_size elements per model).
StepMask step_mask(const at::Tensor& keep, std::int64_t k, std::int64_t slice_size) {
  StepMask mask;
  if (!keep.defined()) return mask;
  if (keep.scalar_type() == at::kBool)  // bool is one byte, 0 or 1
    mask.keep = reinterpret_cast<const std::uint8_t*>(keep.data_ptr<bool>()) + k * slice_size;
  else
    mask.scale = keep.data_ptr<float>() + k * slice_size;
  return mask;
}

}  // namespace

CnnTrainer::CnnTrainer(StackedCnn& stack, const host::TrainingSpec& settings) : stack_(stack), settings_(settings) {
  if (settings.optimizer != "sgd" && settings.optimizer != "adam")
    throw Error(ErrorCode::pipeline, "unknown optimizer '" + settings.optimizer + "' (sgd or adam)", settings.where);
  adam_ = settings.optimizer == "adam";
  for (auto& l : stack_.layers()) {
    std::vector<ParamState>* states[] = {&weights_, &biases_};
    const at::Tensor* params[] = {&l.weight, &l.bias};
    for (int i = 0; i < 2; ++i) {
      const at::Tensor& p = *params[i];
      if (!p.is_contiguous() || p.scalar_type() != at::kFloat)
        throw Error(ErrorCode::runtime, "CnnTrainer: parameters must be contiguous float32");
      ParamState s;
      s.grad = at::empty({1, p.size(1), p.size(2)}, at::kFloat);
      if (adam_) {
        s.moment1 = at::zeros_like(p);
        s.moment2 = at::zeros_like(p);
      } else if (settings_.momentum != 0.0) {
        s.moment1 = at::empty_like(p);  // set to the first step's gradient (SgdStep::first)
      }
      states[i]->push_back(std::move(s));
    }
  }
}

void CnnTrainer::update(at::Tensor& param, const at::Tensor& keep, ParamState& state, std::int64_t k, double lr) {
  const std::int64_t n = state.grad.numel();  // one slice
  float* w = param.data_ptr<float>() + k * n;
  const float* g = state.grad.data_ptr<float>();
  if (adam_) {
    AdamStep s;
    s.lr = lr;
    s.weight_decay = settings_.weight_decay;
    s.step = steps_ + 1;
    fused_adam(w, g, state.moment1.data_ptr<float>() + k * n, state.moment2.data_ptr<float>() + k * n,
               step_mask(keep, k, n), static_cast<std::size_t>(n), s);
    return;
  }
  SgdStep s;
  s.lr = lr;
  s.momentum = settings_.momentum;
  s.weight_decay = settings_.weight_decay;
  s.first = steps_ == 0;
  fused_sgd(w, g, s.momentum != 0.0 ? state.moment1.data_ptr<float>() + k * n : nullptr, step_mask(keep, k, n),
            static_cast<std::size_t>(n), s);
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
  slice_gemm(ensure(da_, {1, b, features}), dlogits, false, fc.weight.narrow(0, k, 1), false, false);  // before W moves
  slice_gemm(weights_.back().grad, dlogits, true, ws_.acts[blocks].view({1, b, features}), false, false);
  column_sums(dlogits.data_ptr<float>(), b, classes, biases_.back().grad.data_ptr<float>());
  update(fc.weight, fc.keep_w, weights_.back(), k, lr);
  update(fc.bias, fc.keep_b, biases_.back(), k, lr);

  for (auto l = static_cast<std::int64_t>(blocks) - 1; l >= 0; --l) {
    auto& layer = layers[static_cast<std::size_t>(l)];
    const ConvShape& s = ws_.shapes[static_cast<std::size_t>(l)];
    const std::int64_t out = layer.weight.size(1);
    ParamState& gw = weights_[static_cast<std::size_t>(l)];
    ParamState& gb = biases_[static_cast<std::size_t>(l)];
    ensure(dz_, {1, s.rows(), out});
    pool_relu_backward(da_.data_ptr<float>(), ws_.argmax[static_cast<std::size_t>(l)].data_ptr<std::int32_t>(),
                       ConvShape{s.b, s.h, s.w, out}, dz_.data_ptr<float>(), gb.grad.data_ptr<float>());
    slice_gemm(gw.grad, dz_, true, ws_.cols[static_cast<std::size_t>(l)], false, false);
    if (l > 0)  // the gradient of the block's input, before W moves (the first block's input is the data)
      slice_gemm(ensure(dcols_, {1, s.rows(), 9 * s.c}), dz_, false, layer.weight.narrow(0, k, 1), false, false);
    update(layer.weight, layer.keep_w, gw, k, lr);
    update(layer.bias, layer.keep_b, gb, k, lr);
    if (l > 0) {
      col2im3x3(dcols_.data_ptr<float>(), s, ensure(da_next_, {1, s.rows(), s.c}).data_ptr<float>());
      std::swap(da_, da_next_);
    }
  }
}

void CnnTrainer::step(const at::Tensor& inputs, const at::Tensor& targets, double lr) {
  at::NoGradGuard no_grad;
  for (std::int64_t k = 0; k < stack_.population(); ++k) step_model(k, inputs[k], targets[k], lr);
  ++steps_;
}

}  // namespace compaudit::engine::batched
