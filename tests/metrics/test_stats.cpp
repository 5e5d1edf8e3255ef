// Tests of plugins/metrics/stats against scipy / sklearn (fixtures from scripts/fixtures/metrics/make_fixtures.py).
#include "fixtures.h"

#include <stats/stats.h>

#include <catch2/catch.hpp>

#include <cmath>
#include <map>

using compaudit::test::metric_fixtures;
namespace stats = compaudit::stats;

namespace {
std::vector<std::optional<double>> optional_vector(const nlohmann::json& j) {
  std::vector<std::optional<double>> out;
  for (const auto& v : j) out.emplace_back(v.get<double>());
  return out;
}
std::vector<bool> bool_vector(const nlohmann::json& j) {
  std::vector<bool> out;
  for (const auto& v : j) out.push_back(v.get<int>() != 0);
  return out;
}
}  // namespace

TEST_CASE("describe gives mean, sd and the Student-t interval of scipy.stats.t.interval", "[stats][interval]") {
  for (const auto& c : metric_fixtures()["describe"]) {
    const auto d = stats::describe(c["x"].get<std::vector<double>>(), c["confidence"].get<double>());
    CHECK(d.mean == Approx(c["mean"].get<double>()).epsilon(1e-12));
    REQUIRE(d.sd);
    CHECK(*d.sd == Approx(c["sd"].get<double>()).epsilon(1e-12));
    REQUIRE(d.lo);
    CHECK(*d.lo == Approx(c["lo"].get<double>()).epsilon(1e-10));
    CHECK(*d.hi == Approx(c["hi"].get<double>()).epsilon(1e-10));
  }
}

TEST_CASE("describe of one value has no standard deviation and no interval", "[stats][interval]") {
  const auto d = stats::describe({0.7});
  CHECK(d.mean == 0.7);
  CHECK_FALSE(d.sd);
  CHECK_FALSE(d.lo);
  const auto constant = stats::describe({0.5, 0.5, 0.5});
  REQUIRE(constant.lo);
  CHECK(*constant.lo == 0.5);
  CHECK(*constant.hi == 0.5);
}

TEST_CASE("Welch's test matches scipy.stats.ttest_ind(equal_var=False)", "[stats][welch]") {
  for (const auto& c : metric_fixtures()["welch"]) {
    INFO("a = " << c["a"].dump() << ", b = " << c["b"].dump());
    const auto w = stats::welch_test(c["a"].get<std::vector<double>>(), c["b"].get<std::vector<double>>());
    REQUIRE(w.status == stats::WelchStatus::ok);
    CHECK(w.t == Approx(c["t"].get<double>()).epsilon(1e-9));
    CHECK(w.df == Approx(c["df"].get<double>()).epsilon(1e-9));
    CHECK(w.p == Approx(c["p"].get<double>()).epsilon(1e-7).margin(1e-300));
  }
}

TEST_CASE("Welch's test reports zero variance in both groups instead of NaN", "[stats][welch]") {
  SECTION("equal constants") {
    const auto w = stats::welch_test({0.2, 0.2, 0.2}, {0.2, 0.2});
    CHECK(w.status == stats::WelchStatus::zero_variance);
    CHECK(w.means_equal);
    CHECK_FALSE(std::isnan(w.p));
  }
  SECTION("different constants") {
    const auto w = stats::welch_test({0.2, 0.2, 0.2}, {0.1, 0.1});
    CHECK(w.status == stats::WelchStatus::zero_variance);
    CHECK_FALSE(w.means_equal);
    CHECK(w.mean_a == Approx(0.2));
    CHECK(w.mean_b == Approx(0.1));
  }
  SECTION("a group of one value has no variance at all") {
    const auto w = stats::welch_test({0.2}, {0.1, 0.3});
    CHECK(w.status == stats::WelchStatus::insufficient);
    CHECK(std::string(stats::to_string(w.status)) == "insufficient_samples");
  }
}

TEST_CASE("Benjamini-Hochberg and Holm match their definitions and the hand-worked values", "[stats][correction]") {
  for (const auto& c : metric_fixtures()["adjust"]) {
    INFO("p = " << c["p"].dump());
    const auto p = optional_vector(c["p"]);
    const auto bh = stats::adjust_p(p, stats::Correction::bh);
    const auto holm = stats::adjust_p(p, stats::Correction::holm);
    const auto none = stats::adjust_p(p, stats::Correction::none);
    for (std::size_t i = 0; i < p.size(); ++i) {
      CHECK(*bh[i] == Approx(c["bh"][i].get<double>()).epsilon(1e-12));
      CHECK(*holm[i] == Approx(c["holm"][i].get<double>()).epsilon(1e-12));
      CHECK(*none[i] == *p[i]);
    }
  }
}

TEST_CASE("corrections skip p-values that do not exist and size the family without them", "[stats][correction]") {
  const std::vector<std::optional<double>> p = {0.01, std::nullopt, 0.04};
  const auto holm = stats::adjust_p(p, stats::Correction::holm);
  CHECK(*holm[0] == Approx(0.02));  // m = 2, not 3
  CHECK_FALSE(holm[1]);
  CHECK(*holm[2] == Approx(0.04));
  CHECK(stats::correction_from_string("bh") == stats::Correction::bh);
  CHECK_THROWS_AS(stats::correction_from_string("bonferroni"), std::invalid_argument);
}

TEST_CASE("average ranks and Spearman's rho match scipy", "[stats][rank]") {
  for (const auto& c : metric_fixtures()["ranks"])
    CHECK(stats::average_ranks(c["x"].get<std::vector<double>>()) == c["ranks"].get<std::vector<double>>());
  for (const auto& c : metric_fixtures()["spearman"]) {
    const auto rho = stats::spearman(c["x"].get<std::vector<double>>(), c["y"].get<std::vector<double>>());
    REQUIRE(rho);
    CHECK(*rho == Approx(c["rho"].get<double>()).epsilon(1e-12));
  }
  CHECK_FALSE(stats::spearman({1.0, 2.0, 3.0}, {4.0, 4.0, 4.0}));
}

TEST_CASE("ROC AUC with tied scores matches sklearn.metrics.roc_auc_score", "[stats][auc]") {
  for (const auto& c : metric_fixtures()["auc"]) {
    const auto auc = stats::roc_auc(c["score"].get<std::vector<double>>(), bool_vector(c["label"]));
    REQUIRE(auc);
    CHECK(*auc == Approx(c["auc"].get<double>()).epsilon(1e-12));
  }
  CHECK_FALSE(stats::roc_auc({0.1, 0.9}, {true, true}));
}

TEST_CASE("modal labels break ties towards the largest label, as in the hand-worked example", "[stats][pie]") {
  const auto& hand = metric_fixtures()["pie_hand"];
  for (const char* population : {"reference", "candidate"}) {
    std::vector<std::int64_t> flat;
    for (const auto& row : hand[population])
      for (const auto& v : row) flat.push_back(v.get<std::int64_t>());
    const auto rows = static_cast<std::int64_t>(hand[population].size());
    const auto mode = stats::modal_labels(flat.data(), rows, static_cast<std::int64_t>(flat.size()) / rows, 3);
    CHECK(mode == hand[std::string(population) + "_mode"].get<std::vector<std::int64_t>>());
  }
}

TEST_CASE("modal labels reject a label outside the classes", "[stats][pie]") {
  const std::vector<std::int64_t> labels = {0, 1, 3, 1};
  CHECK_THROWS_AS(stats::modal_labels(labels.data(), 2, 2, 3), std::out_of_range);
}

TEST_CASE("modal labels stay right across column blocks when there are many classes", "[stats][pie]") {
  // 1,000 classes make the counter work in blocks of 65 columns; compare with a direct count per column.
  const std::int64_t k = 7, n = 300;
  const int classes = 1000;
  std::vector<std::int64_t> labels(static_cast<std::size_t>(k * n));
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<std::int64_t>((i * 7919) % 13 * 71 % classes);
  const auto mode = stats::modal_labels(labels.data(), k, n, classes);
  for (std::int64_t j = 0; j < n; ++j) {
    std::map<std::int64_t, int> count;
    for (std::int64_t r = 0; r < k; ++r) ++count[labels[static_cast<std::size_t>(r * n + j)]];
    std::int64_t best = -1;
    int best_count = 0;
    for (const auto& [label, c] : count)  // ascending labels: >= keeps the largest of a tie
      if (c >= best_count) best = label, best_count = c;
    REQUIRE(mode[static_cast<std::size_t>(j)] == best);
  }
}
