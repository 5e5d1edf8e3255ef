// org.compaudit.metric.paired_bootstrap — how large could the candidate's loss be, per class, given the test set's
// size? Stratified paired bootstrap (Efron 1979; Efron & Tibshirani 1993) with percentile intervals, and an
// equivalence test (TOST, Schuirmann 1987) for "class c loses no more than delta".
//
//     [[metric]]
//     plugin = "org.compaudit.metric.paired_bootstrap"
//     resamples = 2000           # B
//     seed = 0                   # same seed, same intervals, bit for bit
//     alpha = 0.05               # intervals at 1 - alpha; TOST at level alpha (a 1 - 2 alpha interval)
//     delta = 0.02               # equivalence margin on a class's recall drop
//     critical_class = 3         # FNR / FPR change of this class; -1: none
//
// One resample draws, within each class c, n_c examples with replacement (class counts are kept) and applies that
// same draw to both models. Statistics, candidate minus reference: accuracy change, each class's recall change, and
// for the critical class its FNR change (= minus its recall change) and FPR change (a prediction of the critical class
// on an example of another class is a false positive; FPR over the N - n_crit such examples). Intervals: percentiles
// alpha/2 and 1 - alpha/2 of the B values (numpy's "linear" quantile). TOST: the recall drop's upper bound is the
// 1 - alpha percentile (upper end of the 1 - 2 alpha interval); the class "loses no more than delta" (equivalent =
// true) when that bound is below delta. Not significant is not equivalent: a small class has a wide interval and is
// not shown equivalent. A class without examples has null values and counts as not shown equivalent.
//
// Random draws: SplitMix64 (Steele, Lea & Flood 2014) seeded with `seed`, output i = mix(seed + (i+1) 0x9E37...);
// draws in the order resample, class, position; index in class = floor((u >> 11) 2^-53 n_c). Independent of LibTorch
// and of threads, and reproduced bit for bit by the NumPy oracle (scripts/fixtures/metrics/make_paired_fixtures.py).
// Speed: every statistic is linear in per-example integer differences (candidate right - reference right, and
// candidate predicts critical - reference predicts critical), so a resample is N draws counted per example and, per
// class, a count-weighted sum over the few examples whose differences are not zero; nothing else is materialised
// per resample, and the pooled and per-pair bootstraps share the draws.
//
// K > 1 seed pairs: pairs share the N examples, so the examples are the sampling unit. The top-level result
// resamples examples once for all pairs and bootstraps the mean over pairs of each change (pooled over seeds, valid
// because the draw is shared); "per_seed" holds each pair's own bootstrap with the same seed (the same draws: one pass
// over them fills the pooled sums and every pair's).
//
// Output: "summary" {accuracy_change, max_recall_drop_upper, classes_not_shown_equivalent, and when critical_class
// >= 0: critical_fnr_change, critical_fpr_change}; "intervals" {accuracy_change, critical_fnr_change,
// critical_fpr_change}: [lo, hi]; "per_class" [{class, name, n, recall_change, recall_change_low,
// recall_change_high, recall_drop_upper, equivalent}]; "per_seed" [{seed, summary, intervals}]; the parameters.
#include "metric_paired_bootstrap_manifest.h"  // generated from manifests/metric_paired_bootstrap.toml
#include "stats/paired.h"

#include <compaudit/metric.h>

#include <algorithm>

namespace {

namespace metrics = compaudit::metrics;
namespace stats = compaudit::stats;
using nlohmann::json;

using Options = metric_paired_bootstrap_manifest::Options;

/// SplitMix64: a 64-bit state advanced by a constant and a bijective mix; output i is mix(seed + (i + 1) * golden).
struct SplitMix64 {
  std::uint64_t state;
  std::uint64_t operator()() {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
};

/// Per-example differences candidate - reference, summed over the pooled pairs, grouped by class (ascending index).
struct Deltas {
  std::vector<std::vector<std::int32_t>> correct;   ///< [class][j]: sum_k 1[c_k = y] - 1[r_k = y]
  std::vector<std::vector<std::int32_t>> critical;  ///< [class][j]: sum_k 1[c_k = crit] - 1[r_k = crit]
  std::int64_t pairs = 0;
};

Deltas deltas(const metrics::PairedPredictions& p, std::int64_t k_begin, std::int64_t k_end, std::int64_t crit) {
  Deltas d;
  d.pairs = k_end - k_begin;
  d.correct.resize(p.num_classes);
  d.critical.resize(p.num_classes);
  const std::int64_t* y = p.y();
  for (std::int64_t i = 0; i < p.n; ++i) {
    std::int32_t correct = 0, critical = 0;
    for (std::int64_t k = k_begin; k < k_end; ++k) {
      const std::int64_t r = p.ref(k)[i], c = p.cand(k)[i];
      correct += (c == y[i]) - (r == y[i]);
      critical += (c == crit) - (r == crit);
    }
    d.correct[y[i]].push_back(correct);
    d.critical[y[i]].push_back(critical);
  }
  return d;
}

/// Sums over one resample (or, for the observed values, over all examples): per class of `correct`, and of
/// `critical` over the examples outside the critical class (the change in false positives).
struct Sums {
  std::vector<std::int64_t> correct;  ///< [class]
  std::int64_t false_positives = 0;
};

Sums observed(const Deltas& d, std::int64_t crit) {
  Sums s;
  for (std::size_t c = 0; c < d.correct.size(); ++c) {
    std::int64_t fp = 0, sum = 0;
    for (std::size_t j = 0; j < d.correct[c].size(); ++j) sum += d.correct[c][j], fp += d.critical[c][j];
    s.correct.push_back(sum);
    if (static_cast<std::int64_t>(c) != crit) s.false_positives += fp;
  }
  return s;
}

/// One set's examples of one class whose deltas are not both zero (those that changed): only they move a sum.
struct Changed {
  std::vector<std::uint32_t> at;
  std::vector<std::int32_t> correct, critical;
};

/// The B resamples of every set of deltas (pooled, then each pair) from one pass of draws: the draws depend only on
/// the seed and the class sizes, which all sets share, so each set's sums are exactly those of its own pass (and K
/// pairs cost one stream of draws, not K + 1). A resample of a class counts how often each example was drawn; a
/// set's sum is then the count-weighted sum over its changed examples (integers: exact, in any order).
std::vector<std::vector<Sums>> resample(const std::vector<Deltas>& sets, std::int64_t crit, const Options& o) {
  const std::size_t m = sets.size(), classes = sets.front().correct.size();
  std::vector<std::vector<Changed>> changed(m, std::vector<Changed>(classes));  // [set][class]
  for (std::size_t t = 0; t < m; ++t)
    for (std::size_t c = 0; c < classes; ++c)
      for (std::size_t j = 0; j < sets[t].correct[c].size(); ++j)
        if (sets[t].correct[c][j] != 0 || sets[t].critical[c][j] != 0) {
          changed[t][c].at.push_back(static_cast<std::uint32_t>(j));
          changed[t][c].correct.push_back(sets[t].correct[c][j]);
          changed[t][c].critical.push_back(sets[t].critical[c][j]);
        }
  SplitMix64 rng{static_cast<std::uint64_t>(o.seed)};
  std::vector<std::vector<Sums>> out(m, std::vector<Sums>(static_cast<std::size_t>(o.resamples)));
  std::vector<std::int64_t> count;
  for (std::size_t b = 0; b < static_cast<std::size_t>(o.resamples); ++b) {
    for (std::size_t t = 0; t < m; ++t) out[t][b].correct.resize(classes);
    for (std::size_t c = 0; c < classes; ++c) {
      const std::size_t n = sets.front().correct[c].size();
      const double scale = 0x1.0p-53 * static_cast<double>(n);
      count.assign(n, 0);
      for (std::size_t j = 0; j < n; ++j)
        ++count[std::min(n - 1, static_cast<std::size_t>(static_cast<double>(rng() >> 11) * scale))];
      for (std::size_t t = 0; t < m; ++t) {
        const Changed& ch = changed[t][c];
        std::int64_t sum = 0, fp = 0;
        for (std::size_t i = 0; i < ch.at.size(); ++i) {
          sum += count[ch.at[i]] * ch.correct[i];
          fp += count[ch.at[i]] * ch.critical[i];
        }
        out[t][b].correct[c] = sum;
        if (static_cast<std::int64_t>(c) != crit) out[t][b].false_positives += fp;
      }
    }
  }
  return out;
}

/// Sorted bootstrap values of one statistic, with the percentile interval and one-sided bounds.
struct Distribution {
  std::vector<double> sorted;
  explicit Distribution(std::vector<double> v) : sorted(std::move(v)) { std::sort(sorted.begin(), sorted.end()); }
  double q(double level) const { return stats::quantile_sorted(sorted, level); }
};

class PairedBootstrapMetric final : public compaudit::Metric {
 public:
  explicit PairedBootstrapMetric(const compaudit::Params& params) : options_(params) {}

  json compute(const compaudit::MetricInput& input) override {
    const metrics::PairedPredictions p = metrics::checked_pairs(input, "paired_bootstrap");
    if (options_.critical_class >= p.num_classes)
      metrics::fail("paired_bootstrap: critical_class = " + std::to_string(options_.critical_class) +
                    " but the data has " + std::to_string(p.num_classes) + " classes");
    std::vector<Deltas> sets{deltas(p, 0, p.k, options_.critical_class)};  // pooled, then each pair (K > 1)
    for (std::int64_t k = 0; p.k > 1 && k < p.k; ++k) sets.push_back(deltas(p, k, k + 1, options_.critical_class));
    const std::vector<std::vector<Sums>> draws = resample(sets, options_.critical_class, options_);
    json out = bootstrap(input.data, p, sets[0], draws[0]);
    std::vector<json> pairs;
    for (std::int64_t k = 0; k < p.k; ++k)
      pairs.push_back(p.k == 1 ? out : bootstrap(input.data, p, sets[k + 1], draws[k + 1]));
    out["per_seed"] = metrics::per_seed(input.candidate, pairs, {"intervals"});
    out.update({{"resamples", options_.resamples}, {"seed", options_.seed}, {"alpha", options_.alpha},
                {"delta", options_.delta}, {"critical_class", options_.critical_class}});
    return out;
  }

 private:
  json bootstrap(const compaudit::EvalData& data, const metrics::PairedPredictions& p, const Deltas& d,
                 const std::vector<Sums>& draws) const {
    const std::int64_t crit = options_.critical_class;
    const double a = options_.alpha, pairs = static_cast<double>(d.pairs);
    const Sums seen = observed(d, crit);
    auto distribution = [&](auto&& statistic) {
      std::vector<double> v;
      for (const Sums& s : draws) v.push_back(statistic(s));
      return Distribution(std::move(v));
    };
    auto interval = [&](const Distribution& dist) { return json::array({dist.q(a / 2), dist.q(1 - a / 2)}); };

    auto accuracy = [&](const Sums& s) {
      std::int64_t sum = 0;
      for (std::int64_t v : s.correct) sum += v;
      return static_cast<double>(sum) / (pairs * static_cast<double>(p.n));
    };
    auto recall = [&](int c) {
      const double examples = pairs * static_cast<double>(p.class_count[c]);
      return [examples, c](const Sums& s) { return static_cast<double>(s.correct[c]) / examples; };
    };
    json summary = {{"accuracy_change", accuracy(seen)}};
    json intervals = {{"accuracy_change", interval(distribution(accuracy))}};

    json per_class = json::array();
    std::optional<double> max_drop_upper;
    int not_equivalent = 0;
    for (int c = 0; c < p.num_classes; ++c) {
      json row = {{"class", c}, {"name", metrics::class_name(data, c)}, {"n", p.class_count[c]},
                  {"recall_change", nullptr}, {"recall_change_low", nullptr}, {"recall_change_high", nullptr},
                  {"recall_drop_upper", nullptr}, {"equivalent", false}};
      if (p.class_count[c] == 0) {
        ++not_equivalent;
        per_class.push_back(std::move(row));
        continue;
      }
      const Distribution change = distribution(recall(c));
      const Distribution drop = distribution([&](const Sums& s) { return -recall(c)(s); });
      const double drop_upper = drop.q(1 - a);  // upper end of the 1 - 2 alpha interval of the drop
      const bool equivalent = drop_upper < options_.delta;
      not_equivalent += !equivalent;
      max_drop_upper = std::max(max_drop_upper.value_or(drop_upper), drop_upper);
      row.update({{"recall_change", recall(c)(seen)}, {"recall_change_low", change.q(a / 2)},
                  {"recall_change_high", change.q(1 - a / 2)}, {"recall_drop_upper", drop_upper},
                  {"equivalent", equivalent}});
      per_class.push_back(std::move(row));
    }
    summary["max_recall_drop_upper"] = metrics::number_or_null(max_drop_upper);
    summary["classes_not_shown_equivalent"] = not_equivalent;

    if (crit >= 0) {
      const std::int64_t negatives = p.n - p.class_count[crit];
      if (p.class_count[crit] == 0) {
        summary["critical_fnr_change"] = nullptr;
      } else {
        auto fnr = [&](const Sums& s) { return -recall(static_cast<int>(crit))(s); };
        summary["critical_fnr_change"] = fnr(seen);
        intervals["critical_fnr_change"] = interval(distribution(fnr));
      }
      if (negatives == 0) {
        summary["critical_fpr_change"] = nullptr;
      } else {
        const double examples = pairs * static_cast<double>(negatives);
        auto fpr = [examples](const Sums& s) { return static_cast<double>(s.false_positives) / examples; };
        summary["critical_fpr_change"] = fpr(seen);
        intervals["critical_fpr_change"] = interval(distribution(fpr));
      }
    }
    return {{"summary", std::move(summary)}, {"intervals", std::move(intervals)}, {"per_class", std::move(per_class)}};
  }

  const Options options_;
};

}  // namespace

COMPAUDIT_PLUGIN_MANIFEST(PairedBootstrapMetric, metric_paired_bootstrap_manifest)
