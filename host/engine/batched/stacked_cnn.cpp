#include "batched/stacked_cnn.h"

#include "batched/slice_gemm.h"
#include "batched/stacked_masks.h"

#include <compaudit/error.h>
#include <compaudit/host/model_signature.h>  // image_shape: how the recipe reads an input as an image

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <utility>

namespace compaudit::engine::batched {
namespace {

// The model's layout <-> the stack's. conv [out, in, 3, 3] <-> [out, 9·in] with columns (ky, kx, c); the classifier
// [C, c·hw] (channel-major flatten) <-> [C, hw·c] (the NHWC activations' order); `channels` = the last block's c.
at::Tensor to_stack_layout(const at::Tensor& t, bool conv, std::int64_t channels) {
  if (conv) return t.permute({0, 2, 3, 1}).reshape({t.size(0), -1});
  return t.reshape({t.size(0), channels, -1}).permute({0, 2, 1}).reshape({t.size(0), -1});
}

at::Tensor to_model_layout(const at::Tensor& t, bool conv, std::int64_t channels) {
  if (conv) return t.reshape({t.size(0), 3, 3, -1}).permute({0, 3, 1, 2});
  return t.reshape({t.size(0), -1, channels}).permute({0, 2, 1}).reshape({t.size(0), -1});
}

}  // namespace

at::Tensor& ensure_buffer(at::Tensor& t, at::IntArrayRef sizes, at::ScalarType type) {
  if (!t.defined() || t.scalar_type() != type)
    t = at::empty(sizes, at::TensorOptions(type));
  else
    t.resize_(sizes);
  return t;
}

StackedCnn::StackedCnn(const std::vector<models::TrainableModel*>& models) : k_(static_cast<std::int64_t>(models.size())) {
  if (models.empty()) throw Error(ErrorCode::runtime, "StackedCnn: no models");
  at::NoGradGuard no_grad;
  const auto first = models.front()->layers();
  std::int64_t channels = 0;  // the previous block's output channels
  for (std::size_t l = 0; l < first.size(); ++l) {
    const bool conv = first[l].type == LayerType::conv2d;
    std::vector<at::Tensor> w, b;
    for (auto* m : models) {
      const auto layers = m->layers();
      w.push_back(to_stack_layout(layers[l].weight.detach(), conv, channels));
      b.push_back(layers[l].bias.detach().unsqueeze(0));
    }
    StackedLayer s;
    s.conv = conv;
    s.weight = at::stack(w, 0).contiguous();
    s.bias = at::stack(b, 0).contiguous();
    // Each model's mask is permuted like its parameter.
    s.keep_w = stack_masks(models, first[l].name + ".weight", first[l].weight.sizes(),
                           [&](const at::Tensor& m) { return to_stack_layout(m, conv, channels); });
    s.keep_b = stack_masks(models, first[l].name + ".bias", first[l].bias.sizes(),
                           [](const at::Tensor& m) { return m.unsqueeze(0); });
    channels = first[l].weight.size(0);
    grads_.push_back(at::empty({1, s.weight.size(1), s.weight.size(2)}, at::kFloat));
    grads_.push_back(at::empty({1, s.bias.size(1), s.bias.size(2)}, at::kFloat));
    layers_.push_back(std::move(s));
  }
}

void StackedCnn::forward_model(std::int64_t k, const at::Tensor& x, CnnWorkspace& ws) const {
  const std::int64_t b = x.size(0);
  const auto image = host::image_shape(x.sizes().slice(1).vec());
  const std::int64_t c0 = layers_.front().weight.size(2) / 9;
  if (!image || (*image)[0] != c0)
    throw Error(ErrorCode::runtime, fmt::format("StackedCnn: inputs of shape [{}] do not fit a CNN with {} input "
                                                "channel(s)", fmt::join(x.sizes(), ", "), c0));
  std::int64_t h = (*image)[1], w = (*image)[2], c = c0;
  const std::size_t blocks = layers_.size() - 1;
  ws.shapes.resize(blocks);
  ws.acts.resize(blocks + 1);
  ws.cols.resize(blocks);
  ws.argmax.resize(blocks);
  // NCHW -> NHWC (one channel: the same memory).
  const at::Tensor nchw = x.to(at::kFloat).reshape({b, c, h, w});
  ws.acts[0] = (c == 1 ? nchw : nchw.permute({0, 2, 3, 1})).contiguous().reshape({1, b * h * w, c});

  for (std::size_t l = 0; l < blocks; ++l) {
    const StackedLayer& layer = layers_[l];
    const std::int64_t out = layer.weight.size(1);
    const ConvShape s{b, h, w, c};
    ws.shapes[l] = s;
    im2col3x3(ws.acts[l].data_ptr<float>(), s, ensure_buffer(ws.cols[l], {1, s.rows(), 9 * c}).data_ptr<float>());
    slice_gemm(ensure_buffer(ws.z, {1, s.rows(), out}), ws.cols[l], false, layer.weight.narrow(0, k, 1), true,
               false);
    const std::int64_t ho = h / 2, wo = w / 2;
    if (ho < 1 || wo < 1) throw Error(ErrorCode::runtime, "StackedCnn: the image is too small for its pooling blocks");
    ensure_buffer(ws.acts[l + 1], {1, b * ho * wo, out});
    ensure_buffer(ws.argmax[l], {b * ho * wo * out}, at::kInt);
    bias_relu_pool(ws.z.data_ptr<float>(), layer.bias.data_ptr<float>() + k * out, ConvShape{b, h, w, out},
                   ws.acts[l + 1].data_ptr<float>(), ws.argmax[l].data_ptr<std::int32_t>());
    h = ho, w = wo, c = out;
  }

  const StackedLayer& fc = layers_.back();
  const std::int64_t features = h * w * c, classes = fc.weight.size(1);
  if (features != fc.weight.size(2))
    throw Error(ErrorCode::runtime, fmt::format("StackedCnn: inputs of shape [{}] give {} features, the classifier "
                                                "takes {}", fmt::join(x.sizes(), ", "), features, fc.weight.size(2)));
  ensure_buffer(ws.logits, {1, b, classes}).copy_(fc.bias.narrow(0, k, 1).expand({1, b, classes}));
  slice_gemm(ws.logits, ws.acts[blocks].view({1, b, features}), false, fc.weight.narrow(0, k, 1), true, true);
}

std::vector<StackedParameter> StackedCnn::packed_parameters() { return weight_bias_parameters(layers_); }

const at::Tensor& StackedCnn::forward(std::int64_t first, const at::Tensor& inputs) {
  model_ = first;
  forward_model(first, inputs[0], ws_);
  return ws_.logits;
}

void StackedCnn::backward(const at::Tensor& dlogits, GradientSink& sink) {
  at::NoGradGuard no_grad;
  const std::int64_t k = model_, b = dlogits.size(1);
  const std::size_t blocks = layers_.size() - 1;
  // The classifier: its input is the last block's pooled output, flattened (h, w, c).
  const StackedLayer& fc = layers_.back();
  const std::int64_t classes = fc.weight.size(1), features = fc.weight.size(2);
  // da before W moves
  slice_gemm(ensure_buffer(da_, {1, b, features}), dlogits, false, fc.weight.narrow(0, k, 1), false, false);
  slice_gemm(grads_[2 * blocks], dlogits, true, ws_.acts[blocks].view({1, b, features}), false, false);
  column_sums(dlogits.data_ptr<float>(), b, classes, grads_[2 * blocks + 1].data_ptr<float>());
  sink.gradient(2 * blocks, grads_[2 * blocks].data_ptr<float>());
  sink.gradient(2 * blocks + 1, grads_[2 * blocks + 1].data_ptr<float>());

  for (auto l = static_cast<std::int64_t>(blocks) - 1; l >= 0; --l) {
    const auto i = static_cast<std::size_t>(l);
    const StackedLayer& layer = layers_[i];
    const ConvShape& s = ws_.shapes[i];
    const std::int64_t out = layer.weight.size(1);
    ensure_buffer(dz_, {1, s.rows(), out});
    pool_relu_backward(da_.data_ptr<float>(), ws_.argmax[i].data_ptr<std::int32_t>(), ConvShape{s.b, s.h, s.w, out},
                       dz_.data_ptr<float>(), grads_[2 * i + 1].data_ptr<float>());
    slice_gemm(grads_[2 * i], dz_, true, ws_.cols[i], false, false);
    if (l > 0)  // the gradient of the block's input, before W moves (the first block's input is the data)
      slice_gemm(ensure_buffer(dcols_, {1, s.rows(), 9 * s.c}), dz_, false, layer.weight.narrow(0, k, 1), false,
                 false);
    sink.gradient(2 * i, grads_[2 * i].data_ptr<float>());
    sink.gradient(2 * i + 1, grads_[2 * i + 1].data_ptr<float>());
    if (l > 0) {
      col2im3x3(dcols_.data_ptr<float>(), s, ensure_buffer(da_next_, {1, s.rows(), s.c}).data_ptr<float>());
      std::swap(da_, da_next_);
    }
  }
}

at::Tensor StackedCnn::forward_shared(const at::Tensor& inputs) const {
  at::NoGradGuard no_grad;
  const at::Tensor out = at::empty({k_, inputs.size(0), layers_.back().weight.size(1)}, at::kFloat);
  CnnWorkspace ws;
  for (std::int64_t k = 0; k < k_; ++k) {
    forward_model(k, inputs, ws);
    out[k].copy_(ws.logits[0]);
  }
  return out;
}

void StackedCnn::unpack(const std::vector<models::TrainableModel*>& models) const {
  at::NoGradGuard no_grad;
  for (std::int64_t k = 0; k < k_; ++k) {
    const auto layers = models[static_cast<std::size_t>(k)]->layers();
    std::int64_t channels = 0;
    for (std::size_t l = 0; l < layers_.size(); ++l) {
      at::Tensor w = layers[l].weight, b = layers[l].bias;  // alias the model's storage
      w.copy_(to_model_layout(layers_[l].weight[k], layers_[l].conv, channels));
      b.copy_(layers_[l].bias[k][0]);
      channels = w.size(0);
    }
  }
}

std::string cnn_layout_problem(models::TrainableModel& model) {
  if (model.architecture() != "cnn") return "not a built-in CNN (" + model.architecture() + ")";
  const auto layers = model.layers();
  if (layers.size() < 2) return "a CNN without conv blocks";
  std::int64_t channels = -1;
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const Layer& layer = layers[l];
    if (!layer.bias.defined()) return fmt::format("layer {} has no bias", layer.name);
    if (layer.weight.scalar_type() != at::kFloat || layer.bias.scalar_type() != at::kFloat)
      return "parameters are not float32";
    const bool last = l + 1 == layers.size();
    if (last) {
      if (layer.type != LayerType::linear || layer.weight.dim() != 2 || layer.weight.size(1) % channels != 0)
        return "the last layer is not a linear classifier on the conv blocks";
      break;
    }
    const auto g = models::layer_geometry(model, static_cast<int>(l));
    if (layer.type != LayerType::conv2d || layer.weight.dim() != 4 || layer.weight.size(2) != 3 ||
        layer.weight.size(3) != 3 || g.stride != 1 || g.padding != 1 || !g.relu_after || !g.pool_after)
      return fmt::format("layer {} is not a 3x3 conv (stride 1, padding 1) with ReLU and max pool", layer.name);
    if (channels >= 0 && layer.weight.size(1) != channels) return fmt::format("layer {}'s inputs do not chain", layer.name);
    channels = layer.weight.size(0);
  }
  return "";
}

}  // namespace compaudit::engine::batched
