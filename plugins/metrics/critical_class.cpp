// org.compaudit.metric.critical_class — errors on the one class that must not be missed (Entezari & Saukh,
// "Class-dependent compression of deep neural networks": keep the critical class's false negatives near the dense
// model's while sparsity rises, accepting more false positives).
//
//     [[metric]]
//     plugin = "org.compaudit.metric.critical_class"
//     positive_class = 0         # e.g. malignant in breast cancer
//
// Per model: a prediction of `positive_class` is a positive. TP, FN, FP, TN, the false-negative rate FN / (TP + FN),
// the false-positive rate FP / (FP + TN), and the ROC AUC of the model's probability of the positive class (ties by
// average rank, as sklearn.metrics.roc_auc_score). Needs the populations' probabilities (manifest: needs =
// ["probabilities"]). A rate or AUC that does not exist (no positive, or no negative, example) is null.
//
// A loss that weights the class lowers its FNR at the default threshold by predicting it more often (more false
// positives), so that comparison cannot fail. Two comparisons that a moved threshold cannot win:
//   * fnr_at_ref_fpr: the FNR of each model at the false-positive rate of the same seed's reference model at its
//     default decision — its threshold on the class probability is chosen so that its FPR matches
//     (stats::tpr_at_fpr: the ROC curve, interpolated between points); the reference model is read the same way;
//   * auc: threshold-free.
// Each, and the default-threshold FNR / FPR, as a paired difference candidate - reference over the seeds (pairs by
// seed): mean, (1 - alpha) Student-t interval, paired t-test p-value (stats::paired_difference). "Fewer false
// negatives" is shown only when the FNR difference is below 0 with p < alpha.
//
// Output:
//     "summary":   { fn_ref_mean, fn_cand_mean, fp_ref_mean, fp_cand_mean, fnr_ref_mean, fnr_cand_mean,
//                    fpr_ref_mean, fpr_cand_mean, auc_ref_mean, auc_cand_mean,
//                    fnr_at_ref_fpr_ref_mean, fnr_at_ref_fpr_cand_mean }          means over the population's models
//                  + { auc_diff, fnr_diff, fpr_diff, fnr_at_ref_fpr_diff } (candidate - reference, mean over seeds),
//                    their p-values "<name>_p", and the verdicts fewer_fn_at_default_threshold,
//                    fewer_fn_at_matched_fpr, auc_lower, auc_higher (booleans: p < alpha, in that direction)
//     "intervals": { fnr_cand_mean: [lo, hi], ..., fnr_at_ref_fpr_diff: [lo, hi], ... }   Student-t (K >= 2)
//     "paired":    { pairs, alpha, auc | fnr | fpr | fnr_at_ref_fpr: {n, mean, sd, lo, hi, t, p} }
//     "models":    { "reference": [ {seed, tp, fn, fp, tn, fnr, fpr, auc, matched_fpr, fnr_at_ref_fpr}, ... ],
//                    "candidate": [ ... ] }
//     "positive_class", "positive_name"
#include "metric_critical_class_manifest.h"  // generated from manifests/metric_critical_class.toml
#include "stats/matched_rate.h"
#include "stats/population.h"

#include <compaudit/metric.h>

#include <map>

namespace {

namespace stats = compaudit::stats;
using compaudit::metrics::number_or_null;

struct ModelCounts {
  std::int64_t seed = 0;
  std::int64_t tp = 0, fn = 0, fp = 0, tn = 0;
  std::optional<double> fnr, fpr, auc;
  std::optional<double> matched_fpr;     ///< The FPR this model is read at: its seed's reference model's FPR
  std::optional<double> fnr_at_ref_fpr;  ///< 1 - TPR at matched_fpr on this model's ROC curve
};

std::optional<double> ratio(std::int64_t num, std::int64_t den) {
  if (den == 0) return std::nullopt;
  return static_cast<double>(num) / static_cast<double>(den);
}

/// Mean over models of the values that exist, with its t-interval; nullopt-only columns give a null mean.
struct Column {
  std::optional<double> mean;
  stats::Describe describe;
};
Column column(const std::vector<ModelCounts>& models, std::optional<double> (*get)(const ModelCounts&)) {
  std::vector<double> values;
  for (const ModelCounts& m : models)
    if (auto v = get(m)) values.push_back(*v);
  Column c;
  c.describe = stats::describe(values);
  if (!values.empty()) c.mean = c.describe.mean;
  return c;
}

class CriticalClassMetric final : public compaudit::Metric {
 public:
  explicit CriticalClassMetric(const compaudit::Params& params) : options_(params) {}

  compaudit::MetricNeeds needs() const override { return metric_critical_class_manifest::needs; }

  nlohmann::json compute(const compaudit::MetricInput& input) override {
    const int num_classes = input.data.num_classes;
    const std::int64_t pos = options_.positive_class;
    if (pos >= num_classes)
      compaudit::metrics::fail("critical_class: positive_class = " + std::to_string(pos) + " but the data has " +
                               std::to_string(num_classes) + " classes");
    const at::Tensor targets = compaudit::metrics::checked_targets(input.data.targets, "critical_class");
    compaudit::metrics::class_counts(targets, num_classes, "critical_class");
    const std::vector<ModelCounts> ref = measure(input.reference, targets, num_classes, "reference", {});
    std::map<std::int64_t, std::optional<double>> reference_fpr;  // by seed: the FPR each pair is compared at
    for (const ModelCounts& m : ref) reference_fpr[m.seed] = m.fpr;
    const std::vector<ModelCounts> cand = measure(input.candidate, targets, num_classes, "candidate", reference_fpr);

    nlohmann::json summary = nlohmann::json::object();
    nlohmann::json intervals = nlohmann::json::object();
    const std::pair<const char*, Getter> columns[] = {
        {"fn", [](const ModelCounts& m) -> std::optional<double> { return static_cast<double>(m.fn); }},
        {"fp", [](const ModelCounts& m) -> std::optional<double> { return static_cast<double>(m.fp); }},
        {"fnr", [](const ModelCounts& m) { return m.fnr; }},
        {"fpr", [](const ModelCounts& m) { return m.fpr; }},
        {"auc", [](const ModelCounts& m) { return m.auc; }},
        {"fnr_at_ref_fpr", [](const ModelCounts& m) { return m.fnr_at_ref_fpr; }},
    };
    for (const auto& [name, get] : columns)
      for (const auto& [population, models] : {std::pair{"ref", &ref}, std::pair{"cand", &cand}}) {
        const Column c = column(*models, get);
        const std::string key = std::string(name) + "_" + population + "_mean";
        summary[key] = number_or_null(c.mean);
        if (c.describe.lo) intervals[key] = {*c.describe.lo, *c.describe.hi};
      }
    const nlohmann::json paired = compare_pairs(ref, cand, columns, summary, intervals);
    return {{"summary", std::move(summary)},
            {"intervals", std::move(intervals)},
            {"paired", paired},
            {"positive_class", pos},
            {"positive_name", compaudit::metrics::class_name(input.data, static_cast<int>(pos))},
            {"models", {{"reference", to_json(input.reference, ref)}, {"candidate", to_json(input.candidate, cand)}}}};
  }

 private:
  using Getter = std::optional<double> (*)(const ModelCounts&);

  // The paired differences candidate - reference over the seeds both populations have, per statistic; adds their
  // means, p-values and intervals to the summary and the verdicts a reader may quote.
  template <std::size_t N>
  nlohmann::json compare_pairs(const std::vector<ModelCounts>& ref, const std::vector<ModelCounts>& cand,
                               const std::pair<const char*, Getter> (&columns)[N], nlohmann::json& summary,
                               nlohmann::json& intervals) const {
    nlohmann::json paired = {{"alpha", options_.alpha}};
    std::size_t pairs = 0;
    for (const auto& [name, get] : columns) {
      const std::string stat(name);
      if (stat == "fn" || stat == "fp") continue;  // counts: the rates say it per example
      std::vector<double> r, c;
      for (const ModelCounts& m : cand)
        for (const ModelCounts& q : ref)
          if (q.seed == m.seed && get(m) && get(q)) r.push_back(*get(q)), c.push_back(*get(m));
      const stats::PairedDifference d = stats::paired_difference(c, r, 1.0 - options_.alpha);
      pairs = std::max(pairs, d.n);
      paired[stat] = {{"n", d.n}, {"mean", d.n ? nlohmann::json(d.mean) : nlohmann::json()}, {"sd", number_or_null(d.sd)},
                      {"lo", number_or_null(d.lo)}, {"hi", number_or_null(d.hi)}, {"t", number_or_null(d.t)},
                      {"p", number_or_null(d.p)}};
      summary[stat + "_diff"] = d.n ? nlohmann::json(d.mean) : nlohmann::json();
      summary[stat + "_diff_p"] = number_or_null(d.p);
      if (d.lo) intervals[stat + "_diff"] = {*d.lo, *d.hi};
    }
    paired["pairs"] = pairs;
    const auto shown = [&](const char* stat, double sign) {  // p < alpha with the difference's sign
      const nlohmann::json& s = paired[stat];
      return s["p"].is_number() && s["p"].get<double>() < options_.alpha && sign * s["mean"].get<double>() > 0;
    };
    summary["fewer_fn_at_default_threshold"] = shown("fnr", -1.0);
    summary["fewer_fn_at_matched_fpr"] = shown("fnr_at_ref_fpr", -1.0);
    summary["auc_lower"] = shown("auc", -1.0);
    summary["auc_higher"] = shown("auc", 1.0);
    return paired;
  }

  // `matched`: by seed, the FPR at which to read each model's FNR (the reference models' own FPRs); empty for the
  // reference population, whose models are read at their own FPR.
  std::vector<ModelCounts> measure(const compaudit::Population& pop, const at::Tensor& targets, int num_classes,
                                   const char* role,
                                   const std::map<std::int64_t, std::optional<double>>& matched) const {
    const std::int64_t n = targets.size(0);
    const at::Tensor predicted = compaudit::metrics::checked_predictions(pop, n, role);
    const std::int64_t k = predicted.size(0);
    // Only the positive class's column is needed: slice it before converting to double.
    const at::Tensor prob = compaudit::metrics::checked_probabilities(pop, k, n, num_classes, role)
                                .select(2, options_.positive_class)
                                .to(at::kCPU, at::kDouble)
                                .contiguous();
    const std::int64_t* pred = predicted.data_ptr<std::int64_t>();
    const std::int64_t* y = targets.data_ptr<std::int64_t>();
    const double* score = prob.data_ptr<double>();
    std::vector<bool> positive(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) positive[static_cast<std::size_t>(i)] = y[i] == options_.positive_class;

    std::vector<ModelCounts> out(static_cast<std::size_t>(k));
    for (std::int64_t row = 0; row < k; ++row) {
      ModelCounts& m = out[static_cast<std::size_t>(row)];
      for (std::int64_t i = 0; i < n; ++i) {
        const bool said_positive = pred[row * n + i] == options_.positive_class;
        if (positive[static_cast<std::size_t>(i)]) (said_positive ? m.tp : m.fn) += 1;
        else (said_positive ? m.fp : m.tn) += 1;
      }
      m.seed = compaudit::metrics::seed_of(pop, static_cast<std::size_t>(row));
      m.fnr = ratio(m.fn, m.tp + m.fn);
      m.fpr = ratio(m.fp, m.fp + m.tn);
      const std::vector<double> scores(score + row * n, score + (row + 1) * n);
      m.auc = stats::roc_auc(scores, positive);
      if (matched.empty()) {
        m.matched_fpr = m.fpr;
      } else if (auto it = matched.find(m.seed); it != matched.end()) {
        m.matched_fpr = it->second;
      }
      if (m.matched_fpr)
        if (auto tpr = stats::tpr_at_fpr(scores, positive, *m.matched_fpr)) m.fnr_at_ref_fpr = 1.0 - *tpr;
    }
    return out;
  }

  static nlohmann::json to_json(const compaudit::Population& pop, const std::vector<ModelCounts>& models) {
    nlohmann::json out = nlohmann::json::array();
    for (std::size_t k = 0; k < models.size(); ++k) {
      const ModelCounts& m = models[k];
      out.push_back({{"seed", compaudit::metrics::seed_of(pop, k)}, {"tp", m.tp}, {"fn", m.fn}, {"fp", m.fp},
                     {"tn", m.tn}, {"fnr", number_or_null(m.fnr)}, {"fpr", number_or_null(m.fpr)},
                     {"auc", number_or_null(m.auc)}, {"matched_fpr", number_or_null(m.matched_fpr)},
                     {"fnr_at_ref_fpr", number_or_null(m.fnr_at_ref_fpr)}});
    }
    return out;
  }

  const metric_critical_class_manifest::Options options_;
};

}  // namespace

COMPAUDIT_PLUGIN_MANIFEST(CriticalClassMetric, metric_critical_class_manifest)
