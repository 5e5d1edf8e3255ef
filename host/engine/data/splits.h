// host/engine/data/splits.h — deterministic, stratified selection of examples, long-tail resampling and
// normalisation. All random choices use a seeded std::mt19937_64 with our own Fisher–Yates shuffle (std::shuffle's
// draws are implementation-defined), so a split is the same on every platform for the same seed.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace compaudit::engine {

/// Number of examples per class, for labels 0..num_classes-1.
std::vector<std::int64_t> class_counts(const at::Tensor& targets, int num_classes);

/// Chooses `want[c]` examples of each class c at random (seeded) and returns their indices in ascending order.
/// Requires want[c] <= the count of class c.
std::vector<std::int64_t> stratified_take(const at::Tensor& targets, const std::vector<std::int64_t>& want,
                                          std::uint64_t seed);

/// Splits indices 0..N-1 into (kept, taken) with about `fraction` of each class taken (rounded per class).
std::pair<std::vector<std::int64_t>, std::vector<std::int64_t>> stratified_split(const at::Tensor& targets,
                                                                                 int num_classes, double fraction,
                                                                                 std::uint64_t seed);

/// Per-class counts that sum to min(limit, total) in proportion to `counts` (largest remainder; ties go to the
/// lower class).
std::vector<std::int64_t> proportional_counts(const std::vector<std::int64_t>& counts, std::int64_t limit);

/// The exponential long-tail profile n_c = n_max * IF^(c / (C - 1)), rounded, at least 1, at most counts[c].
/// n_max is the largest class count; IF = n_min / n_max in (0, 1].
std::vector<std::int64_t> long_tail_counts(const std::vector<std::int64_t>& counts, double imbalance);

/// Rows `indices` of a tensor (dimension 0).
at::Tensor take_rows(const at::Tensor& t, const std::vector<std::int64_t>& indices);

/// Normalisation fitted on training inputs and applied to every split.
///   "standard": (x - mean) / std, per channel for images, per feature for tabular data; a constant feature
///               (std 0, common in digits' border pixels) is only centred.
///   "minmax":   (x - min) / (max - min), same granularity; a constant feature maps to 0.
///   "none":     unchanged (uint8 images still become float32 in 0..255).
struct Normalizer {
  std::string mode = "standard";
  at::Tensor shift, scale;  // broadcastable to one example
  void fit(const at::Tensor& train_inputs, bool is_image);
  at::Tensor apply(const at::Tensor& inputs) const;  // float32 result
};

}  // namespace compaudit::engine
