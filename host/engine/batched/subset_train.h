// host/engine/batched/subset_train.h — a population whose models each train on their own subset of the data.
//
// The memorization estimate (run/memorization_phase.cpp) trains T models, model t on its own random subset of the training set.
// The subsets differ in size, so within an epoch the models have different numbers of batches and last batches of
// different sizes, and train_population (one data set for all) cannot step them together. train_on_subsets can:
// at step b of an epoch every model that still has a batch takes a step on it, and a model whose epoch has no batch
// b takes no step at all. MLPs step as one stack, each batch padded to the largest of that step (padding rows get
// no gradient); CNNs step model by model anyway, each on its own batch (StackedTrainer::step_models). Each model still sees exactly the batches, in the order, with the learning rates
// that train_model would give it alone: its own generator (plans[k].seed) draws its permutation of its own subset,
// its step count drives its schedule.
//
// Bits: the padding of a step depends on the other models' subset sizes, so unlike train_population a model's
// bits may depend on which models share its stack; callers keep the grouping fixed (memorization_phase.cpp: two fixed halves of
// the T models, whatever the thread count), so a run computes the same estimate at any --threads.
#pragma once

#include "data/dataset.h"
#include "training/trainer.h"

#include <compaudit/models/models.h>

#include <ATen/core/Tensor.h>

#include <vector>

namespace compaudit::engine::batched {

/// Trains models[k] with plans[k] on the rows subsets[k] (int64 indices into `data`) as one stack, and writes the
/// parameters back. The models must stack (batchable_models: built-in MLPs or CNNs); the plans must be
/// batchable (batchable_plan) and share settings and epochs; only their seeds differ. Throws Error(runtime)
/// otherwise.
void train_on_subsets(const std::vector<models::TrainableModel*>& models, const Dataset& data,
                      const std::vector<at::Tensor>& subsets, const std::vector<TrainPlan>& plans);

}  // namespace compaudit::engine::batched
