// host/engine/batched/batched_train.h — training and evaluating a population of models as one stack.
//
// train_population mirrors train_model (training/trainer.h) model by model: model k draws its batch order from a
// generator seeded with plans[k].seed (the same permutations as one-at-a-time training), uses the same optimizer,
// learning-rate schedule and loss (mean cross entropy of its own batch; the stack minimises the sum over models,
// whose gradient in slice k is exactly model k's), and has its masks re-applied after every step. Plans that need
// more than that — an augmentation policy, a compressor's TrainRequest (loss override, step or epoch callbacks) —
// are not batchable (batchable_plan) and go through train_model one model at a time.
#pragma once

#include "data/dataset.h"
#include "training/trainer.h"

#include <compaudit/models/models.h>

#include <string>
#include <vector>

namespace compaudit::engine::batched {

/// "" when a plan can be trained as part of a stack, else why not: an augmentation policy, a compressor's training
/// request, or training settings the stacked path does not implement (every TrainingSpec field is accounted for in
/// batched_train.cpp; the optimizer's by the table in training/optimizers.h).
std::string batchable_plan(const TrainPlan& plan);

/// Throws Error(runtime), naming `who`, unless every plan is batchable and they share settings, epochs and
/// max_steps (only their seeds differ) — what one stack of models can follow.
void check_population_plans(const std::vector<TrainPlan>& plans, const char* who);

/// "" when the model has no projections (Model::set_projection), else why it must train one at a time: a stack
/// does not apply them (truncation's rank, a quantizer's grid), and they are plugin code, run under the host lock.
std::string projection_problem(const models::TrainableModel& model);

/// "" when the models can be trained and evaluated as one stack (population batching), else why not: see
/// can_stack (stacked_architecture.h). `probe`: a few inputs on which their forward() is compared with the stack's.
std::string batchable_models(const std::vector<models::TrainableModel*>& models, const at::Tensor& probe);

/// Trains models[k] with plans[k] as one stack and writes the parameters back. Every plan must be batchable and
/// share settings, epochs and max_steps; only their seeds differ. Throws Error(runtime) for a model with
/// projections (projection_problem) rather than train it without them.
void train_population(const std::vector<models::TrainableModel*>& models, const Dataset& data,
                      const std::vector<TrainPlan>& plans);

/// Softmax probabilities [N, C] float32 of every model on `inputs` (as predict_probabilities, batches of 1024).
std::vector<at::Tensor> predict_population(const std::vector<models::TrainableModel*>& models,
                                           const at::Tensor& inputs);

}  // namespace compaudit::engine::batched
