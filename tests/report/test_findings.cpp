// The findings' verdicts: a trend across levels is printed only when the within-seed permutation test of
// Spearman's rho rejects, PIEs are "above noise" only when the metric says so, an underpowered Welch test is named.
#include <catch2/catch.hpp>

#include <random>

#include "../../host/report/src/findings.h"

using nlohmann::json;

namespace {

/// A report.json document with a dense arm and one pruned arm per level; per_seed[l][s] is seed s's disagreement
/// at level l, pie_fraction[l] the arm's PIE fraction.
json sweep_report(const std::vector<double>& levels, const std::vector<std::vector<double>>& per_seed,
                  const std::vector<double>& pie_fraction) {
  json arms = json::array({{{"name", "dense"}, {"base_name", "dense"}, {"level", 0}, {"sweep", json::object()},
                            {"steps", json::array()}, {"reference", ""}, {"top1", json::object()},
                            {"metrics", json::array()}}});
  for (std::size_t l = 0; l < levels.size(); ++l) {
    json seeds = json::array();
    for (std::size_t s = 0; s < per_seed[l].size(); ++s) seeds.push_back({{"seed", s}, {"disagreement", per_seed[l][s]}});
    const json pie = {{"summary",
                       {{"pie_count", 10}, {"pie_fraction", pie_fraction[l]}, {"pie_fraction_null_mean", 0.04},
                        {"pie_p_value", 0.3}, {"above_noise", false}}},
                      {"intervals", {{"pie_fraction_ci", {0.03, 0.08}}}},
                      {"null", {{"permutations", 32}, {"exact", true}, {"alpha", 0.05}}},
                      {"per_seed", seeds}};
    const json welch = {{"summary",
                         {{"status", "underpowered"}, {"impacted_classes", nullptr}, {"models_ref", 2},
                          {"models_cand", 2}, {"min_models", 3}, {"k_needed_min", 6}, {"k_needed_max", 40}}}};
    arms.push_back({{"name", "prune@" + std::to_string(l)}, {"base_name", "prune"}, {"level", levels[l]},
                    {"sweep", {{"sparsity", levels[l]}}}, {"steps", json::array({{{"plugin", "p"}}})},
                    {"reference", "dense"}, {"top1", json::object()},
                    {"metrics", json::array({{{"id", "org.compaudit.metric.pie"}, {"reference", "dense"},
                                              {"result", pie}, {"error", ""}},
                                             {{"id", "org.compaudit.metric.recall_welch"}, {"reference", "dense"},
                                              {"result", welch}, {"error", ""}}})}});
  }
  return {{"arms", arms}, {"failed_cells", json::array()}};
}

const json* finding(const json& all, const std::string& kind, const std::string& subject) {
  for (const auto& f : all)
    if (f["kind"] == kind && f["subject"] == subject) return &f;
  return nullptr;
}

}  // namespace

TEST_CASE("A clear trend across levels is printed with its test and noise says the trend is not shown",
          "[report][findings][trend]") {
  const std::vector<double> levels{0.5, 0.7, 0.9};
  SECTION("every seed's disagreement rises with level") {
    const json report = sweep_report(levels, {{0.050, 0.052, 0.049, 0.051, 0.050},
                                              {0.061, 0.060, 0.063, 0.059, 0.062},
                                              {0.080, 0.079, 0.082, 0.081, 0.078}},
                                     {0.0558, 0.0596, 0.0730});
    const json all = compaudit::report::findings(report);
    const json* f = finding(all, "pie_trend", "prune");
    REQUIRE(f);
    INFO((*f)["text"]);
    CHECK_THAT((*f)["text"].get<std::string>(), Catch::StartsWith("PIE fraction rises with level: 5.58% → 5.96% → 7.30%"));
    CHECK((*f)["shown"] == true);
    CHECK((*f)["p_value"].get<double>() < 0.001);  // (3!)^5 = 7776 block permutations; few reach |rho| of 0.95
  }
  SECTION("the seeds' disagreement falls while the PIE fractions rise: the verb follows the tested statistic") {
    const json report = sweep_report(levels, {{0.080, 0.079, 0.082, 0.081, 0.078},
                                              {0.061, 0.060, 0.063, 0.059, 0.062},
                                              {0.050, 0.052, 0.049, 0.051, 0.050}},
                                     {0.0037, 0.0045, 0.0056});
    const json all = compaudit::report::findings(report);
    const json* f = finding(all, "pie_trend", "prune");
    REQUIRE(f);
    INFO((*f)["text"]);
    CHECK_THAT((*f)["text"].get<std::string>(),
               Catch::StartsWith("per-seed disagreement with the reference falls with level: 8.00% → 6.10% → 5.04%"));
    CHECK_THAT((*f)["text"].get<std::string>(), Catch::Contains("the PIE fraction (0.37% → 0.45% → 0.56%) does not"));
    CHECK((*f)["shown"] == false);
  }
  SECTION("the level-wise fractions rise, but the seeds do not: not shown") {
    std::mt19937 rng(5);
    std::normal_distribution<double> noise(0.06, 0.01);
    std::vector<std::vector<double>> values(3, std::vector<double>(5));
    for (auto& level : values)
      for (auto& v : level) v = noise(rng);
    const json report = sweep_report(levels, values, {0.0558, 0.0596, 0.0730});
    const json all = compaudit::report::findings(report);
    const json* f = finding(all, "pie_trend", "prune");
    REQUIRE(f);
    INFO((*f)["text"]);
    CHECK_THAT((*f)["text"].get<std::string>(), Catch::Contains("trend not shown (p = "));
    CHECK_THAT((*f)["text"].get<std::string>(), !Catch::Contains("rises"));
    CHECK((*f)["shown"] == false);
    CHECK((*f)["p_value"].get<double>() >= 0.05);
  }
  SECTION("without per-seed values nothing is claimed") {
    json report = sweep_report(levels, {{0.05}, {0.06}, {0.07}}, {0.05, 0.06, 0.07});
    for (auto& arm : report["arms"])
      for (auto& m : arm["metrics"]) m["result"].erase("per_seed");
    const json all = compaudit::report::findings(report);
    const json* f = finding(all, "pie_trend", "prune");
    REQUIRE(f);
    CHECK_THAT((*f)["text"].get<std::string>(), Catch::Contains("trend not tested"));
  }
}

TEST_CASE("PIEs are stated beside their noise floor and an underpowered Welch test counts nothing",
          "[report][findings]") {
  const json all = compaudit::report::findings(
      sweep_report({0.5, 0.9}, {{0.05, 0.05}, {0.06, 0.07}}, {0.0558, 0.0730}));
  const json* noise = finding(all, "pie_noise", "prune@1");
  REQUIRE(noise);
  CHECK((*noise)["text"] ==
        "PIE fraction 7.30% [95% CI 3.00%, 8.00%] against a seed-noise floor of 4.00% (permutation p = 0.3, 32 "
        "exhaustive swaps): not above noise at alpha = 0.05");
  CHECK((*noise)["shown"] == false);
  const json* power = finding(all, "power", "prune@1");
  REQUIRE(power);
  CHECK_THAT((*power)["text"].get<std::string>(), Catch::StartsWith("Welch's test is underpowered with K = 2 and 2"));
  CHECK_THAT((*power)["text"].get<std::string>(), Catch::Contains("would need K = 6 to 40 models per population"));
  CHECK(finding(all, "impacted_trend", "prune") == nullptr);  // no counts to list
}

TEST_CASE("The memorization finding states Spearman's interval and the subset fraction as run", "[report][findings]") {
  json report = sweep_report({0.9}, {{0.05, 0.06}}, {0.07});
  const json mem = {{"summary", {{"spearman", 0.25}}},
                    {"intervals", {{"spearman", {0.125, 0.375}}}},
                    {"bins", json::array({{{"mismatch_rate", 0.1}}, {{"mismatch_rate", 0.4}}})},
                    {"subsets", {{"models", 8}, {"per_example", 6}, {"requested_fraction", 0.7},
                                 {"realized_fraction", 0.75}}}};
  report["arms"][1]["metrics"].push_back(
      {{"id", "org.compaudit.metric.memorization"}, {"reference", "dense"}, {"result", mem}, {"error", ""}});
  const json all = compaudit::report::findings(report);
  const json* f = finding(all, "memorization", "prune@0");
  REQUIRE(f);
  CHECK_THAT((*f)["text"].get<std::string>(),
             Catch::EndsWith("; Spearman 0.250 [95% bootstrap 0.125, 0.375]; subsets 6/8 = 0.75 (asked 0.7)"));
}
