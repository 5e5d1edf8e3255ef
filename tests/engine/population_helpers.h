// Helpers of the population-batching tests (test_batched.cpp, test_batched_cnn.cpp, test_subset_train.cpp): the
// training plan they share, masks, and the comparison of a stacked model with the same model trained alone.
//
// Tolerance. Batched training does a model's arithmetic in another order than train_model (other product kernels,
// the bias gradient summed in another order, no FMA in the optimizer step), so each sum differs by float32 rounding
// (~1e-7 relative), and momentum carries that from step to step, growing it by a factor of order ten to a hundred
// over these tests' steps. We allow 1e-4 on probabilities — far below what a real bug does (a wrong batch order,
// mask, permutation or learning rate moves probabilities by 1e-2 or more) — and require the same top-1 label
// wherever the one-at-a-time model is not near a tie.
#pragma once

#include "batched/batched_train.h"
#include "training/trainer.h"

#include <compaudit/models/models.h>

#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

namespace engine_test {

constexpr double kProbabilityTolerance = 1e-4;

/// SGD with momentum and weight decay, batches of 32, 4 classes; the seed as the engine derives it for `purpose`.
inline compaudit::engine::TrainPlan plan_for(std::int64_t seed, const std::string& purpose, int epochs = 3) {
  compaudit::engine::TrainPlan plan;
  plan.settings.optimizer = "sgd";
  plan.settings.lr = 0.05;
  plan.settings.momentum = 0.9;
  plan.settings.weight_decay = 1e-4;
  plan.settings.batch_size = 32;
  plan.epochs = epochs;
  plan.seed = compaudit::engine::derive_seed(seed, purpose);
  plan.num_classes = 4;
  return plan;
}

using Models = std::vector<std::unique_ptr<compaudit::models::TrainableModel>>;

inline std::vector<compaudit::models::TrainableModel*> raw(const Models& models) {
  std::vector<compaudit::models::TrainableModel*> out;
  for (const auto& m : models) out.push_back(m.get());
  return out;
}

inline Models clones(const Models& models) {
  Models out;
  for (const auto& m : models) out.push_back(m->clone());
  return out;
}

/// Masks the `fraction` of smallest-magnitude weights of every layer (bool masks, so different per model).
inline void prune(compaudit::models::TrainableModel& model, double fraction) {
  for (const compaudit::Layer& l : model.layers()) {
    const at::Tensor a = l.weight.detach().abs().flatten();
    const auto k = static_cast<std::int64_t>(fraction * static_cast<double>(a.numel()));
    const double threshold = std::get<0>(a.kthvalue(k)).item<double>();
    model.set_mask(l.name + ".weight", l.weight.detach().abs().gt(threshold));
  }
}

/// The model trained alone and the stack's probabilities for it agree within kProbabilityTolerance, with the same
/// top-1 label away from ties.
inline void check_close(compaudit::models::TrainableModel& alone, const at::Tensor& batched, const at::Tensor& inputs) {
  const at::Tensor p = compaudit::engine::predict_probabilities(alone, inputs);
  REQUIRE(p.sizes() == batched.sizes());
  CHECK((p - batched).abs().max().item<double>() <= kProbabilityTolerance);
  const auto top2 = p.topk(2, 1);
  const at::Tensor clear = (std::get<0>(top2).select(1, 0) - std::get<0>(top2).select(1, 1)).gt(1e-3);
  CHECK(p.argmax(1).masked_select(clear).equal(batched.argmax(1).masked_select(clear)));
}

/// Two copies of each trained dense model with the same `fraction` of its weights masked (prune), and their
/// fine-tuning plans: the one-at-a-time and the stacked side of a pruned, fine-tuned arm.
struct PrunedTwins {
  Models alone, stacked;
  std::vector<compaudit::engine::TrainPlan> plans;
};
inline PrunedTwins pruned_twins(const Models& dense, const std::vector<std::int64_t>& seeds, double fraction) {
  PrunedTwins t;
  for (std::size_t k = 0; k < dense.size(); ++k) {
    t.alone.push_back(dense[k]->clone());
    t.stacked.push_back(dense[k]->clone());
    prune(*t.alone[k], fraction);
    prune(*t.stacked[k], fraction);
    t.plans.push_back(plan_for(seeds[k], "finetune"));
  }
  return t;
}

/// Trains `alone[k]` one at a time and `stacked` as one stack with the same plans, then checks every stacked model
/// against its one-at-a-time twin (check_close) and against its own forward after unpacking (within
/// `unpack_tolerance`: the stack's kernels against the model's). Returns the stack's probabilities on the data.
inline std::vector<at::Tensor> train_and_compare(const Models& alone, const Models& stacked,
                                                 const compaudit::engine::Dataset& data,
                                                 const std::vector<compaudit::engine::TrainPlan>& plans,
                                                 double unpack_tolerance) {
  for (std::size_t k = 0; k < alone.size(); ++k) compaudit::engine::train_model(*alone[k], data, plans[k]);
  REQUIRE(compaudit::engine::batched::batchable_models(raw(stacked), data.inputs.slice(0, 0, 8)).empty());
  compaudit::engine::batched::train_population(raw(stacked), data, plans);
  const auto probabilities = compaudit::engine::batched::predict_population(raw(stacked), data.inputs);
  REQUIRE(probabilities.size() == stacked.size());
  for (std::size_t k = 0; k < stacked.size(); ++k) {
    INFO("model " << k);
    check_close(*alone[k], probabilities[k], data.inputs);
    const at::Tensor own = compaudit::engine::predict_probabilities(*stacked[k], data.inputs);
    CHECK((own - probabilities[k]).abs().max().item<double>() < unpack_tolerance);
  }
  return probabilities;
}

/// Every model's masked weights are exactly 0 and its kept ones are not (they were trained, not frozen at 0).
inline void check_masks_held(const Models& models) {
  for (std::size_t k = 0; k < models.size(); ++k)
    for (const compaudit::Layer& l : models[k]->layers()) {
      INFO("model " << k << ", " << l.name);
      const at::Tensor mask = models[k]->mask(l.name + ".weight");
      REQUIRE(mask.defined());
      CHECK(l.weight.detach().masked_select(mask.logical_not()).eq(0).all().item<bool>());
      CHECK(l.weight.detach().masked_select(mask).ne(0).all().item<bool>());
    }
}

}  // namespace engine_test
