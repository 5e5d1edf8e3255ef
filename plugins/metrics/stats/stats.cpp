// stats.cpp — see stats.h. Distributions come from Boost.Math (header-only), which throws on domain errors instead
// of returning NaN; every call below is guarded so that it only sees valid arguments.
#include "stats.h"

#include <boost/math/distributions/binomial.hpp>
#include <boost/math/distributions/students_t.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

namespace compaudit::stats {
namespace {

double mean_of(const std::vector<double>& x) {
  if (x.empty()) return 0.0;
  return std::accumulate(x.begin(), x.end(), 0.0) / static_cast<double>(x.size());
}

bool is_constant(const std::vector<double>& x) {
  return std::all_of(x.begin(), x.end(), [&](double v) { return v == x.front(); });
}

// Sample variance (ddof = 1), two-pass for accuracy. Exactly 0 for identical values, whose computed mean may
// differ from them in the last bit (0.2 * 3 / 3 != 0.2).
double variance_of(const std::vector<double>& x, double mean) {
  if (is_constant(x)) return 0.0;
  double ss = 0.0;
  for (double v : x) ss += (v - mean) * (v - mean);
  return ss / static_cast<double>(x.size() - 1);
}

std::vector<std::size_t> order_by_p(const std::vector<std::optional<double>>& p) {
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < p.size(); ++i)
    if (p[i]) order.push_back(i);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return *p[a] < *p[b]; });
  return order;
}

}  // namespace

Describe describe(const std::vector<double>& x, double confidence) {
  Describe d;
  d.n = x.size();
  d.mean = mean_of(x);
  if (d.n < 2) return d;
  const double sd = std::sqrt(variance_of(x, d.mean));
  d.sd = sd;
  const boost::math::students_t dist(static_cast<double>(d.n - 1));
  const double half = boost::math::quantile(dist, 0.5 + confidence / 2.0) * sd / std::sqrt(static_cast<double>(d.n));
  d.lo = d.mean - half;
  d.hi = d.mean + half;
  return d;
}

const char* to_string(WelchStatus status) noexcept {
  switch (status) {
    case WelchStatus::ok: return "ok";
    case WelchStatus::zero_variance: return "zero_variance";
    case WelchStatus::insufficient: return "insufficient_samples";
  }
  return "unknown";
}

WelchResult welch_test(const std::vector<double>& a, const std::vector<double>& b) {
  WelchResult r;
  r.mean_a = mean_of(a);
  r.mean_b = mean_of(b);
  if (a.size() < 2 || b.size() < 2) {
    r.status = WelchStatus::insufficient;
    return r;
  }
  const double na = static_cast<double>(a.size()), nb = static_cast<double>(b.size());
  const double va = variance_of(a, r.mean_a) / na;  // squared standard errors
  const double vb = variance_of(b, r.mean_b) / nb;
  if (va + vb == 0.0) {
    // Both groups constant: t would be 0/0 (equal values) or ±inf (different values). Report, do not divide.
    r.status = WelchStatus::zero_variance;
    r.mean_a = a.front();
    r.mean_b = b.front();
    r.means_equal = a.front() == b.front();
    return r;
  }
  r.status = WelchStatus::ok;
  r.t = (r.mean_a - r.mean_b) / std::sqrt(va + vb);
  r.df = (va + vb) * (va + vb) / (va * va / (na - 1.0) + vb * vb / (nb - 1.0));
  const boost::math::students_t dist(r.df);
  r.p = std::min(1.0, 2.0 * boost::math::cdf(boost::math::complement(dist, std::fabs(r.t))));
  return r;
}

Correction correction_from_string(const std::string& name) {
  if (name == "none") return Correction::none;
  if (name == "bh") return Correction::bh;
  if (name == "holm") return Correction::holm;
  throw std::invalid_argument("unknown correction '" + name + "' (expected none, bh or holm)");
}

std::vector<std::optional<double>> adjust_p(const std::vector<std::optional<double>>& p, Correction correction) {
  std::vector<std::optional<double>> out = p;
  if (correction == Correction::none) return out;
  const std::vector<std::size_t> order = order_by_p(p);
  const double m = static_cast<double>(order.size());
  if (correction == Correction::bh) {
    double running = 1.0;  // monotone from the largest p down
    for (std::size_t r = order.size(); r-- > 0;) {
      running = std::min(running, *p[order[r]] * m / static_cast<double>(r + 1));
      out[order[r]] = running;
    }
  } else {
    double running = 0.0;  // monotone from the smallest p up
    for (std::size_t r = 0; r < order.size(); ++r) {
      running = std::max(running, std::min(1.0, *p[order[r]] * (m - static_cast<double>(r))));
      out[order[r]] = running;
    }
  }
  return out;
}

std::vector<double> average_ranks(const std::vector<double>& x) {
  std::vector<std::size_t> order(x.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return x[a] < x[b]; });
  std::vector<double> ranks(x.size());
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j + 1 < order.size() && x[order[j + 1]] == x[order[i]]) ++j;
    const double rank = (static_cast<double>(i) + static_cast<double>(j)) / 2.0 + 1.0;  // mean of i+1 .. j+1
    for (std::size_t k = i; k <= j; ++k) ranks[order[k]] = rank;
    i = j + 1;
  }
  return ranks;
}

std::optional<double> pearson(const std::vector<double>& x, const std::vector<double>& y) {
  if (x.size() != y.size()) throw std::invalid_argument("pearson: x and y differ in length");
  if (x.size() < 2) return std::nullopt;
  const double mx = mean_of(x), my = mean_of(y);
  double sxy = 0.0, sxx = 0.0, syy = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  if (sxx == 0.0 || syy == 0.0) return std::nullopt;
  return std::clamp(sxy / std::sqrt(sxx * syy), -1.0, 1.0);
}

std::optional<double> spearman(const std::vector<double>& x, const std::vector<double>& y) {
  return pearson(average_ranks(x), average_ranks(y));
}

std::optional<double> roc_auc(const std::vector<double>& score, const std::vector<bool>& positive) {
  if (score.size() != positive.size()) throw std::invalid_argument("roc_auc: score and labels differ in length");
  const std::vector<double> ranks = average_ranks(score);
  double rank_sum = 0.0, n_pos = 0.0;
  for (std::size_t i = 0; i < ranks.size(); ++i)
    if (positive[i]) {
      rank_sum += ranks[i];
      n_pos += 1.0;
    }
  const double n_neg = static_cast<double>(score.size()) - n_pos;
  if (n_pos == 0.0 || n_neg == 0.0) return std::nullopt;
  return (rank_sum - n_pos * (n_pos + 1.0) / 2.0) / (n_pos * n_neg);  // Mann–Whitney U / (n_pos n_neg)
}

double quantile_sorted(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) throw std::invalid_argument("quantile_sorted: empty sample");
  const double h = static_cast<double>(sorted.size() - 1) * q;
  const std::size_t lo = static_cast<std::size_t>(std::floor(h));
  if (lo + 1 >= sorted.size()) return sorted.back();
  const double t = h - static_cast<double>(lo), a = sorted[lo], b = sorted[lo + 1];
  return t >= 0.5 ? b - (b - a) * (1.0 - t) : a + (b - a) * t;  // numpy's _lerp, for bit-equal results
}

double mcnemar_exact_p(std::int64_t b, std::int64_t c) {
  if (b < 0 || c < 0) throw std::invalid_argument("mcnemar_exact_p: negative count");
  if (b == c) return 1.0;  // includes b + c = 0: no discordant pair, no evidence either way
  const boost::math::binomial_distribution<double> dist(static_cast<double>(b + c), 0.5);
  return std::min(1.0, 2.0 * boost::math::cdf(dist, static_cast<double>(std::min(b, c))));
}

double kl_floored(const float* p, const float* q, int n) {
  double sum_p = 0.0, sum_q = 0.0;
  for (int j = 0; j < n; ++j) {
    sum_p += std::max<double>(p[j], kl_probability_floor);
    sum_q += std::max<double>(q[j], kl_probability_floor);
  }
  double kl = 0.0;
  for (int j = 0; j < n; ++j) {
    const double pj = std::max<double>(p[j], kl_probability_floor) / sum_p;
    const double qj = std::max<double>(q[j], kl_probability_floor) / sum_q;
    kl += pj * std::log(pj / qj);
  }
  return kl;
}

std::vector<std::int64_t> modal_labels(const std::int64_t* labels, std::int64_t k, std::int64_t n, int num_classes) {
  if (num_classes <= 0) throw std::invalid_argument("modal_labels: num_classes must be positive");
  std::vector<std::int64_t> mode(static_cast<std::size_t>(n), 0);
  // Count per block of columns so the counter stays in cache and memory stays bounded for many classes.
  const std::int64_t block = std::max<std::int64_t>(1, (1 << 16) / num_classes);
  std::vector<std::int32_t> counts;
  for (std::int64_t start = 0; start < n; start += block) {
    const std::int64_t width = std::min(block, n - start);
    counts.assign(static_cast<std::size_t>(width * num_classes), 0);
    for (std::int64_t row = 0; row < k; ++row) {
      const std::int64_t* r = labels + row * n + start;
      for (std::int64_t j = 0; j < width; ++j) {
        const std::int64_t label = r[j];
        if (label < 0 || label >= num_classes)
          throw std::out_of_range("label " + std::to_string(label) + " at [" + std::to_string(row) + ", " +
                                  std::to_string(start + j) + "] is outside [0, " + std::to_string(num_classes) + ")");
        ++counts[static_cast<std::size_t>(j * num_classes + label)];
      }
    }
    for (std::int64_t j = 0; j < width; ++j) {
      const std::int32_t* c = counts.data() + j * num_classes;
      int best = 0;
      for (int label = 1; label < num_classes; ++label)
        if (c[label] >= c[best]) best = label;  // >=: a tie goes to the larger label
      mode[static_cast<std::size_t>(start + j)] = best;
    }
  }
  return mode;
}

}  // namespace compaudit::stats
