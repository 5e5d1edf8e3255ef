// host/engine/batched/stacked_trainer.h — training steps of a StackedMlp without autograd.
//
// An MLP's backward pass is three products per layer, so it is written out here instead of recorded by autograd:
//   forward   z_l = b_l + a_{l-1}·W_lᵀ,  a_l = relu(z_l)        (the products: oneDNN, one per model, slice_gemm.h)
//   loss      per model, the mean cross entropy of its own batch; d loss / d logits = (softmax − one-hot) / B
//   backward  dW_l = dz_lᵀ·a_{l-1},  db_l = Σ_batch dz_l,  dz_{l-1} = (dz_l·W_l) ⊙ [a_{l-1} > 0]
// and each layer's optimizer step runs as soon as its gradients exist, fused with its mask (fused_step.h), while
// they are still in cache. Compared with autograd + torch::optim + apply_masks this drops the graph, the gradient
// accumulation, the optimizer's separate elementwise passes and the masked_fill_ of every parameter: per-step
// work is the products plus one pass over the parameters. The arithmetic is the same up to float rounding
// (tests/engine/test_batched.cpp checks it against autograd + torch::optim step by step).
//
// Every operation works slice by slice (bmm per model, elementwise, reductions over the batch dimension), so
// model k's bits do not depend on the other models in the stack.
#pragma once

#include "batched/stacked_mlp.h"

#include <compaudit/host/pipeline.h>

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace compaudit::engine::batched {

class StackedTrainer {
 public:
  /// Optimizer settings as make_optimizer (training/trainer.h) reads them: "sgd" (momentum, weight decay) or
  /// "adam" (weight decay); anything else is Error(pipeline).
  StackedTrainer(StackedMlp& stack, const host::TrainingSpec& settings);

  /// One optimizer step at learning rate `lr`: model k trains on inputs[k] ([K, B, features...]) with class
  /// targets[k] ([K, B], int64). Masks are re-applied to the updated parameters.
  void step(const at::Tensor& inputs, const at::Tensor& targets, double lr);

 private:
  struct ParamState {
    at::Tensor grad;         ///< reused every step
    at::Tensor moment1;      ///< SGD momentum buffer / Adam first moment
    at::Tensor moment2;      ///< Adam second moment
  };
  void update(at::Tensor& param, const at::Tensor& keep, ParamState& state, double lr);

  StackedMlp& stack_;
  host::TrainingSpec settings_;
  bool adam_ = false;
  std::int64_t steps_ = 0;                ///< optimizer steps taken so far
  std::vector<ParamState> weights_, biases_;
  std::vector<at::Tensor> activations_;   ///< a_0 (inputs) .. a_L (logits) of the current step
};

}  // namespace compaudit::engine::batched
