// host/engine/batched/cnn_trainer.h — training steps of a StackedCnn without autograd.
//
// Per model k of the stack, on its own batch (so its bits never depend on the other models):
//   forward   per block: cols = im2col(a), z = cols·Wᵀ, a' = pool(relu(z + b)) with the argmax recorded
//             (StackedCnn::forward_model); logits = b + a·Wᵀ
//   loss      the mean cross entropy of its batch; d loss / d logits = (softmax − one-hot) / B
//   backward  classifier as an MLP layer (dW = dzᵀ·a, db = Σ dz, da = dz·W); per block from the last: dz = the
//             pooled gradient scattered to the argmax where the ReLU passed (pool_relu_backward, which also sums db),
//             dW = dzᵀ·cols, dcols = dz·W, da = col2im(dcols) (not for the first block)
// and each layer's optimizer step (fused_step.h: torch::optim's SGD / Adam arithmetic fused with the mask) runs on
// slice k as soon as its gradients exist, as StackedTrainer does for MLPs. Checked against the models' own forward
// with autograd and torch::optim in tests/engine/test_batched_cnn.cpp.
#pragma once

#include "batched/stacked_cnn.h"
#include "batched/stacked_optimizer.h"

#include <compaudit/host/pipeline.h>

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace compaudit::engine::batched {

class CnnTrainer {
 public:
  /// Optimizer settings as make_optimizer reads them: "sgd" (momentum, weight decay) or "adam" (weight decay);
  /// anything else is Error(pipeline).
  CnnTrainer(StackedCnn& stack, const host::TrainingSpec& settings);

  /// One optimizer step at learning rate `lr`: model k trains on inputs[k] ([K, B, features...]) with class
  /// targets[k] ([K, B], int64); masks are re-applied to the updated parameters.
  void step(const at::Tensor& inputs, const at::Tensor& targets, double lr);
  /// One step of each model k whose inputs[k] is defined ([b_k, features...], its own batch size), with targets[k]
  /// ([b_k]) at learning rate lrs[k]; a model whose inputs[k] is undefined takes no step (train_on_subsets: the
  /// memorization models, each on its own subset).
  void step_models(const std::vector<at::Tensor>& inputs, const std::vector<at::Tensor>& targets,
                   const std::vector<double>& lrs);

 private:
  struct ParamState {
    at::Tensor grad;        ///< one slice's gradient [1, ...], reused by every model and step
    std::size_t index = 0;  ///< the parameter's index in optimizer_
  };
  void step_model(std::int64_t k, const at::Tensor& x, const at::Tensor& y, double lr);

  StackedCnn& stack_;
  StackedOptimizer optimizer_;
  std::vector<ParamState> weights_, biases_;
  CnnWorkspace ws_;
  at::Tensor dz_, dcols_, da_, da_next_;  ///< backward scratch, reused
};

}  // namespace compaudit::engine::batched
