#include "matched_rate.h"

#include "stats.h"

#include <boost/math/distributions/students_t.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

namespace compaudit::stats {

std::optional<double> tpr_at_fpr(const std::vector<double>& score, const std::vector<bool>& positive, double fpr) {
  if (score.size() != positive.size()) throw std::invalid_argument("tpr_at_fpr: score and positive differ in length");
  const std::size_t n = score.size();
  const auto p = static_cast<std::size_t>(std::count(positive.begin(), positive.end(), true));
  if (p == 0 || p == n) return std::nullopt;
  const double np = static_cast<double>(p), nn = static_cast<double>(n - p);
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return score[a] > score[b]; });
  // Walk the curve from (0, 0), one point per distinct score, highest first.
  double last_fpr = 0.0, last_tpr = 0.0;
  std::size_t tp = 0, fp = 0;
  for (std::size_t i = 0; i < n;) {
    std::size_t j = i;
    for (; j < n && score[order[j]] == score[order[i]]; ++j) (positive[order[j]] ? tp : fp) += 1;
    const double x = static_cast<double>(fp) / nn, y = static_cast<double>(tp) / np;
    if (x > fpr) return last_tpr + (y - last_tpr) * (fpr - last_fpr) / (x - last_fpr);  // x > fpr >= last_fpr
    last_fpr = x, last_tpr = y;
    i = j;
  }
  return last_tpr;  // fpr >= 1: the whole curve
}

PairedDifference paired_difference(const std::vector<double>& candidate, const std::vector<double>& reference,
                                   double confidence) {
  if (candidate.size() != reference.size())
    throw std::invalid_argument("paired_difference: the populations differ in size");
  std::vector<double> d(candidate.size());
  for (std::size_t k = 0; k < d.size(); ++k) d[k] = candidate[k] - reference[k];
  const Describe described = describe(d, confidence);
  PairedDifference r;
  r.n = described.n;
  r.mean = described.mean;
  r.sd = described.sd;
  r.lo = described.lo;
  r.hi = described.hi;
  if (r.n < 2 || !r.sd || *r.sd == 0.0) return r;
  r.t = r.mean / (*r.sd / std::sqrt(static_cast<double>(r.n)));
  const boost::math::students_t dist(static_cast<double>(r.n - 1));
  r.p = std::min(1.0, 2.0 * boost::math::cdf(boost::math::complement(dist, std::fabs(*r.t))));
  return r;
}

}  // namespace compaudit::stats
