// Population batching of built-in CNNs: K CNNs trained as one StackedCnn (batched/stacked_cnn.h, no
// autograd, im2col + oneDNN products, fused bias/ReLU/pool loops) against autograd, against one-at-a-time
// training, against other stack companions, and a whole audit at 2 chains against a 1-thread run.
//
// Tolerances. The stack does a CNN's arithmetic in another order than LibTorch's (im2col products instead of
// mkldnn's convolution, bias added after the product, the bias gradient summed over pooled windows, no FMA in the
// optimizer step), so each sum differs by float32 rounding (~1e-7 relative); momentum carries that from step to
// step. Step by step against autograd we allow 1e-5 on parameters after 6 steps; after ~24 training steps 1e-4 on
// probabilities, with the same top-1 label away from ties — a real bug (a wrong batch order, a mis-permuted
// kernel, a mask or a learning rate) moves probabilities by 1e-2 or more.
#include "engine_lib.h"
#include "population_helpers.h"
#include "run_fingerprint.h"
#include "test_helpers.h"
#include "toy_data.h"

#include "support/digits_audit.h"

#include "batched/batched_train.h"
#include "batched/stacked_cnn.h"
#include "batched/stacked_mlp.h"  // can_stack, shape_signature
#include "batched/stacked_trainer.h"
#include "training/trainer.h"

#include <compaudit/host/exit_codes.h>
#include <compaudit/models/models.h>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <catch2/catch.hpp>
#include <torch/optim/optimizer.h>

#include <filesystem>

using namespace compaudit;
using namespace compaudit::engine;
using namespace engine_test;  // population_helpers.h

namespace {

std::vector<std::unique_ptr<models::TrainableModel>> population(const std::vector<std::int64_t>& seeds) {
  std::vector<std::unique_ptr<models::TrainableModel>> out;
  for (auto s : seeds) out.push_back(models::make_builtin_model("cnn", {4, 6}, {2, 6, 6}, 4, s));
  return out;
}

}  // namespace

TEST_CASE("The CNN stack trainer steps as the models' own forward with autograd, torch::optim and masks do",
          "[engine][batched][cnn]") {
  // The oracle: copies of the models, each through its own forward() (at::conv2d, relu, max_pool2d, flatten,
  // linear), the mean cross entropy of its batch summed over models, backward(), the pipeline's torch::optim
  // optimizer over every model's parameters, then each model's apply_masks(). Same batches, same learning rates.
  at::set_num_threads(1);
  const Dataset data = toy_images();
  const std::vector<std::int64_t> seeds{0, 1, 2};
  auto check = [&](const std::string& optimizer, bool float_mask) {
    INFO(optimizer << (float_mask ? ", float masks" : ", bool masks"));
    auto start = population(seeds);
    for (auto& m : start) prune(*m, 0.6);
    if (float_mask) {  // multiplier masks on model 1 (the others keep bool masks or none there)
      start[1]->set_mask("conv2.weight", at::rand({6, 4, 3, 3}, at::make_generator<at::CPUGeneratorImpl>(3)));
      start[1]->set_mask("conv1.bias", at::full({4}, 0.5));
    }
    auto fused_models = clones(start), oracle = clones(start);
    batched::StackedCnn stack(raw(fused_models));
    TrainPlan plan = plan_for(0, "x");
    plan.settings.optimizer = optimizer;
    batched::StackedTrainer trainer(stack, plan.settings);
    std::vector<at::Tensor> params;
    for (auto& m : oracle) {
      m->train(true);
      for (auto& p : m->parameters_for_optimizer()) params.push_back(p);
    }
    auto opt = make_optimizer(plan.settings, params);
    const auto k = static_cast<std::int64_t>(seeds.size());
    for (int step = 0; step < 6; ++step) {
      const at::Tensor rows = at::arange(step * 3 * 20, (step + 1) * 3 * 20, at::kLong) % data.size();
      const at::Tensor x = data.inputs.index_select(0, rows).reshape({k, 20, 2, 6, 6});
      const at::Tensor y = data.targets.index_select(0, rows).reshape({k, 20});
      const double lr = 0.05 / (1 + step);
      trainer.step(x, y, lr);
      set_lr(*opt, lr);
      opt->zero_grad();
      at::Tensor loss = at::zeros({}, at::kFloat);
      for (std::int64_t i = 0; i < k; ++i) {
        const at::Tensor logp = at::log_softmax(oracle[static_cast<std::size_t>(i)]->forward(x[i]), 1);
        loss = loss + (-logp.gather(1, y[i].unsqueeze(1))).mean();
      }
      loss.backward();
      opt->step();
      for (auto& m : oracle) m->apply_masks();
    }
    stack.unpack(raw(fused_models));
    for (std::size_t i = 0; i < seeds.size(); ++i) {
      const auto a = fused_models[i]->named_parameters(), b = oracle[i]->named_parameters();
      const auto s = start[i]->named_parameters();
      REQUIRE(a.size() == b.size());
      for (std::size_t j = 0; j < a.size(); ++j) {
        INFO("model " << i << ", " << a[j].first);
        CHECK((a[j].second - b[j].second).abs().max().item<double>() < 1e-5);
        CHECK(at::equal(a[j].second.eq(0), b[j].second.eq(0)));  // the same masked (zero) weights
        // Training moved the parameter (not a no-op that trivially matches a tiny oracle change).
        CHECK((a[j].second - s[j].second).abs().max().item<double>() > 1e-3);
      }
    }
  };
  check("sgd", false);
  check("sgd", true);
  check("adam", false);
}

TEST_CASE("The CNN stack computes what the models' own forward computes, and unpacks into them exactly",
          "[engine][batched][cnn]") {
  at::set_num_threads(1);
  const Dataset data = toy_images();
  auto models = population({0, 1});
  prune(*models[1], 0.6);
  const batched::StackedCnn stack(raw(models));
  const at::Tensor logits = stack.forward_shared(data.inputs);
  at::NoGradGuard no_grad;
  for (std::int64_t k = 0; k < 2; ++k) {
    const at::Tensor own = models[static_cast<std::size_t>(k)]->forward(data.inputs);
    CHECK((own - logits[k]).abs().max().item<double>() < 1e-5);
  }
  // unpack permutes the stack's layouts back: the models' parameters come back bit for bit.
  auto copies = clones(models);
  for (auto& m : copies)
    for (auto& [name, p] : m->named_parameters()) p.detach().zero_();
  stack.unpack(raw(copies));
  for (std::size_t k = 0; k < 2; ++k) {
    const auto a = models[k]->named_parameters(), b = copies[k]->named_parameters();
    for (std::size_t j = 0; j < a.size(); ++j) {
      INFO(a[j].first);
      CHECK(at::equal(a[j].second, b[j].second));
    }
  }
  // A flat input whose size is a square is read as a one-channel image, as the recipe does.
  auto digits_like = models::make_builtin_model("cnn", {3}, {64}, 10, 5);
  const at::Tensor flat = at::randn({5, 64}, at::make_generator<at::CPUGeneratorImpl>(2));
  const at::Tensor own = digits_like->forward(flat);
  const at::Tensor stacked = batched::StackedCnn({digits_like.get()}).forward_shared(flat);
  CHECK((own - stacked[0]).abs().max().item<double>() < 1e-5);
}

TEST_CASE("Batched and one-at-a-time CNN training of the same seeds give the same predictions",
          "[engine][batched][cnn]") {
  at::set_num_threads(1);
  const Dataset data = toy_images();
  const std::vector<std::int64_t> seeds{0, 1, 2, 3};
  auto alone = population(seeds), stacked = population(seeds);
  std::vector<TrainPlan> plans;
  for (auto s : seeds) plans.push_back(plan_for(s, "dense", 8));  // 64 steps
  const auto probabilities = train_and_compare(alone, stacked, data, plans, 1e-5);
  CHECK_FALSE(probabilities[0].equal(probabilities[1]));  // different seeds, different models
  // Training did something: the trained models beat chance (25 %) clearly on these learnable labels (measured:
  // 48-71 % after 64 steps; the batched-alone differences were below 1e-6).
  CHECK(probabilities[0].argmax(1).eq(data.targets).to(at::kFloat).mean().item<double>() > 0.5);
}

TEST_CASE("A pruned CNN population fine-tuned as one stack keeps every model's own masks",
          "[engine][batched][cnn]") {
  at::set_num_threads(1);
  const Dataset data = toy_images();
  const std::vector<std::int64_t> seeds{0, 1, 2};
  auto dense = population(seeds);
  for (std::size_t k = 0; k < seeds.size(); ++k) train_model(*dense[k], data, plan_for(seeds[k], "dense"));
  const auto [alone, stacked, plans] = pruned_twins(dense, seeds, 0.6);
  train_and_compare(alone, stacked, data, plans, 1e-5);
  check_masks_held(stacked);
  for (std::size_t k = 0; k < seeds.size(); ++k) {
    INFO("seed " << seeds[k]);
    // Fine-tuning moved the kept weights away from the dense ones.
    const at::Tensor w0 = dense[k]->layers()[0].weight.detach(), w1 = stacked[k]->layers()[0].weight.detach();
    const at::Tensor keep = stacked[k]->mask("conv1.weight");
    CHECK((w1 - w0).masked_select(keep).abs().max().item<double>() > 1e-3);
  }
  CHECK_FALSE(stacked[0]->mask("conv1.weight").equal(stacked[1]->mask("conv1.weight")));  // per-model masks
}

TEST_CASE("A CNN's batched result does not depend on the other models in its stack", "[engine][batched][cnn]") {
  // What keeps resume, shards and worker processes (a group of one) bit-identical to an uninterrupted run.
  at::set_num_threads(1);
  const Dataset data = toy_images();
  auto train = [&](const std::vector<std::int64_t>& seeds) {
    auto models = population(seeds);
    for (auto& m : models) prune(*m, 0.6);
    std::vector<TrainPlan> plans;
    for (auto s : seeds) plans.push_back(plan_for(s, "finetune", 2));
    batched::train_population(raw(models), data, plans);
    return models;
  };
  auto three = train({0, 3, 4});
  auto one = train({3});
  auto other = train({3, 1, 2});
  for (auto* m : {one[0].get(), other[0].get()}) {
    const auto a = three[1]->named_parameters(), b = m->named_parameters();
    for (std::size_t i = 0; i < a.size(); ++i) {
      INFO(a[i].first);
      CHECK(at::equal(a[i].second, b[i].second));
    }
  }
  const auto p_three = batched::predict_population(raw(three), data.inputs);
  const auto p_one = batched::predict_population(raw(one), data.inputs);
  CHECK(at::equal(p_three[1], p_one[0]));
  CHECK_FALSE(at::equal(p_three[0], p_three[1]));
}

TEST_CASE("A ResNet and a CNN with an activation hook are not stacked", "[engine][batched][cnn]") {
  at::set_num_threads(1);
  const at::Tensor probe = at::randn({4, 2, 6, 6}, at::make_generator<at::CPUGeneratorImpl>(1));
  auto cnn = models::make_builtin_model("cnn", {4, 6}, {2, 6, 6}, 4, 0);
  CHECK(batched::batchable_models({cnn.get()}, probe).empty());
  SECTION("a ResNet") {
    auto resnet = models::make_builtin_model("resnet", {4}, {2, 6, 6}, 4, 0);
    CHECK_THAT(batched::batchable_models({resnet.get()}, probe), Catch::Contains("not a built-in MLP or CNN (resnet)"));
  }
  SECTION("an activation hook (full-int8 quantization)") {
    cnn->set_activation_hook([](int, const at::Tensor& x) { return x.round(); });
    CHECK_THAT(batched::batchable_models({cnn.get()}, probe), Catch::Contains("activation hook"));
  }
  SECTION("a CNN and an MLP, or CNNs of different widths") {
    auto mlp = models::make_builtin_model("mlp", {4}, {72}, 4, 0);
    auto wider = models::make_builtin_model("cnn", {5, 6}, {2, 6, 6}, 4, 0);
    CHECK_THAT(batched::batchable_models({cnn.get(), mlp.get()}, {}), Catch::Contains("architectures differ (cnn, mlp)"));
    CHECK_THAT(batched::batchable_models({cnn.get(), wider.get()}, {}), Catch::Contains("differ in shape"));
    CHECK(batched::shape_signature(*cnn) != batched::shape_signature(*wider));
  }
}

TEST_CASE("A CNN audit at two chains gives the bits of a one-thread run", "[engine][batched][cnn][audit]") {
  COMPAUDIT_SKIP_UNLESS_DIGITS();
  const auto dir = engine_test::scratch_dir("batched-cnn-chains");
  const auto pipeline = dir / "pipeline.toml";
  // Dense, magnitude pruning with fine-tuning (stacked), and full-int8 quantization with activation hooks and
  // fine-tuning: those models cannot stack and train alone, under the host lock, inside the chains.
  test_support::DigitsAudit audit;
  audit.name = "cnn-chains";
  audit.arch = "cnn";
  audit.hidden = "[8, 16]";
  audit.one_thread = false;  // the runs below choose their thread count
  audit.arms = R"(
[[arm]]
name = "prune"
finetune_epochs = 1
  [[arm.step]]
  plugin = "org.compaudit.prune.magnitude"
  sparsity = 0.7
[[arm]]
name = "int8act"
finetune_epochs = 1
  [[arm.step]]
  plugin = "org.compaudit.quantize.ptq"
  activations = true
)";
  engine_test::write_text(pipeline, audit.toml());
  REQUIRE(engine_test::run_pipeline(pipeline.string(), (dir / "one").string(), false, 1) == host::exit_ok);
  REQUIRE(engine_test::run_pipeline(pipeline.string(), (dir / "two").string(), false, 2) == host::exit_ok);
  const std::string one = engine_test::fingerprint((dir / "one").string());
  CHECK(one.find("prune/2 done") != std::string::npos);
  CHECK(one.find("int8act/2 done") != std::string::npos);
  CHECK(one == engine_test::fingerprint((dir / "two").string()));  // two chains, one thread each
  // The quantized models with activation hooks were trained alone; the pruned ones were stacked.
  const std::string log = engine_test::log_text((dir / "two").string());
  CHECK_THAT(log, Catch::Contains("int8act seed 0: trained alone: model 0 of the group computes more"));
  CHECK(log.find("prune seed") == std::string::npos);
  CHECK(log.find("dense seed") == std::string::npos);
}
