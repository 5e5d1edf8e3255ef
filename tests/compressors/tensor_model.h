// A compaudit::Model over given weight tensors, without a forward pass: for checking compressors' numerics on
// exactly the fixture weights (tests) and for timing them on large tensors (bench/compress_global_magnitude).
// Shapes are fixed (can_reshape() is false), like a TorchScript module's.
#pragma once

#include <compaudit/error.h>
#include <compaudit/model.h>
#include <compaudit/models/parameter_masks.h>  // the mask / bits bookkeeping every model shares

#include <ATen/ATen.h>

#include <map>
#include <string>
#include <vector>

namespace compaudit::testing {

class TensorModel final : public Model {
 public:
  /// Layers named as given; rank 2 -> linear, rank 4 -> conv2d. Each gets a zero bias of its output size.
  explicit TensorModel(const std::vector<std::pair<std::string, at::Tensor>>& weights) {
    for (const auto& [name, w] : weights) {
      Layer l;
      l.name = name;
      l.type = w.dim() == 4 ? LayerType::conv2d : LayerType::linear;
      l.weight = w.to(at::kFloat).contiguous();
      l.bias = at::zeros({w.size(0)}, at::kFloat);
      layers_.push_back(l);
    }
  }
  std::string architecture() const override { return "tensors"; }
  std::vector<std::pair<std::string, at::Tensor>> named_parameters() override {
    std::vector<std::pair<std::string, at::Tensor>> out;
    for (auto& l : layers_) {
      out.emplace_back(l.name + ".weight", l.weight);
      out.emplace_back(l.name + ".bias", l.bias);
    }
    return out;
  }
  std::vector<Layer> layers() override { return layers_; }
  at::Tensor forward(const at::Tensor&) override { throw Error(ErrorCode::runtime, "TensorModel has no forward"); }
  bool can_reshape() const override { return false; }
  void replace_parameter(const std::string& name, const at::Tensor& value) override {
    at::Tensor& p = param(name);
    if (!p.sizes().equals(value.sizes())) throw Error(ErrorCode::runtime, "TensorModel: fixed shapes");
    p.copy_(value);
    masks_.reapply(name, p);
  }
  void set_mask(const std::string& name, const at::Tensor& mask) override { masks_.set(name, param(name), mask); }
  at::Tensor mask(const std::string& name) const override { return masks_.get(name); }
  int storage_bits(const std::string& name) const override { return masks_.bits(name); }
  void set_storage_bits(const std::string& name, int bits) override {
    param(name);
    masks_.set_bits(name, bits);
  }
  bool set_activation_hook(ActivationHook) override { return false; }

 private:
  at::Tensor& param(const std::string& name) {
    for (auto& l : layers_) {
      if (name == l.name + ".weight") return l.weight;
      if (name == l.name + ".bias") return l.bias;
    }
    throw Error(ErrorCode::runtime, "TensorModel: no parameter " + name);
  }
  std::vector<Layer> layers_;
  models::ParameterMasks masks_;
};

}  // namespace compaudit::testing
