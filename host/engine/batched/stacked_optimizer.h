// host/engine/batched/stacked_optimizer.h — the optimizer of a stacked population (StackedTrainer).
//
// A stacked parameter is [K, ...]: model k's slice is one contiguous range. The optimizer keeps each parameter's
// state buffers in the same layout and each model's own step count (Adam's bias correction; SGD's first momentum
// step), and steps one model's slice, or the whole stack at once when every model is at the same step, through the
// optimizer table's fused step (training/optimizers.h: torch::optim's arithmetic, fused with the parameter's mask in
// fused_step.h). Both give the same bits for a slice: the loops work element by element.
#pragma once

#include "training/optimizers.h"

#include <compaudit/host/pipeline.h>

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace compaudit::engine::batched {

class StackedOptimizer {
 public:
  /// settings.optimizer as make_optimizer reads it (training/optimizers.h); an unknown name is Error(pipeline), an
  /// optimizer without a fused step Error(runtime) (batchable_plan keeps such plans off the stack).
  /// `population`: K.
  StackedOptimizer(const host::TrainingSpec& settings, std::int64_t population);
  /// An entry of the table with explicit hyper-parameters (the drift test: options TrainingSpec does not have).
  StackedOptimizer(const OptimizerSettings& settings, std::int64_t population);

  /// Registers a stacked parameter (contiguous float32 [K, ...]); returns its index for step_slice / step_all.
  std::size_t add(const at::Tensor& param);

  /// Model k's step of parameter `index` from `grad` (its slice: numel / K floats), masked by keep's slice k
  /// (keep: bool or float [K, ...] in the parameter's layout, or undefined).
  void step_slice(std::size_t index, at::Tensor& param, const at::Tensor& keep, const float* grad, std::int64_t k,
                  double lr);
  /// Every model's step at once from `grad` (numel floats); only while all models are at the same step (in_step).
  void step_all(std::size_t index, at::Tensor& param, const at::Tensor& keep, const float* grad, double lr);
  /// Whether every model has taken the same number of steps.
  bool in_step() const;
  /// Model k has finished a step (all its parameters updated).
  void finish_step(std::int64_t k) { ++steps_[static_cast<std::size_t>(k)]; }

 private:
  void step_range(std::size_t index, at::Tensor& param, const at::Tensor& keep, const float* grad, std::size_t begin,
                  std::size_t n, std::int64_t model, double lr);

  struct Buffers {
    at::Tensor first;   ///< SGD momentum buffer / Adam first moment (undefined: none)
    at::Tensor second;  ///< Adam second moment
  };
  OptimizerSettings settings_;
  std::vector<Buffers> buffers_;
  std::vector<std::int64_t> steps_;  ///< per model
};

}  // namespace compaudit::engine::batched
