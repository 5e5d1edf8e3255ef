// Training: deterministic per seed, masks held through training, callbacks and loss overrides honoured.
#include "training/trainer.h"
#include "toy_data.h"

#include <compaudit/models/models.h>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <catch2/catch.hpp>

using namespace compaudit;
using namespace compaudit::engine;

namespace {

using engine_test::toy_data;

TrainPlan toy_plan(std::uint64_t seed) {
  TrainPlan plan;
  plan.settings.lr = 0.05;
  plan.settings.batch_size = 32;
  plan.epochs = 3;
  plan.seed = seed;
  plan.num_classes = 4;
  return plan;
}

std::unique_ptr<models::TrainableModel> toy_model() {
  return models::make_builtin_model("mlp", {16}, {16}, 4, /*seed=*/7);
}

bool same_parameters(models::TrainableModel& a, models::TrainableModel& b) {
  auto pa = a.named_parameters(), pb = b.named_parameters();
  if (pa.size() != pb.size()) return false;
  for (std::size_t i = 0; i < pa.size(); ++i)
    if (!at::equal(pa[i].second, pb[i].second)) return false;
  return true;
}

}  // namespace

TEST_CASE("Training is bitwise deterministic for a seed and learns", "[engine][training]") {
  at::set_num_threads(1);
  const Dataset data = toy_data();
  auto a = toy_model(), b = toy_model(), c = toy_model();
  const double before = predict_probabilities(*a, data.inputs).argmax(1).eq(data.targets).to(at::kFloat).mean().item<double>();
  train_model(*a, data, toy_plan(1));
  train_model(*b, data, toy_plan(1));
  train_model(*c, data, toy_plan(2));
  CHECK(same_parameters(*a, *b));
  CHECK_FALSE(same_parameters(*a, *c));  // another seed, another batch order
  const double after = predict_probabilities(*a, data.inputs).argmax(1).eq(data.targets).to(at::kFloat).mean().item<double>();
  CHECK(after > before + 0.3);
  CHECK(after > 0.8);
}

TEST_CASE("Masks stay applied through training, with every optimizer and schedule", "[engine][training]") {
  at::set_num_threads(1);
  const Dataset data = toy_data();
  const auto [optimizer, schedule] = GENERATE(table<std::string, std::string>(
      {{"sgd", "constant"}, {"sgd", "cosine"}, {"adam", "step"}}));
  auto model = toy_model();
  const at::Tensor w = model->named_parameters().front().second;
  const at::Tensor mask = (at::arange(w.numel()).remainder(2) == 0).view(w.sizes()).to(at::kFloat);
  model->set_mask(model->named_parameters().front().first, mask);
  TrainPlan plan = toy_plan(3);
  plan.settings.optimizer = optimizer;
  plan.settings.schedule = schedule;
  plan.settings.lr = optimizer == "adam" ? 0.01 : 0.05;
  train_model(*model, data, plan);
  const at::Tensor trained = model->named_parameters().front().second;
  CHECK(trained.masked_select(mask == 0).abs().max().item<float>() == 0.0f);
  CHECK(trained.masked_select(mask == 1).abs().min().item<float>() > 0.0f);
  CHECK(weight_sparsity(*model) > 0.3);
}

TEST_CASE("A training request's loss and callbacks are used, and max_steps stops early", "[engine][training]") {
  at::set_num_threads(1);
  const Dataset data = toy_data();
  auto model = toy_model();
  TrainPlan plan = toy_plan(4);
  int steps = 0, epochs = 0, loss_calls = 0;
  std::int64_t total = 0;
  plan.request.on_step = [&](const TrainingProgress& p) { ++steps, total = p.total_steps; };
  plan.request.on_epoch = [&](const TrainingProgress&) { ++epochs; };
  plan.request.loss = [&](const at::Tensor& logits, const at::Tensor& targets) {
    ++loss_calls;
    return at::cross_entropy_loss(logits, targets);
  };
  plan.max_steps = 15;  // 10 batches per epoch: one epoch and a half
  train_model(*model, data, plan);
  CHECK(steps == 15);
  CHECK(total == 15);
  CHECK(loss_calls == 15);
  CHECK(epochs == 2);
}

TEST_CASE("Derived seeds separate purposes and populations", "[engine][training]") {
  CHECK(derive_seed(0, "dense") != derive_seed(1, "dense"));
  CHECK(derive_seed(0, "dense") != derive_seed(0, "finetune"));
  CHECK(derive_seed(3, "finetune") == derive_seed(3, "finetune"));
}
