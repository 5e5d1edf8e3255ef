// TorchScriptModel: a module exported from PyTorch (torch.jit.script / trace) behind compaudit::Model.
// Shapes are fixed (a scripted graph may depend on them), so can_reshape() is false and structured pruning masks;
// there is no place to put an activation hook, so set_activation_hook() declines.
#include "builtin_model.h"

#include <compaudit/error.h>

#include <torch/script.h>
#include <fmt/format.h>

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <map>
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

  torch::jit::Module& module() { return module_; }  // for reset_torchscript_parameters

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

  bool set_projection(const std::string& name, ParameterProjection projection, ProjectionTime when) override {
    parameter(name);  // shapes are fixed, so a projection stays valid for the module's life
    masks_.set_projection(name, std::move(projection), when);
    return true;
  }

  void apply_projections(ProjectionTime when) override {
    masks_.project_all(when, [this](const std::string& name) { return parameter(name); });
  }

  bool has_projections(ProjectionTime when) const override { return masks_.has_projections(when); }

  ParameterProjection projection(const std::string& name, ProjectionTime when) const override {
    return masks_.projection(name, when);
  }

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
  ParameterMasks masks_;  // masks, projections and storage bits
};

}  // namespace

std::unique_ptr<TrainableModel> load_torchscript_model(const std::string& path) {
  try {
    return std::make_unique<TorchScriptModel>(torch::jit::load(path));
  } catch (const c10::Error& e) {
    throw Error(ErrorCode::io, fmt::format("cannot load TorchScript module '{}': {}", path, e.what_without_backtrace()));
  }
}


namespace {

// "__torch__.torch.nn.modules.linear.Linear" -> "Linear"
std::string module_type(const torch::jit::Module& m) {
  const auto name = m.type()->name();
  if (!name) return {};
  const std::string q = name->qualifiedName();
  return q.substr(q.rfind('.') + 1);
}

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

// fan_in as torch.nn.init._calculate_fan_in_and_fan_out computes it: dim 1 times the receptive field.
double fan_in(const at::Tensor& w) {
  double f = w.dim() > 1 ? static_cast<double>(w.size(1)) : static_cast<double>(w.size(0));
  for (std::int64_t d = 2; d < w.dim(); ++d) f *= static_cast<double>(w.size(d));
  return f;
}

}  // namespace

void reset_torchscript_parameters(TrainableModel& model, std::uint64_t seed) {
  auto* ts = dynamic_cast<TorchScriptModel*>(&model);
  if (!ts) throw Error(ErrorCode::runtime, "reset_torchscript_parameters: not a TorchScript model");
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  at::NoGradGuard no_grad;
  for (const auto& named : ts->module().named_modules()) {
    const torch::jit::Module& m = named.value;
    const std::string type = module_type(m);
    std::map<std::string, at::Tensor> own;
    for (const auto& p : m.named_parameters(/*recurse=*/false)) own[p.name] = p.value;
    if (own.empty()) continue;
    const std::string where = named.name.empty() ? "the top-level module" : "module '" + named.name + "'";
    if (starts_with(type, "Conv") || type == "Linear" || type == "Bilinear") {
      const auto w = own.find("weight");
      if (w == own.end()) continue;
      // kaiming_uniform_(a = sqrt(5)) gives bound sqrt(6 / ((1 + 5) fan_in)) = 1 / sqrt(fan_in); the bias uses the
      // same bound in reset_parameters().
      const double bound = 1.0 / std::sqrt(fan_in(w->second));
      w->second.uniform_(-bound, bound, gen);
      if (auto b = own.find("bias"); b != own.end()) b->second.uniform_(-bound, bound, gen);
    } else if (type.find("Norm") != std::string::npos) {
      if (auto w = own.find("weight"); w != own.end()) w->second.fill_(1.0);
      if (auto b = own.find("bias"); b != own.end()) b->second.zero_();
      for (const auto& buf : m.named_buffers(/*recurse=*/false)) {
        if (buf.name == "running_mean" || buf.name == "num_batches_tracked") buf.value.zero_();
        if (buf.name == "running_var") buf.value.fill_(1.0);
      }
    } else if (type == "Embedding") {
      if (auto w = own.find("weight"); w != own.end()) w->second.normal_(0.0, 1.0, gen);
    } else {
      throw Error(ErrorCode::pipeline,
                  fmt::format("init = \"reset\": {} of type {} holds parameters ({}) whose default initialisation "
                              "compaudit does not know; use init = \"keep\" (every seed starts from the file's "
                              "weights) or export the model with standard torch.nn layers",
                              where, type.empty() ? "?" : type, own.begin()->first));
    }
  }
}

std::vector<std::pair<std::string, std::vector<std::int64_t>>> parameter_list(TrainableModel& model) {
  std::vector<std::pair<std::string, std::vector<std::int64_t>>> out;
  for (const auto& [name, t] : model.named_parameters()) out.emplace_back(name, t.sizes().vec());
  return out;
}

}  // namespace compaudit::models
