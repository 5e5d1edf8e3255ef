// paired.h — helpers shared by the paired metrics (flips, mcnemar, paired_bootstrap, kl_shift), which compare one
// reference and one candidate model example by example (docs/science.md §8).
//
// K > 1: row k of both populations comes from the same seed, so there are K seed pairs. Each pair is computed on its
// own; the top-level `summary` / `per_class` are means over pairs (mean_over_pairs) and `per_seed` keeps each pair's
// summary. Pairs share the N examples, so K N paired outcomes are not independent: tests are never pooled by adding
// counts over seeds (paired_bootstrap resamples examples once for all pairs instead; see docs/metrics.md).
//
// Header-only and internal to the built-in metrics.
#pragma once

#include "population.h"

#include <string>
#include <vector>

namespace compaudit::metrics {

/// The checked top-1 predictions of both populations, with the labels and class counts.
struct PairedPredictions {
  at::Tensor targets;               ///< [n] int64, labels in [0, num_classes)
  at::Tensor reference, candidate;  ///< [K, n] int64, labels in [0, num_classes)
  std::vector<std::int64_t> class_count;
  std::int64_t k = 0, n = 0;
  int num_classes = 0;

  const std::int64_t* y() const { return targets.data_ptr<std::int64_t>(); }
  const std::int64_t* ref(std::int64_t row) const { return reference.data_ptr<std::int64_t>() + row * n; }
  const std::int64_t* cand(std::int64_t row) const { return candidate.data_ptr<std::int64_t>() + row * n; }
};

/// Checks shapes, labels and that both populations have the same number K of seeds; `what` names the metric.
inline PairedPredictions checked_pairs(const MetricInput& input, const char* what) {
  PairedPredictions p;
  p.num_classes = input.data.num_classes;
  p.targets = checked_targets(input.data.targets, what);
  p.n = p.targets.size(0);
  if (p.n == 0) fail(std::string(what) + ": the evaluation split has no examples");
  p.class_count = class_counts(p.targets, p.num_classes, what);
  p.reference = checked_predictions(input.reference, p.n, "reference");
  p.candidate = checked_predictions(input.candidate, p.n, "candidate");
  p.k = p.reference.size(0);
  if (p.candidate.size(0) != p.k)
    fail(std::string(what) + ": the reference population '" + input.reference.arm + "' has " + std::to_string(p.k) +
         " models but the candidate '" + input.candidate.arm + "' has " + std::to_string(p.candidate.size(0)) +
         " (paired metrics compare seed k with seed k)");
  for (const at::Tensor& t : {p.reference, p.candidate}) {
    const std::int64_t* label = t.data_ptr<std::int64_t>();
    for (std::int64_t i = 0; i < t.numel(); ++i)
      if (label[i] < 0 || label[i] >= p.num_classes)
        fail(std::string(what) + ": predicted label " + std::to_string(label[i]) + " at [" +
             std::to_string(i / p.n) + ", " + std::to_string(i % p.n) + "] is outside [0, " +
             std::to_string(p.num_classes) + ")");
  }
  return p;
}

/// The population's probabilities as a contiguous CPU float32 [K, n, C] tensor (decoded from the store's fp16).
inline at::Tensor float_probabilities(const Population& pop, const PairedPredictions& p, const char* role) {
  return checked_probabilities(pop, p.k, p.n, p.num_classes, role).to(at::kCPU, at::kFloat).contiguous();
}

/// Mean over seed pairs of results with the same layout: objects by key, arrays by index, numbers averaged (nulls
/// skipped; null when all are null), booleans true when true in any pair, other values kept when all pairs agree and
/// "mixed" otherwise. One pair is returned unchanged (integers stay integers).
inline nlohmann::json mean_over_pairs(const std::vector<nlohmann::json>& v) {
  const nlohmann::json& first = v.front();
  if (v.size() == 1) return first;
  auto column = [&](auto&& get) {
    std::vector<nlohmann::json> col;
    for (const nlohmann::json& x : v) col.push_back(get(x));
    return mean_over_pairs(col);
  };
  if (first.is_object()) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& item : first.items())
      out[item.key()] = column([&](const nlohmann::json& x) { return x.value(item.key(), nlohmann::json()); });
    return out;
  }
  if (first.is_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (std::size_t i = 0; i < first.size(); ++i)
      out.push_back(column([&](const nlohmann::json& x) { return i < x.size() ? x[i] : nlohmann::json(); }));
    return out;
  }
  double sum = 0.0;
  int numbers = 0;
  bool any_true = false, all_equal = true;
  for (const nlohmann::json& x : v) {
    if (x.is_number()) sum += x.get<double>(), ++numbers;
    any_true = any_true || (x.is_boolean() && x.get<bool>());
    all_equal = all_equal && x == first;
  }
  if (numbers > 0) return sum / numbers;
  if (first.is_boolean()) return any_true;
  if (first.is_null()) return nullptr;
  return all_equal ? first : nlohmann::json("mixed");
}

/// [{seed, summary}] from per-pair results that each hold a "summary" (plus `extra` members, e.g. "intervals").
inline nlohmann::json per_seed(const Population& candidate, const std::vector<nlohmann::json>& pairs,
                               const std::vector<std::string>& extra = {}) {
  nlohmann::json out = nlohmann::json::array();
  for (std::size_t k = 0; k < pairs.size(); ++k) {
    nlohmann::json row = {{"seed", seed_of(candidate, k)}, {"summary", pairs[k].at("summary")}};
    for (const std::string& key : extra)
      if (pairs[k].contains(key)) row[key] = pairs[k][key];
    out.push_back(std::move(row));
  }
  return out;
}

}  // namespace compaudit::metrics
