// matched_rate.h — the statistics behind the critical-class metric's comparisons that a moved decision threshold
// cannot win: a class-weighted loss lowers false negatives by predicting the class more often, so
// FNR at the default threshold alone rewards it. Compared at a matched false-positive rate, or by AUC, it must earn it.
//
// Checked against sklearn.metrics.roc_curve / scipy.stats.ttest_rel by tests/metrics/test_critical_class.cpp with
// fixtures from scripts/fixtures/metrics/make_critical_class_fixtures.py. No LibTorch; pure functions.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

namespace compaudit::stats {

/// The true-positive rate of `score` as a detector of `positive` at false-positive rate `fpr` (in [0, 1]), read off the
/// full ROC curve — the points (FP/N, TP/P) of "score >= t" for every distinct score t, plus (0, 0), as
/// sklearn.metrics.roc_curve(drop_intermediate=False) — at the highest point whose FPR is at most `fpr`, linearly
/// interpolated towards the next point when `fpr` falls between two points (the operating point of a threshold
/// randomised between those two scores, which reaches the FPR exactly). nullopt when either class is absent.
std::optional<double> tpr_at_fpr(const std::vector<double>& score, const std::vector<bool>& positive, double fpr);

/// Paired comparison over seeds: d_k = candidate_k - reference_k. The mean of d, its Student-t interval, and the
/// two-sided paired t-test of mean 0 (as scipy.stats.ttest_rel(candidate, reference) and scipy.stats.t.interval).
/// t and p are nullopt when n < 2 or every d_k is equal (sd 0: t does not exist); lo / hi when n < 2.
struct PairedDifference {
  std::size_t n = 0;
  double mean = 0.0;
  std::optional<double> sd, lo, hi, t, p;
};
PairedDifference paired_difference(const std::vector<double>& candidate, const std::vector<double>& reference,
                                   double confidence = 0.95);

}  // namespace compaudit::stats
