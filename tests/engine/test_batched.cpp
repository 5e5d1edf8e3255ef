// Population batching: K models trained as one stack against the same K trained one at a time.
//
// Tolerance: population_helpers.h.
#include "population_helpers.h"
#include "toy_data.h"

#include "batched/batched_train.h"
#include "batched/stacked_mlp.h"
#include "batched/slice_gemm.h"
#include "batched/stacked_trainer.h"
#include "training/trainer.h"

#include <compaudit/models/models.h>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <catch2/catch.hpp>
#include <torch/optim/optimizer.h>

using namespace compaudit;
using namespace compaudit::engine;

namespace {

using engine_test::toy_data;
using namespace engine_test;  // population_helpers.h

std::vector<std::unique_ptr<models::TrainableModel>> population(const std::vector<std::int64_t>& seeds) {
  std::vector<std::unique_ptr<models::TrainableModel>> out;
  for (auto s : seeds) out.push_back(models::make_builtin_model("mlp", {32, 16}, {16}, 4, s));
  return out;
}

}  // namespace

TEST_CASE("Batched and one-at-a-time training of the same seeds give the same predictions", "[engine][batched]") {
  at::set_num_threads(1);
  const Dataset data = toy_data();
  const std::vector<std::int64_t> seeds{0, 1, 2, 3};
  auto alone = population(seeds), stacked = population(seeds);
  std::vector<TrainPlan> plans;
  for (auto s : seeds) plans.push_back(plan_for(s, "dense"));

  const auto probabilities = train_and_compare(alone, stacked, data, plans, 1e-6);
  // Different seeds learned different models (the stack did not mix them up).
  CHECK_FALSE(probabilities[0].equal(probabilities[1]));
}

TEST_CASE("A pruned population fine-tuned as one stack keeps every model's own masks", "[engine][batched]") {
  at::set_num_threads(1);
  const Dataset data = toy_data();
  const std::vector<std::int64_t> seeds{0, 1, 2};
  auto dense = population(seeds);
  for (std::size_t k = 0; k < seeds.size(); ++k) train_model(*dense[k], data, plan_for(seeds[k], "dense"));
  const auto [alone, stacked, plans] = pruned_twins(dense, seeds, 0.7);
  train_and_compare(alone, stacked, data, plans, 1e-6);
  check_masks_held(stacked);
  CHECK_FALSE(stacked[0]->mask("fc1.weight").equal(stacked[1]->mask("fc1.weight")));  // per-model masks
}

TEST_CASE("A model's batched result does not depend on the other models in its stack", "[engine][batched]") {
  // What makes resume, shards and worker processes give the same bits: a cell computed alone (a group of one) or
  // with any other cells is the same model.
  at::set_num_threads(1);
  const Dataset data = toy_data();
  auto train = [&](const std::vector<std::int64_t>& seeds) {
    auto models = population(seeds);
    for (auto& m : models) prune(*m, 0.7);
    std::vector<TrainPlan> plans;
    for (auto s : seeds) plans.push_back(plan_for(s, "finetune", 2));
    batched::train_population(raw(models), data, plans);
    return models;
  };
  auto all = train({0, 1, 2, 3, 4});
  auto one = train({3});
  auto two = train({1, 3});
  for (auto* other : {one[0].get(), two[1].get()}) {
    auto a = all[3]->named_parameters(), b = other->named_parameters();
    for (std::size_t i = 0; i < a.size(); ++i) {
      INFO(a[i].first);
      CHECK(at::equal(a[i].second, b[i].second));
    }
  }
  const auto p_all = batched::predict_population(raw(all), data.inputs);
  const auto p_one = batched::predict_population(raw(one), data.inputs);
  CHECK(at::equal(p_all[3], p_one[0]));
}

TEST_CASE("The stacked trainer steps as autograd with torch::optim and apply_masks do", "[engine][batched]") {
  // The oracle is the autograd path: the stack's forward, log_softmax cross entropy, loss.backward(), the
  // pipeline's torch::optim optimizer, then the masks. Same data, same learning rates, step by step.
  at::set_num_threads(1);
  const Dataset data = toy_data();
  const std::vector<std::int64_t> seeds{0, 1, 2};
  auto check = [&](const std::string& optimizer, bool float_mask) {
    INFO(optimizer << (float_mask ? ", float masks" : ", bool masks"));
    auto models = population(seeds);
    for (auto& m : models) prune(*m, 0.7);
    if (float_mask)  // a multiplier mask on the first layer's bias of model 1 (others: none)
      models[1]->set_mask("fc1.bias", at::full({32}, 0.5));
    batched::StackedMlp fused(raw(models)), oracle(raw(models));
    TrainPlan plan = plan_for(0, "x");
    plan.settings.optimizer = optimizer;
    batched::StackedTrainer trainer(fused, plan.settings);
    auto opt = make_optimizer(plan.settings, oracle.parameters());
    const auto k = static_cast<std::int64_t>(seeds.size());
    for (int step = 0; step < 6; ++step) {
      const at::Tensor rows = at::arange(step * 3 * 20, (step + 1) * 3 * 20, at::kLong) % data.size();
      const at::Tensor x = data.inputs.index_select(0, rows).reshape({k, 20, -1});
      const at::Tensor y = data.targets.index_select(0, rows).reshape({k, 20});
      const double lr = 0.05 / (1 + step);
      trainer.step(x, y, lr);
      set_lr(*opt, lr);
      opt->zero_grad();
      const at::Tensor logp = at::log_softmax(oracle.forward_autograd(x), 2);
      (-logp.gather(2, y.unsqueeze(2))).squeeze(2).mean(1).sum().backward();
      opt->step();
      oracle.apply_masks();
    }
    const auto a = fused.parameters(), b = oracle.parameters();
    for (std::size_t i = 0; i < a.size(); ++i) {
      INFO("parameter " << i);
      CHECK((a[i] - b[i]).abs().max().item<double>() < 1e-5);
      // Masked weights are +0 in both (a bool mask writes +0; the test's pruned weights are bool-masked).
      CHECK(at::equal(a[i].eq(0), b[i].eq(0)));
    }
    // The fused step moved the parameters (not a no-op that trivially matches a tiny oracle change).
    auto fresh = population(seeds);
    CHECK((a[0][0] - fresh[0]->layers()[0].weight.detach() * models[0]->mask("fc1.weight")).abs().max().item<double>() > 1e-3);
  };
  check("sgd", false);
  check("sgd", true);
  check("adam", false);
}

TEST_CASE("slice_gemm multiplies slice by slice as at::matmul does", "[engine][batched]") {
  at::set_num_threads(1);
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(7);
  const at::Tensor a = at::randn({3, 5, 4}, gen), b = at::randn({3, 4, 6}, gen), c = at::randn({3, 5, 6}, gen);
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      INFO("trans_a " << ta << ", trans_b " << tb);
      // Store each operand so that op(stored) is a or b.
      const at::Tensor sa = ta ? a.transpose(1, 2).contiguous() : a, sb = tb ? b.transpose(1, 2).contiguous() : b;
      at::Tensor out = c.clone();
      batched::slice_gemm(out, sa, ta, sb, tb, /*accumulate=*/true);
      CHECK((out - (c + at::matmul(a, b))).abs().max().item<double>() < 1e-5);
      batched::slice_gemm(out, sa, ta, sb, tb, /*accumulate=*/false);
      CHECK((out - at::matmul(a, b)).abs().max().item<double>() < 1e-5);
    }
  // One matrix shared by every slice (a stride-0 view, as evaluation reads its inputs).
  const at::Tensor shared = at::randn({5, 4}, gen);
  at::Tensor out = at::empty({3, 5, 6});
  batched::slice_gemm(out, shared.unsqueeze(0).expand({3, 5, 4}), false, b, false, false);
  CHECK((out - at::matmul(shared, b)).abs().max().item<double>() < 1e-5);
  // Shapes that do not multiply are an error, not a wrong answer.
  at::Tensor wrong = at::empty({3, 5, 7});
  CHECK_THROWS_WITH(batched::slice_gemm(wrong, a, false, b, false, false), Catch::Contains("do not give"));
  CHECK_THAT(batched::gemm_description(), Catch::StartsWith("oneDNN "));
}

TEST_CASE("What cannot be stacked is refused with a reason", "[engine][batched]") {
  at::set_num_threads(1);
  const Dataset data = toy_data();
  const at::Tensor probe = data.inputs.slice(0, 0, 8);
  SECTION("a model with an activation hook (full-int8 quantization)") {
    auto m = models::make_builtin_model("mlp", {8}, {16}, 4, 0);
    m->set_activation_hook([](int, const at::Tensor& x) { return x.round(); });
    CHECK_THAT(batched::batchable_models({m.get()}, probe), Catch::Contains("activation hook"));
  }
  SECTION("a ResNet (built-in CNNs stack: test_batched_cnn.cpp)") {
    auto m = models::make_builtin_model("resnet", {4}, {1, 4, 4}, 4, 0);
    CHECK_THAT(batched::batchable_models({m.get()}, at::zeros({2, 1, 4, 4})), Catch::Contains("not a built-in MLP or CNN"));
  }
  SECTION("models of different shapes") {
    auto a = models::make_builtin_model("mlp", {8}, {16}, 4, 0), b = models::make_builtin_model("mlp", {9}, {16}, 4, 0);
    CHECK_THAT(batched::batchable_models({a.get(), b.get()}, probe), Catch::Contains("differ in shape"));
    CHECK(batched::shape_signature(*a) != batched::shape_signature(*b));
  }
  SECTION("a compressor's training request with a step callback") {
    TrainPlan plan = plan_for(0, "x");
    CHECK(batched::batchable_plan(plan).empty());
    plan.request.on_step = [](const TrainingProgress&) {};
    CHECK_THAT(batched::batchable_plan(plan), Catch::Contains("training request"));
  }
}
