#include "batched/stacked_architecture.h"

#include "batched/stacked_cnn.h"
#include "batched/stacked_mlp.h"

#include <compaudit/error.h>

#include <ATen/ATen.h>
#include <fmt/format.h>

namespace compaudit::engine::batched {
namespace {

template <class Stack>
std::unique_ptr<StackedArchitecture> pack_as(const std::vector<models::TrainableModel*>& models) {
  return std::make_unique<Stack>(models);
}

}  // namespace

const std::vector<StackedArchitectureInfo>& stacked_architectures() {
  // A CNN's im2col of 1024 Fashion images is ~115 MB per block; 256 keeps its buffers near 30 MB.
  static const std::vector<StackedArchitectureInfo> table{
      {"mlp", "MLP", &mlp_layout_problem, &pack_as<StackedMlp>, 1024},
      {"cnn", "CNN", &cnn_layout_problem, &pack_as<StackedCnn>, 256},
  };
  return table;
}

const StackedArchitectureInfo* find_stacked_architecture(const std::string& architecture) {
  for (const auto& a : stacked_architectures())
    if (a.name == architecture) return &a;
  return nullptr;
}

std::unique_ptr<StackedArchitecture> pack(const std::vector<models::TrainableModel*>& models) {
  if (models.empty()) throw Error(ErrorCode::runtime, "pack: no models");
  const StackedArchitectureInfo* info = find_stacked_architecture(models.front()->architecture());
  if (info == nullptr) throw Error(ErrorCode::runtime, "pack: no stacked " + models.front()->architecture());
  return info->pack(models);
}

std::string shape_signature(models::TrainableModel& model) {
  std::string out = model.architecture() + ":";  // architectures go to different stacks
  for (const auto& l : model.layers())
    out += fmt::format("{}/{};", fmt::join(l.weight.sizes(), "x"),
                       l.bias.defined() ? fmt::format("{}", fmt::join(l.bias.sizes(), "x")) : "-");
  return out;
}

std::string can_stack(const std::vector<models::TrainableModel*>& models, const at::Tensor& probe) {
  if (models.empty()) return "no models";
  auto shapes = [](models::TrainableModel& m) {
    std::vector<std::vector<std::int64_t>> out;
    for (const auto& l : m.layers()) {
      out.push_back(l.weight.sizes().vec());
      out.push_back(l.bias.defined() ? l.bias.sizes().vec() : std::vector<std::int64_t>{-1});
    }
    return out;
  };
  const auto reference = shapes(*models.front());
  // The registered architectures (built-in MLPs and CNNs); ResNets, TorchScript and anything else train one at a
  // time.
  const std::string arch = models.front()->architecture();
  const StackedArchitectureInfo* info = find_stacked_architecture(arch);
  if (info == nullptr) {
    std::string known;
    for (const auto& a : stacked_architectures()) known += (known.empty() ? "" : " or ") + a.display;
    return "not a built-in " + known + " (" + arch + ")";
  }
  for (auto* m : models) {
    if (m->architecture() != arch) return "the models' architectures differ (" + arch + ", " + m->architecture() + ")";
    if (std::string why = info->layout_problem(*m); !why.empty()) return why;
    if (shapes(*m) != reference) return "the models' layers differ in shape";
  }
  if (!probe.defined() || probe.size(0) == 0) return "";
  // The models' own forward() must agree with the stack's: anything the stack does not model (an activation hook)
  // shows up here.
  at::NoGradGuard no_grad;
  at::Tensor stacked;
  try {
    stacked = info->pack(models)->forward_shared(probe);
  } catch (const Error& e) {
    return std::string("the stack cannot run the probe inputs: ") + e.what();
  }
  for (std::size_t k = 0; k < models.size(); ++k) {
    models[k]->train(false);
    const at::Tensor own = models[k]->forward(probe);
    const double scale = 1.0 + own.abs().max().item<double>();
    if ((own - stacked[static_cast<std::int64_t>(k)]).abs().max().item<double>() > 1e-4 * scale)
      return fmt::format("model {} of the group computes more than its layers (an activation hook?)", k);
  }
  return "";
}

}  // namespace compaudit::engine::batched
