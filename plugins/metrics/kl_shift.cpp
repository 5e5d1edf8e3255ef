// org.compaudit.metric.kl_shift — how far did the candidate's probability vectors move from the reference's?
// (docs/science.md §8, "Distribution shift"; llama.cpp's --kl-divergence reports the same shape.)
//
//     [[metric]]
//     plugin = "org.compaudit.metric.kl_shift"
//
// Needs probabilities (manifest: needs = ["probabilities"]). Per example i: KL(P_ref,i || P_cand,i) and the reverse
// KL(P_cand,i || P_ref,i) in nats. The store keeps fp16 probabilities, where anything below 6e-8 is exactly 0 and a
// row need not sum to exactly 1; a 0 in the candidate where the reference has mass would make KL infinite. So every
// entry is clamped to at least 1e-7 and each vector renormalized to sum 1 before KL (stats::kl_floored): one 0 then
// costs at most p log(p / 1e-7) ~ 16 p nats instead of infinity. Distributions are summarised by the mean and the
// p50 / p90 / p99 / max (numpy's "linear" quantile). KL says how much changed, not whether it got worse: read it
// beside org.compaudit.metric.flips.
// top1_agreement = mean 1[r_i = c_i] of the top-1 predictions. True-class margin m_i = P_i[y] - max_{j != y} P_i[j]
// on the stored probabilities (no floor); margin change = m_cand - m_ref per example, its mean and 10th percentile
// (the tail of examples whose margin shrank most).
//
// K > 1 seed pairs: per pair; summary values are means over pairs; "per_seed" holds each pair's summary.
//
// Output: "summary" {kl_mean, kl_p50, kl_p90, kl_p99, kl_max, rkl_mean, rkl_p50, rkl_p90, rkl_p99, rkl_max,
// top1_agreement, margin_change_mean, margin_change_p10}; "per_seed" [{seed, summary}]; "kl_floor".
#include "metric_kl_shift_manifest.h"  // generated from manifests/metric_kl_shift.toml
#include "stats/paired.h"

#include <compaudit/metric.h>

#include <algorithm>
#include <numeric>

namespace {

namespace metrics = compaudit::metrics;
namespace stats = compaudit::stats;
using nlohmann::json;

/// p_true - max_{j != y} p_j over the n classes of one probability vector.
double true_class_margin(const float* p, std::int64_t y, std::int64_t n) {
  double other = -1.0;
  for (std::int64_t j = 0; j < n; ++j)
    if (j != y) other = std::max<double>(other, p[j]);
  return n > 1 ? p[y] - other : p[y];
}

/// Mean and the named quantiles of a sample, with keys prefixed by `prefix`.
void describe_into(json& summary, const std::string& prefix, std::vector<double> v) {
  std::sort(v.begin(), v.end());
  summary[prefix + "_mean"] = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  summary[prefix + "_p50"] = stats::quantile_sorted(v, 0.50);
  summary[prefix + "_p90"] = stats::quantile_sorted(v, 0.90);
  summary[prefix + "_p99"] = stats::quantile_sorted(v, 0.99);
  summary[prefix + "_max"] = v.back();
}

class KlShiftMetric final : public compaudit::Metric {
 public:
  explicit KlShiftMetric(const compaudit::Params&) {}

  compaudit::MetricNeeds needs() const override { return metric_kl_shift_manifest::needs; }

  json compute(const compaudit::MetricInput& input) override {
    const metrics::PairedPredictions p = metrics::checked_pairs(input, "kl_shift");
    const at::Tensor prob_ref = metrics::float_probabilities(input.reference, p, "reference");
    const at::Tensor prob_cand = metrics::float_probabilities(input.candidate, p, "candidate");
    const int classes = p.num_classes;
    std::vector<json> pairs;
    for (std::int64_t k = 0; k < p.k; ++k) {
      const std::int64_t *y = p.y(), *ref = p.ref(k), *cand = p.cand(k);
      std::vector<double> kl, rkl, margin_change;
      std::int64_t agree = 0;
      for (std::int64_t i = 0; i < p.n; ++i) {
        const std::int64_t row = (k * p.n + i) * classes;
        const float *pr = prob_ref.data_ptr<float>() + row, *pc = prob_cand.data_ptr<float>() + row;
        kl.push_back(stats::kl_floored(pr, pc, classes));
        rkl.push_back(stats::kl_floored(pc, pr, classes));
        margin_change.push_back(true_class_margin(pc, y[i], classes) - true_class_margin(pr, y[i], classes));
        agree += ref[i] == cand[i];
      }
      json summary = json::object();
      describe_into(summary, "kl", std::move(kl));
      describe_into(summary, "rkl", std::move(rkl));
      summary["top1_agreement"] = static_cast<double>(agree) / static_cast<double>(p.n);
      summary["margin_change_mean"] =
          std::accumulate(margin_change.begin(), margin_change.end(), 0.0) / static_cast<double>(p.n);
      std::sort(margin_change.begin(), margin_change.end());
      summary["margin_change_p10"] = stats::quantile_sorted(margin_change, 0.10);
      pairs.push_back({{"summary", std::move(summary)}});
    }
    json out = metrics::mean_over_pairs(pairs);
    out["per_seed"] = metrics::per_seed(input.candidate, pairs);
    out["kl_floor"] = stats::kl_probability_floor;
    return out;
  }
};

}  // namespace

COMPAUDIT_PLUGIN_MANIFEST(KlShiftMetric, metric_kl_shift_manifest)
