// host/engine/batched/stacked_mlp.h — K built-in MLPs of one shape as one stacked model (population batching).
//
// Layer l of model k is slice k of stacked leaf tensors: weight [K, out, in], bias [K, 1, out]. The masks the
// compressors installed are stacked too (a model without a mask on a parameter gets an all-true slice) and
// re-applied after every optimizer step exactly as TrainableModel::apply_masks does: a bool mask keeps a weight or
// writes +0, any other mask multiplies.
//
// Training (StackedArchitecture, stacked_architecture.h; driven by StackedTrainer) covers the whole stack in one pass,
// without autograd, since an MLP's backward pass is three products per layer:
//   forward   z_l = b_l + a_{l-1}·W_lᵀ,  a_l = relu(z_l)        (the products: oneDNN, one per model, slice_gemm.h)
//   backward  dW_l = dz_lᵀ·a_{l-1},  db_l = Σ_batch dz_l,  dz_{l-1} = (dz_l·W_l) ⊙ [a_{l-1} > 0]
// each layer's gradients going to the optimizer (fused with the mask, fused_step.h) as soon as they exist, while they
// are still in cache. Compared with autograd + torch::optim + apply_masks this drops the graph, the gradient
// accumulation, the optimizer's separate elementwise passes and the masked_fill_ of every parameter. The arithmetic
// is the same up to float rounding (tests/engine/test_stacked_drift.cpp checks it against autograd + torch::optim).
//
// Which models stack: built-in "mlp" models whose layers are linear with a bias, float32 (mlp_layout_problem), of
// equal shapes, and whose own forward() agrees with the stack's on a probe batch (can_stack).
//
// Bits: every operation works slice by slice (one product per model, elementwise, reductions over the batch
// dimension), so model k's result does not depend on which or how many other models share its stack (tested). It is
// not bit-identical to one-at-a-time training: the products run in other kernels and the bias gradient is summed in
// another order than at::linear's backward, so results agree to float32 rounding, then drift as training amplifies
// it (docs/performance.md).
#pragma once

#include "batched/stacked_architecture.h"

#include <compaudit/models/models.h>

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace compaudit::engine::batched {

class StackedMlp final : public StackedArchitecture {
 public:
  /// Stacks copies of the models' parameters and masks. The models must pass can_stack.
  explicit StackedMlp(const std::vector<models::TrainableModel*>& models);

  std::int64_t population() const override { return k_; }
  std::vector<StackedParameter> packed_parameters() override;
  std::int64_t models_per_pass() const override { return k_; }
  const at::Tensor& forward(std::int64_t first, const at::Tensor& inputs) override;
  void backward(const at::Tensor& dlogits, GradientSink& sink) override;
  at::Tensor forward_shared(const at::Tensor& inputs) const override;
  void unpack(const std::vector<models::TrainableModel*>& models) const override;

  /// Leaf tensors (requiring gradients), in layer order: weight, bias, weight, bias, ... (the tests' autograd oracle)
  std::vector<at::Tensor> parameters() const;
  /// Logits [K, B, C] of inputs [K, B, features...] (model k sees row block k), recorded by autograd (tests use it
  /// as an oracle).
  at::Tensor forward_autograd(const at::Tensor& inputs) const;
  /// Re-applies the stacked masks (after an optimizer step of the oracle).
  void apply_masks();

  /// Layer l of the stack.
  struct StackedLayer {
    at::Tensor weight;    ///< [K, out, in], contiguous leaf
    at::Tensor bias;      ///< [K, 1, out], contiguous leaf
    at::Tensor keep_w;    ///< bool [K, out, in] (true: keep) or float multiplier, or undefined (no mask at all)
    at::Tensor keep_b;
    bool relu = false;    ///< a ReLU follows the layer
  };
  std::vector<StackedLayer>& layers() { return layers_; }

 private:
  std::int64_t k_ = 0;
  std::vector<StackedLayer> layers_;
  std::vector<at::Tensor> grads_;        ///< per parameter (packed order), reused every step
  std::vector<at::Tensor> activations_;  ///< a_0 (inputs) .. a_L (logits) of the last forward
};

/// Why `model` is not a built-in MLP the stack can hold ("" when it is): every layer linear with a bias, float32.
std::string mlp_layout_problem(models::TrainableModel& model);

}  // namespace compaudit::engine::batched
