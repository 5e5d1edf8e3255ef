#include "training/optimizers.h"

#include <compaudit/error.h>

#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>

#include <algorithm>
#include <tuple>

namespace compaudit::engine {
namespace {

// torch::optim::SGD (dampening 0, no Nesterov) and its fused twin (fused_step.h).
std::unique_ptr<torch::optim::Optimizer> torch_sgd(std::vector<at::Tensor> params, const OptimizerHyper& h) {
  return std::make_unique<torch::optim::SGD>(
      params, torch::optim::SGDOptions(h.lr).momentum(h.momentum).weight_decay(h.weight_decay));
}

void fused_sgd_step(float* w, const float* g, float* m1, float*, batched::StepMask mask, std::size_t n,
                    const OptimizerHyper& h, std::int64_t step) {
  batched::SgdStep s;
  s.lr = h.lr;
  s.momentum = h.momentum;
  s.weight_decay = h.weight_decay;
  s.first = step == 1;  // the momentum buffer's first step: buf = d
  batched::fused_sgd(w, g, m1, mask, n, s);
}

// torch::optim::Adam (no AMSGrad, L2 weight decay added to the gradient) and its fused twin.
std::unique_ptr<torch::optim::Optimizer> torch_adam(std::vector<at::Tensor> params, const OptimizerHyper& h) {
  return std::make_unique<torch::optim::Adam>(params, torch::optim::AdamOptions(h.lr)
                                                          .betas(std::make_tuple(h.beta1, h.beta2))
                                                          .eps(h.eps)
                                                          .weight_decay(h.weight_decay));
}

void fused_adam_step(float* w, const float* g, float* m1, float* m2, batched::StepMask mask, std::size_t n,
                     const OptimizerHyper& h, std::int64_t step) {
  batched::AdamStep s;
  s.lr = h.lr;
  s.beta1 = h.beta1;
  s.beta2 = h.beta2;
  s.eps = h.eps;
  s.weight_decay = h.weight_decay;
  s.step = step;
  batched::fused_adam(w, g, m1, m2, mask, n, s);
}

using O = OptimizerOption;

}  // namespace

const std::vector<OptimizerEntry>& optimizers() {
  static const std::vector<OptimizerEntry> table{
      {"sgd", {O::momentum, O::weight_decay}, {O::momentum, O::weight_decay}, &torch_sgd, &fused_sgd_step,
       [](const OptimizerHyper& h) { return h.momentum != 0.0 ? 1 : 0; }},
      // Adam has no momentum option (TrainingSpec's momentum is not read); its betas are not in TrainingSpec.
      {"adam", {O::weight_decay, O::betas}, {O::weight_decay, O::betas}, &torch_adam, &fused_adam_step,
       [](const OptimizerHyper&) { return 2; }},
  };
  return table;
}

const OptimizerEntry& find_optimizer(const std::string& name, const SourceLocation& where) {
  std::string known;
  for (const auto& e : optimizers()) {
    if (e.name == name) return e;
    known += (known.empty() ? "" : " or ") + e.name;
  }
  throw Error(ErrorCode::pipeline, "unknown optimizer '" + name + "' (" + known + ")", where);
}

OptimizerSettings optimizer_settings(const host::TrainingSpec& s) {
  OptimizerSettings out;
  out.entry = &find_optimizer(s.optimizer, s.where);
  out.hyper.lr = s.lr;
  out.hyper.momentum = s.momentum;
  out.hyper.weight_decay = s.weight_decay;
  return out;
}

bool offers(const OptimizerEntry& entry, OptimizerOption option) {
  return std::find(entry.honours.begin(), entry.honours.end(), option) != entry.honours.end();
}

const char* option_name(OptimizerOption option) {
  switch (option) {
    case O::momentum: return "momentum";
    case O::weight_decay: return "weight_decay";
    case O::betas: return "betas";
  }
  return "?";
}

std::string stacked_optimizer_problem(const host::TrainingSpec& s) {
  const OptimizerEntry* entry = nullptr;
  for (const auto& e : optimizers())
    if (e.name == s.optimizer) entry = &e;
  if (entry == nullptr) return "";  // unknown: train_model and the stack throw the same Error(pipeline)
  if (entry->fused == nullptr) return "optimizer '" + s.optimizer + "' has no stacked step";
  const OptimizerHyper h = optimizer_settings(s).hyper, neutral;
  for (OptimizerOption o : entry->honours) {
    if (std::find(entry->fused_honours.begin(), entry->fused_honours.end(), o) != entry->fused_honours.end()) continue;
    const bool set = o == O::momentum       ? h.momentum != neutral.momentum
                     : o == O::weight_decay ? h.weight_decay != neutral.weight_decay
                                            : h.beta1 != neutral.beta1 || h.beta2 != neutral.beta2;
    if (set) return "optimizer '" + s.optimizer + "': the stacked step does not implement " + option_name(o);
  }
  return "";
}

}  // namespace compaudit::engine
