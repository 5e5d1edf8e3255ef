// Tests of the built-in metric plugins, loaded from their built libraries through the host's loader, on the audit
// scenario of scripts/fixtures/metrics/make_fixtures.py (scipy / sklearn / numpy oracle) and on hand-made inputs.
#include "fixtures.h"
#include "json_tensors.h"
#include "support/plugin_loading.h"

#include <compaudit/metric.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <catch2/catch.hpp>

using compaudit::test::float_tensor_3d;
using compaudit::test::int64_tensor;
using compaudit::test::make_plugin;
using compaudit::test::metric_fixtures;
using nlohmann::json;

namespace {

const bool one_thread = (at::set_num_threads(1), true);  // tests run side by side; keep LibTorch to one thread

/// The fixture scenario as the host would hand it to a metric.
struct Scenario {
  compaudit::EvalData data;
  compaudit::Population reference, candidate, reference_train, candidate_train;
  compaudit::MetricExtras extras;

  Scenario() {
    const json& s = metric_fixtures()["scenario"];
    data.split = "test";
    data.targets = int64_tensor(s["targets"]);
    data.num_classes = s["num_classes"].get<int>();
    data.class_names = s["class_names"].get<std::vector<std::string>>();
    reference = {"dense", s["seeds"].get<std::vector<std::int64_t>>(), int64_tensor(s["pred_ref"]),
                 float_tensor_3d(s["prob_ref"]), {}};
    candidate = {"prune@0.9", reference.seeds, int64_tensor(s["pred_cand"]), float_tensor_3d(s["prob_cand"]), {}};
    const json& m = s["memorization"];
    reference_train = {"dense", reference.seeds, int64_tensor(m["reference"]), {}, {}};
    candidate_train = {"prune@0.9", reference.seeds, int64_tensor(m["candidate"]), {}, {}};
    extras.memorization = at::tensor(m["memorization"].get<std::vector<double>>(), at::kFloat);
    extras.reference_train = &reference_train;
    extras.candidate_train = &candidate_train;
    extras.train_targets = int64_tensor(m["train_targets"]);
  }
  compaudit::MetricInput input() const { return {data, reference, candidate, extras}; }
  compaudit::MetricInput same() const { return {data, reference, reference, extras}; }
};

const json& expected(const char* key) { return metric_fixtures()["scenario"][key]; }

}  // namespace

TEST_CASE("top1 reports per-model accuracy, mean, sd and the t-interval of scipy", "[metrics][top1]") {
  Scenario s;
  const json out = make_plugin<compaudit::Metric>("metric_top1")->compute(s.input());
  for (const auto& [role, prefix] : {std::pair{"reference", "top1_ref_"}, std::pair{"candidate", "top1_"}}) {
    const json& e = expected("top1")[role];
    for (std::size_t k = 0; k < e["per_model"].size(); ++k)
      CHECK(out["models"][role][k]["top1"].get<double>() == Approx(e["per_model"][k].get<double>()));
    CHECK(out["summary"][std::string(prefix) + "mean"].get<double>() == Approx(e["mean"].get<double>()));
    CHECK(out["summary"][std::string(prefix) + "sd"].get<double>() == Approx(e["sd"].get<double>()));
    const json& interval = out["intervals"][std::string(prefix) + "mean"];
    CHECK(interval[0].get<double>() == Approx(e["lo"].get<double>()).epsilon(1e-10));
    CHECK(interval[1].get<double>() == Approx(e["hi"].get<double>()).epsilon(1e-10));
  }
  CHECK(out["models"]["candidate"][2]["seed"] == 2);
  CHECK(out["summary"]["top1_delta"].get<double>() < 0.0);
}

TEST_CASE("top1 of one model has no sd and no interval, and says so with null", "[metrics][top1]") {
  Scenario s;
  s.candidate.predicted = s.candidate.predicted.slice(0, 0, 1);
  const json out = make_plugin<compaudit::Metric>("metric_top1")->compute(s.input());
  CHECK(out["summary"]["top1_sd"].is_null());
  CHECK_FALSE(out["intervals"].contains("top1_mean"));
  CHECK(out["intervals"].contains("top1_ref_mean"));
}

TEST_CASE("recall_welch matches scipy's Welch test on normalized recall per class", "[metrics][welch]") {
  Scenario s;
  const json out = make_plugin<compaudit::Metric>("metric_recall_welch")->compute(s.input());
  const json& e = expected("recall_welch");
  REQUIRE(out["per_class"].size() == e.size());
  int impacted = 0;
  for (std::size_t c = 0; c < e.size(); ++c) {
    const json& row = out["per_class"][c];
    INFO("class " << c << ": " << row.dump());
    CHECK(row["class"] == c);
    CHECK(row["status"] == e[c]["status"]);
    CHECK(row["d"].get<double>() == Approx(e[c]["d"].get<double>()).margin(1e-12));
    CHECK(row["recall_ref"].get<double>() == Approx(e[c]["recall_ref"].get<double>()));
    CHECK(row["recall_cand"].get<double>() == Approx(e[c]["recall_cand"].get<double>()));
    if (e[c]["status"] == "ok") {
      CHECK(row["t"].get<double>() == Approx(e[c]["t"].get<double>()).epsilon(1e-9));
      CHECK(row["df"].get<double>() == Approx(e[c]["df"].get<double>()).epsilon(1e-9));
      CHECK(row["p"].get<double>() == Approx(e[c]["p"].get<double>()).epsilon(1e-7));
      CHECK(row["p_adjusted"] == row["p"]);
      const bool should = e[c]["p"].get<double>() <= 0.05;
      CHECK(row["impacted"] == should);
      impacted += should;
      CHECK(row["direction"] == (e[c]["t"].get<double>() > 0 ? "down" : "up"));
    } else {
      CHECK(row["p"].is_null());
      CHECK(row["t"].is_null());
      CHECK(row["means_equal"] == e[c]["means_equal"]);
      CHECK(row["impacted"] == false);
    }
  }
  CHECK(out["per_class"][1]["name"] == "beta");
  CHECK(out["summary"]["impacted_classes"] == impacted);
  CHECK(impacted == 1);  // class 1 was hurt (p ~ 0.024); the fixture was built that way
  CHECK(out["summary"]["zero_variance_classes"] == 1);
}

TEST_CASE("recall_welch applies Benjamini-Hochberg and Holm over the tested classes", "[metrics][welch]") {
  Scenario s;
  for (const auto& [correction, key] : {std::pair{"bh", "p_bh"}, std::pair{"holm", "p_holm"}}) {
    const json out = make_plugin<compaudit::Metric>("metric_recall_welch", {{"correction", std::string(correction)}})
                         ->compute(s.input());
    CHECK(out["correction"] == correction);
    for (const json& e : expected("recall_welch")) {
      const json& row = out["per_class"][e["class"].get<std::size_t>()];
      if (e["status"] != "ok") continue;
      CHECK(row["p_adjusted"].get<double>() == Approx(e[key].get<double>()).epsilon(1e-7));
      CHECK(row["impacted"] == (e[key].get<double>() <= 0.05));
    }
    CHECK(out["summary"]["impacted_classes"] == 0);  // class 1's p of 0.024 does not survive either correction
  }
}

TEST_CASE("recall_welch of a population against itself finds nothing and flags the constant class",
          "[metrics][welch]") {
  Scenario s;
  const json out = make_plugin<compaudit::Metric>("metric_recall_welch", {{"alpha", 0.5}})->compute(s.same());
  for (const json& row : out["per_class"]) {
    CHECK(row["impacted"] == false);
    if (row["status"] == "ok") {
      CHECK(row["t"].get<double>() == 0.0);
      CHECK(row["p"].get<double>() == Approx(1.0));
    }
  }
  CHECK(out["per_class"][3]["status"] == "zero_variance");
  CHECK(out["per_class"][3]["means_equal"] == true);
  CHECK(out["per_class"][3]["direction"] == "none");
}

TEST_CASE("recall_welch with a single candidate model reports insufficient samples, not NaN", "[metrics][welch]") {
  Scenario s;
  s.candidate.predicted = s.candidate.predicted.slice(0, 2, 3);
  const json out = make_plugin<compaudit::Metric>("metric_recall_welch")->compute(s.input());
  for (const json& row : out["per_class"]) {
    CHECK(row["status"] == "insufficient_samples");
    CHECK(row["p"].is_null());
    CHECK(row["impacted"] == false);
    CHECK(row["d"].is_number());
  }
  CHECK(out["summary"]["tested_classes"] == 0);
}

TEST_CASE("metrics name the population whose predictions do not fit the data", "[metrics][errors]") {
  Scenario s;
  s.candidate.predicted = s.candidate.predicted.slice(1, 0, 100);
  for (const char* plugin : {"metric_top1", "metric_recall_welch", "metric_pie"})
    CHECK_THROWS_WITH(make_plugin<compaudit::Metric>(plugin)->compute(s.input()),
                      Catch::Contains("candidate population 'prune@0.9'") && Catch::Contains("[K, 120]"));
}

TEST_CASE("recall_welch rejects parameters outside its schema before it is created", "[metrics][welch]") {
  CHECK_THROWS_AS(make_plugin<compaudit::Metric>("metric_recall_welch", {{"alpha", 1.5}}), compaudit::Error);
  CHECK_THROWS_WITH(make_plugin<compaudit::Metric>("metric_recall_welch", {{"correction", std::string("sidak")}}),
                    Catch::Contains("correction"));
}

TEST_CASE("pie finds the hand-worked PIEs with ties in the mode going to the largest label", "[metrics][pie]") {
  const json& hand = metric_fixtures()["pie_hand"];
  compaudit::EvalData data{"test", int64_tensor(hand["targets"]), 3, {}};
  const compaudit::Population ref{"dense", {0, 1, 2, 3}, int64_tensor(hand["reference"]), {}, {}};
  const compaudit::Population cand{"prune", {0, 1, 2, 3}, int64_tensor(hand["candidate"]), {}, {}};
  const compaudit::MetricExtras extras;
  const json out = make_plugin<compaudit::Metric>("metric_pie")->compute({data, ref, cand, extras});
  CHECK(out["examples"] == hand["pies"]);
  CHECK(out["summary"]["pie_count"] == 5);
  CHECK(out["summary"]["pie_fraction"].get<double>() == Approx(5.0 / 6.0));
  CHECK(out["summary"]["top1_ref_without_pies"].get<double>() == Approx(hand["top1_ref_without_pies"].get<double>()));
  CHECK(out["summary"]["top1_cand_without_pies"].get<double>() ==
        Approx(hand["top1_cand_without_pies"].get<double>()));
  // PIEs by true label: examples 0 and 3 are class 0, 1 and 4 class 1, 5 class 2.
  CHECK(out["per_class"][0]["count"] == 2);
  CHECK(out["per_class"][1]["pie_fraction"].get<double>() == Approx(0.4));
  CHECK(out["per_class"][2]["data_fraction"].get<double>() == Approx(1.0 / 3.0));
  CHECK(out["pie_labels"][0] == json({{"id", 0}, {"label", 0}, {"reference", 1}, {"candidate", 0}}));
}

TEST_CASE("pie matches numpy on the scenario, and removing PIEs raises top-1", "[metrics][pie]") {
  Scenario s;
  const json out = make_plugin<compaudit::Metric>("metric_pie")->compute(s.input());
  const json& e = expected("pie");
  CHECK(out["examples"] == e["examples"]);
  CHECK(out["summary"]["pie_fraction"].get<double>() == Approx(e["pie_fraction"].get<double>()));
  for (const char* key : {"top1_ref", "top1_cand", "top1_ref_without_pies", "top1_cand_without_pies"})
    CHECK(out["summary"][key].get<double>() == Approx(e[key].get<double>()));
  for (std::size_t c = 0; c < 4; ++c) {
    CHECK(out["per_class"][c]["count"] == e["count_per_class"][c]);
    CHECK(out["per_class"][c]["data_fraction"].get<double>() == Approx(e["data_fraction"][c].get<double>()));
  }
  CHECK(out["summary"]["top1_cand_without_pies"].get<double>() > out["summary"]["top1_cand"].get<double>());
}

TEST_CASE("pie of a population against itself is empty", "[metrics][pie]") {
  Scenario s;
  const json out = make_plugin<compaudit::Metric>("metric_pie")->compute(s.same());
  CHECK(out["examples"].empty());
  CHECK(out["summary"]["pie_fraction"] == 0.0);
  CHECK(out["summary"]["top1_ref_without_pies"] == out["summary"]["top1_ref"]);
  CHECK(out["per_class"][0]["pie_fraction"].is_null());
}

TEST_CASE("pie handles N = 10000 examples and K = 30 models", "[metrics][pie]") {
  const std::int64_t n = 10000, k = 30;
  at::manual_seed(7);
  compaudit::EvalData data{"test", at::randint(10, {n}, at::kLong), 10, {}};
  const compaudit::Population ref{"dense", {}, at::randint(10, {k, n}, at::kLong), {}, {}};
  // The candidate agrees with the reference everywhere except on the first 1,000 examples, which it shifts by one.
  at::Tensor shifted = ref.predicted.clone();
  shifted.slice(1, 0, 1000).add_(1).remainder_(10);
  const compaudit::Population cand{"prune", {}, shifted, {}, {}};
  const compaudit::MetricExtras extras;
  const json out = make_plugin<compaudit::Metric>("metric_pie")->compute({data, ref, cand, extras});
  // Shifting every label shifts the mode, except where 8 and 9 tie for it (the largest of the tie stays 9).
  CHECK(out["summary"]["pie_count"].get<int>() > 950);
  CHECK(out["summary"]["pie_count"].get<int>() <= 1000);
  CHECK(out["examples"].back().get<int>() < 1000);
}

TEST_CASE("pie rejects a predicted label outside the classes with a clear message", "[metrics][pie]") {
  Scenario s;
  s.candidate.predicted = s.candidate.predicted.clone();
  s.candidate.predicted[0][5] = 9;
  CHECK_THROWS_WITH(make_plugin<compaudit::Metric>("metric_pie")->compute(s.input()),
                    Catch::Contains("label 9") && Catch::Contains("outside [0, 4)"));
}

TEST_CASE("critical_class counts errors and computes ROC AUC with ties as sklearn does", "[metrics][critical]") {
  Scenario s;
  auto metric = make_plugin<compaudit::Metric>("metric_critical_class", {{"positive_class", std::int64_t{1}}});
  CHECK(metric->needs().probabilities);
  const json out = metric->compute(s.input());
  CHECK(out["positive_name"] == "beta");
  for (const char* role : {"reference", "candidate"}) {
    const json& e = expected("critical_class")[role];
    double fnr_sum = 0.0;
    for (std::size_t k = 0; k < e.size(); ++k) {
      const json& m = out["models"][role][k];
      for (const char* count : {"tp", "fn", "fp", "tn"}) CHECK(m[count] == e[k][count]);
      CHECK(m["fnr"].get<double>() == Approx(e[k]["fnr"].get<double>()));
      CHECK(m["fpr"].get<double>() == Approx(e[k]["fpr"].get<double>()));
      CHECK(m["auc"].get<double>() == Approx(e[k]["auc"].get<double>()).epsilon(1e-12));
      fnr_sum += e[k]["fnr"].get<double>();
    }
    const std::string key = std::string("fnr_") + (role[0] == 'r' ? "ref" : "cand") + "_mean";
    CHECK(out["summary"][key].get<double>() == Approx(fnr_sum / e.size()));
    CHECK(out["intervals"][key].size() == 2);
  }
  CHECK(out["summary"]["fnr_cand_mean"].get<double>() > out["summary"]["fnr_ref_mean"].get<double>());
}

TEST_CASE("critical_class refuses populations without probabilities and a class the data lacks",
          "[metrics][critical]") {
  Scenario s;
  auto metric = make_plugin<compaudit::Metric>("metric_critical_class", {{"positive_class", std::int64_t{7}}});
  CHECK_THROWS_WITH(metric->compute(s.input()), Catch::Contains("positive_class = 7"));
  s.candidate.probabilities = at::Tensor();
  CHECK_THROWS_WITH(make_plugin<compaudit::Metric>("metric_critical_class")->compute(s.input()),
                    Catch::Contains("has no probabilities"));
}

TEST_CASE("memorization correlates mismatch with the score as scipy and sklearn do", "[metrics][memorization]") {
  Scenario s;
  const json& e = expected("memorization");
  auto metric =
      make_plugin<compaudit::Metric>("metric_memorization", {{"edges", e["edges"].get<std::vector<double>>()}});
  CHECK(metric->needs().memorization);
  const json out = metric->compute(s.input());
  CHECK(out["summary"]["mismatch_count"] == e["mismatch_count"]);
  CHECK(out["summary"]["spearman"].get<double>() == Approx(e["spearman"].get<double>()).epsilon(1e-6));
  CHECK(out["summary"]["auc"].get<double>() == Approx(e["auc"].get<double>()).epsilon(1e-6));
  CHECK(out["summary"]["mean_mem_mismatched"].get<double>() ==
        Approx(e["mean_mem_mismatched"].get<double>()).epsilon(1e-6));
  CHECK(out["summary"]["mean_mem_matched"].get<double>() == Approx(e["mean_mem_matched"].get<double>()).epsilon(1e-6));
  REQUIRE(out["bins"].size() == e["bins"].size());
  for (std::size_t b = 0; b < e["bins"].size(); ++b) {
    CHECK(out["bins"][b]["n"] == e["bins"][b]["n"]);
    CHECK(out["bins"][b]["mismatched"] == e["bins"][b]["mismatched"]);
  }
  CHECK(out["bins"][3]["mismatch_rate"].get<double>() > out["bins"][0]["mismatch_rate"].get<double>());
}

TEST_CASE("memorization needs the host's scores and rejects unordered edges", "[metrics][memorization]") {
  Scenario s;
  s.extras.memorization = at::Tensor();
  CHECK_THROWS_WITH(make_plugin<compaudit::Metric>("metric_memorization")->compute(s.input()),
                    Catch::Contains("[memorization]"));
  CHECK_THROWS_WITH(make_plugin<compaudit::Metric>("metric_memorization", {{"edges", std::vector<double>{0.5, 0.1}}}),
                    Catch::Contains("strictly increasing"));
}

TEST_CASE("size averages the records, compares with the reference and lists norm loss", "[metrics][size]") {
  Scenario s;
  const json dense = {{"size", {{"parameters", 1000}, {"nonzeros", 1000}, {"bytes", 4000}, {"sparse_bytes", 4000}}}};
  auto compressed = [](int nonzeros, double loss) {
    return json{{"size", {{"parameters", 1000}, {"nonzeros", nonzeros}, {"bytes", 1000}, {"sparse_bytes", nonzeros}}},
                {"steps", {{{"plugin", "org.compaudit.truncate"},
                            {"details", {{"layers", {{{"name", "fc1"}, {"cut", "o|i"}, {"norm_loss", loss}},
                                                     {{"name", "fc2"}, {"norm_loss", 2 * loss}, {"rank", 3}}}}}}}}}};
  };
  s.reference.records = std::vector<json>(5, dense);
  s.candidate.records = {compressed(100, 0.1), compressed(300, 0.2), compressed(200, 0.0), compressed(200, 0.1),
                         compressed(200, 0.1)};
  s.candidate.records[4]["records"] = s.candidate.records[4]["steps"];  // the host's name for the steps array
  s.candidate.records[4].erase("steps");
  const json out = make_plugin<compaudit::Metric>("metric_size")->compute(s.input());
  CHECK(out["summary"]["nonzeros_cand"].get<double>() == Approx(200.0));
  CHECK(out["summary"]["sparsity_cand"].get<double>() == Approx(0.8));
  CHECK(out["summary"]["bytes_ratio"].get<double>() == Approx(0.25));
  CHECK(out["summary"]["sparse_bytes_ratio"].get<double>() == Approx(0.05));
  CHECK(out["norm_loss"].size() == 10);
  CHECK(out["norm_loss"][0] == json({{"seed", 0}, {"step", 0}, {"plugin", "org.compaudit.truncate"}, {"name", "fc1"},
                                     {"cut", "o|i"}, {"norm_loss", 0.1}}));
  CHECK(out["norm_loss"][9]["seed"] == 4);
  CHECK(out["norm_loss"][1]["rank"] == 3);
  CHECK(out["summary"]["norm_loss_max"].get<double>() == Approx(0.4));
  CHECK(out["summary"]["norm_loss_mean"].get<double>() == Approx(0.15));
}

TEST_CASE("size summarizes the realized figures the host measured on the final models", "[metrics][size]") {
  Scenario s;
  // Seed k: fc1 truncated to chi 4 with realized rank 4 (seed 3: 5, a rank that did not hold), norm loss 0.1 k;
  // fc2 int4 with 12 levels (seed 2: 17 > 16) and 0 off the grid (seed 1: 0.25).
  auto realized = [](int k) {
    const json fc1 = {{"layer", "fc1"}, {"parameter", "fc1.weight"}, {"sparsity", 0.0}, {"norm_loss", 0.1 * k},
                      {"cuts", {{{"cut", "o|i"}, {"chi", 4}, {"rank", k == 3 ? 5 : 4}}}}};
    const json fc2 = {{"layer", "fc2"}, {"parameter", "fc2.weight"}, {"sparsity", 0.5}, {"norm_loss", 0.9},
                      {"bits", 4}, {"off_grid_fraction", k == 1 ? 0.25 : 0.0}, {"levels_max", k == 2 ? 17 : 12},
                      {"levels_allowed", 16}};
    return json{{"size", {{"parameters", 100}, {"realized", {{"layers", {fc1, fc2}}}}}}};
  };
  for (int k = 0; k < 5; ++k) s.candidate.records.push_back(realized(k));
  const json out = make_plugin<compaudit::Metric>("metric_size")->compute(s.input());
  CHECK(out["summary"]["realized_rank_excess_max"].get<double>() == 1.0);
  CHECK(out["summary"]["realized_norm_loss_mean"].get<double>() == Approx(0.2));  // fc1 only: (0 + ... + 0.4) / 5
  CHECK(out["summary"]["realized_off_grid_fraction_max"].get<double>() == 0.25);
  CHECK(out["summary"]["realized_levels_excess_max"].get<double>() == 1.0);
  REQUIRE(out["realized"].size() == 10);
  CHECK(out["realized"][7]["seed"] == 3);
  CHECK(out["realized"][6]["cuts"][0]["rank"] == 5);
  // Records without realized figures (runs made before them): null, not zero.
  s.candidate.records = std::vector<json>(5, json{{"size", {{"parameters", 100}}}});
  const json old = make_plugin<compaudit::Metric>("metric_size")->compute(s.input());
  CHECK(old["summary"]["realized_rank_excess_max"].is_null());
  CHECK(old["summary"]["realized_norm_loss_mean"].is_null());
  CHECK(old["realized"].empty());
}

TEST_CASE("size without records reports null instead of zero", "[metrics][size]") {
  Scenario s;
  const json out = make_plugin<compaudit::Metric>("metric_size")->compute(s.input());
  CHECK(out["summary"]["bytes_cand"].is_null());
  CHECK(out["summary"]["bytes_ratio"].is_null());
  CHECK(out["norm_loss"].empty());
}
