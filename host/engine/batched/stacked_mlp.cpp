#include "batched/stacked_mlp.h"

#include "batched/slice_gemm.h"
#include "batched/stacked_masks.h"

#include <compaudit/error.h>

#include <ATen/ATen.h>

namespace compaudit::engine::batched {
namespace {

void apply(at::Tensor& param, const at::Tensor& keep) {
  if (!keep.defined()) return;
  if (keep.scalar_type() == at::kBool) {
    // TrainableModel::apply_masks writes `keep ? p : +0`; masked_fill_ with 0 does the same bits.
    param.masked_fill_(keep.logical_not(), 0.0);
  } else {
    param.mul_(keep);
  }
}

}  // namespace

StackedMlp::StackedMlp(const std::vector<models::TrainableModel*>& models) : k_(static_cast<std::int64_t>(models.size())) {
  if (models.empty()) throw Error(ErrorCode::runtime, "StackedMlp: no models");
  at::NoGradGuard no_grad;
  const auto first = models.front()->layers();
  for (std::size_t l = 0; l < first.size(); ++l) {
    std::vector<at::Tensor> w, b;
    for (auto* m : models) {
      const auto layers = m->layers();
      w.push_back(layers[l].weight.detach());
      b.push_back(layers[l].bias.detach().unsqueeze(0));
    }
    StackedLayer s;
    s.weight = at::stack(w, 0).contiguous().requires_grad_(true);
    s.bias = at::stack(b, 0).contiguous().requires_grad_(true);
    // A model's slice has its parameter's layout (the bias as one row).
    s.keep_w = stack_masks(models, first[l].name + ".weight", first[l].weight.sizes(),
                           [](const at::Tensor& m) { return m; });
    s.keep_b = stack_masks(models, first[l].name + ".bias", first[l].bias.sizes(),
                           [](const at::Tensor& m) { return m.unsqueeze(0); });
    s.relu = models::layer_geometry(*models.front(), static_cast<int>(l)).relu_after;
    grads_.push_back(at::empty_like(s.weight));
    grads_.push_back(at::empty_like(s.bias));
    layers_.push_back(std::move(s));
  }
}

std::vector<StackedParameter> StackedMlp::packed_parameters() { return weight_bias_parameters(layers_); }

std::vector<at::Tensor> StackedMlp::parameters() const {
  std::vector<at::Tensor> out;
  for (const auto& l : layers_) {
    out.push_back(l.weight);
    out.push_back(l.bias);
  }
  return out;
}

const at::Tensor& StackedMlp::forward(std::int64_t, const at::Tensor& inputs) {
  at::NoGradGuard no_grad;
  const std::int64_t k = k_, b = inputs.size(1);
  activations_.assign(1, inputs.reshape({k, b, -1}).contiguous());
  for (const auto& l : layers_) {
    // z = b + a·Wᵀ: start from a copy of the bias rows (a copy even for one row, where expand().contiguous() would
    // return the bias itself and the product would accumulate into the parameter).
    at::Tensor z = at::empty({k, b, l.bias.size(2)}, l.bias.options()).copy_(l.bias.expand({k, b, l.bias.size(2)}));
    slice_gemm(z, activations_.back(), false, l.weight, true, /*accumulate=*/true);
    if (l.relu) z.relu_();
    activations_.push_back(std::move(z));
  }
  return activations_.back();
}

void StackedMlp::backward(const at::Tensor& dlogits, GradientSink& sink) {
  at::NoGradGuard no_grad;
  at::Tensor dz = dlogits;
  for (auto l = static_cast<std::int64_t>(layers_.size()) - 1; l >= 0; --l) {
    const auto i = static_cast<std::size_t>(l);
    const StackedLayer& layer = layers_[i];
    at::Tensor dx;
    const at::Tensor& a = activations_[i];
    if (l > 0) {  // before the step changes W_l
      dx = at::empty_like(a);
      slice_gemm(dx, dz, false, layer.weight, false, false);
    }
    slice_gemm(grads_[2 * i], dz, true, a, false, false);
    at::sum_out(grads_[2 * i + 1], dz, {1}, /*keepdim=*/true);
    sink.gradient(2 * i, grads_[2 * i].data_ptr<float>());
    sink.gradient(2 * i + 1, grads_[2 * i + 1].data_ptr<float>());
    if (l > 0) dz = layers_[i - 1].relu ? at::threshold_backward(dx, a, 0) : dx;
  }
}

at::Tensor StackedMlp::forward_autograd(const at::Tensor& inputs) const {
  at::Tensor x = inputs.reshape({k_, inputs.size(1), -1});
  for (const auto& l : layers_) {
    x = at::baddbmm(l.bias, x, l.weight.transpose(1, 2));
    if (l.relu) x = at::relu(x);
  }
  return x;
}

at::Tensor StackedMlp::forward_shared(const at::Tensor& inputs) const {
  // Evaluation only, so no autograd: the products go through slice_gemm as in training. The first layer reads a
  // stride-0 view: every slice is the same [N, in] matrix, no copy.
  at::NoGradGuard no_grad;
  const at::Tensor flat = inputs.reshape({inputs.size(0), -1}).contiguous();
  at::Tensor x = flat.unsqueeze(0).expand({k_, flat.size(0), flat.size(1)});
  for (const auto& l : layers_) {
    at::Tensor z = at::empty({k_, flat.size(0), l.bias.size(2)}, l.bias.options())
                       .copy_(l.bias.detach().expand({k_, flat.size(0), l.bias.size(2)}));  // a copy (forward)
    slice_gemm(z, x, false, l.weight.detach(), true, /*accumulate=*/true);
    if (l.relu) z.relu_();
    x = std::move(z);
  }
  return x;
}

void StackedMlp::apply_masks() {
  at::NoGradGuard no_grad;
  for (auto& l : layers_) {
    apply(l.weight, l.keep_w);
    apply(l.bias, l.keep_b);
  }
}

void StackedMlp::unpack(const std::vector<models::TrainableModel*>& models) const {
  at::NoGradGuard no_grad;
  for (std::int64_t k = 0; k < k_; ++k) {
    const auto layers = models[static_cast<std::size_t>(k)]->layers();
    for (std::size_t l = 0; l < layers_.size(); ++l) {
      at::Tensor w = layers[l].weight, b = layers[l].bias;  // alias the model's storage
      w.copy_(layers_[l].weight[k]);
      b.copy_(layers_[l].bias[k][0]);
    }
  }
}

std::string mlp_layout_problem(models::TrainableModel& model) {
  for (const Layer& layer : model.layers()) {
    if (layer.type != LayerType::linear || !layer.bias.defined()) return "a layer is not linear with a bias";
    if (layer.weight.scalar_type() != at::kFloat) return "parameters are not float32";
  }
  return "";
}

}  // namespace compaudit::engine::batched
