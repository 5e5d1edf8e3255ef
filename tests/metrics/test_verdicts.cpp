// Verdicts that are evidence: the PIE noise floor, p-value and interval against a NumPy reference with the
// same enumeration and draws; a null audit that must not come out above noise; Welch's power and the K needed against
// statsmodels; the within-seed trend test against scipy; the correction changing the impacted count.
// Fixtures: scripts/fixtures/metrics/make_verdict_fixtures.py -> verdict_fixtures.json.
#include "fixtures.h"
#include "json_tensors.h"
#include "support/plugin_loading.h"
#include "stats/pie_null.h"
#include "stats/power.h"
#include "stats/trend.h"

#include <compaudit/metric.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <catch2/catch.hpp>

using compaudit::test::int64_tensor;
using compaudit::test::make_plugin;
using compaudit::test::metric_fixtures;
using nlohmann::json;
namespace stats = compaudit::stats;

namespace {

const bool one_thread = (at::set_num_threads(1), true);

const json& verdicts() {
  static const json fixtures = compaudit::test::read_fixture(COMPAUDIT_VERDICT_FIXTURES);
  return fixtures;
}

std::vector<std::int64_t> flat(const json& matrix) {
  std::vector<std::int64_t> out;
  for (const auto& row : matrix)
    for (const auto& v : row) out.push_back(v.get<std::int64_t>());
  return out;
}

std::vector<std::int64_t> seeds(std::int64_t k) {
  std::vector<std::int64_t> s(static_cast<std::size_t>(k));
  for (std::int64_t i = 0; i < k; ++i) s[static_cast<std::size_t>(i)] = i;
  return s;
}

/// The pie metric on reference and candidate label matrices of one fixture case (targets: all zero; PIEs ignore them).
json pie_of(const json& reference, const json& candidate, int num_classes, std::map<std::string, compaudit::ParamValue> params) {
  const at::Tensor ref = int64_tensor(reference), cand = int64_tensor(candidate);
  compaudit::EvalData data{"test", at::zeros({ref.size(1)}, at::kLong), num_classes, {}};
  const compaudit::Population r{"dense", seeds(ref.size(0)), ref, {}, {}};
  const compaudit::Population c{"prune", seeds(cand.size(0)), cand, {}, {}};
  const compaudit::MetricExtras extras;
  return make_plugin<compaudit::Metric>("metric_pie", params)->compute({data, r, c, extras});
}

}  // namespace

TEST_CASE("the PIE null and interval match a NumPy reference, exact and drawn", "[metrics][pie][null]") {
  for (const json& e : verdicts()["pie"]) {
    DYNAMIC_SECTION(e["name"].get<std::string>()) {
      const auto ref = flat(e["reference"]), cand = flat(e["candidate"]);
      const auto k = static_cast<std::int64_t>(e["reference"].size());
      const auto n = static_cast<std::int64_t>(e["reference"][0].size());
      stats::PieNullOptions o;
      o.permutations = e["permutations"];
      o.bootstrap = e["bootstrap"];
      o.seed = e["seed"];
      const auto r = stats::pie_null(ref.data(), cand.data(), k, n, e["num_classes"], o);
      CHECK(r.observed == e["observed"]);
      CHECK(r.exact == e["exact"]);
      CHECK(r.permutations == (e["exact"] == true ? std::int64_t{1} << k : e["permutations"].get<std::int64_t>()));
      CHECK(r.null_mean == Approx(e["null_mean"].get<double>()).epsilon(1e-12));
      CHECK(r.p_value == Approx(e["p_value"].get<double>()).epsilon(1e-12));

      const json out = pie_of(e["reference"], e["candidate"], e["num_classes"],
                              {{"permutations", e["permutations"].get<std::int64_t>()},
                               {"bootstrap", e["bootstrap"].get<std::int64_t>()}, {"seed", e["seed"].get<std::int64_t>()}});
      INFO(out["summary"].dump());
      CHECK(out["summary"]["pie_count"] == e["observed"]);
      CHECK(out["summary"]["pie_fraction_null_mean"].get<double>() ==
            Approx(e["null_mean"].get<double>() / static_cast<double>(n)).epsilon(1e-12));
      CHECK(out["summary"]["pie_p_value"].get<double>() == Approx(e["p_value"].get<double>()).epsilon(1e-12));
      CHECK(out["summary"]["above_noise"] == (e["p_value"].get<double>() < 0.05));
      CHECK(out["intervals"]["pie_fraction_ci"][0].get<double>() == Approx(e["ci"][0].get<double>()).epsilon(1e-12));
      CHECK(out["intervals"]["pie_fraction_ci"][1].get<double>() == Approx(e["ci"][1].get<double>()).epsilon(1e-12));
      CHECK(out["null"]["exact"] == e["exact"]);
      for (std::size_t s = 0; s < e["disagreement"].size(); ++s) {
        CHECK(out["per_seed"][s]["seed"] == s);
        CHECK(out["per_seed"][s]["disagreement"].get<double>() == Approx(e["disagreement"][s].get<double>()));
      }
      // Bit-reproducible: the same seed gives the same figures.
      CHECK(pie_of(e["reference"], e["candidate"], e["num_classes"],
                   {{"permutations", e["permutations"].get<std::int64_t>()},
                    {"bootstrap", e["bootstrap"].get<std::int64_t>()}, {"seed", e["seed"].get<std::int64_t>()}}) == out);
    }
  }
}

TEST_CASE("a null audit (populations differing only in seeds) is not above noise, a shifted one is",
          "[metrics][pie][null]") {
  const json& e = verdicts()["null_audit"];
  const json null = pie_of(e["reference"], e["candidate"], e["num_classes"], {});
  INFO(null["summary"].dump());
  CHECK(null["summary"]["pie_count"].get<int>() > 0);  // seed noise alone makes PIEs...
  CHECK(null["summary"]["above_noise"] == false);       // ...which the floor accounts for
  CHECK(null["summary"]["pie_p_value"].get<double>() == Approx(e["p_value"].get<double>()).epsilon(1e-12));
  CHECK(null["summary"]["pie_fraction"].get<double>() <=
        null["intervals"]["pie_fraction_ci"][1].get<double>());
  const json shifted = pie_of(e["reference"], e["shifted_candidate"], e["num_classes"], {});
  INFO(shifted["summary"].dump());
  CHECK(shifted["summary"]["above_noise"] == true);
  CHECK(shifted["summary"]["pie_p_value"].get<double>() == Approx(e["shifted_p_value"].get<double>()).epsilon(1e-12));
  CHECK(shifted["summary"]["pie_fraction"].get<double>() > shifted["summary"]["pie_fraction_null_mean"].get<double>());
}

TEST_CASE("t-test power and the K needed match statsmodels' TTestIndPower", "[metrics][power]") {
  for (const json& e : verdicts()["power"]) {
    INFO(e.dump());
    CHECK(stats::t_test_power(e["effect"], e["n"], e["alpha"]) == Approx(e["power"].get<double>()).epsilon(1e-6));
    CHECK(stats::models_needed(e["effect"], e["alpha"], 0.8) == e["k_needed"].get<std::int64_t>());
  }
  CHECK_FALSE(stats::models_needed(0.0, 0.05, 0.8));
  CHECK_FALSE(stats::models_needed(1e-4, 0.05, 0.8, 1000));  // beyond the cap: nullopt, not a wrong number
}

TEST_CASE("recall_welch states the K needed per class, and is underpowered below min_models", "[metrics][welch][power]") {
  const json& e = verdicts()["welch_scenario"];
  compaudit::EvalData data{"test", int64_tensor(e["targets"]), e["num_classes"], {}};
  const at::Tensor ref = int64_tensor(e["reference"]), cand = int64_tensor(e["candidate"]);
  const compaudit::MetricExtras extras;
  const compaudit::Population r{"dense", seeds(4), ref, {}, {}}, c{"prune", seeds(4), cand, {}, {}};
  const json out = make_plugin<compaudit::Metric>("metric_recall_welch")->compute({data, r, c, extras});
  INFO(out.dump());
  CHECK(out["summary"]["status"] == "ok");
  std::int64_t lo = 1 << 30, hi = 0;
  for (std::size_t cls = 0; cls < e["k_needed"].size(); ++cls) {
    CHECK(out["per_class"][cls]["k_needed"] == e["k_needed"][cls]);
    lo = std::min(lo, e["k_needed"][cls].get<std::int64_t>());
    hi = std::max(hi, e["k_needed"][cls].get<std::int64_t>());
  }
  CHECK(out["summary"]["k_needed_min"] == lo);
  CHECK(out["summary"]["k_needed_max"] == hi);
  CHECK(out["summary"]["impacted_classes"].is_number());

  // K = 2: Welch still runs (about one degree of freedom), but nothing is counted.
  const compaudit::Population r2{"dense", seeds(2), ref.slice(0, 0, 2).contiguous(), {}, {}};
  const compaudit::Population c2{"prune", seeds(2), cand.slice(0, 0, 2).contiguous(), {}, {}};
  const json small = make_plugin<compaudit::Metric>("metric_recall_welch")->compute({data, r2, c2, extras});
  INFO(small.dump());
  CHECK(small["summary"]["status"] == "underpowered");
  CHECK(small["summary"]["impacted_classes"].is_null());
  CHECK(small["summary"]["impacted_down"].is_null());
  CHECK(small["summary"]["models_cand"] == 2);
  for (const json& row : small["per_class"])
    if (row["status"] == "ok") CHECK(row["impacted"].is_null());
  // ...and min_models = 2 restores the count (at the user's explicit risk).
  const json allowed =
      make_plugin<compaudit::Metric>("metric_recall_welch", {{"min_models", std::int64_t{2}}})->compute({data, r2, c2, extras});
  CHECK(allowed["summary"]["status"] == "ok");
  CHECK(allowed["summary"]["impacted_classes"].is_number());
}

TEST_CASE("correction = bh, the metric's own parameter, changes the impacted count on a fixed input",
          "[metrics][welch][correction]") {
  const json& s = metric_fixtures()["scenario"];
  compaudit::EvalData data{"test", int64_tensor(s["targets"]), s["num_classes"], {}};
  const auto seed_list = s["seeds"].get<std::vector<std::int64_t>>();
  const compaudit::Population r{"dense", seed_list, int64_tensor(s["pred_ref"]), {}, {}};
  const compaudit::Population c{"prune@0.9", seed_list, int64_tensor(s["pred_cand"]), {}, {}};
  const compaudit::MetricExtras extras;
  auto impacted = [&](const char* correction) {
    const json out = make_plugin<compaudit::Metric>("metric_recall_welch", {{"correction", std::string(correction)}})
                         ->compute({data, r, c, extras});
    CHECK(out["correction"] == correction);  // the result says which correction it used
    return out["summary"]["impacted_classes"].get<int>();
  };
  CHECK(impacted("none") == 1);  // class 1, p = 0.024 (scipy)
  CHECK(impacted("bh") == 0);    // its Benjamini-Hochberg adjusted p exceeds 0.05 (p_bh in make_fixtures.py)
}

TEST_CASE("the within-seed trend test matches scipy's Spearman with the same shuffles", "[metrics][trend]") {
  for (const json& e : verdicts()["trend"]) {
    const auto values = e["values"].get<std::vector<std::vector<double>>>();
    const auto t = stats::spearman_trend_test(values, e["levels"].get<std::vector<double>>(), e["permutations"],
                                              e["seed"].get<std::uint32_t>());
    INFO(e["rho"] << " " << e["p_value"]);
    REQUIRE(t.rho);
    CHECK(*t.rho == Approx(e["rho"].get<double>()).epsilon(1e-12));
    CHECK(t.p_value == Approx(e["p_value"].get<double>()).epsilon(1e-12));
  }
  CHECK(verdicts()["trend"][0]["p_value"].get<double>() < 0.01);  // the clear trend rejects
  CHECK(verdicts()["trend"][1]["p_value"].get<double>() > 0.5);   // the noise does not
}
