// Tests of the paired metrics (flips, mcnemar, paired_bootstrap, kl_shift) and the statistics they add to
// plugins/metrics/stats, against scripts/fixtures/metrics/make_paired_fixtures.py (scipy.stats.binomtest,
// statsmodels multipletests, scipy.special.rel_entr, numpy.quantile, and a NumPy stratified bootstrap drawing the same
// SplitMix64 indices) and hand-worked inputs. Plugins are loaded from their built libraries through the host's loader.
#include "json_tensors.h"
#include "support/plugin_loading.h"

#include <compaudit/metric.h>
#include <stats/stats.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <fstream>
#include <random>

using compaudit::test::float_tensor_3d;
using compaudit::test::int64_tensor;
using compaudit::test::make_plugin;
using nlohmann::json;
namespace stats = compaudit::stats;

namespace {

const bool one_thread = (at::set_num_threads(1), true);  // tests run side by side; keep LibTorch to one thread

const json& fixtures() {
  static const json f = [] {
    std::ifstream in(COMPAUDIT_PAIRED_FIXTURES);
    if (!in) throw std::runtime_error("cannot open " COMPAUDIT_PAIRED_FIXTURES);
    return json::parse(in);
  }();
  return f;
}

/// Every member of `want` (numbers to 1e-10 relative / 1e-12 absolute, other values exactly) is in `got`.
void check_matches(const json& got, const json& want, const std::string& path = "") {
  INFO(path << ": got " << got.dump().substr(0, 200) << ", want " << want.dump().substr(0, 200));
  if (want.is_object()) {
    REQUIRE(got.is_object());
    for (const auto& item : want.items()) {
      REQUIRE(got.contains(item.key()));
      check_matches(got[item.key()], item.value(), path + "." + item.key());
    }
  } else if (want.is_array()) {
    REQUIRE(got.is_array());
    REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < want.size(); ++i) check_matches(got[i], want[i], path + "[" + std::to_string(i) + "]");
  } else if (want.is_number()) {
    REQUIRE(got.is_number());
    CHECK(got.get<double>() == Approx(want.get<double>()).epsilon(1e-10).margin(1e-12));
  } else {
    CHECK(got == want);
  }
}

/// Inputs as the host hands them to a metric; `probabilities` may be left undefined.
struct Paired {
  compaudit::EvalData data;
  compaudit::Population reference, candidate;
  compaudit::MetricExtras extras;

  Paired(const json& targets, const json& ref, const json& cand, int num_classes, std::vector<std::int64_t> seeds) {
    data = {"test", int64_tensor(targets), num_classes, {}};
    reference = {"dense", seeds, int64_tensor(ref), {}, {}};
    candidate = {"int8", seeds, int64_tensor(cand), {}, {}};
  }
  static Paired scenario() {
    const json& s = fixtures()["scenario"];
    Paired p(s["targets"], s["pred_ref"], s["pred_cand"], s["num_classes"].get<int>(),
             s["seeds"].get<std::vector<std::int64_t>>());
    p.data.class_names = s["class_names"].get<std::vector<std::string>>();
    p.reference.probabilities = float_tensor_3d(s["prob_ref"]);
    p.candidate.probabilities = float_tensor_3d(s["prob_cand"]);
    return p;
  }
  compaudit::MetricInput input() const { return {data, reference, candidate, extras}; }
};

json compute(const char* plugin, const Paired& p, const std::map<std::string, compaudit::ParamValue>& params = {}) {
  return make_plugin<compaudit::Metric>(plugin, params)->compute(p.input());
}

/// The mean of two pairs' expected summaries, key by key.
json mean_of(const json& a, const json& b) {
  json out = a;
  for (auto& [key, value] : out.items()) value = (a[key].get<double>() + b[key].get<double>()) / 2;
  return out;
}

/// A [1, n] prediction matrix (one seed) from a list of labels.
json one_row(std::initializer_list<int> labels) { return json::array({json(std::vector<int>(labels))}); }

}  // namespace

// --- statistics ------------------------------------------------------------------------------------------------------

TEST_CASE("exact McNemar p-values match scipy.stats.binomtest, b + c = 0 gives 1", "[paired][stats]") {
  for (const auto& c : fixtures()["mcnemar_p"]) {
    INFO("b = " << c["b"] << ", c = " << c["c"]);
    CHECK(stats::mcnemar_exact_p(c["b"], c["c"]) == Approx(c["p"].get<double>()).epsilon(1e-10).margin(1e-300));
  }
  CHECK(stats::mcnemar_exact_p(0, 0) == 1.0);
}

TEST_CASE("quantile_sorted matches numpy.quantile", "[paired][stats]") {
  const json& c = fixtures()["quantile"];
  std::vector<double> x = c["x"];
  std::sort(x.begin(), x.end());
  for (std::size_t i = 0; i < c["q"].size(); ++i)
    CHECK(stats::quantile_sorted(x, c["q"][i]) == Approx(c["expected"][i].get<double>()).epsilon(1e-14));
}

TEST_CASE("floored KL matches scipy rel_entr on fp16 vectors with zeros, and stays finite", "[paired][stats]") {
  for (const auto& c : fixtures()["kl"]) {
    const std::vector<float> p = c["p"], q = c["q"];
    const double kl = stats::kl_floored(p.data(), q.data(), static_cast<int>(p.size()));
    INFO("p = " << c["p"].dump() << ", q = " << c["q"].dump());
    CHECK(std::isfinite(kl));
    CHECK(kl == Approx(c["kl"].get<double>()).epsilon(1e-10).margin(1e-12));
  }
}

// --- flips ---------------------------------------------------------------------------------------------------------

TEST_CASE("flips counts every kind of flip on a hand-worked example", "[paired][flips]") {
  //            i:  0  1  2  3  4  5  6  7
  // label          0  0  0  1  1  2  2  2
  // reference      0  0  1  1  2  2  0  1
  // candidate      1  0  1  2  1  2  1  2
  // flip           -  .  .  -  +  .  o  +     (- negative, + positive, o wrong -> other wrong, . none)
  const Paired p(json(std::vector<int>{0, 0, 0, 1, 1, 2, 2, 2}), one_row({0, 0, 1, 1, 2, 2, 0, 1}),
                 one_row({1, 0, 1, 2, 1, 2, 1, 2}), 3, {5});
  const json out = compute("metric_flips", p);
  check_matches(out["summary"], {{"flip_rate", 0.5}, {"negative_flip_rate", 0.25}, {"positive_flip_rate", 0.25},
                                 {"wrong_to_other_rate", 0.125}, {"accuracy_change", 0.0},
                                 {"changed_answers", 0.625}});
  check_matches(out["per_class"],
                json::parse(R"([
      {"class": 0, "n": 3, "negative_flips": 1, "positive_flips": 0, "wrong_to_other": 0,
       "negative_flip_rate": 0.3333333333333333, "recall_change": -0.3333333333333333},
      {"class": 1, "n": 2, "negative_flips": 1, "positive_flips": 1, "wrong_to_other": 0,
       "negative_flip_rate": 0.5, "recall_change": 0.0},
      {"class": 2, "n": 3, "negative_flips": 0, "positive_flips": 1, "wrong_to_other": 1,
       "negative_flip_rate": 0.0, "recall_change": 0.3333333333333333}])"));
  check_matches(out["examples_table"],
                json::parse(R"({"seed": [5, 5, 5, 5, 5], "id": [0, 3, 4, 6, 7], "label": [0, 1, 1, 2, 2],
                  "ref_pred": [0, 1, 2, 0, 1], "cand_pred": [1, 2, 1, 1, 2],
                  "flip": ["negative", "negative", "positive", "wrong_to_other", "positive"]})"));
  CHECK_FALSE(out["examples_table"].contains("kl"));  // no probabilities, no confidence or KL columns
  CHECK(out["per_seed"][0]["seed"] == 5);
}

TEST_CASE("flips of K = 2 seed pairs: per pair as numpy, means over pairs, one table for both", "[paired][flips]") {
  const Paired p = Paired::scenario();
  const json& e = fixtures()["scenario"]["flips"];
  const json out = compute("metric_flips", p);
  for (int k = 0; k < 2; ++k) check_matches(out["per_seed"][k]["summary"], e[k]["summary"]);
  check_matches(out["summary"], mean_of(e[0]["summary"], e[1]["summary"]));
  for (int c = 0; c < 4; ++c)
    CHECK(out["per_class"][c]["negative_flips"].get<double>() ==
          Approx((e[0]["per_class"][c]["negative_flips"].get<double>() +
                  e[1]["per_class"][c]["negative_flips"].get<double>()) / 2));
  const json& table = out["examples_table"];
  const std::size_t rows0 = e[0]["table"]["id"].size(), rows = rows0 + e[1]["table"]["id"].size();
  for (const char* column : {"seed", "id", "label", "ref_pred", "cand_pred", "ref_conf", "cand_conf", "kl", "flip"})
    REQUIRE(table[column].size() == rows);
  for (const char* column : {"id", "flip", "ref_conf", "cand_conf", "kl"}) {
    INFO(column);
    json got0 = json::array(), got1 = json::array();
    for (std::size_t r = 0; r < rows; ++r) (r < rows0 ? got0 : got1).push_back(table[column][r]);
    check_matches(got0, e[0]["table"][column]);
    check_matches(got1, e[1]["table"][column]);
  }
  CHECK(table["seed"][0] == 11);
  CHECK(table["seed"][rows - 1] == 12);
}

// --- McNemar -------------------------------------------------------------------------------------------------------

TEST_CASE("mcnemar per pair and per class matches binomtest with Holm from statsmodels", "[paired][mcnemar]") {
  const json& e = fixtures()["scenario"]["mcnemar_holm"];
  const json out = compute("metric_mcnemar", Paired::scenario());
  for (int k = 0; k < 2; ++k) {
    check_matches(out["per_seed"][k]["summary"],
                  {{"b", e[k]["b"]}, {"c", e[k]["c"]}, {"p_value", e[k]["p_value"]},
                   {"impacted_classes", e[k]["impacted_classes"]}});
  }
  CHECK(out["summary"]["p_value"].get<double>() ==
        Approx((e[0]["p_value"].get<double>() + e[1]["p_value"].get<double>()) / 2));
  CHECK(out["correction"] == "holm");
}

TEST_CASE("mcnemar: the correction changes the impacted count, as statsmodels says", "[paired][mcnemar]") {
  const json& e = fixtures()["mcnemar_correction"];
  const Paired p(e["targets"], json::array({e["pred_ref"]}), json::array({e["pred_cand"]}), e["num_classes"], {0});
  for (const char* method : {"none", "bh", "holm"}) {
    INFO(method);
    const json out = compute("metric_mcnemar", p, {{"correction", std::string(method)}});
    check_matches(out["per_class"], e[method]["per_class"]);
    CHECK(out["summary"]["impacted_classes"] == e[method]["impacted_classes"]);
    CHECK(out["per_class"][3]["direction"] == "up");  // significantly better: never impacted
    CHECK_FALSE(out["per_class"][3]["impacted"].get<bool>());
    CHECK(out["per_class"][4]["status"] == "no_discordant_pairs");
    CHECK(out["per_class"][5]["status"] == "no_examples");
  }
  CHECK(e["none"]["impacted_classes"] == 3);
  CHECK(e["holm"]["impacted_classes"] == 1);
}

TEST_CASE("mcnemar with no discordant pair reports p = 1 and says so, never NaN", "[paired][mcnemar]") {
  const Paired p(json(std::vector<int>{0, 1, 1, 2}), one_row({0, 1, 0, 2}), one_row({0, 1, 0, 2}), 3, {0});
  const json out = compute("metric_mcnemar", p);
  CHECK(out["status"] == "no_discordant_pairs");
  CHECK(out["summary"]["p_value"] == 1.0);
  CHECK(out["summary"]["b"] == 0);
  CHECK(out["summary"]["impacted_classes"] == 0);
  for (const auto& row : out["per_class"]) {
    CHECK(row["p_value"] == 1.0);
    CHECK(row["p_adjusted"] == 1.0);
    CHECK(row["status"] == "no_discordant_pairs");
  }
  CHECK(out.dump().find("NaN") == std::string::npos);
}

// --- paired bootstrap ----------------------------------------------------------------------------------------------

std::map<std::string, compaudit::ParamValue> bootstrap_params() {
  const json& b = fixtures()["scenario"]["bootstrap_params"];
  return {{"resamples", b["resamples"].get<std::int64_t>()}, {"seed", b["seed"].get<std::int64_t>()},
          {"alpha", b["alpha"].get<double>()}, {"delta", b["delta"].get<double>()},
          {"critical_class", b["critical_class"].get<std::int64_t>()}};
}

TEST_CASE("paired_bootstrap reproduces the NumPy stratified bootstrap on the same draws", "[paired][bootstrap]") {
  const json& e = fixtures()["scenario"];
  const json out = compute("metric_paired_bootstrap", Paired::scenario(), bootstrap_params());
  SECTION("pooled over both seed pairs") {
    check_matches(out["summary"], e["bootstrap_pooled"]["summary"]);
    check_matches(out["intervals"], e["bootstrap_pooled"]["intervals"]);
    check_matches(out["per_class"], e["bootstrap_pooled"]["per_class"]);
  }
  SECTION("each pair alone") {
    for (int k = 0; k < 2; ++k) {
      check_matches(out["per_seed"][k]["summary"], e["bootstrap_pairs"][k]["summary"]);
      check_matches(out["per_seed"][k]["intervals"], e["bootstrap_pairs"][k]["intervals"]);
    }
  }
  SECTION("the TOST bound is the interval's upper end and below delta means equivalent") {
    for (const auto& row : out["per_class"]) {
      CHECK(row["recall_drop_upper"].get<double>() <= -row["recall_change_low"].get<double>() + 1e-12);
      CHECK(row["equivalent"] == (row["recall_drop_upper"].get<double>() < 0.03));
    }
  }
}

TEST_CASE("paired_bootstrap is bit-reproducible for a seed, and the seed matters", "[paired][bootstrap]") {
  const Paired p = Paired::scenario();
  auto params = bootstrap_params();
  const json a = compute("metric_paired_bootstrap", p, params), b = compute("metric_paired_bootstrap", p, params);
  CHECK(a.dump() == b.dump());
  params["seed"] = std::int64_t{8};
  const json c = compute("metric_paired_bootstrap", p, params);
  CHECK(c["intervals"].dump() != a["intervals"].dump());
  CHECK(c["summary"]["accuracy_change"] == a["summary"]["accuracy_change"]);  // the point estimate does not move
}

TEST_CASE("paired_bootstrap runs B = 2000 on N = 10000, C = 10 well under a second", "[paired][bootstrap]") {
  const std::int64_t n = 10000;
  std::mt19937_64 gen(3);
  std::vector<std::int64_t> y(n), r(n), c(n);
  for (std::int64_t i = 0; i < n; ++i) {
    y[i] = static_cast<std::int64_t>(gen() % 10);
    r[i] = gen() % 10 < 9 ? y[i] : static_cast<std::int64_t>(gen() % 10);
    c[i] = gen() % 20 < 19 ? r[i] : static_cast<std::int64_t>(gen() % 10);
  }
  const Paired p(json(y), json::array({json(r)}), json::array({json(c)}), 10, {0});
  auto metric = make_plugin<compaudit::Metric>("metric_paired_bootstrap", {{"critical_class", std::int64_t{0}}});
  const auto start = std::chrono::steady_clock::now();
  const json out = metric->compute(p.input());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  WARN("paired_bootstrap B = 2000, N = 10000, C = 10: " << seconds << " s");
  CHECK(seconds < 1.0);
  CHECK(out["per_class"].size() == 10);
  CHECK(out["resamples"] == 2000);
}

TEST_CASE("paired_bootstrap and the paired metrics reject inputs they cannot pair", "[paired][errors]") {
  Paired p = Paired::scenario();
  CHECK_THROWS_WITH(compute("metric_paired_bootstrap", p, {{"critical_class", std::int64_t{4}}}),
                    Catch::Contains("critical_class = 4"));
  p.candidate.predicted = p.candidate.predicted.slice(0, 0, 1);
  for (const char* plugin : {"metric_flips", "metric_mcnemar", "metric_paired_bootstrap", "metric_kl_shift"})
    CHECK_THROWS_WITH(compute(plugin, p), Catch::Contains("has 2 models but the candidate 'int8' has 1"));
  Paired q = Paired::scenario();
  q.candidate.predicted[0][0] = 9;
  CHECK_THROWS_WITH(compute("metric_flips", q), Catch::Contains("predicted label 9 at [0, 0]"));
}

// --- KL shift --------------------------------------------------------------------------------------------------------

TEST_CASE("kl_shift matches rel_entr and numpy quantiles per pair, means over pairs", "[paired][kl]") {
  const json& e = fixtures()["scenario"]["kl_shift"];
  const json out = compute("metric_kl_shift", Paired::scenario());
  for (int k = 0; k < 2; ++k) check_matches(out["per_seed"][k]["summary"], e[k]);
  check_matches(out["summary"], mean_of(e[0], e[1]));
  CHECK(out["kl_floor"] == 1e-7);
}

TEST_CASE("kl_shift needs probabilities and says so", "[paired][kl]") {
  CHECK(make_plugin<compaudit::Metric>("metric_kl_shift")->needs().probabilities);
  Paired p = Paired::scenario();
  p.reference.probabilities = at::Tensor();
  CHECK_THROWS_WITH(compute("metric_kl_shift", p),
                    Catch::Contains("reference population 'dense' has no probabilities"));
}
