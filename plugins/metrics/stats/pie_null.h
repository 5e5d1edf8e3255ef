// pie_null.h — the seed-noise null and the bootstrap interval of the PIE count (docs/science.md §4); no LibTorch.
//
// Reference model k and candidate model k form pair k. Under "compression changed nothing" the two members of a pair
// are exchangeable, so swapping them (each pair with probability 1/2) and recomputing the PIE count gives its null
// distribution: the mean is the count that seed noise alone produces (the floor), the share of swaps reaching the
// observed count is the p-value. The interval resamples pairs with replacement (pairs stay together).
// Checked against a NumPy reference with the same enumeration and the same draws (draws.h) by
// tests/metrics/test_verdicts.cpp.
#pragma once

#include <cstdint>
#include <vector>

namespace compaudit::stats {

/// Settings of pie_null(); the defaults are the pie metric's parameter defaults.
struct PieNullOptions {
  std::int64_t permutations = 1000;  ///< P: random swaps; all 2^K swaps are enumerated instead when 2^K <= P
  std::int64_t bootstrap = 1000;     ///< B: resamples of the pairs for the interval (0: no interval)
  std::uint32_t seed = 0;            ///< Swaps draw from std::mt19937(seed), resamples from std::mt19937(seed + 1)
  double confidence = 0.95;          ///< Two-sided percentile interval
};

struct PieNullResult {
  std::int64_t observed = 0;          ///< PIE count of the populations as given
  double null_mean = 0.0;             ///< Mean PIE count over the swaps: the seed-noise floor
  double p_value = 1.0;               ///< Exact: #{count >= observed} / 2^K; random: (1 + #{>=}) / (1 + P)
  std::int64_t permutations = 0;      ///< Swaps evaluated (2^K when exact)
  bool exact = false;
  std::vector<double> bootstrap_counts;  ///< Sorted PIE counts of the B resamples (empty when B = 0)
  double ci_lo = 0.0, ci_hi = 0.0;       ///< Percentile interval of the count (numpy.quantile, "linear")
};

/// Null and interval of the PIE count for row-major [k, n] label matrices of paired populations (row k of each is
/// seed k). Labels must lie in [0, num_classes). Modal labels break ties toward the largest label, as modal_labels().
/// Cost O((P + B) K m), m = examples on which some pair disagrees (the others can never be PIEs).
PieNullResult pie_null(const std::int64_t* reference, const std::int64_t* candidate, std::int64_t k, std::int64_t n,
                       int num_classes, const PieNullOptions& options);

/// Per pair k, the fraction of the n examples on which reference row k and candidate row k disagree: the per-seed
/// statistic behind the PIE fraction, used by the report's trend test across levels.
std::vector<double> pair_disagreement(const std::int64_t* reference, const std::int64_t* candidate, std::int64_t k,
                                      std::int64_t n);

}  // namespace compaudit::stats
