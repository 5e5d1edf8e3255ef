// testing::FakeModel (compaudit/testing.h): a Model over given weights whose masks, storage bits and projections
// are kept by the host models' own ParameterMasks, so a plugin sees the host's rules.
#include <compaudit/error.h>
#include <compaudit/models/parameter_masks.h>
#include <compaudit/testing.h>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>

#include <cmath>

namespace compaudit::testing {

struct FakeModel::State {
  std::string architecture;
  std::vector<Layer> layers;
  models::ParameterMasks masks;
  ActivationHook hook;

  at::Tensor& param(const std::string& name) {
    for (auto& l : layers) {
      if (name == l.name + ".weight") return l.weight;
      if (name == l.name + ".bias") return l.bias;
    }
    throw Error(ErrorCode::runtime, fmt::format("FakeModel has no parameter '{}'", name));
  }
  models::ParameterMasks::Lookup lookup() {
    return [this](const std::string& name) { return param(name); };
  }
};

NamedTensors mlp_weights(const std::vector<std::int64_t>& sizes, std::uint64_t seed) {
  if (sizes.size() < 2) throw Error(ErrorCode::runtime, "mlp_weights: give at least {inputs, classes}");
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  NamedTensors out;
  for (std::size_t i = 1; i < sizes.size(); ++i)
    out.emplace_back(fmt::format("fc{}", i), at::randn({sizes[i], sizes[i - 1]}, gen) /
                                                 std::sqrt(static_cast<double>(sizes[i - 1])));
  return out;
}

FakeModel::FakeModel(const NamedTensors& weights, std::string architecture) : state_(std::make_unique<State>()) {
  state_->architecture = std::move(architecture);
  for (const auto& [name, w] : weights) {
    if (w.dim() != 2 && w.dim() != 4)
      throw Error(ErrorCode::runtime, fmt::format("FakeModel: weight '{}' has rank {}, not 2 (linear) or 4 (conv2d)",
                                                  name, w.dim()));
    Layer l;
    l.name = name;
    l.type = w.dim() == 4 ? LayerType::conv2d : LayerType::linear;
    // Leaves that require gradients, as the host's built-in models hold them: a plugin editing a parameter in
    // place needs an at::NoGradGuard here as it does in the host.
    l.weight = w.detach().to(at::kFloat).clone().contiguous().requires_grad_(true);
    l.bias = at::zeros({w.size(0)}, at::kFloat).requires_grad_(true);
    state_->layers.push_back(std::move(l));
  }
  for (std::size_t i = 0; i + 1 < state_->layers.size(); ++i) state_->layers[i].consumer = static_cast<int>(i + 1);
}

FakeModel::~FakeModel() = default;

std::string FakeModel::architecture() const { return state_->architecture; }

std::vector<std::pair<std::string, at::Tensor>> FakeModel::named_parameters() {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (auto& l : state_->layers) {
    out.emplace_back(l.name + ".weight", l.weight);
    out.emplace_back(l.name + ".bias", l.bias);
  }
  return out;
}

std::vector<Layer> FakeModel::layers() { return state_->layers; }

at::Tensor FakeModel::forward(const at::Tensor& input) {
  at::Tensor x = input.to(at::kFloat);
  const auto& layers = state_->layers;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const Layer& l = layers[i];
    if (l.type == LayerType::linear && x.dim() > 2) x = x.flatten(1);
    if (state_->hook) x = state_->hook(static_cast<int>(i), x);
    x = l.type == LayerType::linear
            ? at::linear(x, l.weight, l.bias)
            : at::conv2d(x, l.weight, l.bias, {1, 1}, {l.weight.size(2) / 2, l.weight.size(3) / 2});
    if (i + 1 < layers.size()) x = at::relu(x);
  }
  return x;
}

void FakeModel::replace_parameter(const std::string& name, const at::Tensor& value) {
  at::Tensor& p = state_->param(name);
  at::NoGradGuard no_grad;
  if (p.sizes().equals(value.sizes())) {
    p.copy_(value);
    state_->masks.reapply(name, p);
    return;
  }
  p = value.detach().to(at::kFloat).clone().contiguous().requires_grad_(true);  // a reshape: the old mask and projections no longer fit
  state_->masks.erase(name);
  state_->masks.erase_projections(name);
}

void FakeModel::set_mask(const std::string& name, const at::Tensor& mask) {
  state_->masks.set(name, state_->param(name), mask);
}

at::Tensor FakeModel::mask(const std::string& name) const { return state_->masks.get(name); }

int FakeModel::storage_bits(const std::string& name) const {
  state_->param(name);
  return state_->masks.bits(name);
}

void FakeModel::set_storage_bits(const std::string& name, int bits) {
  state_->param(name);
  state_->masks.set_bits(name, bits);
}

bool FakeModel::set_activation_hook(ActivationHook hook) {
  state_->hook = std::move(hook);
  return true;
}

bool FakeModel::set_projection(const std::string& name, ParameterProjection projection, ProjectionTime when) {
  state_->param(name);
  state_->masks.set_projection(name, std::move(projection), when);
  return true;
}

void FakeModel::after_step() {
  state_->masks.apply_all(state_->lookup());
  state_->masks.project_all(ProjectionTime::every_step, state_->lookup());
}

void FakeModel::after_training() { state_->masks.project_all(ProjectionTime::end_of_training, state_->lookup()); }

std::vector<at::Tensor> FakeModel::trainable_parameters() {
  std::vector<at::Tensor> out;
  for (auto& l : state_->layers) out.insert(out.end(), {l.weight, l.bias});
  return out;
}

}  // namespace compaudit::testing
