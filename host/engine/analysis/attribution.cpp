#include "analysis/attribution.h"

#include "analysis/layer_changes.h"
#include "analysis/outcome.h"
#include "analysis/output_error.h"
#include "training/trainer.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <cmath>

namespace compaudit::engine::analysis {

namespace {

const char* type_name(LayerType t) { return t == LayerType::linear ? "linear" : t == LayerType::conv2d ? "conv2d" : "other"; }

double weight_relative_l2(const LayerChange& c) {
  const at::Tensor r = c.reference[0].value.to(at::kDouble), d = c.candidate[0].value.to(at::kDouble) - r;
  const double norm = r.norm().item<double>();
  return norm > 0 ? d.norm().item<double>() / norm : 0.0;
}

/// Ids of up to n negative flips, the largest drop of the true class's probability first.
nlohmann::json flipped_ids(const Outcome& o, const Reference& ref, const at::Tensor& candidate, const at::Tensor& ids,
                           int n) {
  const at::Tensor idx = o.flipped.nonzero().flatten();
  if (idx.numel() == 0 || n <= 0) return nlohmann::json::array();
  const at::Tensor y = ref.targets.index_select(0, idx).unsqueeze(1);
  const at::Tensor drop = (ref.probabilities.index_select(0, idx).gather(1, y) -
                           candidate.index_select(0, idx).gather(1, y)).flatten();
  const at::Tensor order = drop.argsort(0, /*descending=*/true).slice(0, 0, n);
  const at::Tensor chosen = ids.index_select(0, idx.index_select(0, order));
  nlohmann::json out = nlohmann::json::array();
  for (std::int64_t i = 0; i < chosen.numel(); ++i) out.push_back(chosen[i].item<std::int64_t>());
  return out;
}

}  // namespace

nlohmann::json attribute(models::TrainableModel& reference, models::TrainableModel& compressed, const Dataset& split,
                         std::optional<CriticalClass> critical, int examples) {
  const auto t0 = std::chrono::steady_clock::now();
  at::NoGradGuard no_grad;
  const std::vector<LayerChange> changes = changed_layers(reference, compressed);
  const std::optional<int> critical_index = critical ? std::optional<int>(critical->index) : std::nullopt;
  const Reference ref = make_reference(predict_probabilities(reference, split.inputs), split.targets, critical_index);
  int evaluations = 1;
  auto evaluate = [&](const std::vector<const LayerChange*>& subset) {
    ++evaluations;
    auto model = with_changes(reference, subset);
    return predict_probabilities(*model, split.inputs);
  };
  std::vector<const LayerChange*> all;
  for (const auto& c : changes) all.push_back(&c);
  const at::Tensor all_probs = evaluate(all);
  const Outcome whole = compare(ref, all_probs);
  // The weights-only reconstruction against the model as it is (an activation hook or other state the weights do
  // not carry would make them differ): the share of examples whose top-1 agrees.
  const at::Tensor actual = predict_probabilities(compressed, split.inputs);
  ++evaluations;
  const double agreement =
      split.size() ? actual.argmax(1).eq(all_probs.argmax(1)).to(at::kDouble).mean().item<double>() : 1.0;
  const double d_all = damage(whole, ref);
  const auto errors = output_errors(reference, changes, split.inputs, split.targets, critical_index);

  nlohmann::json layers = nlohmann::json::array();
  for (std::size_t i = 0; i < changes.size(); ++i) {
    const at::Tensor only_probs = evaluate({&changes[i]});
    const Outcome only = compare(ref, only_probs);
    std::vector<const LayerChange*> rest;
    for (const auto& c : changes)
      if (&c != &changes[i]) rest.push_back(&c);
    const Outcome all_but = compare(ref, evaluate(rest));
    nlohmann::json params = nlohmann::json::array();
    for (const auto& p : changes[i].candidate) params.push_back(p.name);
    const double harm = (damage(only, ref) + d_all - damage(all_but, ref)) / (2.0 * d_all);
    layers.push_back({{"layer", changes[i].layer},
                      {"type", type_name(changes[i].type)},
                      {"parameters", params},
                      {"only", only.to_json()},
                      {"all_but", all_but.to_json()},
                      {"harm", d_all > 0 ? nlohmann::json(harm) : nlohmann::json()},
                      {"output_error", errors[i]},
                      {"weight_error", {{"relative_l2", weight_relative_l2(changes[i])}}},
                      {"flipped_examples", flipped_ids(only, ref, only_probs, split.ids, examples)}});
  }
  // Most harmful first; without a damage to share (D(all) = 0), by what each layer does alone.
  std::stable_sort(layers.begin(), layers.end(), [](const nlohmann::json& a, const nlohmann::json& b) {
    if (!a["harm"].is_null() && !b["harm"].is_null()) return a["harm"].get<double>() > b["harm"].get<double>();
    return a["only"]["negative_flips"].get<std::int64_t>() > b["only"]["negative_flips"].get<std::int64_t>();
  });
  return {{"examples_total", split.size()},
          {"critical_class", critical ? nlohmann::json{{"index", critical->index}, {"name", critical->name}}
                                      : nlohmann::json()},
          {"damage_measure", critical ? "critical-class negative flips" : "negative flips"},
          {"arm_totals", whole.to_json()},
          {"reconstruction_agreement", agreement},
          {"evaluations", evaluations},
          {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()},
          {"layers", layers}};
}

}  // namespace compaudit::engine::analysis
