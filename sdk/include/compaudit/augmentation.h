// compaudit/augmentation.h — data-augmentation policies.
//
// The host calls an Augmentation on every training batch (dense training and fine-tuning) with the current state
// of the model — its sparsity, parameter count and epoch — so a policy can make its magnitude follow model size
// (Yu, Zhang, Ma: "Revisiting data augmentation in model compression"). The policy edits the batch in place: the
// inputs, per-example loss weights (down-weight or drop hard samples) and soft targets (mixup).
#pragma once

#include <compaudit/plugin.h>

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <torch/version.h>

#include <functional>

COMPAUDIT_NAMESPACE_BEGIN

/// One training batch.
struct Batch {
  at::Tensor inputs;        ///< [B, ...] float32, normalised. Images are [B, C, H, W]; tabular data [B, F].
  at::Tensor targets;       ///< [B] int64.
  at::Tensor weights;       ///< [B] float32 per-example loss weights, or undefined (all 1). 0 drops a sample.
  at::Tensor soft_targets;  ///< [B, C] float32 target distribution, or undefined (one-hot of targets).
};

/// The state a policy may follow.
struct AugmentationState {
  double sparsity = 0.0;             ///< Fraction of prunable weights that are zero (0 for dense models).
  std::int64_t parameter_count = 0;  ///< Non-zero parameters of the model being trained.
  int epoch = 0;
  std::int64_t step = 0;
  int num_classes = 0;
  bool is_image = false;             ///< True when inputs are [B, C, H, W].
};

/// Owner: the host; valid during apply() only (do not keep it, its generator or its teacher function).
struct AugmentationContext {
  at::Generator generator;  ///< Seeded per cell; use it for every random draw so runs are reproducible.
  /// Class probabilities of the teacher (the dense model of this seed) for a batch of inputs, or empty when no
  /// teacher exists (dense training). For difficulty filters.
  std::function<at::Tensor(const at::Tensor& inputs)> teacher;
};

class COMPAUDIT_SDK_API Augmentation : public Plugin {
 public:
  ~Augmentation() noexcept(false) override;
  /// Edits `batch` in place (the batch is the host's, lent for this call: replace its tensors or edit them; keep
  /// no reference after apply() returns). `state` and `context` are read-only inputs valid during the call.
  /// Called on the thread that trains the model, one call at a time, never concurrently (a pipeline with a policy
  /// trains one model at a time); not always the same thread, and the same instance serves every cell, so keep no
  /// thread-local or per-cell state. Throw on failure: the cell being trained fails.
  virtual void apply(Batch& batch, const AugmentationState& state, AugmentationContext& context) = 0;
};

COMPAUDIT_NAMESPACE_END
