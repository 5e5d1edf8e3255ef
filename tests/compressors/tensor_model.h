// A compaudit::Model over given weight tensors, without a forward pass: for checking compressors' numerics on
// exactly the fixture weights (tests) and for timing them on large tensors (bench/compress_global_magnitude).
// Shapes are fixed (can_reshape() is false), like a TorchScript module's.
#pragma once

#include <compaudit/error.h>
#include <compaudit/model.h>

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
    if (masks_.count(name)) apply(p, masks_[name]);
  }
  void set_mask(const std::string& name, const at::Tensor& mask) override {
    if (!mask.defined()) {
      masks_.erase(name);
      return;
    }
    if (!mask.sizes().equals(param(name).sizes())) throw Error(ErrorCode::runtime, "TensorModel: mask shape");
    masks_[name] = mask.contiguous().clone();
    apply(param(name), masks_[name]);
  }
  at::Tensor mask(const std::string& name) const override {
    auto it = masks_.find(name);
    return it == masks_.end() ? at::Tensor() : it->second;
  }
  int storage_bits(const std::string& name) const override {
    auto it = bits_.find(name);
    return it == bits_.end() ? 32 : it->second;
  }
  void set_storage_bits(const std::string& name, int bits) override { bits_[name] = bits; }
  bool set_activation_hook(ActivationHook) override { return false; }

 private:
  // As the built-in models do: a plain loop for float parameters and bool masks (ATen's mul_ with a bool operand
  // takes a slow casting path).
  static void apply(at::Tensor& p, const at::Tensor& m) {
    if (p.scalar_type() == at::kFloat && m.scalar_type() == at::kBool && p.is_contiguous()) {
      float* w = p.data_ptr<float>();
      const bool* keep = m.data_ptr<bool>();
      for (std::int64_t i = 0, n = p.numel(); i < n; ++i) w[i] = keep[i] ? w[i] : 0.0f;
    } else {
      p.mul_(m);
    }
  }
  at::Tensor& param(const std::string& name) {
    for (auto& l : layers_) {
      if (name == l.name + ".weight") return l.weight;
      if (name == l.name + ".bias") return l.bias;
    }
    throw Error(ErrorCode::runtime, "TensorModel: no parameter " + name);
  }
  std::vector<Layer> layers_;
  std::map<std::string, at::Tensor> masks_;
  std::map<std::string, int> bits_;
};

}  // namespace compaudit::testing
