// TorchScriptModel: a module exported from PyTorch (torch.jit.script / trace) behind compaudit::Model.
// Shapes are fixed (a scripted graph may depend on them), so can_reshape() is false and structured pruning masks;
// there is no place to put an activation hook, so set_activation_hook() declines.
#include "builtin_model.h"

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
    masks_.reapply(name, p);
  }

  void set_mask(const std::string& name, const at::Tensor& mask) override {
    at::Tensor p = parameter(name);
    masks_.set(name, p, mask);
  }

  at::Tensor mask(const std::string& name) const override { return masks_.get(name); }

  int storage_bits(const std::string& name) const override { return masks_.bits(name); }

  void set_storage_bits(const std::string& name, int bits) override {
    parameter(name);
    masks_.set_bits(name, bits);
  }

  bool set_activation_hook(ActivationHook hook) override { return !hook; }

  void train(bool on) override { module_.train(on); }

  std::vector<at::Tensor> parameters_for_optimizer() override {
    std::vector<at::Tensor> out;
    for (const auto& p : module_.parameters(/*recurse=*/true)) out.push_back(p);
    return out;
  }

  void apply_masks() override {
    masks_.apply_all([this](const std::string& name) { return parameter(name); });
  }

  // A save / load round trip through memory: the one deep copy of a scripted module that shares nothing.
  std::unique_ptr<TrainableModel> clone() const override {
    std::stringstream buffer;
    module_.save(buffer);
    auto copy = std::make_unique<TorchScriptModel>(torch::jit::load(buffer));
    copy->masks_ = masks_.deep_copy();
    return copy;
  }

  std::map<std::string, at::Tensor> state() const override {
    std::map<std::string, at::Tensor> out;
    for (const auto& p : module_.named_parameters(true)) out[p.name] = p.value.detach().clone();
    masks_.save_state(out);
    return out;
  }

  void load_state(const std::map<std::string, at::Tensor>& state) override {
    for (const auto& [name, value] : named_parameters()) {
      auto it = state.find(name);
      if (it == state.end()) throw Error(ErrorCode::runtime, fmt::format("state has no parameter '{}'", name));
      masks_.erase(name);
      replace_parameter(name, it->second);
    }
    masks_.load_state(state, [this](const std::string& name) { return parameter(name); });
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
  ParameterMasks masks_;  // masks and storage bits
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
