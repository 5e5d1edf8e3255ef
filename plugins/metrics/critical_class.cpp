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
// Output:
//     "summary":   { fn_ref_mean, fn_cand_mean, fp_ref_mean, fp_cand_mean, fnr_ref_mean, fnr_cand_mean,
//                    fpr_ref_mean, fpr_cand_mean, auc_ref_mean, auc_cand_mean }   means over the population's models
//     "intervals": { fnr_cand_mean: [lo, hi], auc_cand_mean: [lo, hi], ... }    95% Student-t intervals (K >= 2)
//     "models":    { "reference": [ {seed, tp, fn, fp, tn, fnr, fpr, auc}, ... ], "candidate": [ ... ] }
//     "positive_class", "positive_name"
#include "stats/population.h"

#include <compaudit/metric.h>

namespace {

namespace stats = compaudit::stats;
using compaudit::metrics::number_or_null;

/// The plugin's parameters, mirroring manifests/metric_critical_class.toml.
struct Options {
  std::int64_t positive_class = 0;  ///< The critical class. Default: 0
};

struct ModelCounts {
  std::int64_t tp = 0, fn = 0, fp = 0, tn = 0;
  std::optional<double> fnr, fpr, auc;
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
  explicit CriticalClassMetric(const compaudit::Params& params) {
    options_.positive_class = params.get<std::int64_t>("positive_class");
  }

  compaudit::MetricNeeds needs() const override {
    compaudit::MetricNeeds needs;
    needs.probabilities = true;
    return needs;
  }

  nlohmann::json compute(const compaudit::MetricInput& input) override {
    const int num_classes = input.data.num_classes;
    const std::int64_t pos = options_.positive_class;
    if (pos >= num_classes)
      compaudit::metrics::fail("critical_class: positive_class = " + std::to_string(pos) + " but the data has " +
                               std::to_string(num_classes) + " classes");
    const at::Tensor targets = compaudit::metrics::checked_targets(input.data.targets, "critical_class");
    compaudit::metrics::class_counts(targets, num_classes, "critical_class");
    const std::vector<ModelCounts> ref = measure(input.reference, targets, num_classes, "reference");
    const std::vector<ModelCounts> cand = measure(input.candidate, targets, num_classes, "candidate");

    nlohmann::json summary = nlohmann::json::object();
    nlohmann::json intervals = nlohmann::json::object();
    using Getter = std::optional<double> (*)(const ModelCounts&);
    const std::pair<const char*, Getter> columns[] = {
        {"fn", [](const ModelCounts& m) -> std::optional<double> { return static_cast<double>(m.fn); }},
        {"fp", [](const ModelCounts& m) -> std::optional<double> { return static_cast<double>(m.fp); }},
        {"fnr", [](const ModelCounts& m) { return m.fnr; }},
        {"fpr", [](const ModelCounts& m) { return m.fpr; }},
        {"auc", [](const ModelCounts& m) { return m.auc; }},
    };
    for (const auto& [name, get] : columns)
      for (const auto& [population, models] : {std::pair{"ref", &ref}, std::pair{"cand", &cand}}) {
        const Column c = column(*models, get);
        const std::string key = std::string(name) + "_" + population + "_mean";
        summary[key] = number_or_null(c.mean);
        if (c.describe.lo) intervals[key] = {*c.describe.lo, *c.describe.hi};
      }
    return {{"summary", std::move(summary)},
            {"intervals", std::move(intervals)},
            {"positive_class", pos},
            {"positive_name", compaudit::metrics::class_name(input.data, static_cast<int>(pos))},
            {"models", {{"reference", to_json(input.reference, ref)}, {"candidate", to_json(input.candidate, cand)}}}};
  }

 private:
  std::vector<ModelCounts> measure(const compaudit::Population& pop, const at::Tensor& targets, int num_classes,
                                   const char* role) const {
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
      m.fnr = ratio(m.fn, m.tp + m.fn);
      m.fpr = ratio(m.fp, m.fp + m.tn);
      m.auc = stats::roc_auc(std::vector<double>(score + row * n, score + (row + 1) * n), positive);
    }
    return out;
  }

  static nlohmann::json to_json(const compaudit::Population& pop, const std::vector<ModelCounts>& models) {
    nlohmann::json out = nlohmann::json::array();
    for (std::size_t k = 0; k < models.size(); ++k) {
      const ModelCounts& m = models[k];
      out.push_back({{"seed", compaudit::metrics::seed_of(pop, k)}, {"tp", m.tp}, {"fn", m.fn}, {"fp", m.fp},
                     {"tn", m.tn}, {"fnr", number_or_null(m.fnr)}, {"fpr", number_or_null(m.fpr)},
                     {"auc", number_or_null(m.auc)}});
    }
    return out;
  }

  Options options_;
};

}  // namespace

COMPAUDIT_PLUGIN(CriticalClassMetric, "org.compaudit.metric.critical_class", compaudit::PluginKind::metric, "1.0.0")
