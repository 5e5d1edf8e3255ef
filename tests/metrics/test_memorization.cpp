// Memorization done fully: the mismatch-memorization statistics and their bootstrap intervals over
// training examples against scipy / sklearn on the same resample indices, Feldman & Zhang's influence on the flipped
// test points against the definition, and the realized subset fraction reported by the metric.
// Fixtures: scripts/fixtures/metrics/make_memorization_fixtures.py -> memorization_fixtures.json.
#include "fixtures.h"
#include "json_tensors.h"
#include "support/plugin_loading.h"
#include "stats/influence.h"
#include "stats/mismatch_bootstrap.h"

#include <compaudit/metric.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <catch2/catch.hpp>

using compaudit::test::int64_tensor;
using compaudit::test::make_plugin;
using nlohmann::json;

namespace {

const bool one_thread = (at::set_num_threads(1), true);

const json& fixtures() {
  static const json f = compaudit::test::read_fixture(COMPAUDIT_MEMORIZATION_FIXTURES);
  return f;
}

std::vector<std::int64_t> seeds(std::int64_t k) {
  std::vector<std::int64_t> s(static_cast<std::size_t>(k));
  for (std::int64_t i = 0; i < k; ++i) s[static_cast<std::size_t>(i)] = i;
  return s;
}

/// A fixture case handed to the metric as the host would: training-split predictions and scores in MetricExtras.
struct Case {
  compaudit::EvalData data;
  compaudit::Population test_ref, test_cand, train_ref, train_cand;
  compaudit::MetricExtras extras;

  explicit Case(const json& c) {
    train_ref = {"dense", {}, int64_tensor(c["reference"]), {}, {}};
    train_cand = {"prune", {}, int64_tensor(c["candidate"]), {}, {}};
    train_ref.seeds = train_cand.seeds = seeds(train_ref.predicted.size(0));
    // The test split is not what these statistics look at: one example, the same label everywhere.
    data = {"test", at::zeros({1}, at::kLong), c["num_classes"].get<int>(), {}};
    test_ref = {"dense", train_ref.seeds, at::zeros({train_ref.predicted.size(0), 1}, at::kLong), {}, {}};
    test_cand = test_ref;
    extras.memorization = at::tensor(c["memorization"].get<std::vector<double>>(), at::kDouble);
    extras.reference_train = &train_ref;
    extras.candidate_train = &train_cand;
  }
  json run(std::map<std::string, compaudit::ParamValue> params) const {
    return make_plugin<compaudit::Metric>("metric_memorization", params)->compute({data, test_ref, test_cand, extras});
  }
};

void check_number(const json& got, const json& want, const std::string& what) {
  INFO(what);
  if (want.is_null()) {
    CHECK(got.is_null());
  } else {
    REQUIRE(got.is_number());
    CHECK(got.get<double>() == Approx(want.get<double>()).epsilon(1e-9).margin(1e-12));
  }
}

void check_interval(const json& got, const json& want, const std::string& what) {
  INFO(what);
  if (want.is_null()) {
    CHECK(got.is_null());
    return;
  }
  REQUIRE(got.is_array());
  REQUIRE(got.size() == 2);
  CHECK(got[0].get<double>() == Approx(want[0].get<double>()).epsilon(1e-9).margin(1e-12));
  CHECK(got[1].get<double>() == Approx(want[1].get<double>()).epsilon(1e-9).margin(1e-12));
}

}  // namespace

TEST_CASE("memorization statistics and their bootstrap intervals match scipy and sklearn on the same resamples",
          "[metrics][memorization][bootstrap]") {
  for (const json& e : fixtures()["cases"]) {
    DYNAMIC_SECTION(e["name"].get<std::string>()) {
      const Case c(e);
      const json out = c.run({{"edges", e["edges"].get<std::vector<double>>()},
                              {"bootstrap", e["bootstrap"].get<std::int64_t>()},
                              {"seed", e["seed"].get<std::int64_t>()}});
      CHECK(out["summary"]["mismatch_count"] == e["mismatch_count"]);
      for (const char* name : {"mismatch_rate", "mean_mem_mismatched", "mean_mem_matched", "spearman", "auc"}) {
        check_number(out["summary"][name], e["observed"][name], std::string("summary.") + name);
        check_interval(out["intervals"].value(name, json()), e["intervals"][name], std::string("intervals.") + name);
      }
      REQUIRE(out["bins"].size() == e["bin_intervals"].size());
      for (std::size_t b = 0; b < out["bins"].size(); ++b) {
        check_number(out["bins"][b]["mismatch_rate"], e["observed"]["bins"][b], "bin rate " + std::to_string(b));
        check_interval(out["bins"][b]["mismatch_rate_interval"], e["bin_intervals"][b],
                       "bin interval " + std::to_string(b));
      }
      CHECK(out["bootstrap"]["resamples"] == e["bootstrap"]);
      CHECK(out["bootstrap"]["seed"] == e["seed"]);
    }
  }
}

TEST_CASE("the bootstrap is reproducible, moves with the seed and can be switched off", "[metrics][memorization][bootstrap]") {
  const json& e = fixtures()["cases"][0];
  const Case c(e);
  const auto run = [&](std::int64_t bootstrap, std::int64_t seed) {
    return c.run({{"edges", e["edges"].get<std::vector<double>>()}, {"bootstrap", bootstrap}, {"seed", seed}});
  };
  CHECK(run(200, 5)["intervals"] == run(200, 5)["intervals"]);
  CHECK(run(200, 5)["intervals"]["spearman"] != run(200, 6)["intervals"]["spearman"]);
  const json none = run(0, 5);
  CHECK(none["intervals"].empty());
  CHECK(none["bins"][0]["mismatch_rate_interval"].is_null());
  CHECK(none["summary"]["spearman"] == run(200, 5)["summary"]["spearman"]);
  // The weighted statistics with all weights 1 are the data as given.
  const auto mem = e["memorization"].get<std::vector<double>>();
  std::vector<bool> mis(mem.size());
  std::vector<std::size_t> bin(mem.size(), 0);
  for (std::size_t i = 0; i < mem.size(); ++i) mis[i] = mem[i] > 0.5;
  const auto order = compaudit::stats::mem_order(mem);
  const auto plain = compaudit::stats::mismatch_stats(mem, mis, bin, 1, order);
  const auto ones = compaudit::stats::mismatch_stats(mem, mis, bin, 1, order, std::vector<std::uint32_t>(mem.size(), 1));
  CHECK(*plain.spearman == Approx(*ones.spearman));
  CHECK(*plain.auc == 1.0);  // mem > 0.5 predicts itself perfectly
}

TEST_CASE("Feldman-Zhang influence on the flipped test points matches the definition", "[metrics][memorization][influence]") {
  const json& f = fixtures()["influence"];
  const json& base = fixtures()["cases"][0];
  Case c(base);
  const at::Tensor membership = int64_tensor(f["membership"]).to(at::kByte);
  const std::int64_t T = membership.size(0);
  // Training split of the influence case: as many examples as the membership has columns.
  const std::int64_t n_train = membership.size(1);
  c.extras.memorization = at::linspace(0, 1, n_train, at::kDouble);
  c.train_ref.predicted = at::zeros({3, n_train}, at::kLong);
  c.train_cand.predicted = c.train_ref.predicted;
  c.train_ref.seeds = c.train_cand.seeds = seeds(3);
  c.test_ref = {"dense", seeds(5), int64_tensor(f["test_reference"]), {}, {}};
  c.test_cand = {"prune", seeds(5), int64_tensor(f["test_candidate"]), {}, {}};
  c.data = {"test", at::zeros({c.test_ref.predicted.size(1)}, at::kLong), f["num_classes"].get<int>(), {}};
  c.extras.memorization_membership = membership;
  c.extras.memorization_test_correct = int64_tensor(f["test_correct"]).to(at::kByte);
  c.extras.memorization_models = static_cast<int>(T);
  c.extras.memorization_subsets_per_example = 7;
  c.extras.memorization_fraction = 0.7;
  const json out = c.run({{"influence_top", f["top"].get<std::int64_t>()}, {"bootstrap", std::int64_t{0}}});

  const json& infl = out["influence"];
  REQUIRE(infl["available"] == true);
  CHECK(infl["models"] == T);
  REQUIRE(infl["points"].size() == f["points"].size());
  CHECK(infl["flipped"] == f["points"].size());
  for (std::size_t p = 0; p < f["points"].size(); ++p) {
    const json& want = f["points"][p];
    const json& got = infl["points"][p];
    INFO("test example " << want["example"]);
    CHECK(got["example"] == want["example"]);
    CHECK(got["tied_at_max"] == want["tied_at_max"]);
    REQUIRE(got["top"].size() == want["train"].size());
    for (std::size_t k = 0; k < got["top"].size(); ++k) {
      CHECK(got["top"][k]["train"] == want["train"][k]);
      CHECK(got["top"][k]["influence"].get<double>() == Approx(want["influence"][k].get<double>()).epsilon(1e-12));
    }
  }
  // The subset design as run: fraction 0.7 of T = 10 asks for 7 subsets per example, realized 7/10.
  CHECK(out["subsets"]["models"] == T);
  CHECK(out["subsets"]["per_example"] == 7);
  CHECK(out["subsets"]["requested_fraction"].get<double>() == 0.7);
  CHECK(out["subsets"]["realized_fraction"].get<double>() == Approx(0.7));

  SECTION("no flipped point, no influence list") {
    c.test_cand = c.test_ref;
    const json same = c.run({{"bootstrap", std::int64_t{0}}});
    CHECK(same["influence"]["flipped"] == 0);
    CHECK(same["influence"]["points"].empty());
  }
  SECTION("a store without the subset records says so instead of failing") {
    c.extras.memorization_membership = at::Tensor();
    const json old = c.run({{"bootstrap", std::int64_t{0}}});
    CHECK(old["influence"]["available"] == false);
    CHECK(old["influence"]["reason"].get<std::string>().find("older compaudit") != std::string::npos);
  }
  SECTION("a membership of the wrong shape is refused with its expected shape") {
    c.extras.memorization_membership = membership.slice(1, 0, n_train - 1);
    CHECK_THROWS_WITH(c.run({{"bootstrap", std::int64_t{0}}}), Catch::Contains("membership must be [T, 30]"));
  }
  SECTION("a host that does not say how the scores were estimated gets no subsets member") {
    c.extras.memorization_models = 0;
    CHECK_FALSE(c.run({{"bootstrap", std::int64_t{0}}}).contains("subsets"));
  }
}

TEST_CASE("top_influence skips training points in no or every subset and orders ties by id", "[metrics][memorization][influence]") {
  // T = 3, four training points: point 0 in every subset (undefined), point 3 in none (undefined).
  const std::vector<std::uint8_t> membership = {1, 1, 0, 0,   //
                                                1, 0, 1, 0,   //
                                                1, 1, 1, 0};
  const std::vector<std::uint8_t> correct = {1, 0, 1};  // one test point
  const auto points = compaudit::stats::top_influence(membership.data(), correct.data(), 3, 4, 1, {0}, 5);
  REQUIRE(points.size() == 1);
  REQUIRE(points[0].top.size() == 2);
  // Point 1: in models 0, 2 (both correct) -> 1 - 0 = 1; point 2: in models 1, 2 (one correct) -> 0.5 - 1 = -0.5.
  CHECK(points[0].top[0].train == 1);
  CHECK(points[0].top[0].influence == 1.0);
  CHECK(points[0].top[1].train == 2);
  CHECK(points[0].top[1].influence == -0.5);
  CHECK(points[0].tied_at_max == 1);
  CHECK_THROWS_AS(compaudit::stats::top_influence(membership.data(), correct.data(), 3, 4, 1, {1}, 5),
                  std::invalid_argument);
}
