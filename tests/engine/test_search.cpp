// Class-aware search (docs/attribution.md, analysis::search) on a hand-built MLP (analysis_toy.h) whose layers behave
// as designed under plain magnitude pruning written in the test:
//   fc1 (gains 1.3, 1.2, 1.0, 1.1): at 0.95 only two weights stay, those of classes 0 and 1, so the critical class 2
//       is cut; at 0.8 and below every class keeps its path.
//   fc2: "harmful": any compression (pruned at the value AND the critical class's row zeroed) destroys class 2
//       (its logit's bias is the lowest, so a class whose path is cut is never the default prediction).
//   fc3 (gains 1.2, 1.0, 1.3, 1.1): at 0.95 the two weights that stay are classes 2 and 0: class 2 keeps its recall,
//       and class 0 stays alive to take class 2's examples when fc1 cuts their path (so fc1 = 0.95 fails with it too).
// The gate: the critical class's recall drops by at most 0.01 on the validation data the test passes. So the best
// passing configuration is fc1 = 0.8, fc2 uncompressed, fc3 = 0.95, and the tests check that greedy finds it, that
// the chosen trial is the passing one with the fewest stored bytes, that exhaustive judges every configuration, and
// that the Pareto flags equal a brute force over models the test builds itself.
#include "analysis_toy.h"

#include "analysis/search.h"

#include <compaudit/error.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cfloat>
#include <map>
#include <set>

using namespace compaudit;
using namespace compaudit::engine;
using analysis_toy::param;
using nlohmann::json;

namespace {

constexpr int kCritical = 2;
const std::vector<std::string> kAllLayers{"fc1", "fc2", "fc3"};

/// The search problem around the toy model, with call counters.
struct ToySearch {
  std::unique_ptr<models::TrainableModel> dense;
  Dataset validation = analysis_toy::data(25, 5000, /*phase=*/1);
  std::map<std::pair<std::size_t, std::size_t>, int> option_calls;
  int judge_calls = 0;
  double reference_recall = 0;

  ToySearch() {
    analysis_toy::Gains g;
    g.fc1 = {1.3, 1.2, 1.0, 1.1};
    g.fc2 = {1.1, 1.0, 1.2, 1.15};  // distinct: which diagonal weights pruning keeps is not left to ties
    g.fc3 = {1.2, 1.0, 1.3, 1.1};
    dense = analysis_toy::model(g);
    // Class 2's logit has the lowest bias: when its path is cut and every logit is tiny, it is not the default.
    at::Tensor b3 = param(*dense, "fc3.bias");
    b3[kCritical] = -0.1;
    dense->replace_parameter("fc3.bias", b3);
    reference_recall = recall(analysis_toy::probabilities(*dense, validation.inputs));
  }

  /// The critical class's recall of probabilities on the validation data.
  double recall(const at::Tensor& probs) const {
    const at::Tensor in_class = validation.targets.eq(kCritical);
    return (probs.argmax(1).eq(validation.targets) & in_class).sum().item<double>() / in_class.sum().item<double>();
  }

  /// The weight of `layer` compressed at `value`, by the rules above.
  at::Tensor compressed_weight(const std::string& layer, double value) const {
    at::Tensor w = analysis_toy::magnitude_pruned(param(*dense, layer + ".weight"), value);
    if (layer == "fc2") w[kCritical].zero_();
    return w;
  }

  /// Dense with each layer of `config` (layer -> value or null) compressed, built without the engine.
  std::unique_ptr<models::TrainableModel> model_of(const json& config) const {
    auto m = dense->clone();
    for (const auto& [layer, value] : config.items())
      if (!value.is_null()) m->replace_parameter(layer + ".weight", compressed_weight(layer, value.get<double>()));
    return m;
  }

  analysis::SearchProblem problem(const std::vector<std::string>& layers, const std::vector<double>& values,
                                  const std::string& strategy = "greedy", int max_trials = 500) {
    analysis::SearchProblem p;
    p.reference = dense.get();
    p.layers = layers;
    p.values.assign(values.begin(), values.end());
    p.inputs = &validation.inputs;
    p.reference_outcome =
        analysis::make_reference(analysis_toy::probabilities(*dense, validation.inputs), validation.targets, kCritical);
    p.strategy = strategy;
    p.max_trials = max_trials;
    p.option = [this, layers, values](std::size_t l, std::size_t v) {
      ++option_calls[{l, v}];
      const std::string& name = layers[l];
      analysis::LayerChange c;
      c.index = std::stoi(name.substr(2)) - 1;
      c.layer = name;
      c.type = LayerType::linear;
      c.reference = {{name + ".weight", param(*dense, name + ".weight"), 32},
                     {name + ".bias", param(*dense, name + ".bias"), 32}};
      c.candidate = {{name + ".weight", compressed_weight(name, values[v]), 32},
                     {name + ".bias", param(*dense, name + ".bias"), 32}};
      std::vector<analysis::LayerChange> out;
      out.push_back(std::move(c));
      return out;
    };
    p.judge = [this](const at::Tensor& probs) {
      ++judge_calls;
      const double drop = reference_recall - recall(probs);
      const bool passed = drop <= 0.01;
      return json{{"results", json::array({{{"gate", "critical-recall"},
                                            {"value", drop},
                                            {"passed", passed},
                                            {"reason", passed ? "" : "recall drop above 0.01"}}})},
                  {"passed", passed}};
    };
    return p;
  }
};

/// Stored bytes of the model's three layers by the documented rule, computed here: per tensor the fewest of its
/// values, its non-zeros and r (m + n) for an m x n weight of numerical rank r (SVD, numpy's float32 tolerance), at
/// 4 bytes a value.
double own_stored_bytes(models::TrainableModel& m) {
  double total = 0;
  for (const std::string& layer : kAllLayers) {
    const at::Tensor w = param(m, layer + ".weight").to(at::kDouble), b = param(m, layer + ".bias");
    const at::Tensor s = at::linalg_svdvals(w);
    const double tol = s.max().item<double>() * static_cast<double>(std::max(w.size(0), w.size(1))) * FLT_EPSILON;
    const double rank = (s > tol).sum().item<double>();
    const double nonzeros = w.ne(0).sum().item<double>();
    total += 4 * std::min({static_cast<double>(w.numel()), nonzeros, rank * static_cast<double>(w.size(0) + w.size(1))});
    total += 4 * b.ne(0).sum().item<double>();
  }
  return total;
}

std::set<std::string> config_keys(const json& trials) {
  std::set<std::string> out;
  for (const auto& t : trials) out.insert(t["config"].dump());
  return out;
}

const json* trial_with(const json& trials, const json& config) {
  for (const auto& t : trials)
    if (t["config"] == config) return &t;
  return nullptr;
}

/// The chosen trial must pass and have the fewest stored bytes among the passing judged trials.
void check_chosen_is_cheapest_passing(const json& result) {
  const json& trials = result["trials"];
  REQUIRE(result["chosen"].is_number_integer());
  const json& chosen = trials[result["chosen"].get<std::size_t>()];
  CHECK(chosen["passed"] == true);
  for (const auto& t : trials)
    if (t["passed"] == true) CHECK(chosen["stored_bytes"].get<double>() <= t["stored_bytes"].get<double>());
}

}  // namespace

TEST_CASE("Greedy search leaves the harmful layer dense and compresses the others as far as the gate allows",
          "[engine][analysis][search]") {
  ToySearch toy;
  REQUIRE(toy.reference_recall == 1.0);  // the premise: dense is right on every critical example
  const json result = analysis::search(toy.problem(kAllLayers, {0.95, 0.8, 0.5}));
  const json& trials = result["trials"];
  INFO(result.dump(1));
  REQUIRE(result["passed"] == true);
  check_chosen_is_cheapest_passing(result);
  const json& chosen = trials[result["chosen"].get<std::size_t>()];
  const json expected{{"fc1", 0.8}, {"fc2", nullptr}, {"fc3", 0.95}};
  CHECK(chosen["config"] == expected);
  CHECK(result["config"] == expected);
  REQUIRE(chosen["gates"].size() == 1);
  CHECK(chosen["gates"][0]["passed"] == true);

  // One value more on fc1 was judged on the way and failed; fc3 is already at the most compression.
  const json* tighter = trial_with(trials, {{"fc1", 0.95}, {"fc2", nullptr}, {"fc3", 0.95}});
  REQUIRE(tighter != nullptr);
  CHECK((*tighter)["passed"] == false);
  for (const auto& t : trials)  // the harmful layer compressed never passes
    if (!t["config"]["fc2"].is_null()) CHECK(t["passed"] != true);

  // The chosen trial's numbers, from a model the test builds itself.
  auto model = toy.model_of(expected);
  const at::Tensor probs = analysis_toy::probabilities(*model, toy.validation.inputs);
  const at::Tensor dense_right =
      analysis_toy::probabilities(*toy.dense, toy.validation.inputs).argmax(1).eq(toy.validation.targets);
  const at::Tensor right = probs.argmax(1).eq(toy.validation.targets);
  const double n = static_cast<double>(toy.validation.size());
  CHECK(chosen["stored_bytes"].get<double>() == own_stored_bytes(*model));
  CHECK(chosen["negative_flip_rate"].get<double>() == Approx((dense_right & ~right).sum().item<double>() / n));
  CHECK(chosen["accuracy"].get<double>() == Approx(right.sum().item<double>() / n));
  CHECK(chosen["critical_recall"].get<double>() == 1.0);

  // Bookkeeping: ids are positions, each (layer, value) compressed once, each judged trial judged once.
  int judged = 0;
  for (std::size_t i = 0; i < trials.size(); ++i) {
    CHECK(trials[i]["id"] == i);
    if (!trials[i]["passed"].is_null()) ++judged;
    else CHECK(trials[i]["gates"].is_null());
  }
  CHECK(toy.judge_calls == judged);
  CHECK(config_keys(trials).size() == trials.size());
  for (const auto& [key, calls] : toy.option_calls) CHECK(calls == 1);
  CHECK(trials[0]["config"] == json({{"fc1", 0.95}, {"fc2", 0.95}, {"fc3", 0.95}}));
}

TEST_CASE("Exhaustive search judges every configuration and is refused beyond max_trials",
          "[engine][analysis][search]") {
  ToySearch toy;
  const std::vector<std::string> layers{"fc1", "fc3"};
  const std::vector<double> values{0.95, 0.8};
  SECTION("2 layers x 2 values: all 9 configurations, each judged once") {
    const json result = analysis::search(toy.problem(layers, values, "exhaustive", 9));
    const json& trials = result["trials"];
    INFO(result.dump(1));
    REQUIRE(trials.size() == 9);
    CHECK(toy.judge_calls == 9);
    std::set<std::string> expected;
    for (const json a : {json(0.95), json(0.8), json()})
      for (const json b : {json(0.95), json(0.8), json()}) expected.insert(json({{"fc1", a}, {"fc3", b}}).dump());
    CHECK(config_keys(trials) == expected);
    for (const auto& t : trials) CHECK(t["passed"].is_boolean());
    check_chosen_is_cheapest_passing(result);
    CHECK(result["config"] == json({{"fc1", 0.8}, {"fc3", 0.95}}));
    CHECK(toy.option_calls.size() == 4);  // 2 layers x 2 values, once each
  }
  SECTION("one configuration over the budget: refused before any work") {
    REQUIRE_THROWS_WITH(analysis::search(toy.problem(layers, values, "exhaustive", 8)),
                        Catch::Contains("max_trials") && Catch::Contains("9"));
    try {
      analysis::search(toy.problem(layers, values, "exhaustive", 8));
    } catch (const Error& e) {
      CHECK(e.code() == ErrorCode::pipeline);
    }
    CHECK(toy.judge_calls == 0);
    CHECK(toy.option_calls.empty());
  }
}

TEST_CASE("The Pareto frontier of an exhaustive search equals a brute force over every configuration",
          "[engine][analysis][search]") {
  ToySearch toy;
  const std::vector<double> values{0.95, 0.8};
  const json result = analysis::search(toy.problem(kAllLayers, values, "exhaustive", 27));
  const json& trials = result["trials"];
  REQUIRE(trials.size() == 27);

  // Every configuration's model built here, its three coordinates computed here.
  const at::Tensor dense_right =
      analysis_toy::probabilities(*toy.dense, toy.validation.inputs).argmax(1).eq(toy.validation.targets);
  struct Point {
    json config;
    double bytes, flips, recall;
  };
  std::vector<Point> points;
  for (const json a : {json(0.95), json(0.8), json()})
    for (const json b : {json(0.95), json(0.8), json()})
      for (const json c : {json(0.95), json(0.8), json()}) {
        const json config{{"fc1", a}, {"fc2", b}, {"fc3", c}};
        auto model = toy.model_of(config);
        const at::Tensor probs = analysis_toy::probabilities(*model, toy.validation.inputs);
        const at::Tensor right = probs.argmax(1).eq(toy.validation.targets);
        points.push_back({config, own_stored_bytes(*model),
                          (dense_right & ~right).sum().item<double>() / static_cast<double>(toy.validation.size()),
                          toy.recall(probs)});
      }
  // Non-dominated: no other point at least as good on all three coordinates and better on one.
  std::vector<bool> frontier(points.size(), true);
  for (std::size_t i = 0; i < points.size(); ++i)
    for (std::size_t j = 0; j < points.size(); ++j) {
      if (i == j) continue;
      const double better[3] = {points[i].bytes - points[j].bytes, points[i].flips - points[j].flips,
                                points[j].recall - points[i].recall};  // > 0: j better on that coordinate
      bool no_worse = true, strictly = false;
      for (int k = 0; k < 3; ++k) {
        no_worse = no_worse && better[k] >= 0;
        strictly = strictly || better[k] > 0;
      }
      if (no_worse && strictly) frontier[i] = false;
    }
  int on = 0;
  for (std::size_t i = 0; i < points.size(); ++i) {
    const json* t = trial_with(trials, points[i].config);
    REQUIRE(t != nullptr);
    INFO(points[i].config.dump() << " " << t->dump());
    CHECK((*t)["stored_bytes"].get<double>() == points[i].bytes);
    CHECK((*t)["negative_flip_rate"].get<double>() == Approx(points[i].flips));
    CHECK((*t)["critical_recall"].get<double>() == Approx(points[i].recall));
    CHECK((*t)["frontier"].get<bool>() == frontier[i]);
    on += frontier[i];
  }
  CHECK(on > 1);                                        // a real trade-off ...
  CHECK(on < static_cast<int>(points.size()));          // ... and dominated points
  CHECK(analysis::pareto_frontier(trials).size() == trials.size());
}

TEST_CASE("pareto_frontier reads accuracy when there is no critical recall", "[engine][analysis][search]") {
  auto trial = [](double bytes, double flips, json recall, double accuracy) {
    return json{{"stored_bytes", bytes}, {"negative_flip_rate", flips}, {"critical_recall", recall},
                {"accuracy", accuracy}};
  };
  const json with_recall = json::array({trial(100, 0.1, 0.9, 0.5), trial(100, 0.1, 0.8, 0.9),   // 1 dominated
                                        trial(50, 0.2, 0.7, 0.5), trial(50, 0.2, 0.7, 0.5),     // equal: both on
                                        trial(200, 0.0, 1.0, 0.1), trial(200, 0.05, 1.0, 0.9)});  // 5 dominated
  CHECK(analysis::pareto_frontier(with_recall) == std::vector<bool>{true, false, true, true, true, false});
  const json without = json::array({trial(100, 0.1, nullptr, 0.9), trial(100, 0.1, nullptr, 0.8),
                                     trial(90, 0.1, nullptr, 0.8)});
  CHECK(analysis::pareto_frontier(without) == std::vector<bool>{true, false, true});
}

TEST_CASE("A search that nothing passes reports its trials and chooses nothing, plugin errors propagate",
          "[engine][analysis][search]") {
  ToySearch toy;
  SECTION("a gate even the dense model fails") {
    auto p = toy.problem({"fc1", "fc3"}, {0.95, 0.8});
    p.judge = [](const at::Tensor&) {
      return json{{"results", json::array({{{"gate", "never"}, {"passed", false}}})}, {"passed", false}};
    };
    const json result = analysis::search(p);
    CHECK(result["passed"] == false);
    CHECK(result["chosen"].is_null());
    CHECK(result["config"].is_null());
    const json* dense = trial_with(result["trials"], {{"fc1", nullptr}, {"fc3", nullptr}});
    REQUIRE(dense != nullptr);  // relaxed all the way to uncompressed, and judged
    CHECK((*dense)["passed"] == false);
  }
  SECTION("a greedy search stays within max_trials") {
    const json result = analysis::search(toy.problem(kAllLayers, {0.95, 0.8, 0.5}, "greedy", 3));
    CHECK(result["trials"].size() <= 3);
  }
  SECTION("an option that changes another layer than the one it is given") {
    auto p = toy.problem({"fc1", "fc3"}, {0.95});
    const auto inner = p.option;
    p.option = [inner](std::size_t l, std::size_t v) {
      auto changes = inner(l, v);
      changes[0].layer = "fc2";
      return changes;
    };
    REQUIRE_THROWS_WITH(analysis::search(p), Catch::Contains("'fc1'") && Catch::Contains("'fc2'"));
  }
  SECTION("an option that throws") {
    auto p = toy.problem({"fc1", "fc3"}, {0.95});
    p.option = [](std::size_t, std::size_t) -> std::vector<analysis::LayerChange> {
      throw Error(ErrorCode::runtime, "the plugin failed");
    };
    REQUIRE_THROWS_WITH(analysis::search(p), Catch::Contains("the plugin failed"));
  }
}
