// host/engine/batched/stacked_trainer.h — training steps of any stacked architecture, without autograd.
//
// One step of a stack (stacked_architecture.h), pass by pass (the whole stack at once, or model by model, as the
// architecture computes):
//   forward   the architecture's, on each model's own batch;
//   loss      per model, the mean cross entropy of its own batch (training/cross_entropy.h:
//             d loss / d logits = (softmax − one-hot) / B);
//   backward  the architecture's; each parameter's gradient, as soon as it exists, goes to the optimizer table's
//             fused step (stacked_optimizer.h, fused_step.h: torch::optim's SGD / Adam arithmetic fused with the
//             parameter's mask), one pass over the whole stack when every model steps alike, else slice by slice.
// The arithmetic is autograd + torch::optim + apply_masks' up to float rounding (tests/engine/test_stacked_drift.cpp,
// generated over every architecture x optimizer x option). Every operation works slice by slice, so model k's bits
// do not depend on the other models in the stack.
#pragma once

#include "batched/stacked_architecture.h"
#include "batched/stacked_optimizer.h"

#include <compaudit/host/pipeline.h>

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace compaudit::engine::batched {

class StackedTrainer final : GradientSink {
 public:
  /// Optimizer settings as make_optimizer (training/trainer.h) reads them (the table in training/optimizers.h); an
  /// unknown optimizer is Error(pipeline).
  StackedTrainer(StackedArchitecture& stack, const host::TrainingSpec& settings);
  /// An entry of the optimizer table with explicit hyper-parameters (the drift test).
  StackedTrainer(StackedArchitecture& stack, const OptimizerSettings& settings);

  /// One optimizer step at learning rate `lr`: model k trains on inputs[k] ([K, B, features...]) with class
  /// targets[k] ([K, B], int64). Masks are re-applied to the updated parameters.
  void step(const at::Tensor& inputs, const at::Tensor& targets, double lr);
  /// One step of each model k whose inputs[k] is defined ([b_k, features...], its own batch size), with targets[k]
  /// ([b_k]) at learning rate lrs[k]; a model whose inputs[k] is undefined takes no step at all (its parameters,
  /// state and step count stay as they are: train_on_subsets, the memorization models, each on its own subset).
  /// A stack that computes all models in one pass gets the batches padded to the largest (padding gets no gradient).
  void step_models(const std::vector<at::Tensor>& inputs, const std::vector<at::Tensor>& targets,
                   const std::vector<double>& lrs);

 private:
  /// One forward / backward of models [first, first + models_per_pass()): `rows` and `lrs` as in step_models (empty:
  /// every model all B rows, at `lr`).
  void pass(std::int64_t first, const at::Tensor& inputs, const at::Tensor& targets, double lr,
            const std::vector<std::int64_t>& rows, const std::vector<double>& lrs);
  void gradient(std::size_t index, const float* grad) override;

  StackedArchitecture& stack_;
  StackedOptimizer optimizer_;
  std::vector<StackedParameter> params_;
  // The pass in progress (read by gradient()).
  std::int64_t first_ = 0, count_ = 0;
  double lr_ = 0;
  const std::vector<std::int64_t>* rows_ = nullptr;
  const std::vector<double>* lrs_ = nullptr;
};

}  // namespace compaudit::engine::batched
