// The critical class at a matched false-positive rate: TPR read off the ROC curve at a given FPR
// against sklearn.metrics.roc_curve, the paired difference over seeds against scipy.stats.ttest_rel / t.interval, and
// the metric plugin on a "weighted loss" population that has fewer false negatives at the default threshold only —
// so "fewer false negatives at the reference's FPR" must come out not shown.
// Fixtures: scripts/fixtures/metrics/make_critical_class_fixtures.py -> critical_class_fixtures.json.
#include "fixtures.h"
#include "json_tensors.h"
#include "stats/matched_rate.h"
#include "support/plugin_loading.h"

#include <compaudit/metric.h>

#include <ATen/ATen.h>
#include <catch2/catch.hpp>

using nlohmann::json;
namespace stats = compaudit::stats;

namespace {

const json& fixtures() {
  static const json f = compaudit::test::read_fixture(COMPAUDIT_CRITICAL_CLASS_FIXTURES);
  return f;
}

void check_optional(const std::optional<double>& got, const json& want, double eps = 1e-9) {
  if (want.is_null()) {
    CHECK_FALSE(got.has_value());
  } else {
    REQUIRE(got.has_value());
    CHECK(*got == Approx(want.get<double>()).margin(eps));
  }
}

}  // namespace

TEST_CASE("TPR at a given FPR matches sklearn's ROC curve, ties and points between included", "[metrics][critical]") {
  REQUIRE(fixtures()["tpr_at_fpr"].size() >= 6);
  for (const json& c : fixtures()["tpr_at_fpr"]) {
    const auto score = c["score"].get<std::vector<double>>();
    const auto positive = c["positive"].get<std::vector<bool>>();
    for (std::size_t i = 0; i < c["fpr"].size(); ++i) {
      INFO("case with " << score.size() << " scores, fpr " << c["fpr"][i]);
      const auto tpr = stats::tpr_at_fpr(score, positive, c["fpr"][i].get<double>());
      REQUIRE(tpr.has_value());
      CHECK(*tpr == Approx(c["tpr"][i].get<double>()).margin(1e-12));
    }
  }
  CHECK_FALSE(stats::tpr_at_fpr({0.1, 0.2}, {true, true}, 0.5).has_value());  // no negative: no curve
}

TEST_CASE("the paired difference over seeds matches scipy.stats.ttest_rel and t.interval", "[metrics][critical]") {
  for (const json& c : fixtures()["paired"]) {
    const auto cand = c["candidate"].get<std::vector<double>>(), ref = c["reference"].get<std::vector<double>>();
    INFO("K = " << cand.size());
    const auto d = stats::paired_difference(cand, ref, 1.0 - c["alpha"].get<double>());
    CHECK(d.n == c["n"].get<std::size_t>());
    CHECK(d.mean == Approx(c["mean"].get<double>()).margin(1e-12));
    check_optional(d.lo, c["lo"]);
    check_optional(d.hi, c["hi"]);
    check_optional(d.t, c["t"]);
    check_optional(d.p, c["p"], 1e-10);
  }
  const auto same = stats::paired_difference({0.75, 1.5}, {0.25, 1.0});  // every difference 0.5 exactly: no t
  CHECK(same.mean == 0.5);
  CHECK_FALSE(same.p.has_value());
}

TEST_CASE("a moved threshold wins at the default threshold only: fewer FN at the reference's FPR is not shown",
          "[metrics][critical]") {
  const json& s = fixtures()["scenario"];
  const int classes = s["num_classes"];
  auto population = [&](const char* arm, const json& side) {
    json predicted = json::array();
    std::vector<std::int64_t> seeds;
    for (const json& m : side["models"]) predicted.push_back(m["predicted"]), seeds.push_back(m["seed"]);
    return compaudit::Population{arm, seeds, compaudit::test::int64_tensor(predicted),
                                 compaudit::test::float_tensor_3d(side["probabilities"]), {}};
  };
  const compaudit::EvalData data{"test", compaudit::test::int64_tensor(s["targets"]), classes, {}};
  const compaudit::Population ref = population("classdep control", s["reference"]);
  const compaudit::Population cand = population("classdep@sparsity=0.8", s["candidate"]);
  const json out = compaudit::test::make_plugin<compaudit::Metric>(
                       "metric_critical_class", {{"positive_class", s["positive_class"].get<std::int64_t>()},
                                                 {"alpha", s["alpha"].get<double>()}})
                       ->compute({data, ref, cand, {}});
  INFO(out["summary"].dump());

  for (const char* side : {"reference", "candidate"})
    for (std::size_t k = 0; k < s[side]["models"].size(); ++k) {
      const json &want = s[side]["models"][k], &got = out["models"][side][k];
      INFO(side << " seed " << k);
      for (const char* count : {"tp", "fn", "fp", "tn"}) CHECK(got[count] == want[count]);
      for (const char* rate : {"fnr", "fpr", "auc", "matched_fpr", "fnr_at_ref_fpr"})
        CHECK(got[rate].get<double>() == Approx(want[rate].get<double>()).margin(1e-12));
    }
  for (const char* stat : {"fnr", "fpr", "auc", "fnr_at_ref_fpr"}) {
    const json &want = s["paired"][stat], &got = out["paired"][stat];
    INFO(stat);
    CHECK(got["n"] == want["n"]);
    for (const char* key : {"mean", "sd", "lo", "hi", "t", "p"})
      CHECK(got[key].get<double>() == Approx(want[key].get<double>()).margin(1e-10));
    CHECK(out["summary"][std::string(stat) + "_diff"].get<double>() == Approx(want["mean"].get<double>()).margin(1e-12));
    CHECK(out["intervals"][std::string(stat) + "_diff"][1].get<double>() == Approx(want["hi"].get<double>()).margin(1e-10));
  }
  for (const auto& [verdict, value] : s["verdicts"].items()) CHECK(out["summary"][verdict] == value);
  // What the scenario is built to show: the default-threshold claim holds, the matched-FPR claim fails.
  CHECK(out["summary"]["fewer_fn_at_default_threshold"] == true);
  CHECK(out["summary"]["fewer_fn_at_matched_fpr"] == false);
  CHECK(out["summary"]["fnr_at_ref_fpr_diff"].get<double>() > 0.0);
}
