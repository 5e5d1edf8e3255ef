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
#include "batched/stacked_optimizer.h"

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
  ///
  /// `rows` (empty: every model uses all B rows) is for models trained on data sets of different sizes (the
  /// memorization estimate's subsets): model k's batch is the first rows[k] rows of inputs[k], the rest padding
  /// that gets no gradient, and rows[k] == 0 means model k takes no step at all (its parameters, moments and
  /// step count stay as they are: its epoch has fewer batches than the others'). `lrs` (empty: `lr` for all) gives
  /// each model its own learning rate (a cosine schedule over a model's own step count).
  void step(const at::Tensor& inputs, const at::Tensor& targets, double lr,
            const std::vector<std::int64_t>& rows = {}, const std::vector<double>& lrs = {});

 private:
  struct ParamState {
    at::Tensor grad;         ///< reused every step
    std::size_t index = 0;   ///< the parameter's index in optimizer_
  };
  void update(at::Tensor& param, const at::Tensor& keep, const ParamState& state, double lr,
              const std::vector<std::int64_t>& rows, const std::vector<double>& lrs);

  StackedMlp& stack_;
  StackedOptimizer optimizer_;
  std::vector<ParamState> weights_, biases_;
  std::vector<at::Tensor> activations_;   ///< a_0 (inputs) .. a_L (logits) of the current step
};

}  // namespace compaudit::engine::batched
