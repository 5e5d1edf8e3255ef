// Per-layer attribution (docs/attribution.md) on a hand-built MLP whose every flip is known (analysis_toy.h): a
// "compressed" copy cuts the critical class's path in ONE layer, while the other layers get changes that cannot flip
// anything. analysis::attribute must name that layer first with harm 1, 'only' of it must flip exactly that class's
// examples, and the output and weight errors must equal an independent computation with plain at::matmul. Also the
// building blocks: compare() against a hand computation, changed_layers / with_changes, stored_bytes, output_errors.
#include "analysis_toy.h"

#include "analysis/attribution.h"
#include "analysis/layer_changes.h"
#include "analysis/outcome.h"
#include "analysis/output_error.h"

#include <compaudit/error.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <set>

using namespace compaudit;
using namespace compaudit::engine;
using analysis_toy::param;

namespace {

constexpr int kPerClass = 50;
constexpr std::int64_t kFirstId = 1000;  // ids are not row positions
constexpr int kCritical = 2;

/// A copy of `m` with parameter `name` replaced by f(its value).
template <class F>
void edit(models::TrainableModel& m, const std::string& name, F f) {
  at::Tensor t = param(m, name);
  f(t);
  m.replace_parameter(name, t);
}

/// The "compressed" model: fc1 changed only on the always-zero input feature 4 (weights differ, outputs do not), fc2
/// with the critical class's hidden unit cut (row 2 zero, bias -5: that unit is dead), fc3 moved by at most 1e-3.
std::unique_ptr<models::TrainableModel> damaged(models::TrainableModel& dense) {
  auto m = dense.clone();
  edit(*m, "fc1.weight", [](at::Tensor& w) { w.select(1, 4).add_(0.5); });
  edit(*m, "fc2.weight", [](at::Tensor& w) { w[kCritical].zero_(); });
  edit(*m, "fc2.bias", [](at::Tensor& b) { b[kCritical] = -5.0; });
  edit(*m, "fc3.weight", [](at::Tensor& w) { w.add_(1e-3 * at::linspace(-1, 1, w.numel()).reshape(w.sizes())); });
  return m;
}

const nlohmann::json& layer_entry(const nlohmann::json& record, const std::string& name) {
  for (const auto& l : record["layers"])
    if (l["layer"] == name) return l;
  FAIL("no layer " << name << " in " << record.dump());
  throw std::logic_error("unreachable");
}

/// ||y' - y||^2 and ||y||^2 of layer k's pre-activation on the dense model's own input to it, over the rows `rows`
/// (all when undefined): the MLP's forward pass written out with at::matmul in double.
struct Energies {
  double signal = 0, noise = 0;
};
Energies layer_energies(models::TrainableModel& dense, models::TrainableModel& changed, int k, const at::Tensor& x,
                        const at::Tensor& rows) {
  at::Tensor a = x.to(at::kDouble);
  for (int i = 1; i <= 3; ++i) {
    const std::string fc = "fc" + std::to_string(i);
    const at::Tensor w = param(dense, fc + ".weight").to(at::kDouble), b = param(dense, fc + ".bias").to(at::kDouble);
    const at::Tensor y = at::matmul(a, w.t()) + b;
    if (i == k) {
      const at::Tensor w2 = param(changed, fc + ".weight").to(at::kDouble);
      const at::Tensor b2 = param(changed, fc + ".bias").to(at::kDouble);
      at::Tensor d = at::matmul(a, w2.t()) + b2 - y;
      at::Tensor yy = y;
      if (rows.defined()) {
        d = d.index({rows});
        yy = yy.index({rows});
      }
      return {yy.pow(2).sum().item<double>(), d.pow(2).sum().item<double>()};
    }
    a = at::relu(y);
  }
  throw std::logic_error("no layer");
}

}  // namespace

TEST_CASE("Attribution names the one layer that cut the critical class, with harm 1 and independent errors",
          "[engine][analysis][attribution]") {
  const Dataset split = analysis_toy::data(kPerClass, kFirstId);
  auto dense = analysis_toy::model();
  auto compressed = damaged(*dense);
  const at::Tensor critical_rows = split.targets.eq(kCritical);

  // The premise: dense is right everywhere, so every flip below is the compression's.
  REQUIRE(analysis_toy::probabilities(*dense, split.inputs).argmax(1).eq(split.targets).all().item<bool>());

  const nlohmann::json record =
      analysis::attribute(*dense, *compressed, split, analysis::CriticalClass{kCritical, "two"}, 5);
  INFO(record.dump(1));
  REQUIRE(record["layers"].size() == 3);
  CHECK(record["examples_total"] == 4 * kPerClass);
  CHECK(record["critical_class"] == nlohmann::json({{"index", kCritical}, {"name", "two"}}));
  CHECK(record["reconstruction_agreement"].get<double>() == 1.0);  // nothing outside the weights

  SECTION("the damaging layer is listed first with harm 1, the harmless ones with harm 0") {
    CHECK(record["layers"][0]["layer"] == "fc2");
    CHECK(record["layers"][0]["harm"].get<double>() == Approx(1.0));
    CHECK(record["layers"][1]["harm"].get<double>() == Approx(0.0).margin(1e-12));
    CHECK(record["layers"][2]["harm"].get<double>() == Approx(0.0).margin(1e-12));
    CHECK(record["layers"][1]["layer"] == "fc1");  // ties keep model order
    CHECK(record["layers"][2]["layer"] == "fc3");
    const auto& totals = record["arm_totals"];
    CHECK(totals["negative_flips"] == kPerClass);
    CHECK(totals["positive_flips"] == 0);
    CHECK(totals["critical_negative_flips"] == kPerClass);
    CHECK(totals["critical_recall"].get<double>() == 0.0);
    CHECK(totals["critical_recall_change"].get<double>() == -1.0);
    CHECK(totals["accuracy_change"].get<double>() == Approx(-0.25));
    CHECK(record["damage_measure"] == "critical-class negative flips");
  }
  SECTION("'only fc2' flips exactly the critical class's examples; 'all but fc2' flips nothing") {
    const auto& fc2 = layer_entry(record, "fc2");
    CHECK(fc2["only"]["negative_flips"] == kPerClass);
    CHECK(fc2["only"]["critical_negative_flips"] == kPerClass);
    CHECK(fc2["only"]["critical_recall_change"].get<double>() == -1.0);
    CHECK(fc2["all_but"]["negative_flips"] == 0);
    CHECK(fc2["parameters"] == nlohmann::json({"fc2.weight", "fc2.bias"}));
    CHECK(fc2["type"] == "linear");
    for (const char* harmless : {"fc1", "fc3"}) {
      const auto& l = layer_entry(record, harmless);
      CHECK(l["only"]["negative_flips"] == 0);
      CHECK(l["all_but"]["critical_negative_flips"] == kPerClass);
      CHECK(l["flipped_examples"].empty());
    }
    // The same from the models' own forward passes: dense with fc2's compressed parameters only.
    auto only = dense->clone();
    only->replace_parameter("fc2.weight", param(*compressed, "fc2.weight"));
    only->replace_parameter("fc2.bias", param(*compressed, "fc2.bias"));
    const at::Tensor p_dense = analysis_toy::probabilities(*dense, split.inputs);
    const at::Tensor p_only = analysis_toy::probabilities(*only, split.inputs);
    const at::Tensor flipped = p_dense.argmax(1).eq(split.targets) & p_only.argmax(1).ne(split.targets);
    CHECK(flipped.equal(critical_rows));
  }
  SECTION("flipped_examples are ids of the critical class's examples, the largest true-class drop first") {
    const auto& ids = layer_entry(record, "fc2")["flipped_examples"];
    REQUIRE(ids.size() == 5);
    auto only = dense->clone();
    only->replace_parameter("fc2.weight", param(*compressed, "fc2.weight"));
    only->replace_parameter("fc2.bias", param(*compressed, "fc2.bias"));
    const at::Tensor p_dense = analysis_toy::probabilities(*dense, split.inputs);
    const at::Tensor p_only = analysis_toy::probabilities(*only, split.inputs);
    std::vector<std::pair<double, std::int64_t>> drops;  // (drop of the true class's probability, id)
    for (std::int64_t i = 0; i < split.size(); ++i) {
      const std::int64_t y = split.targets[i].item<std::int64_t>();
      if (p_dense[i].argmax().item<std::int64_t>() == y && p_only[i].argmax().item<std::int64_t>() != y)
        drops.emplace_back(p_dense[i][y].item<double>() - p_only[i][y].item<double>(), split.ids[i].item<std::int64_t>());
    }
    REQUIRE(drops.size() == static_cast<std::size_t>(kPerClass));
    std::sort(drops.begin(), drops.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    for (std::size_t k = 0; k < 5; ++k) {
      const auto id = ids[k].get<std::int64_t>();
      CHECK(id == drops[k].second);
      CHECK(id >= kFirstId + kCritical * kPerClass);  // the critical class's rows, as ids
      CHECK(id < kFirstId + (kCritical + 1) * kPerClass);
    }
  }
  SECTION("output and weight errors equal a computation with plain at::matmul") {
    // fc1 changed only where its input is always 0: its output is unchanged, exactly.
    const auto& fc1 = layer_entry(record, "fc1")["output_error"];
    CHECK(fc1["relative_l2"].get<double>() == 0.0);
    CHECK(fc1["sqnr_db"].is_null());  // infinite: no noise
    for (const auto& [name, k] : std::vector<std::pair<std::string, int>>{{"fc2", 2}, {"fc3", 3}}) {
      INFO(name);
      const auto& e = layer_entry(record, name)["output_error"];
      const Energies all = layer_energies(*dense, *compressed, k, split.inputs, at::Tensor());
      const Energies crit = layer_energies(*dense, *compressed, k, split.inputs, critical_rows);
      REQUIRE(e["sqnr_db"].is_number());
      CHECK(std::isfinite(e["sqnr_db"].get<double>()));
      CHECK(e["relative_l2"].get<double>() == Approx(std::sqrt(all.noise / all.signal)).epsilon(1e-5));
      CHECK(e["sqnr_db"].get<double>() == Approx(10 * std::log10(all.signal / all.noise)).epsilon(1e-5));
      CHECK(e["relative_l2_critical"].get<double>() == Approx(std::sqrt(crit.noise / crit.signal)).epsilon(1e-5));
      CHECK(e["sqnr_db_critical"].get<double>() == Approx(10 * std::log10(crit.signal / crit.noise)).epsilon(1e-5));
    }
    // The cut unit is worse over the critical class than over all (the class depends on it).
    const auto& fc2 = layer_entry(record, "fc2")["output_error"];
    CHECK(fc2["relative_l2_critical"].get<double>() > fc2["relative_l2"].get<double>());
    for (const char* name : {"fc1", "fc2", "fc3"}) {
      const at::Tensor w = param(*dense, std::string(name) + ".weight").to(at::kDouble);
      const at::Tensor w2 = param(*compressed, std::string(name) + ".weight").to(at::kDouble);
      const double expected = (w2 - w).pow(2).sum().sqrt().item<double>() / w.pow(2).sum().sqrt().item<double>();
      CHECK(layer_entry(record, name)["weight_error"]["relative_l2"].get<double>() == Approx(expected).epsilon(1e-9));
    }
  }
}

TEST_CASE("Attribution shares damage between layers by the harm formula", "[engine][analysis][attribution]") {
  const Dataset split = analysis_toy::data(kPerClass, kFirstId);
  auto dense = analysis_toy::model();
  auto harm = [](const nlohmann::json& record, const std::string& name) -> nlohmann::json {
    return layer_entry(record, name)["harm"];
  };

  SECTION("independent layers (each cuts another class): shares 1/2 + 1/2, or 1 + 0 by the critical class") {
    auto m = dense->clone();
    edit(*m, "fc2.weight", [](at::Tensor& w) { w[1].zero_(); });  // class 1's path
    edit(*m, "fc3.weight", [](at::Tensor& w) { w[3].zero_(); });  // class 3's logit
    const auto all_flips = analysis::attribute(*dense, *m, split, std::nullopt, 0);
    INFO(all_flips.dump(1));
    CHECK(all_flips["arm_totals"]["negative_flips"] == 2 * kPerClass);
    CHECK(harm(all_flips, "fc2").get<double>() == Approx(0.5));
    CHECK(harm(all_flips, "fc3").get<double>() == Approx(0.5));
    CHECK(all_flips["critical_class"].is_null());
    CHECK(all_flips["arm_totals"]["critical_recall"].is_null());
    CHECK(all_flips["arm_totals"]["critical_negative_flips"].is_null());
    CHECK(all_flips["damage_measure"] == "negative flips");
    CHECK(layer_entry(all_flips, "fc2")["flipped_examples"].empty());  // examples = 0
    const auto by_class_1 = analysis::attribute(*dense, *m, split, analysis::CriticalClass{1, "one"}, 3);
    CHECK(by_class_1["layers"][0]["layer"] == "fc2");
    CHECK(harm(by_class_1, "fc2").get<double>() == Approx(1.0));
    CHECK(harm(by_class_1, "fc3").get<double>() == Approx(0.0).margin(1e-12));
    CHECK(layer_entry(by_class_1, "fc2")["flipped_examples"].size() == 3);
  }
  SECTION("redundant layers (both cut the same class): they share it, 1/2 each") {
    auto m = dense->clone();
    edit(*m, "fc2.weight", [](at::Tensor& w) { w[kCritical].zero_(); });
    edit(*m, "fc3.weight", [](at::Tensor& w) { w[kCritical].zero_(); });
    const auto record = analysis::attribute(*dense, *m, split, analysis::CriticalClass{kCritical, "two"}, 5);
    INFO(record.dump(1));
    CHECK(harm(record, "fc2").get<double>() == Approx(0.5));
    CHECK(harm(record, "fc3").get<double>() == Approx(0.5));
    CHECK(layer_entry(record, "fc3")["all_but"]["critical_negative_flips"] == kPerClass);
  }
  SECTION("nothing flipped: harm is null for every layer") {
    auto m = dense->clone();
    edit(*m, "fc1.weight", [](at::Tensor& w) { w.select(1, 4).add_(0.5); });
    edit(*m, "fc3.weight", [](at::Tensor& w) { w.add_(1e-3); });
    const auto record = analysis::attribute(*dense, *m, split, analysis::CriticalClass{kCritical, "two"}, 5);
    INFO(record.dump(1));
    REQUIRE(record["layers"].size() == 2);
    for (const auto& l : record["layers"]) CHECK(l["harm"].is_null());
    CHECK(record["arm_totals"]["negative_flips"] == 0);
  }
}

TEST_CASE("A compressed layer that changed shape cannot be attributed, and the error names it",
          "[engine][analysis][attribution]") {
  const Dataset split = analysis_toy::data(5, 0);
  auto dense = analysis_toy::model();
  auto shrunk = dense->clone();  // fc1 loses two output units, fc2 the matching inputs (a structured pruner)
  shrunk->replace_parameter("fc1.weight", param(*dense, "fc1.weight").slice(0, 0, 6).clone());
  shrunk->replace_parameter("fc1.bias", param(*dense, "fc1.bias").slice(0, 0, 6).clone());
  shrunk->replace_parameter("fc2.weight", param(*dense, "fc2.weight").slice(1, 0, 6).clone());
  REQUIRE_THROWS_WITH(analysis::changed_layers(*dense, *shrunk), Catch::Contains("'fc1'") && Catch::Contains("shape"));
  REQUIRE_THROWS_WITH(analysis::attribute(*dense, *shrunk, split, std::nullopt, 5), Catch::Contains("'fc1'"));
  try {
    analysis::attribute(*dense, *shrunk, split, std::nullopt, 5);
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::runtime);
  }
}

TEST_CASE("changed_layers, with_changes and stored_bytes", "[engine][analysis][attribution]") {
  auto dense = analysis_toy::model();
  auto compressed = damaged(*dense);

  SECTION("the layers whose values differ, in model order, as deep copies") {
    CHECK(analysis::changed_layers(*dense, *dense->clone()).empty());
    auto changes = analysis::changed_layers(*dense, *compressed);
    REQUIRE(changes.size() == 3);
    for (int i = 0; i < 3; ++i) {
      const std::string name = "fc" + std::to_string(i + 1);
      CHECK(changes[i].index == i);
      CHECK(changes[i].layer == name);
      CHECK(changes[i].type == LayerType::linear);
      REQUIRE(changes[i].candidate.size() == 2);
      CHECK(changes[i].candidate[0].name == name + ".weight");
      CHECK(changes[i].candidate[1].name == name + ".bias");
      CHECK(changes[i].candidate[0].value.equal(param(*compressed, name + ".weight")));
      CHECK(changes[i].reference[0].value.equal(param(*dense, name + ".weight")));
    }
    compressed->replace_parameter("fc2.weight", at::zeros({8, 8}));  // the copies do not follow the model
    CHECK(!changes[1].candidate[0].value.equal(at::zeros({8, 8})));
  }
  SECTION("a change of storage bits alone is a change") {
    auto bits = dense->clone();
    bits->set_storage_bits("fc3.weight", 8);
    const auto changes = analysis::changed_layers(*dense, *bits);
    REQUIRE(changes.size() == 1);
    CHECK(changes[0].layer == "fc3");
    CHECK(changes[0].candidate[0].bits == 8);
    CHECK(changes[0].reference[0].bits == 32);
  }
  SECTION("with_changes puts the chosen layers' values and bits into a copy of the reference") {
    compressed->set_storage_bits("fc2.weight", 4);
    const auto changes = analysis::changed_layers(*dense, *compressed);
    REQUIRE(changes.size() == 3);
    const auto before = param(*dense, "fc2.weight");
    auto model = analysis::with_changes(*dense, {&changes[1]});
    CHECK(param(*model, "fc2.weight").equal(param(*compressed, "fc2.weight")));
    CHECK(param(*model, "fc2.bias").equal(param(*compressed, "fc2.bias")));
    CHECK(model->storage_bits("fc2.weight") == 4);
    CHECK(param(*model, "fc1.weight").equal(param(*dense, "fc1.weight")));
    CHECK(param(*model, "fc3.weight").equal(param(*dense, "fc3.weight")));
    CHECK(param(*dense, "fc2.weight").equal(before));  // the reference is not changed
    CHECK(dense->storage_bits("fc2.weight") == 32);
  }
  SECTION("stored_bytes: the cheapest of dense, non-zeros and a rank-r factorisation, at the storage bits") {
    const at::Tensor full = at::arange(1, 33, at::kFloat).reshape({4, 8}).cos() + 2;  // no zero, rank 4: 32 < 48
    const at::Tensor bias = at::ones({4});
    CHECK(analysis::stored_bytes({{"w", full, 32}}) == 32 * 4);
    CHECK(analysis::stored_bytes({{"w", full, 32}, {"b", bias, 32}}) == 32 * 4 + 4 * 4);
    CHECK(analysis::stored_bytes({{"b", at::zeros({4}), 32}}) == 0);
    at::Tensor half = full.clone();
    half.flatten().slice(0, 0, 16).zero_();
    CHECK(analysis::stored_bytes({{"w", half, 32}}) == 16 * 4);
    const at::Tensor rank1 = at::outer(at::arange(1, 9, at::kFloat), at::arange(2, 10, at::kFloat));  // 8x8
    CHECK(analysis::stored_bytes({{"w", rank1, 32}}) == 1 * (8 + 8) * 4);
    CHECK(analysis::stored_bytes({{"w", rank1, 8}}) == 16);
    CHECK(analysis::stored_bytes({{"w", rank1, 4}}) == 8);
    CHECK(analysis::stored_bytes({{"w", full, 8}}) == 32);
  }
}

TEST_CASE("output_errors: exact zero for an unchanged output, null critical columns without a critical class",
          "[engine][analysis][attribution]") {
  const Dataset split = analysis_toy::data(10, 0);
  auto dense = analysis_toy::model();
  auto compressed = damaged(*dense);
  const auto changes = analysis::changed_layers(*dense, *compressed);
  const auto errors = analysis::output_errors(*dense, changes, split.inputs, split.targets, std::nullopt);
  REQUIRE(errors.size() == 3);
  CHECK(errors[0]["relative_l2"].get<double>() == 0.0);
  CHECK(errors[0]["sqnr_db"].is_null());
  for (const auto& e : errors) {
    CHECK(e["relative_l2_critical"].is_null());
    CHECK(e["sqnr_db_critical"].is_null());
  }
  const Energies fc3 = layer_energies(*dense, *compressed, 3, split.inputs, at::Tensor());
  CHECK(errors[2]["relative_l2"].get<double>() == Approx(std::sqrt(fc3.noise / fc3.signal)).epsilon(1e-5));
  // Only the listed changes are measured: fc2 alone gives one entry, the same numbers.
  const auto alone = analysis::output_errors(*dense, {changes[1]}, split.inputs, split.targets, std::nullopt);
  REQUIRE(alone.size() == 1);
  CHECK(alone[0]["relative_l2"].get<double>() == Approx(errors[1]["relative_l2"].get<double>()));
}

TEST_CASE("compare(): flips, recall change and KL equal a hand computation", "[engine][analysis][attribution]") {
  // 6 examples, 3 classes, critical class 1 (examples 1, 2, 4).
  const std::vector<std::vector<double>> ref{{0.7, 0.2, 0.1}, {0.1, 0.8, 0.1}, {0.2, 0.5, 0.3},
                                             {0.5, 0.2, 0.3}, {0.6, 0.3, 0.1}, {0.3, 0.6, 0.1}};
  const std::vector<std::vector<double>> cand{{0.3, 0.6, 0.1}, {0.1, 0.3, 0.6}, {1.0, 0.0, 0.0},
                                              {0.1, 0.1, 0.8}, {0.2, 0.7, 0.1}, {0.2, 0.7, 0.1}};
  const std::vector<std::int64_t> y{0, 1, 1, 2, 1, 0};
  // Reference right: 0, 1, 2. Candidate right: 3, 4. Negative flips 0, 1, 2 (1 and 2 critical); positive 3, 4.
  auto tensor = [](const std::vector<std::vector<double>>& rows) {
    at::Tensor t = at::empty({6, 3});
    for (int i = 0; i < 6; ++i)
      for (int c = 0; c < 3; ++c) t[i][c] = rows[i][c];
    return t;
  };
  const at::Tensor targets = at::tensor(y, at::kLong);
  double kl = 0;  // mean KL(p || q), both floored at 1e-12 and renormalised
  for (int i = 0; i < 6; ++i) {
    double sp = 0, sq = 0;
    for (int c = 0; c < 3; ++c) {
      sp += std::max(static_cast<double>(static_cast<float>(ref[i][c])), 1e-12);
      sq += std::max(static_cast<double>(static_cast<float>(cand[i][c])), 1e-12);
    }
    for (int c = 0; c < 3; ++c) {
      const double p = std::max(static_cast<double>(static_cast<float>(ref[i][c])), 1e-12) / sp;
      const double q = std::max(static_cast<double>(static_cast<float>(cand[i][c])), 1e-12) / sq;
      kl += p * (std::log(p) - std::log(q)) / 6.0;
    }
  }
  const auto reference = analysis::make_reference(tensor(ref), targets, 1);
  const analysis::Outcome o = analysis::compare(reference, tensor(cand));
  CHECK(o.negative_flips == 3);
  CHECK(o.positive_flips == 2);
  CHECK(o.critical_negative_flips == 2);
  CHECK(o.negative_flip_rate == Approx(3.0 / 6));
  CHECK(o.accuracy == Approx(2.0 / 6));
  CHECK(o.accuracy_change == Approx(2.0 / 6 - 3.0 / 6));
  REQUIRE(o.critical_recall);
  CHECK(*o.critical_recall == Approx(1.0 / 3));
  CHECK(*o.critical_recall_change == Approx(1.0 / 3 - 2.0 / 3));
  CHECK(o.kl == Approx(kl).epsilon(1e-9));
  CHECK(o.flipped.equal(at::tensor(std::vector<std::int64_t>{1, 1, 1, 0, 0, 0}).to(at::kBool)));
  CHECK(analysis::damage(o, reference) == 2);
  const nlohmann::json j = o.to_json();
  CHECK(j["negative_flips"] == 3);
  CHECK(j["critical_negative_flips"] == 2);

  const auto no_critical = analysis::make_reference(tensor(ref), targets, std::nullopt);
  const analysis::Outcome n = analysis::compare(no_critical, tensor(cand));
  CHECK(analysis::damage(n, no_critical) == 3);
  CHECK(!n.critical_recall);
  CHECK(n.to_json()["critical_recall_change"].is_null());
  CHECK(n.to_json()["critical_negative_flips"].is_null());
  CHECK(analysis::compare(no_critical, tensor(ref)).kl == Approx(0.0).margin(1e-15));
}
