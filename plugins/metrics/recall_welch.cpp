// org.compaudit.metric.recall_welch — which classes did compression hurt more (or less) than the average?
// (Hooker et al., "What do compressed deep neural networks forget?", §3.)
//
//     [[metric]]
//     plugin = "org.compaudit.metric.recall_welch"
//     alpha = 0.05               # impacted when the (adjusted) p-value is <= alpha
//     correction = "bh"          # "none" (as the paper) | "bh" (Benjamini–Hochberg) | "holm"
//     min_models = 3             # below this K per population the test is "underpowered": no impacted count
//
// For every model k of a population, per-class recall r[c,k] is normalized by the population's mean top-1:
// r~[c,k] = r[c,k] - mean_k(top1[k]), which removes the overall accuracy drop, so a class only stands out when it lost
// more (or less) than the model as a whole. Per class, Welch's two-sided t-test compares r~ of the reference and the
// candidate populations: t = (mean r~_ref - mean r~_cand) / sqrt(s²_ref/K_ref + s²_cand/K_cand), Welch–Satterthwaite
// degrees of freedom, p from Student's t (Boost.Math). t > 0 ("down"): the class lost more than average.
//
// Cases without a t statistic are reported, not turned into NaN:
//   status "zero_variance": r~ is constant in both populations (typically recall 1.0 in every model: a ceiling).
//     p, t and df are null; "means_equal" tells whether the two constants agree, d and direction how they differ.
//     Not impacted: without a test there is no evidence, and a constant gap is only the overall top-1 shift.
//     summary.zero_variance_classes counts these classes so they are not silently lost.
//   status "insufficient_samples": a population has fewer than two models (no variance): not impacted.
//   status "no_examples": the evaluation split has no example of the class: not impacted.
// Corrections are applied over the classes with status "ok" only.
//
// Power (docs/science.md §3). With fewer than min_models models in either population (default 3: at K = 2 Welch's test
// has about one degree of freedom), summary.status is "underpowered" and the impacted counts (summary and per class)
// are null instead of numbers: t and p are still shown, but no class is declared impacted or not. For every tested
// class, k_needed is the smallest K per population at which the two-sided two-sample t-test reaches power 0.8 at
// alpha for the observed effect |d| / pooled between-seed sd (Boost.Math's non-central t; Student's test with equal
// K, the usual planning approximation of Welch's); null when d = 0 or beyond 10^6. summary.k_needed_min is the K at
// which the most detectable class would be detected, k_needed_max the K for the least detectable of the classes
// that have a k_needed. Post-hoc power at the observed effect is not reported: it is a function of p alone.
//
// Output: "per_class": [{class, name, n, recall_ref, recall_cand, d, t, df, p, p_adjusted, impacted, direction,
// status, means_equal, k_needed}], d = mean r~_cand - mean r~_ref; "summary": {status ("ok" | "underpowered"),
// impacted_classes, impacted_down, impacted_up, tested_classes, zero_variance_classes, models_ref, models_cand,
// min_models, k_needed_min, k_needed_max}; "alpha"; "correction".
#include "metric_recall_welch_manifest.h"  // generated from manifests/metric_recall_welch.toml
#include "stats/population.h"
#include "stats/power.h"

#include <compaudit/metric.h>

namespace {

namespace stats = compaudit::stats;

constexpr double kTargetPower = 0.8;  ///< The power k_needed aims for (the conventional 80 %)

/// r~[c][k] of one population and its mean raw recall per class.
struct NormalizedRecall {
  std::vector<std::vector<double>> normalized;  ///< [C][K]
  std::vector<double> recall_mean;              ///< [C]
};

NormalizedRecall normalized_recall(const at::Tensor& predicted, const at::Tensor& targets,
                                   const std::vector<std::int64_t>& class_count, int num_classes) {
  const std::int64_t k = predicted.size(0), n = predicted.size(1);
  const std::int64_t* pred = predicted.data_ptr<std::int64_t>();
  const std::int64_t* y = targets.data_ptr<std::int64_t>();
  const std::vector<double> top1 = compaudit::metrics::top1_per_model(predicted, targets);
  double mean_top1 = 0.0;
  for (double t : top1) mean_top1 += t / static_cast<double>(k);

  NormalizedRecall out;
  out.normalized.assign(num_classes, std::vector<double>(static_cast<std::size_t>(k), 0.0));
  out.recall_mean.assign(num_classes, 0.0);
  std::vector<std::int64_t> hits(num_classes);
  for (std::int64_t row = 0; row < k; ++row) {
    std::fill(hits.begin(), hits.end(), 0);
    for (std::int64_t i = 0; i < n; ++i) hits[y[i]] += pred[row * n + i] == y[i];
    for (int c = 0; c < num_classes; ++c) {
      if (class_count[c] == 0) continue;
      const double recall = static_cast<double>(hits[c]) / static_cast<double>(class_count[c]);
      out.normalized[c][row] = recall - mean_top1;
      out.recall_mean[c] += recall / static_cast<double>(k);
    }
  }
  return out;
}

class RecallWelchMetric final : public compaudit::Metric {
 public:
  explicit RecallWelchMetric(const compaudit::Params& params)
      : options_(params), correction_(stats::correction_from_string(options_.correction)) {}

  nlohmann::json compute(const compaudit::MetricInput& input) override {
    const int num_classes = input.data.num_classes;
    const at::Tensor targets = compaudit::metrics::checked_targets(input.data.targets, "recall_welch");
    const std::int64_t n = targets.size(0);
    const std::vector<std::int64_t> class_count =
        compaudit::metrics::class_counts(targets, num_classes, "recall_welch");
    const auto ref = normalized_recall(compaudit::metrics::checked_predictions(input.reference, n, "reference"),
                                       targets, class_count, num_classes);
    const auto cand = normalized_recall(compaudit::metrics::checked_predictions(input.candidate, n, "candidate"),
                                        targets, class_count, num_classes);

    std::vector<stats::WelchResult> tests(num_classes);
    std::vector<std::optional<double>> p(num_classes);
    for (int c = 0; c < num_classes; ++c) {
      if (class_count[c] == 0) continue;
      tests[c] = stats::welch_test(ref.normalized[c], cand.normalized[c]);
      if (tests[c].status == stats::WelchStatus::ok) p[c] = tests[c].p;
    }
    const std::vector<std::optional<double>> p_adjusted = stats::adjust_p(p, correction_);
    const std::int64_t k_ref = input.reference.predicted.size(0), k_cand = input.candidate.predicted.size(0);
    const bool underpowered = std::min(k_ref, k_cand) < options_.min_models;
    std::optional<std::int64_t> k_needed_min, k_needed_max;

    nlohmann::json per_class = nlohmann::json::array();
    int impacted = 0, down = 0, up = 0, tested = 0, zero_variance = 0;
    for (int c = 0; c < num_classes; ++c) {
      const stats::WelchResult& w = tests[c];
      nlohmann::json row = {{"class", c}, {"name", compaudit::metrics::class_name(input.data, c)},
                            {"n", class_count[c]}, {"t", nullptr}, {"df", nullptr}, {"p", nullptr},
                            {"p_adjusted", nullptr}, {"means_equal", nullptr}, {"impacted", false}};
      if (class_count[c] == 0) {
        row.update({{"status", "no_examples"}, {"recall_ref", nullptr}, {"recall_cand", nullptr}, {"d", nullptr},
                    {"direction", "none"}});
        per_class.push_back(std::move(row));
        continue;
      }
      const double diff = w.mean_a - w.mean_b;  // > 0: the candidate's normalized recall is lower
      bool is_impacted = false;
      row.update({{"status", stats::to_string(w.status)}, {"recall_ref", ref.recall_mean[c]},
                  {"recall_cand", cand.recall_mean[c]}, {"d", -diff},
                  {"direction", diff > 0 ? "down" : diff < 0 ? "up" : "none"}});
      row["k_needed"] = nullptr;
      if (w.status == stats::WelchStatus::ok) {
        ++tested;
        is_impacted = !underpowered && *p_adjusted[c] <= options_.alpha;
        row.update({{"t", w.t}, {"df", w.df}, {"p", w.p}, {"p_adjusted", *p_adjusted[c]}});
        const auto effect = stats::standardized_effect(ref.normalized[c], cand.normalized[c]);
        if (auto k = effect ? stats::models_needed(*effect, options_.alpha, kTargetPower) : std::nullopt) {
          row["k_needed"] = *k;
          k_needed_min = std::min(k_needed_min.value_or(*k), *k);
          k_needed_max = std::max(k_needed_max.value_or(*k), *k);
        }
        if (underpowered) row["impacted"] = nullptr;
      } else if (w.status == stats::WelchStatus::zero_variance) {
        ++zero_variance;
        row["means_equal"] = w.means_equal;
      }
      if (!row["impacted"].is_null()) row["impacted"] = is_impacted;
      if (is_impacted) (diff > 0 ? down : up) += 1;
      impacted += is_impacted;
      per_class.push_back(std::move(row));
    }
    auto count_or_null = [&](int v) { return underpowered ? nlohmann::json() : nlohmann::json(v); };
    auto k_or_null = [](const std::optional<std::int64_t>& k) { return k ? nlohmann::json(*k) : nlohmann::json(); };
    return {{"per_class", std::move(per_class)},
            {"summary",
             {{"status", underpowered ? "underpowered" : "ok"}, {"impacted_classes", count_or_null(impacted)},
              {"impacted_down", count_or_null(down)}, {"impacted_up", count_or_null(up)},
              {"tested_classes", tested}, {"zero_variance_classes", zero_variance}, {"models_ref", k_ref},
              {"models_cand", k_cand}, {"min_models", options_.min_models},
              {"k_needed_min", k_or_null(k_needed_min)}, {"k_needed_max", k_or_null(k_needed_max)}}},
            {"alpha", options_.alpha},
            {"correction", options_.correction}};
  }

 private:
  const metric_recall_welch_manifest::Options options_;
  const stats::Correction correction_;
};

}  // namespace

COMPAUDIT_PLUGIN_MANIFEST(RecallWelchMetric, metric_recall_welch_manifest)
