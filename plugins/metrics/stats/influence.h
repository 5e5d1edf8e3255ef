// influence.h — Feldman & Zhang's influence estimate from the memorization models, free of LibTorch.
//
// T subset models; membership[t, i] = 1 when model t trained on training example i, correct[t, j] = 1 when model t
// classifies test example j correctly. Then
//     infl(i -> j) = mean(correct[t, j] over t with membership[t, i] = 1) - mean(correct[t, j] over the others),
// defined when i is in some but not all subsets. With few models infl takes few distinct values (with every point in
// m of T subsets, one per count of correct models among i's m), so many training points tie: the result says how
// many share the largest value, and orders ties by training id so the listed ones are reproducible.
// Checked against the definition, point by point, by tests/metrics/test_memorization.cpp.
#pragma once

#include <cstdint>
#include <vector>

namespace compaudit::stats {

struct InfluenceEntry {
  std::int64_t train = 0;  ///< Training example i
  double influence = 0.0;  ///< infl(i -> j)
};

struct InfluencePoint {
  std::int64_t example = 0;          ///< Test example j
  std::vector<InfluenceEntry> top;   ///< The `top` largest infl(i -> j): influence descending, then i ascending
  std::int64_t tied_at_max = 0;      ///< How many training examples share the largest influence
};

/// Top influences on each test example in `points`, from row-major 0/1 matrices membership [T, n_train] and
/// correct [T, n_test]. Training examples in no or in every subset are skipped (their influence is undefined).
/// Throws std::invalid_argument on a point outside [0, n_test). Cost O(points * T * n_train).
std::vector<InfluencePoint> top_influence(const std::uint8_t* membership, const std::uint8_t* correct, std::int64_t T,
                                          std::int64_t n_train, std::int64_t n_test,
                                          const std::vector<std::int64_t>& points, std::size_t top);

}  // namespace compaudit::stats
