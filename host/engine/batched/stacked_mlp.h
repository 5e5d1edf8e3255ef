// host/engine/batched/stacked_mlp.h — K built-in MLPs of one shape as one stacked model (population batching).
//
// Layer l of model k is slice k of stacked leaf tensors: weight [K, out, in], bias [K, 1, out]. One forward is one
// torch::baddbmm per layer for all K models, each on its own batch ([K, B, in] in, [K, B, C] logits out), so the
// per-operation overhead of the dispatcher, autograd and the optimizer is paid once per population, not K times.
// The masks the compressors installed are stacked too (a model without a mask on a parameter gets an all-true
// slice) and re-applied after every optimizer step exactly as TrainableModel::apply_masks does: a bool mask keeps a
// weight or writes +0, any other mask multiplies.
//
// Which models stack (can_stack): built-in "mlp" models whose parameters have the same shapes, and whose own
// forward() agrees with the stacked one on a probe batch — that catches what the stack cannot reproduce, such as an
// activation hook a full-int8 quantizer installed. Built-in CNNs stack too, in their own stack (stacked_cnn.h, same
// can_stack); TorchScript and ResNet models are trained one at a time.
//
// Bits: per slice, at::bmm / baddbmm on CPU without MKL (Debian's libtorch) run one addmm per batch item, and the
// elementwise steps (ReLU, the optimizer, masks) are per element, so model k's result does not depend on which or
// how many other models share its stack (tested). It is not bit-identical to one-at-a-time training: backward sums
// the bias gradient over [K, B, out] and multiplies transposed operands in another order than at::linear's
// backward, so results agree to float32 rounding, then drift as training amplifies it (docs/performance.md).
#pragma once

#include <compaudit/models/models.h>

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace compaudit::engine::batched {

class StackedMlp {
 public:
  /// Stacks copies of the models' parameters and masks. The models must pass can_stack.
  explicit StackedMlp(const std::vector<models::TrainableModel*>& models);

  std::int64_t population() const { return k_; }
  /// Leaf tensors for the optimizer, in layer order: weight, bias, weight, bias, ...
  std::vector<at::Tensor> parameters() const;
  /// Logits [K, B, C] of inputs [K, B, features...] (model k sees row block k), recorded by autograd (tests use it
  /// as the oracle of StackedTrainer).
  at::Tensor forward(const at::Tensor& inputs) const;
  /// Logits [K, N, C] of inputs [N, features...] shared by every model (evaluation: no autograd; oneDNN products).
  at::Tensor forward_shared(const at::Tensor& inputs) const;
  /// Re-applies the stacked masks (after an optimizer step).
  void apply_masks();
  /// Writes slice k of every parameter back into model k (in place: masks, storage bits and hooks are untouched).
  void unpack(const std::vector<models::TrainableModel*>& models) const;

 /// Layer l of the stack; StackedTrainer (stacked_trainer.h) updates the tensors in place.
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
};

/// The architecture and layer shapes of a model as text ("mlp:128x64/128;..."): models stack when their signatures
/// are equal.
std::string shape_signature(models::TrainableModel& model);

/// Why `models` cannot be trained as one stack ("" when they can): not all built-in MLPs or all built-in CNNs
/// (cnn_layout_problem), different shapes, or a model whose forward() differs from the stacked forward (StackedMlp or
/// StackedCnn) on `probe` (e.g. an activation hook).
std::string can_stack(const std::vector<models::TrainableModel*>& models, const at::Tensor& probe);

}  // namespace compaudit::engine::batched
