// The memorization estimate's models trained as stacks (batched/subset_train.h): each model on its own subset of
// the data, of its own size, so within an epoch models have different numbers of batches and last batches of
// different sizes. Against train_model on each subset alone, with the tolerance of the other population tests
// (test_batched.cpp explains it: float32 summation order, grown by momentum).
#include "population_helpers.h"
#include "test_helpers.h"
#include "toy_data.h"

#include "batched/batched_train.h"
#include "batched/subset_train.h"
#include "training/trainer.h"

#include <compaudit/models/models.h>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <catch2/catch.hpp>

using namespace compaudit;
using namespace compaudit::engine;

namespace {

TrainPlan subset_plan(std::int64_t seed, const std::string& optimizer, const std::string& schedule) {
  TrainPlan plan;
  plan.settings.optimizer = optimizer;
  plan.settings.lr = optimizer == "adam" ? 0.01 : 0.05;
  plan.settings.momentum = 0.9;
  plan.settings.weight_decay = 1e-4;
  plan.settings.schedule = schedule;
  plan.settings.batch_size = 32;
  plan.epochs = 3;
  plan.seed = derive_seed(seed, "memorization");
  plan.num_classes = 4;
  return plan;
}

}  // namespace

TEST_CASE("Models trained as one stack on subsets of different sizes match train_model on each subset",
          "[engine][batched][memorization]") {
  at::set_num_threads(1);
  // MLPs step as one padded stack, CNNs model by model: both must follow train_model exactly.
  const std::string arch = GENERATE(std::string("mlp"), std::string("cnn"));
  const Dataset data = arch == "mlp" ? engine_test::toy_data() : engine_test::toy_images();
  const auto make = [&](std::int64_t seed) {
    return arch == "mlp" ? models::make_builtin_model("mlp", {32, 16}, {16}, 4, seed)
                         : models::make_builtin_model("cnn", {4, 6}, {2, 6, 6}, 4, seed);
  };
  // With batches of 32: 7, 6, 4 and 5 batches per epoch, last batches of 8, 11, 1 and 2 rows — so steps where
  // models are padded, and steps where some models have no batch left and must not move at all.
  const std::vector<std::int64_t> sizes{200, 171, 97, 130};
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(7);
  std::vector<at::Tensor> subsets;
  for (auto n : sizes)
    subsets.push_back(std::get<0>(at::randperm(data.size(), gen, at::kLong).slice(0, 0, n).sort()));

  const auto [optimizer, schedule] = GENERATE(std::make_pair(std::string("sgd"), std::string("constant")),
                                              std::make_pair(std::string("adam"), std::string("cosine")));
  INFO(arch << ", " << optimizer << " with a " << schedule << " schedule");
  std::vector<std::unique_ptr<models::TrainableModel>> alone, stacked;
  std::vector<models::TrainableModel*> stack;
  std::vector<TrainPlan> plans;
  for (std::size_t k = 0; k < sizes.size(); ++k) {
    const auto seed = static_cast<std::int64_t>(k);
    alone.push_back(make(seed));
    stacked.push_back(make(seed));
    stack.push_back(stacked.back().get());
    plans.push_back(subset_plan(seed, optimizer, schedule));
  }
  // A cosine schedule runs over each model's own step count, so the models step at different learning rates.
  for (std::size_t k = 0; k < sizes.size(); ++k) {
    const Dataset subset{data.inputs.index_select(0, subsets[k]), data.targets.index_select(0, subsets[k]), {}, {}};
    train_model(*alone[k], subset, plans[k]);
  }
  REQUIRE(batched::batchable_models(stack, data.inputs.slice(0, 0, 8)).empty());
  batched::train_on_subsets(stack, data, subsets, plans);

  const auto probabilities = batched::predict_population(stack, data.inputs);
  for (std::size_t k = 0; k < sizes.size(); ++k) {
    INFO("model " << k << " on " << sizes[k] << " examples");
    const at::Tensor p = predict_probabilities(*alone[k], data.inputs);
    CHECK((p - probabilities[k]).abs().max().item<double>() <= engine_test::kProbabilityTolerance);
    // Trained at all: far from the untrained model's probabilities.
    const auto fresh = make(static_cast<std::int64_t>(k));
    CHECK((predict_probabilities(*fresh, data.inputs) - p).abs().max().item<double>() > 0.05);  // 500x the tolerance
  }
}

TEST_CASE("train_on_subsets refuses what it cannot train as one stack", "[engine][batched][memorization]") {
  const Dataset data = engine_test::toy_data();
  auto a = models::make_builtin_model("mlp", {8}, {16}, 4, 0);
  TrainPlan plan = subset_plan(0, "sgd", "constant");
  const std::vector<at::Tensor> one{at::arange(10, at::kLong)};
  SECTION("a plan per model and a subset per model") {
    CHECK_THROWS_WITH(batched::train_on_subsets({a.get()}, data, {}, {plan}),
                      Catch::Contains("one plan and one subset"));
  }
  SECTION("a compressor's training request") {
    plan.request.on_step = [](const TrainingProgress&) {};
    CHECK_THROWS_WITH(batched::train_on_subsets({a.get()}, data, one, {plan}), Catch::Contains("not batchable"));
  }
}
