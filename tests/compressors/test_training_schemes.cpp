// Schemes that drive training: gradual pruning (cubic schedule against the fixture), lottery tickets and
// class-dependent compression, through their plugin libraries with a small SGD TestContext.
#include "plugin_harness.h"
#include "support/compress_support.h"

#include <catch2/catch.hpp>
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

using namespace compaudit;
using compaudit::testing::fixture;
using compaudit::testing::load_compressor;
using compaudit::testing::TestContext;

namespace {
double weight_sparsity(models::TrainableModel& m) {
  std::int64_t n = 0, z = 0;
  for (const auto& l : m.layers()) {
    n += l.weight.numel();
    z += l.weight.numel() - l.weight.count_nonzero().item<std::int64_t>();
  }
  return static_cast<double>(z) / static_cast<double>(n);
}
}  // namespace

TEST_CASE("gradual pruning follows the Zhu-Gupta cubic schedule at every update step", "[gradual][fixtures]") {
  at::set_num_threads(1);
  const auto f = fixture("schedule.json");
  auto model = models::make_builtin_model("mlp", {32}, {16}, 4, 0);
  TestContext ctx(*model, 4, 16, f["steps_per_epoch"].get<int>(), 8);
  auto pruner = load_compressor("prune_gradual", {{"final_sparsity", f["final"].get<double>()},
                                                  {"initial_sparsity", f["initial"].get<double>()},
                                                  {"epochs", f["epochs"].get<std::int64_t>()},
                                                  {"begin", f["begin"].get<double>()}, {"end", f["end"].get<double>()},
                                                  {"frequency", f["frequency"].get<std::int64_t>()}});
  const CompressionRecord record = pruner->compress(*model, ctx);
  CHECK(record.details["t0"] == f["t0"]);
  CHECK(record.details["t1"] == f["t1"]);
  const auto& schedule = record.details["schedule"];
  REQUIRE(schedule.size() == f["points"].size() + 1);  // + the initial sparsity before training
  CHECK(schedule[0]["target"].get<double>() == Approx(f["initial"].get<double>()));
  for (std::size_t i = 0; i < f["points"].size(); ++i) {
    CHECK(schedule[i + 1]["step"] == f["points"][i]["step"]);
    CHECK(schedule[i + 1]["target"].get<double>() == Approx(f["points"][i]["target"].get<double>()).epsilon(1e-12));
  }
  CHECK(ctx.steps_seen.size() == 60);
  CHECK(weight_sparsity(*model) == Approx(f["final"].get<double>()).margin(0.002));  // held after the last update
}

TEST_CASE("gradual pruning rejects begin >= end before running", "[gradual][errors]") {
  CHECK_THROWS_WITH(load_compressor("prune_gradual", {{"final_sparsity", 0.5}, {"begin", 0.8}, {"end", 0.5}}),
                    Catch::Contains("begin = 0.8 must be below end = 0.5"));
}

TEST_CASE("lottery tickets prune in rounds, rewind to the requested step and keep their masks through retraining",
          "[lottery]") {
  at::set_num_threads(1);
  auto model = models::make_builtin_model("mlp", {32}, {16}, 4, 0);
  TestContext ctx(*model, 4, 16);
  auto pruner = load_compressor("prune_lottery", {{"sparsity", 0.875}, {"rounds", std::int64_t{3}},
                                                  {"rewind_step", std::int64_t{7}}});
  const CompressionRecord record = pruner->compress(*model, ctx);
  REQUIRE(record.details["rounds"].size() == 3);
  CHECK(record.details["rounds"][0]["sparsity"].get<double>() == Approx(0.5));   // 1 - 0.125^(1/3)
  CHECK(record.details["rounds"][1]["sparsity"].get<double>() == Approx(0.75));
  CHECK(record.details["rounds"][2]["sparsity"].get<double>() == Approx(0.875));
  CHECK(ctx.rewinds == std::vector<std::int64_t>{7});
  CHECK(ctx.epochs_trained == 3);
  CHECK(weight_sparsity(*model) == Approx(0.875).margin(0.002));
}

TEST_CASE("class-dependent compression trains with the weighted loss and keeps the best epoch by AUC",
          "[classdep]") {
  at::set_num_threads(1);
  auto model = models::make_builtin_model("mlp", {32}, {16}, 3, 0);
  TestContext ctx(*model, 3, 16);
  auto c = load_compressor("classdep", {{"critical_class", std::int64_t{1}}, {"sparsity", 0.75},
                                        {"rounds", std::int64_t{2}}, {"epochs", std::int64_t{3}},
                                        {"ranking_weight", 0.5}, {"score", std::string("increase")}});
  const CompressionRecord record = c->compress(*model, ctx);
  const auto& rounds = record.details["rounds"];
  REQUIRE(rounds.size() == 2);
  for (const auto& r : rounds) {
    double best = 0;
    for (const auto& a : r["aucs"]) best = std::max(best, a.get<double>());
    CHECK(r["best_auc"].get<double>() == best);
    CHECK(r["aucs"][r["best_epoch"].get<int>()].get<double>() == best);
  }
  CHECK(record.details["class_weights"][1].get<double>() == 5.0);
  CHECK(weight_sparsity(*model) == Approx(0.75).margin(0.002));
  // The kept parameters are the best epoch's: evaluating them again gives the recorded AUC.
  const Evaluation e = ctx.evaluate("validation");
  CHECK(compressors::roc_auc(e.probabilities.select(1, 1), e.targets.eq(1)) == Approx(rounds[1]["best_auc"].get<double>()));
  SECTION("a critical class beyond the data's classes is refused") {
    auto bad = load_compressor("classdep", {{"critical_class", std::int64_t{3}}, {"sparsity", 0.5}});
    CHECK_THROWS_WITH(bad->compress(*model, ctx), Catch::Contains("critical_class = 3 but the data has 3 classes"));
  }
}
