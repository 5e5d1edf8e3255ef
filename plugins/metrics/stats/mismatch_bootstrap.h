// mismatch_bootstrap.h — the memorization metric's statistics (mem against the 0/1 reference-vs-candidate mismatch of
// training examples) and their bootstrap over training examples, free of LibTorch.
//
// A resample draws n example indices with replacement; it is represented by each example's multiplicity, so the
// statistics below take weights (all 1 for the data as given) and cost O(n) per resample after one sort of mem:
// Spearman's rho with average ranks (the expanded sample's ranks, as scipy.stats.spearmanr on it), the ROC AUC from the
// positives' rank sum (ties one half, as sklearn.metrics.roc_auc_score), the means of mem over mismatched / matched
// examples, the mismatch rate overall and per bin. Checked against scipy / sklearn on the same resample indices by
// tests/metrics/test_memorization.cpp (scripts/fixtures/metrics/make_memorization_fixtures.py).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace compaudit::stats {

/// The statistics of one sample; nullopt where they do not exist (one class only, a constant mem, an empty bin).
struct MismatchStats {
  std::optional<double> spearman, auc, mean_mem_mismatched, mean_mem_matched, mismatch_rate;
  std::vector<std::optional<double>> bin_rate;  ///< Mismatch rate per bin
};

/// Statistics of the sample holding example i weight[i] times (weight empty: once each). bin[i] in [0, bins).
/// `order` is the examples sorted by mem, ascending (mem_order()).
MismatchStats mismatch_stats(const std::vector<double>& mem, const std::vector<bool>& mismatch,
                             const std::vector<std::size_t>& bin, std::size_t bins,
                             const std::vector<std::size_t>& order, const std::vector<std::uint32_t>& weight = {});

/// Indices of mem in ascending order (stable).
std::vector<std::size_t> mem_order(const std::vector<double>& mem);

/// A percentile interval and the number of resamples in which the statistic existed (those it is taken over).
struct PercentileInterval {
  double lo = 0.0, hi = 0.0;
  std::int64_t defined = 0;
};

struct MismatchIntervals {
  std::optional<PercentileInterval> spearman, auc, mean_mem_mismatched, mean_mem_matched, mismatch_rate;
  std::vector<std::optional<PercentileInterval>> bin_rate;
};

/// B resamples of the n examples, indices drawn as uniform_index(std::mt19937(seed), n) (draws.h), n per resample,
/// resample after resample. Each interval is the two-sided `confidence` percentile interval (numpy.quantile,
/// "linear") over the resamples in which the statistic exists; nullopt when it exists in none (or B = 0).
MismatchIntervals mismatch_bootstrap(const std::vector<double>& mem, const std::vector<bool>& mismatch,
                                     const std::vector<std::size_t>& bin, std::size_t bins, std::int64_t resamples,
                                     std::uint32_t seed, double confidence = 0.95);

}  // namespace compaudit::stats
