// mismatch_bootstrap.cpp — see mismatch_bootstrap.h.
#include "mismatch_bootstrap.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <stdexcept>

#include "draws.h"
#include "stats.h"

namespace compaudit::stats {

std::vector<std::size_t> mem_order(const std::vector<double>& mem) {
  std::vector<std::size_t> order(mem.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return mem[a] < mem[b]; });
  return order;
}

MismatchStats mismatch_stats(const std::vector<double>& mem, const std::vector<bool>& mismatch,
                             const std::vector<std::size_t>& bin, std::size_t bins,
                             const std::vector<std::size_t>& order, const std::vector<std::uint32_t>& weight) {
  const std::size_t n = mem.size();
  if (mismatch.size() != n || bin.size() != n || order.size() != n || (!weight.empty() && weight.size() != n))
    throw std::invalid_argument("mismatch_stats: mem, mismatch, bins, order and weights differ in length");
  const auto w = [&](std::size_t i) { return weight.empty() ? 1.0 : static_cast<double>(weight[i]); };

  // Average ranks of the expanded sample: a group of equal scores holding total weight g after c examples has rank
  // c + (g + 1) / 2. Sums needed for rho (Pearson of rank and the 0/1 mismatch) and for the AUC (positives' rank sum).
  double total = 0, positives = 0, sum_rank_pos = 0, sum_rank_sq = 0, mem_pos = 0, mem_neg = 0;
  for (std::size_t a = 0; a < n;) {
    std::size_t b = a;
    double group = 0;
    while (b < n && mem[order[b]] == mem[order[a]]) group += w(order[b++]);
    const double rank = total + (group + 1.0) / 2.0;
    for (std::size_t j = a; j < b; ++j) {
      const std::size_t i = order[j];
      if (mismatch[i]) positives += w(i), sum_rank_pos += w(i) * rank, mem_pos += w(i) * mem[i];
      else mem_neg += w(i) * mem[i];
    }
    sum_rank_sq += group * rank * rank;
    total += group;
    a = b;
  }
  MismatchStats s;
  const double negatives = total - positives;
  if (total > 0) s.mismatch_rate = positives / total;
  if (positives > 0) s.mean_mem_mismatched = mem_pos / positives;
  if (negatives > 0) s.mean_mem_matched = mem_neg / negatives;
  if (positives > 0 && negatives > 0) {
    s.auc = (sum_rank_pos - positives * (positives + 1.0) / 2.0) / (positives * negatives);
    const double mean_rank = (total + 1.0) / 2.0, p = positives / total;
    const double var_rank = sum_rank_sq / total - mean_rank * mean_rank;
    const double cov = sum_rank_pos / total - mean_rank * p;
    if (var_rank > 1e-12 * mean_rank * mean_rank) s.spearman = cov / std::sqrt(var_rank * p * (1.0 - p));
  }
  std::vector<double> in_bin(bins, 0.0), flipped(bins, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    if (bin[i] >= bins) throw std::out_of_range("mismatch_stats: bin index outside [0, bins)");
    in_bin[bin[i]] += w(i);
    if (mismatch[i]) flipped[bin[i]] += w(i);
  }
  s.bin_rate.resize(bins);
  for (std::size_t b = 0; b < bins; ++b)
    if (in_bin[b] > 0) s.bin_rate[b] = flipped[b] / in_bin[b];
  return s;
}

namespace {

std::optional<PercentileInterval> percentile_interval(std::vector<double> values, double confidence) {
  if (values.empty()) return std::nullopt;
  std::sort(values.begin(), values.end());
  return PercentileInterval{quantile_sorted(values, (1.0 - confidence) / 2.0),
                            quantile_sorted(values, (1.0 + confidence) / 2.0),
                            static_cast<std::int64_t>(values.size())};
}

void collect(std::vector<double>& into, const std::optional<double>& value) {
  if (value) into.push_back(*value);
}

}  // namespace

MismatchIntervals mismatch_bootstrap(const std::vector<double>& mem, const std::vector<bool>& mismatch,
                                     const std::vector<std::size_t>& bin, std::size_t bins, std::int64_t resamples,
                                     std::uint32_t seed, double confidence) {
  const std::size_t n = mem.size();
  if (n > 0xffffffffu) throw std::invalid_argument("mismatch_bootstrap: more than 2^32 - 1 examples");
  const std::vector<std::size_t> order = mem_order(mem);
  std::vector<double> rho, auc, mean_pos, mean_neg, rate;
  std::vector<std::vector<double>> bin_rates(bins);
  std::mt19937 rng(seed);
  std::vector<std::uint32_t> weight(n);
  for (std::int64_t r = 0; n > 0 && r < resamples; ++r) {
    std::fill(weight.begin(), weight.end(), 0u);
    for (std::size_t d = 0; d < n; ++d) ++weight[uniform_index(rng, static_cast<std::uint32_t>(n))];
    const MismatchStats s = mismatch_stats(mem, mismatch, bin, bins, order, weight);
    collect(rho, s.spearman), collect(auc, s.auc), collect(mean_pos, s.mean_mem_mismatched);
    collect(mean_neg, s.mean_mem_matched), collect(rate, s.mismatch_rate);
    for (std::size_t b = 0; b < bins; ++b) collect(bin_rates[b], s.bin_rate[b]);
  }
  MismatchIntervals out;
  out.spearman = percentile_interval(std::move(rho), confidence);
  out.auc = percentile_interval(std::move(auc), confidence);
  out.mean_mem_mismatched = percentile_interval(std::move(mean_pos), confidence);
  out.mean_mem_matched = percentile_interval(std::move(mean_neg), confidence);
  out.mismatch_rate = percentile_interval(std::move(rate), confidence);
  for (auto& b : bin_rates) out.bin_rate.push_back(percentile_interval(std::move(b), confidence));
  return out;
}

}  // namespace compaudit::stats
