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
    masks_.erase(name);  // a mask (or projection) of the old shape means nothing now
    masks_.erase_projections(name);
  } else {
    masks_.reapply(name, p);  // same shape: the mask still holds
  }
}

void BuiltinModel::set_mask(const std::string& name, const at::Tensor& mask) {
  masks_.set(name, parameter(name), mask);
}

at::Tensor BuiltinModel::mask(const std::string& name) const { return masks_.get(name); }

int BuiltinModel::storage_bits(const std::string& name) const { return masks_.bits(name); }

void BuiltinModel::set_storage_bits(const std::string& name, int bits) {
  parameter(name);  // throws for an unknown name
  masks_.set_bits(name, bits);
}

bool BuiltinModel::set_projection(const std::string& name, ParameterProjection projection, ProjectionTime when) {
  parameter(name);  // throws for an unknown name
  masks_.set_projection(name, std::move(projection), when);
  return true;
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
  masks_.apply_all([this](const std::string& name) { return parameter(name); });
}

void BuiltinModel::apply_projections(ProjectionTime when) {
  masks_.project_all(when, [this](const std::string& name) { return parameter(name); });
}

std::unique_ptr<TrainableModel> BuiltinModel::clone() const {
  std::vector<BuiltinLayer> layers = layers_;
  for (auto& l : layers) {
    l.weight = fresh_leaf(l.weight);
    l.bias = fresh_leaf(l.bias);
  }
  auto copy = std::make_unique<BuiltinModel>(recipe_, input_shape_, std::move(layers), blocks_);
  copy->masks_ = masks_.deep_copy();
  copy->training_ = training_;
  return copy;
}

std::map<std::string, at::Tensor> BuiltinModel::state() const {
  std::map<std::string, at::Tensor> out;
  for (const auto& l : layers_) {
    out[l.name + ".weight"] = l.weight.detach().clone();
    out[l.name + ".bias"] = l.bias.detach().clone();
  }
  masks_.save_state(out);
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
  for (const auto& [key, value] : state)
    if (key.rfind("mask/", 0) != 0 && key.rfind("bits/", 0) != 0) parameter(key);  // unknown names are errors
  masks_.load_state(state, [this](const std::string& name) { return parameter(name); });
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
