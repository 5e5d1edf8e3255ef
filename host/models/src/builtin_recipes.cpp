// The three built-in architectures: how their layers are made (build_builtin) and strung together (forward).
#include "builtin_model.h"

#include <compaudit/error.h>
#include <compaudit/host/model_signature.h>  // image_shape (header-only here)

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>

#include <cmath>

namespace compaudit::models {
namespace {

// torch.nn's default initialisation: kaiming_uniform_(a=sqrt(5)) gives bound 1/sqrt(fan_in) for the weight, and the
// bias is uniform with the same bound. Drawn from a per-model generator so cells never share random state.
BuiltinLayer make_layer(std::string name, LayerType type, std::vector<std::int64_t> shape, at::Generator& gen) {
  std::int64_t fan_in = 1;
  for (std::size_t d = 1; d < shape.size(); ++d) fan_in *= shape[d];
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  BuiltinLayer layer;
  layer.name = std::move(name);
  layer.type = type;
  layer.weight = at::empty(shape, at::kFloat).uniform_(-bound, bound, gen).requires_grad_(true);
  layer.bias = at::empty({shape[0]}, at::kFloat).uniform_(-bound, bound, gen).requires_grad_(true);
  return layer;
}

BuiltinLayer conv(std::string name, std::int64_t in, std::int64_t out, int k, int stride, at::Generator& gen) {
  BuiltinLayer layer = make_layer(std::move(name), LayerType::conv2d, {out, in, k, k}, gen);
  layer.geometry.stride = stride;
  layer.geometry.padding = k / 2;
  return layer;
}

[[noreturn]] void bad_shape(const char* arch, const std::vector<std::int64_t>& shape) {
  throw Error(ErrorCode::pipeline, fmt::format("model '{}' cannot take inputs of shape [{}]; it needs an image "
                                               "[C, H, W] (or a square number of features)",
                                               arch, fmt::join(shape, ", ")));
}

// {64} -> {1, 8, 8}: flat features that form a square image (digits) are read as one-channel images. The rule
// is shared with the LibTorch-free model signature `compaudit validate` uses.
std::vector<std::int64_t> as_image(const char* arch, std::vector<std::int64_t> shape) {
  if (auto image = host::image_shape(shape)) return *image;
  bad_shape(arch, shape);
}
}  // namespace

std::unique_ptr<BuiltinModel> build_builtin(Recipe recipe, const std::vector<std::int64_t>& hidden_in,
                                            std::vector<std::int64_t> input_shape, int num_classes,
                                            std::int64_t seed) {
  if (num_classes < 2) throw Error(ErrorCode::pipeline, fmt::format("a model needs >= 2 classes, got {}", num_classes));
  for (auto h : hidden_in)
    if (h < 1) throw Error(ErrorCode::pipeline, fmt::format("model.hidden holds {}; widths must be >= 1", h));
  at::Generator gen = at::detail::createCPUGenerator(static_cast<std::uint64_t>(seed));
  std::vector<BuiltinLayer> layers;
  std::vector<ResidualBlock> blocks;

  if (recipe == Recipe::mlp) {
    const std::vector<std::int64_t> hidden = hidden_in.empty() ? std::vector<std::int64_t>{128} : hidden_in;
    std::int64_t in = 1;
    for (auto d : input_shape) in *= d;
    for (std::size_t i = 0; i <= hidden.size(); ++i) {
      const std::int64_t out = i < hidden.size() ? hidden[i] : num_classes;
      layers.push_back(make_layer(fmt::format("fc{}", i + 1), LayerType::linear, {out, in}, gen));
      layers.back().geometry.relu_after = i < hidden.size();
      layers.back().consumer = i < hidden.size() ? static_cast<int>(i + 1) : -1;
      in = out;
    }
  } else if (recipe == Recipe::cnn) {
    const std::vector<std::int64_t> hidden = hidden_in.empty() ? std::vector<std::int64_t>{16, 32} : hidden_in;
    input_shape = as_image("cnn", input_shape);
    std::int64_t c = input_shape[0], h = input_shape[1], w = input_shape[2];
    for (std::size_t i = 0; i < hidden.size(); ++i) {
      if (h < 2 || w < 2) bad_shape("cnn (too many pooling blocks for the image size)", input_shape);
      layers.push_back(conv(fmt::format("conv{}", i + 1), c, hidden[i], 3, 1, gen));
      layers.back().geometry.relu_after = layers.back().geometry.pool_after = true;
      layers.back().consumer = static_cast<int>(i + 1);  // the next conv, or the classifier (flatten is channel-major)
      c = hidden[i], h /= 2, w /= 2;
    }
    layers.push_back(make_layer("fc", LayerType::linear, {num_classes, c * h * w}, gen));
  } else {
    const std::vector<std::int64_t> hidden = hidden_in.empty() ? std::vector<std::int64_t>{16, 32, 64} : hidden_in;
    input_shape = as_image("resnet", input_shape);
    layers.push_back(conv("stem", input_shape[0], hidden[0], 3, 1, gen));
    layers.back().geometry.relu_after = true;
    layers.back().geometry.residual = true;  // feeds the first block's identity shortcut
    std::int64_t c = hidden[0];
    for (std::size_t b = 0; b < hidden.size(); ++b) {
      const int stride = b == 0 ? 1 : 2;
      ResidualBlock block;
      block.conv1 = static_cast<int>(layers.size());
      layers.push_back(conv(fmt::format("block{}.conv1", b + 1), c, hidden[b], 3, stride, gen));
      layers.back().geometry.relu_after = true;
      layers.back().consumer = block.conv1 + 1;
      block.conv2 = static_cast<int>(layers.size());
      layers.push_back(conv(fmt::format("block{}.conv2", b + 1), hidden[b], hidden[b], 3, 1, gen));
      layers.back().geometry.residual = true;
      if (stride != 1 || c != hidden[b]) {
        block.shortcut = static_cast<int>(layers.size());
        layers.push_back(conv(fmt::format("block{}.shortcut", b + 1), c, hidden[b], 1, stride, gen));
        layers.back().geometry.residual = true;
      }
      blocks.push_back(block);
      c = hidden[b];
    }
    layers.push_back(make_layer("fc", LayerType::linear, {num_classes, c}, gen));
  }
  return std::make_unique<BuiltinModel>(recipe, std::move(input_shape), std::move(layers), std::move(blocks));
}

at::Tensor BuiltinModel::run_layer(int index, at::Tensor x) {
  const BuiltinLayer& l = layers_[static_cast<std::size_t>(index)];
  if (hook_) x = hook_(index, x);
  if (l.type == LayerType::linear) {
    x = at::linear(x, l.weight, l.bias);
  } else {
    x = at::conv2d(x, l.weight, l.bias, {l.geometry.stride, l.geometry.stride},
                   {l.geometry.padding, l.geometry.padding});
  }
  if (l.geometry.relu_after) x = at::relu(x);
  if (l.geometry.pool_after) x = at::max_pool2d(x, {2, 2});
  return x;
}

at::Tensor BuiltinModel::forward(const at::Tensor& input) {
  std::vector<std::int64_t> shape{input.size(0)};
  if (recipe_ == Recipe::mlp) {
    shape.push_back(-1);
  } else {
    shape.insert(shape.end(), input_shape_.begin(), input_shape_.end());
  }
  at::Tensor x = input.reshape(shape);
  const int n = static_cast<int>(layers_.size());
  if (recipe_ != Recipe::resnet) {
    for (int i = 0; i < n; ++i) {
      if (layers_[i].type == LayerType::linear && x.dim() > 2) x = x.flatten(1);
      x = run_layer(i, x);
    }
    return x;
  }
  x = run_layer(0, x);  // stem
  for (const ResidualBlock& b : blocks_) {
    at::Tensor h = run_layer(b.conv2, run_layer(b.conv1, x));
    at::Tensor shortcut = b.shortcut >= 0 ? run_layer(b.shortcut, x) : x;
    x = at::relu(h + shortcut);
  }
  return run_layer(n - 1, x.mean({2, 3}));  // global average pool, classifier
}

}  // namespace compaudit::models
