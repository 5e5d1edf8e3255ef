// BuiltinModel: parameters, masks, storage bits, copies and snapshots of a layer-list model.
#include "builtin_model.h"

#include <compaudit/error.h>

#include <torch/serialize.h>
#include <fmt/format.h>

#include <fstream>

namespace compaudit::models {
namespace {
const char* recipe_name(Recipe r) {
  switch (r) {
    case Recipe::mlp: return "mlp";
    case Recipe::cnn: return "cnn";
    case Recipe::resnet: return "resnet";
  }
  return "?";
}

at::Tensor fresh_leaf(const at::Tensor& value) {
  return value.detach().to(at::kFloat).clone().contiguous().requires_grad_(true);
}
}  // namespace

void apply_mask(at::Tensor& param, const at::Tensor& mask) {
  at::NoGradGuard no_grad;
  if (param.scalar_type() == at::kFloat && mask.scalar_type() == at::kBool && param.is_contiguous() &&
      mask.is_contiguous()) {
    // The common case (pruning masks) as a plain loop: ATen's mul_ with a bool operand takes a slow casting path
    // (about 10x slower here), and this runs after every optimizer step.
    float* p = param.data_ptr<float>();
    const bool* m = mask.data_ptr<bool>();
    for (std::int64_t i = 0, n = param.numel(); i < n; ++i) p[i] = m[i] ? p[i] : 0.0f;
    return;
  }
  param.mul_(mask);
}

at::Tensor checked_mask(const std::string& name, const at::Tensor& param, const at::Tensor& mask) {
  if (!mask.sizes().equals(param.sizes()))
    throw Error(ErrorCode::runtime, fmt::format("mask for '{}' has shape [{}], the parameter has [{}]", name,
                                                fmt::join(mask.sizes(), ", "), fmt::join(param.sizes(), ", ")));
  // Bool masks stay bool (a quarter of the memory; mul_ promotes); others take the parameter's dtype. Always a
  // private copy, so the caller may reuse its tensor.
  at::Tensor m = mask.detach();
  if (m.scalar_type() != at::kBool) m = m.to(param.scalar_type());
  return m.contiguous().clone();
}

BuiltinModel::BuiltinModel(Recipe recipe, std::vector<std::int64_t> input_shape, std::vector<BuiltinLayer> layers,
                           std::vector<ResidualBlock> blocks)
    : recipe_(recipe), input_shape_(std::move(input_shape)), layers_(std::move(layers)), blocks_(std::move(blocks)) {}

std::string BuiltinModel::architecture() const { return recipe_name(recipe_); }

std::vector<std::pair<std::string, at::Tensor>> BuiltinModel::named_parameters() {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& l : layers_) {
    out.emplace_back(l.name + ".weight", l.weight);
    out.emplace_back(l.name + ".bias", l.bias);
  }
  return out;
}

std::vector<Layer> BuiltinModel::layers() {
  std::vector<Layer> out;
  for (const auto& l : layers_) out.push_back(Layer{l.name, l.type, l.weight, l.bias, l.consumer});
  return out;
}

at::Tensor& BuiltinModel::parameter(const std::string& name) {
  return const_cast<at::Tensor&>(static_cast<const BuiltinModel*>(this)->parameter(name));
}

const at::Tensor& BuiltinModel::parameter(const std::string& name) const {
  for (const auto& l : layers_) {
    if (name == l.name + ".weight") return l.weight;
    if (name == l.name + ".bias") return l.bias;
  }
  throw Error(ErrorCode::runtime, fmt::format("model '{}' has no parameter '{}'", architecture(), name));
}

void BuiltinModel::replace_parameter(const std::string& name, const at::Tensor& value) {
  at::Tensor& p = parameter(name);
  const bool reshaped = !p.sizes().equals(value.sizes());
  p = fresh_leaf(value);
  if (reshaped) {
    masks_.erase(name);  // a mask of the old shape means nothing now
  } else if (auto it = masks_.find(name); it != masks_.end()) {
    apply_mask(p, it->second);  // same shape: the mask still holds
  }
}

void BuiltinModel::set_mask(const std::string& name, const at::Tensor& mask) {
  at::Tensor& p = parameter(name);
  if (!mask.defined()) {
    masks_.erase(name);
    return;
  }
  at::Tensor m = checked_mask(name, p, mask);
  apply_mask(p, m);
  masks_[name] = std::move(m);
}

at::Tensor BuiltinModel::mask(const std::string& name) const {
  auto it = masks_.find(name);
  return it == masks_.end() ? at::Tensor() : it->second;
}

int BuiltinModel::storage_bits(const std::string& name) const {
  auto it = bits_.find(name);
  return it == bits_.end() ? 32 : it->second;
}

void BuiltinModel::set_storage_bits(const std::string& name, int bits) {
  parameter(name);  // throws for an unknown name
  if (bits < 1 || bits > 32)
    throw Error(ErrorCode::runtime, fmt::format("storage bits of '{}' must be in 1..32, got {}", name, bits));
  bits_[name] = bits;
}

bool BuiltinModel::set_activation_hook(ActivationHook hook) {
  hook_ = std::move(hook);
  return true;
}

std::vector<at::Tensor> BuiltinModel::parameters_for_optimizer() {
  std::vector<at::Tensor> out;
  for (const auto& l : layers_) {
    out.push_back(l.weight);
    out.push_back(l.bias);
  }
  return out;
}

void BuiltinModel::apply_masks() {
  for (auto& [name, m] : masks_) apply_mask(parameter(name), m);
}

std::unique_ptr<TrainableModel> BuiltinModel::clone() const {
  std::vector<BuiltinLayer> layers = layers_;
  for (auto& l : layers) {
    l.weight = fresh_leaf(l.weight);
    l.bias = fresh_leaf(l.bias);
  }
  auto copy = std::make_unique<BuiltinModel>(recipe_, input_shape_, std::move(layers), blocks_);
  for (const auto& [name, m] : masks_) copy->masks_[name] = m.clone();
  copy->bits_ = bits_;
  copy->training_ = training_;
  return copy;
}

std::map<std::string, at::Tensor> BuiltinModel::state() const {
  std::map<std::string, at::Tensor> out;
  for (const auto& l : layers_) {
    out[l.name + ".weight"] = l.weight.detach().clone();
    out[l.name + ".bias"] = l.bias.detach().clone();
  }
  for (const auto& [name, m] : masks_) out["mask/" + name] = m.clone();
  for (const auto& [name, b] : bits_) out["bits/" + name] = at::scalar_tensor(b, at::kLong);
  return out;
}

void BuiltinModel::load_state(const std::map<std::string, at::Tensor>& state) {
  for (auto& l : layers_) {
    for (auto* p : {&l.weight, &l.bias}) {
      const std::string name = l.name + (p == &l.weight ? ".weight" : ".bias");
      auto it = state.find(name);
      if (it == state.end()) throw Error(ErrorCode::runtime, fmt::format("state has no parameter '{}'", name));
      *p = fresh_leaf(it->second);
    }
  }
  masks_.clear();
  bits_.clear();
  for (const auto& [key, value] : state) {
    if (key.rfind("mask/", 0) == 0) {
      const std::string name = key.substr(5);
      masks_[name] = checked_mask(name, parameter(name), value);
    } else if (key.rfind("bits/", 0) == 0) {
      set_storage_bits(key.substr(5), static_cast<int>(value.item<std::int64_t>()));
    } else {
      parameter(key);  // an unknown parameter name is an error, not silently dropped
    }
  }
  apply_masks();
}

void BuiltinModel::save(const std::string& path) const {
  c10::Dict<std::string, at::Tensor> dict;
  for (const auto& l : layers_) {
    dict.insert(l.name + ".weight", l.weight.detach().clone());
    dict.insert(l.name + ".bias", l.bias.detach().clone());
  }
  const std::vector<char> bytes = torch::pickle_save(dict);
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out.good()) throw Error(ErrorCode::io, fmt::format("cannot write model to '{}'", path));
}

}  // namespace compaudit::models
