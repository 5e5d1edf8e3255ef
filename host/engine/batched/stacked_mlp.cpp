#include "batched/stacked_mlp.h"

#include "batched/slice_gemm.h"
#include "batched/stacked_masks.h"
#include "batched/stacked_cnn.h"

#include <compaudit/error.h>

#include <ATen/ATen.h>
#include <fmt/format.h>

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
    layers_.push_back(std::move(s));
  }
}

std::vector<at::Tensor> StackedMlp::parameters() const {
  std::vector<at::Tensor> out;
  for (const auto& l : layers_) {
    out.push_back(l.weight);
    out.push_back(l.bias);
  }
  return out;
}

at::Tensor StackedMlp::forward(const at::Tensor& inputs) const {
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
    at::Tensor z = l.bias.detach().expand({k_, flat.size(0), l.bias.size(2)}).contiguous();
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

std::string shape_signature(models::TrainableModel& model) {
  std::string out = model.architecture() + ":";  // MLPs and CNNs go to different stacks
  for (const auto& l : model.layers())
    out += fmt::format("{}/{};", fmt::join(l.weight.sizes(), "x"),
                       l.bias.defined() ? fmt::format("{}", fmt::join(l.bias.sizes(), "x")) : "-");
  return out;
}

std::string can_stack(const std::vector<models::TrainableModel*>& models, const at::Tensor& probe) {
  if (models.empty()) return "no models";
  auto shapes = [](models::TrainableModel& m) {
    std::vector<std::vector<std::int64_t>> out;
    for (const auto& l : m.layers()) {
      out.push_back(l.weight.sizes().vec());
      out.push_back(l.bias.defined() ? l.bias.sizes().vec() : std::vector<std::int64_t>{-1});
    }
    return out;
  };
  const auto reference = shapes(*models.front());
  // Built-in MLPs (this stack) and built-in CNNs (StackedCnn, stacked_cnn.h); ResNets, TorchScript and anything
  // else train one at a time.
  const std::string arch = models.front()->architecture();
  for (auto* m : models) {
    if (arch != "mlp" && arch != "cnn") return "not a built-in MLP or CNN (" + arch + ")";
    if (m->architecture() != arch) return "the models' architectures differ (" + arch + ", " + m->architecture() + ")";
    if (arch == "cnn") {
      if (std::string why = cnn_layout_problem(*m); !why.empty()) return why;
    } else {
      const auto layers = m->layers();
      for (std::size_t l = 0; l < layers.size(); ++l) {
        if (layers[l].type != LayerType::linear || !layers[l].bias.defined()) return "a layer is not linear with a bias";
        if (layers[l].weight.scalar_type() != at::kFloat) return "parameters are not float32";
      }
    }
    if (shapes(*m) != reference) return "the models' layers differ in shape";
  }
  if (!probe.defined() || probe.size(0) == 0) return "";
  // The models' own forward() must agree with the stack's: anything the stack does not model (an activation hook)
  // shows up here.
  at::NoGradGuard no_grad;
  at::Tensor stacked;
  try {
    stacked = arch == "cnn" ? StackedCnn(models).forward_shared(probe) : StackedMlp(models).forward_shared(probe);
  } catch (const Error& e) {
    return std::string("the stack cannot run the probe inputs: ") + e.what();
  }
  for (std::size_t k = 0; k < models.size(); ++k) {
    models[k]->train(false);
    const at::Tensor own = models[k]->forward(probe);
    const double scale = 1.0 + own.abs().max().item<double>();
    if ((own - stacked[static_cast<std::int64_t>(k)]).abs().max().item<double>() > 1e-4 * scale)
      return fmt::format("model {} of the group computes more than its layers (an activation hook?)", k);
  }
  return "";
}

}  // namespace compaudit::engine::batched
