// host/engine/training/trainer.h — deterministic training and evaluation of one TrainableModel.
//
// Determinism: every random draw of a training run (the batch order, and the augmentation policy's draws) comes from
// generators the caller seeds, never from LibTorch's global generator, so a cell gives bitwise the same model in
// any process, before or after a resume, whatever ran before it (at a fixed thread count: a different number of
// intra-op threads may change the order of floating-point sums).
#pragma once

#include "data/dataset.h"

#include <compaudit/augmentation.h>
#include <compaudit/compressor.h>
#include <compaudit/host/pipeline.h>
#include <compaudit/models/models.h>

#include <ATen/core/Generator.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace torch::optim {
class Optimizer;
}

namespace compaudit::engine {

/// A hook the trainer calls on every batch: the pipeline's augmentation policy (guarded by the caller).
struct AugmentationHook {
  std::function<void(Batch&, const AugmentationState&, AugmentationContext&)> apply;
  /// Probabilities of the teacher (the dense model of this seed) or empty during dense training.
  std::function<at::Tensor(const at::Tensor&)> teacher;
};

/// One training run.
struct TrainPlan {
  host::TrainingSpec settings;      ///< optimizer, lr, momentum, weight decay, schedule, batch size
  int epochs = 1;
  std::int64_t max_steps = -1;      ///< Stop after this many optimizer steps (rewinding); -1: all epochs.
  std::uint64_t seed = 0;           ///< Seeds the batch order and the augmentation generator.
  TrainRequest request;             ///< loss override and step / epoch callbacks (from a compressor), may be empty
  const AugmentationHook* augmentation = nullptr;
  int num_classes = 0;
  bool is_image = false;
};

/// Trains `model` on `data` (masks, then every_step projections, re-applied after every optimizer step;
/// end_of_training projections applied when the run ends). Returns the mean loss of the last epoch.
/// The learning rate follows settings.schedule: "constant"; "cosine" (per step, from lr down to 0 over the run);
/// "step" (x0.1 at half and again at three quarters of the epochs).
double train_model(models::TrainableModel& model, const Dataset& data, const TrainPlan& plan);

/// Softmax probabilities [N, C] float32 of the model on `inputs` (evaluation mode, no gradients, batches of 1024).
at::Tensor predict_probabilities(models::TrainableModel& model, const at::Tensor& inputs);

/// Fraction of prunable weights (layers' weights) that are zero.
double weight_sparsity(models::TrainableModel& model);

/// A 64-bit seed for one purpose of one cell: mixes the population seed with a label ("dense", "finetune", ...),
/// so different purposes draw independent streams (splitmix64 over an FNV-1a hash of the label).
std::uint64_t derive_seed(std::int64_t seed, const std::string& purpose);

// --- shared with population-batched training (batched/batched_train.cpp), so both paths update alike ---

/// The pipeline's optimizer over `params` (set to require gradients): the torch::optim twin of its entry in the
/// optimizer table (training/optimizers.h: SGD with momentum, Adam; weight decay).
std::unique_ptr<torch::optim::Optimizer> make_optimizer(const host::TrainingSpec& s, std::vector<at::Tensor> params);
/// Sets the learning rate of every parameter group.
void set_lr(torch::optim::Optimizer& opt, double lr);
/// The learning rate at (epoch, step) of a run of `epochs` epochs and `total` steps (settings.schedule).
double scheduled_lr(const host::TrainingSpec& s, int epoch, int epochs, std::int64_t step, std::int64_t total);

}  // namespace compaudit::engine
