// power.cpp — see power.h.
#include "power.h"

#include <boost/math/distributions/non_central_t.hpp>
#include <boost/math/distributions/students_t.hpp>

#include <cmath>
#include <numeric>

namespace compaudit::stats {

double t_test_power(double effect, std::int64_t n, double alpha) {
  const double df = 2.0 * static_cast<double>(n) - 2.0;
  const double crit = boost::math::quantile(boost::math::complement(boost::math::students_t(df), alpha / 2.0));
  const boost::math::non_central_t nct(df, effect * std::sqrt(static_cast<double>(n) / 2.0));
  return boost::math::cdf(boost::math::complement(nct, crit)) + boost::math::cdf(nct, -crit);
}

std::optional<std::int64_t> models_needed(double effect, double alpha, double power, std::int64_t n_max) {
  effect = std::fabs(effect);
  if (!(effect > 0.0) || !std::isfinite(effect)) return std::nullopt;
  if (t_test_power(effect, 2, alpha) >= power) return 2;
  // Power grows with n: double until it is reached, then bisect (lo fails, hi reaches).
  std::int64_t lo = 2, hi = 4;
  while (t_test_power(effect, hi, alpha) < power) {
    if (hi >= n_max) return std::nullopt;
    lo = hi;
    hi = std::min(hi * 2, n_max);
  }
  while (hi - lo > 1) {
    const std::int64_t mid = lo + (hi - lo) / 2;
    (t_test_power(effect, mid, alpha) >= power ? hi : lo) = mid;
  }
  return hi;
}

std::optional<double> standardized_effect(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() < 2 || b.size() < 2) return std::nullopt;
  auto mean = [](const std::vector<double>& x) {
    return std::accumulate(x.begin(), x.end(), 0.0) / static_cast<double>(x.size());
  };
  const double ma = mean(a), mb = mean(b);
  double ss = 0.0;
  for (double v : a) ss += (v - ma) * (v - ma);
  for (double v : b) ss += (v - mb) * (v - mb);
  const double pooled = ss / static_cast<double>(a.size() + b.size() - 2);
  if (!(pooled > 0.0)) return std::nullopt;
  return std::fabs(ma - mb) / std::sqrt(pooled);
}

}  // namespace compaudit::stats
