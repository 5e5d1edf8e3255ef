// Population batching (issue 5): K models trained as one stack against the same K trained one at a time.
//
// Tolerance. Batched training does the same arithmetic as train_model in a different order: at::linear's backward
// multiplies grad^T·x where the stacked baddbmm's backward multiplies x^T·grad per slice, and the bias gradient is a
// sum over [K, B, out] instead of [B, out]. Each such sum differs from the other by float32 rounding (relative
// 2^-24 per addition, ~1e-7); SGD with momentum carries these differences from step to step, growing them over the
// 30 steps of these tests by a factor of order ten to a hundred. We allow 1e-4 on probabilities — far below any
// difference a real bug makes (a wrong batch order, mask or learning rate moves probabilities by 1e-2 or more) —
// and require the same top-1 label wherever the one-at-a-time model is not near a tie.
#include "engine_lib.h"
#include "test_helpers.h"
#include "toy_data.h"

#include "batched/batched_train.h"
#include "batched/stacked_mlp.h"
#include "batched/slice_gemm.h"
#include "batched/stacked_trainer.h"
#include "training/trainer.h"

#include <compaudit/host/exit_codes.h>
#include <compaudit/models/models.h>
#include <compaudit/store/store.h>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <catch2/catch.hpp>
#include <torch/optim/optimizer.h>

#include <filesystem>
#include <sstream>

using namespace compaudit;
using namespace compaudit::engine;

namespace {

using engine_test::toy_data;

constexpr double kProbabilityTolerance = 1e-4;

TrainPlan plan_for(std::int64_t seed, const std::string& purpose, int epochs = 3) {
  TrainPlan plan;
  plan.settings.optimizer = "sgd";
  plan.settings.lr = 0.05;
  plan.settings.momentum = 0.9;
  plan.settings.weight_decay = 1e-4;
  plan.settings.batch_size = 32;
  plan.epochs = epochs;
  plan.seed = derive_seed(seed, purpose);
  plan.num_classes = 4;
  return plan;
}

std::vector<std::unique_ptr<models::TrainableModel>> population(const std::vector<std::int64_t>& seeds) {
  std::vector<std::unique_ptr<models::TrainableModel>> out;
  for (auto s : seeds) out.push_back(models::make_builtin_model("mlp", {32, 16}, {16}, 4, s));
  return out;
}

std::vector<models::TrainableModel*> raw(const std::vector<std::unique_ptr<models::TrainableModel>>& models) {
  std::vector<models::TrainableModel*> out;
  for (const auto& m : models) out.push_back(m.get());
  return out;
}

// Each model keeps its own 70% of smallest-magnitude weights masked (bool masks, different per model).
void prune(models::TrainableModel& model) {
  for (const Layer& l : model.layers()) {
    const at::Tensor a = l.weight.detach().abs().flatten();
    const auto k = static_cast<std::int64_t>(0.7 * static_cast<double>(a.numel()));
    const double threshold = std::get<0>(a.kthvalue(k)).item<double>();
    model.set_mask(l.name + ".weight", l.weight.detach().abs().gt(threshold));
  }
}

void check_close(models::TrainableModel& alone, const at::Tensor& batched, const at::Tensor& inputs) {
  const at::Tensor p = predict_probabilities(alone, inputs);
  REQUIRE(p.sizes() == batched.sizes());
  CHECK((p - batched).abs().max().item<double>() <= kProbabilityTolerance);
  const auto top2 = p.topk(2, 1);
  const at::Tensor clear = (std::get<0>(top2).select(1, 0) - std::get<0>(top2).select(1, 1)).gt(1e-3);
  CHECK(p.argmax(1).masked_select(clear).equal(batched.argmax(1).masked_select(clear)));
}

}  // namespace

TEST_CASE("Batched and one-at-a-time training of the same seeds give the same predictions", "[engine][batched]") {
  at::set_num_threads(1);
  const Dataset data = toy_data();
  const std::vector<std::int64_t> seeds{0, 1, 2, 3};
  auto alone = population(seeds), stacked = population(seeds);
  std::vector<TrainPlan> plans;
  for (auto s : seeds) plans.push_back(plan_for(s, "dense"));

  for (std::size_t k = 0; k < seeds.size(); ++k) train_model(*alone[k], data, plans[k]);
  REQUIRE(batched::batchable_models(raw(stacked), data.inputs.slice(0, 0, 8)).empty());
  batched::train_population(raw(stacked), data, plans);
  const auto probabilities = batched::predict_population(raw(stacked), data.inputs);

  REQUIRE(probabilities.size() == seeds.size());
  for (std::size_t k = 0; k < seeds.size(); ++k) {
    INFO("seed " << seeds[k]);
    check_close(*alone[k], probabilities[k], data.inputs);
    // The stacked model was unpacked into the model itself: its own forward gives the same probabilities.
    CHECK((predict_probabilities(*stacked[k], data.inputs) - probabilities[k]).abs().max().item<double>() < 1e-6);
  }
  // Different seeds learned different models (the stack did not mix them up).
  CHECK_FALSE(probabilities[0].equal(probabilities[1]));
}

TEST_CASE("A pruned population fine-tuned as one stack keeps every model's own masks", "[engine][batched]") {
  at::set_num_threads(1);
  const Dataset data = toy_data();
  const std::vector<std::int64_t> seeds{0, 1, 2};
  auto dense = population(seeds);
  for (std::size_t k = 0; k < seeds.size(); ++k) train_model(*dense[k], data, plan_for(seeds[k], "dense"));
  std::vector<std::unique_ptr<models::TrainableModel>> alone, stacked;
  std::vector<TrainPlan> plans;
  for (std::size_t k = 0; k < seeds.size(); ++k) {
    alone.push_back(dense[k]->clone());
    stacked.push_back(dense[k]->clone());
    prune(*alone[k]);
    prune(*stacked[k]);
    plans.push_back(plan_for(seeds[k], "finetune"));
  }
  for (std::size_t k = 0; k < seeds.size(); ++k) train_model(*alone[k], data, plans[k]);
  batched::train_population(raw(stacked), data, plans);
  const auto probabilities = batched::predict_population(raw(stacked), data.inputs);

  for (std::size_t k = 0; k < seeds.size(); ++k) {
    INFO("seed " << seeds[k]);
    for (const Layer& l : stacked[k]->layers()) {
      const at::Tensor mask = stacked[k]->mask(l.name + ".weight");
      REQUIRE(mask.defined());
      // Masked weights are exactly zero; the kept ones were trained (not all frozen at their dense values).
      CHECK(l.weight.detach().masked_select(mask.logical_not()).eq(0).all().item<bool>());
      CHECK(l.weight.detach().masked_select(mask).ne(0).all().item<bool>());
    }
    check_close(*alone[k], probabilities[k], data.inputs);
  }
  CHECK_FALSE(stacked[0]->mask("fc1.weight").equal(stacked[1]->mask("fc1.weight")));  // per-model masks
}

TEST_CASE("A model's batched result does not depend on the other models in its stack", "[engine][batched]") {
  // What makes resume, shards and worker processes give the same bits: a cell computed alone (a group of one) or
  // with any other cells is the same model.
  at::set_num_threads(1);
  const Dataset data = toy_data();
  auto train = [&](const std::vector<std::int64_t>& seeds) {
    auto models = population(seeds);
    for (auto& m : models) prune(*m);
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
    for (auto& m : models) prune(*m);
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
      const at::Tensor logp = at::log_softmax(oracle.forward(x), 2);
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

namespace {

// Every done cell's labels and fp16 probabilities, bit for bit, in store order.
std::string predictions_fingerprint(const std::string& run_dir) {
  const store::Store s = store::Store::open(run_dir, store::Store::Access::read_only);
  std::ostringstream out;
  for (const auto& c : s.cells()) {
    out << c.arm << '/' << c.seed << ' ' << store::to_string(c.status) << '\n';
    if (auto p = s.predictions(c.arm, c.seed, "test", true)) {
      for (auto v : p->labels) out << v << ',';
      for (auto v : p->probs) out << v << ',';
      out << '\n';
    }
  }
  return out.str();
}

}  // namespace

TEST_CASE("Two chains of cells in parallel give the bits of a one-thread run", "[engine][batched][audit]") {
  const std::string digits = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz";
  if (!std::filesystem::exists(digits)) return;
  const auto dir = engine_test::scratch_dir("batched-chains");
  const auto pipeline = dir / "pipeline.toml";
  engine_test::write_text(pipeline, R"([audit]
name = "chains"
seeds = 4
[data]
format = "csv"
train = ")" + digits + R"("
header = false
test_fraction = 0.25
[model]
arch = "mlp"
hidden = [32]
[training]
epochs = 2
batch_size = 64
lr = 0.05
[[arm]]
name = "prune"
finetune_epochs = 1
  [[arm.step]]
  plugin = "org.compaudit.prune.magnitude"
  sparsity = 0.8
[[metric]]
plugin = "org.compaudit.metric.top1"
)");
  auto run = [&](int threads, const std::string& out) {
    compaudit::host::RunRequest r;
    r.pipeline_path = pipeline.string();
    r.run_dir = (dir / out).string();
    r.plugin_paths = {COMPAUDIT_TEST_PLUGIN_DIR};
    r.quiet = true;
    r.threads = threads;
    return engine_test::engine().run(r);
  };
  REQUIRE(run(1, "one") == compaudit::host::exit_ok);
  REQUIRE(run(2, "two") == compaudit::host::exit_ok);  // 2 chains of 2 seeds, one thread each
  const std::string one = predictions_fingerprint((dir / "one").string());
  CHECK(one.find("prune/3 done") != std::string::npos);
  CHECK(one == predictions_fingerprint((dir / "two").string()));
}
