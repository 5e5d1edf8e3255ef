// host/engine/analysis/outcome.h — what changed between a reference model's and a candidate's predictions on one
// split: the per-example paired quantities attribution and search rank layers and configurations by.
#pragma once

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <vector>

namespace compaudit::engine::analysis {

/// A reference's predictions on a split, computed once and compared with many candidates.
struct Reference {
  at::Tensor probabilities;  ///< [N, C] float32
  at::Tensor targets;        ///< [N] int64
  at::Tensor correct;        ///< [N] bool: reference top-1 == target
  std::optional<int> critical_class;
};

/// `probabilities` and `targets` of the reference model on the split.
Reference make_reference(at::Tensor probabilities, at::Tensor targets, std::optional<int> critical_class);

/// The candidate against the reference, on the same examples:
///   negative_flips   reference right, candidate wrong (count)      positive_flips   the reverse
///   negative_flip_rate  negative_flips / N                         accuracy_change  candidate - reference top-1
///   critical_negative_flips, critical_recall_change, critical_recall (with a critical class; else null)
///   kl               mean over examples of KL(reference || candidate), probabilities floored at 1e-12 and
///                    renormalised (the kl_shift metric's rule, docs/metrics.md)
struct Outcome {
  std::int64_t negative_flips = 0, positive_flips = 0, critical_negative_flips = 0;
  double negative_flip_rate = 0, accuracy = 0, accuracy_change = 0, kl = 0;
  std::optional<double> critical_recall, critical_recall_change;
  at::Tensor flipped;  ///< [N] bool: the negative flips
  nlohmann::json to_json() const;
};
Outcome compare(const Reference& reference, const at::Tensor& candidate_probabilities);

/// The damage a configuration is ranked by: the critical class's negative flips when there is a critical class,
/// else all negative flips. Attribution and search use this one definition (docs/attribution.md).
double damage(const Outcome& outcome, const Reference& reference);

}  // namespace compaudit::engine::analysis
