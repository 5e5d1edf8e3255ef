// TorchScriptModel: a module exported from PyTorch (torch.jit.script / trace) behind compaudit::Model.
// Shapes are fixed (a scripted graph may depend on them), so can_reshape() is false and structured pruning masks;
// there is no place to put an activation hook, so set_activation_hook() declines.
#include "builtin_model.h"  // apply_mask, checked_mask

#include <compaudit/error.h>

#include <torch/script.h>
#include <fmt/format.h>

#include <sstream>

namespace compaudit::models {
namespace {

class TorchScriptModel final : public TrainableModel {
 public:
  explicit TorchScriptModel(torch::jit::Module module) : module_(std::move(module)) {}

  std::string architecture() const override { return "torchscript"; }

  std::vector<std::pair<std::string, at::Tensor>> named_parameters() override {
    std::vector<std::pair<std::string, at::Tensor>> out;
    for (const auto& p : module_.named_parameters(/*recurse=*/true)) out.emplace_back(p.name, p.value);
    return out;
  }

  // A layer is a "<prefix>.weight" of rank 2 (linear) or 4 (conv2d), with "<prefix>.bias" if present. Parameter
  // order is registration order, which for ordinary modules is forward order.
  std::vector<Layer> layers() override {
    auto params = named_parameters();
    std::map<std::string, at::Tensor> by_name(params.begin(), params.end());
    std::vector<Layer> out;
    for (const auto& [name, t] : params) {
      const std::string suffix = ".weight";
      if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
        continue;
      if (t.dim() != 2 && t.dim() != 4) continue;
      Layer layer;
      layer.name = name.substr(0, name.size() - suffix.size());
      layer.type = t.dim() == 2 ? LayerType::linear : LayerType::conv2d;
      layer.weight = t;
      if (auto it = by_name.find(layer.name + ".bias"); it != by_name.end()) layer.bias = it->second;
      out.push_back(std::move(layer));
    }
    return out;
  }

  at::Tensor forward(const at::Tensor& input) override { return module_.forward({input}).toTensor(); }

  bool can_reshape() const override { return false; }

  void replace_parameter(const std::string& name, const at::Tensor& value) override {
    at::Tensor p = parameter(name);
    if (!p.sizes().equals(value.sizes()))
      throw Error(ErrorCode::runtime,
                  fmt::format("TorchScript parameter '{}' has shape [{}]; it cannot become [{}] (fixed shapes)", name,
                              fmt::join(p.sizes(), ", "), fmt::join(value.sizes(), ", ")));
    at::NoGradGuard no_grad;
    p.copy_(value);
    if (auto it = masks_.find(name); it != masks_.end()) apply_mask(p, it->second);
  }

  void set_mask(const std::string& name, const at::Tensor& mask) override {
    at::Tensor p = parameter(name);
    if (!mask.defined()) {
      masks_.erase(name);
      return;
    }
    at::Tensor m = checked_mask(name, p, mask);
    apply_mask(p, m);
    masks_[name] = std::move(m);
  }

  at::Tensor mask(const std::string& name) const override {
    auto it = masks_.find(name);
    return it == masks_.end() ? at::Tensor() : it->second;
  }

  int storage_bits(const std::string& name) const override {
    auto it = bits_.find(name);
    return it == bits_.end() ? 32 : it->second;
  }

  void set_storage_bits(const std::string& name, int bits) override {
    parameter(name);
    if (bits < 1 || bits > 32)
      throw Error(ErrorCode::runtime, fmt::format("storage bits of '{}' must be in 1..32, got {}", name, bits));
    bits_[name] = bits;
  }

  bool set_activation_hook(ActivationHook hook) override { return !hook; }

  void train(bool on) override { module_.train(on); }

  std::vector<at::Tensor> parameters_for_optimizer() override {
    std::vector<at::Tensor> out;
    for (const auto& p : module_.parameters(/*recurse=*/true)) out.push_back(p);
    return out;
  }

  void apply_masks() override {
    for (auto& [name, m] : masks_) {
      at::Tensor p = parameter(name);
      apply_mask(p, m);
    }
  }

  // A save / load round trip through memory: the one deep copy of a scripted module that shares nothing.
  std::unique_ptr<TrainableModel> clone() const override {
    std::stringstream buffer;
    module_.save(buffer);
    auto copy = std::make_unique<TorchScriptModel>(torch::jit::load(buffer));
    for (const auto& [name, m] : masks_) copy->masks_[name] = m.clone();
    copy->bits_ = bits_;
    return copy;
  }

  std::map<std::string, at::Tensor> state() const override {
    std::map<std::string, at::Tensor> out;
    for (const auto& p : module_.named_parameters(true)) out[p.name] = p.value.detach().clone();
    for (const auto& [name, m] : masks_) out["mask/" + name] = m.clone();
    for (const auto& [name, b] : bits_) out["bits/" + name] = at::scalar_tensor(b, at::kLong);
    return out;
  }

  void load_state(const std::map<std::string, at::Tensor>& state) override {
    for (const auto& [name, value] : named_parameters()) {
      auto it = state.find(name);
      if (it == state.end()) throw Error(ErrorCode::runtime, fmt::format("state has no parameter '{}'", name));
      masks_.erase(name);
      replace_parameter(name, it->second);
    }
    masks_.clear();
    bits_.clear();
    for (const auto& [key, value] : state) {
      if (key.rfind("mask/", 0) == 0) set_mask(key.substr(5), value);
      if (key.rfind("bits/", 0) == 0) set_storage_bits(key.substr(5), static_cast<int>(value.item<std::int64_t>()));
    }
  }

  void save(const std::string& path) const override {
    try {
      module_.save(path);
    } catch (const std::exception& e) {
      throw Error(ErrorCode::io, fmt::format("cannot write TorchScript module to '{}': {}", path, e.what()));
    }
  }

 private:
  at::Tensor parameter(const std::string& name) const {
    for (const auto& p : module_.named_parameters(true))
      if (p.name == name) return p.value;
    throw Error(ErrorCode::runtime, fmt::format("TorchScript module has no parameter '{}'", name));
  }

  mutable torch::jit::Module module_;  // save() is logically const but not declared so
  std::map<std::string, at::Tensor> masks_;
  std::map<std::string, int> bits_;
};

}  // namespace

std::unique_ptr<TrainableModel> load_torchscript_model(const std::string& path) {
  try {
    return std::make_unique<TorchScriptModel>(torch::jit::load(path));
  } catch (const c10::Error& e) {
    throw Error(ErrorCode::io, fmt::format("cannot load TorchScript module '{}': {}", path, e.what_without_backtrace()));
  }
}

}  // namespace compaudit::models
