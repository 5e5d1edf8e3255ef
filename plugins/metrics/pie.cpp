// org.compaudit.metric.pie — Pruning Identified Exemplars (Hooker et al., "What do compressed deep neural networks
// forget?"): the examples on which the compressed population, taken as a whole, changed its mind.
//
//     [[metric]]
//     plugin = "org.compaudit.metric.pie"
//
// An example is a PIE when its modal predicted label over the K reference models differs from its modal label over
// the K candidate models. The true label does not enter the definition. Ties in the mode go to the largest label
// (what the reference code does), so the result never depends on the order of the models.
//
// Output:
//     "summary":  { pie_count, pie_fraction, top1_ref, top1_cand, top1_ref_without_pies, top1_cand_without_pies }
//                 (top-1 is the mean over the population's models of each model's accuracy; "without_pies" on the
//                 examples that are not PIEs, null when every example is a PIE)
//     "examples": [ id, ... ]    PIE indices into the evaluation split, ascending
//     "pie_labels": [ {id, label, reference, candidate}, ... ]   true and both modal labels, for galleries
//     "per_class": [ {class, name, count, pie_fraction, data_fraction}, ... ]  by true label: the share of all PIEs
//                 in this class against the class's share of the data; PIEs over-index on a class when the first
//                 is larger.
// Cost: O(K N) — one bincount per column over the K labels; N = 10,000 and K = 30 take about a millisecond.
#include "stats/population.h"

#include <compaudit/metric.h>

namespace {

using compaudit::metrics::number_or_null;

double fraction(std::int64_t part, std::int64_t whole) {
  return static_cast<double>(part) / static_cast<double>(whole);
}

/// Mean over models of top-1, or nullopt when no example is kept.
std::optional<double> mean_top1(const at::Tensor& predicted, const at::Tensor& targets, const std::vector<bool>& keep) {
  const std::vector<double> top1 = compaudit::metrics::top1_per_model(predicted, targets, keep);
  if (top1.empty()) return std::nullopt;
  double sum = 0.0;
  for (double t : top1) sum += t;
  return sum / static_cast<double>(top1.size());
}

class PieMetric final : public compaudit::Metric {
 public:
  explicit PieMetric(const compaudit::Params&) {}

  nlohmann::json compute(const compaudit::MetricInput& input) override {
    const int num_classes = input.data.num_classes;
    const at::Tensor targets = compaudit::metrics::checked_targets(input.data.targets, "pie");
    const std::int64_t n = targets.size(0);
    if (n == 0) compaudit::metrics::fail("pie: the evaluation split has no examples");
    const std::vector<std::int64_t> class_count = compaudit::metrics::class_counts(targets, num_classes, "pie");
    const at::Tensor ref = compaudit::metrics::checked_predictions(input.reference, n, "reference");
    const at::Tensor cand = compaudit::metrics::checked_predictions(input.candidate, n, "candidate");
    const std::vector<std::int64_t> ref_mode = compaudit::metrics::modal_labels(ref, num_classes);
    const std::vector<std::int64_t> cand_mode = compaudit::metrics::modal_labels(cand, num_classes);

    const std::int64_t* y = targets.data_ptr<std::int64_t>();
    std::vector<bool> keep(static_cast<std::size_t>(n), true);
    std::vector<std::int64_t> pie_per_class(static_cast<std::size_t>(num_classes), 0);
    nlohmann::json examples = nlohmann::json::array();
    nlohmann::json pie_labels = nlohmann::json::array();
    for (std::int64_t i = 0; i < n; ++i) {
      const auto idx = static_cast<std::size_t>(i);
      if (ref_mode[idx] == cand_mode[idx]) continue;
      keep[idx] = false;
      ++pie_per_class[static_cast<std::size_t>(y[i])];
      examples.push_back(i);
      pie_labels.push_back({{"id", i}, {"label", y[i]}, {"reference", ref_mode[idx]}, {"candidate", cand_mode[idx]}});
    }
    const auto pie_count = static_cast<std::int64_t>(examples.size());

    nlohmann::json per_class = nlohmann::json::array();
    for (int c = 0; c < num_classes; ++c) {
      const std::int64_t count = pie_per_class[static_cast<std::size_t>(c)];
      per_class.push_back({{"class", c},
                           {"name", compaudit::metrics::class_name(input.data, c)},
                           {"count", count},
                           {"pie_fraction", pie_count ? nlohmann::json(fraction(count, pie_count)) : nlohmann::json()},
                           {"data_fraction", fraction(class_count[static_cast<std::size_t>(c)], n)}});
    }
    nlohmann::json summary = {
        {"pie_count", pie_count},
        {"pie_fraction", fraction(pie_count, n)},
        {"top1_ref", number_or_null(mean_top1(ref, targets, {}))},
        {"top1_cand", number_or_null(mean_top1(cand, targets, {}))},
        {"top1_ref_without_pies", number_or_null(mean_top1(ref, targets, keep))},
        {"top1_cand_without_pies", number_or_null(mean_top1(cand, targets, keep))},
    };
    return {{"summary", std::move(summary)},
            {"examples", std::move(examples)},
            {"pie_labels", std::move(pie_labels)},
            {"per_class", std::move(per_class)}};
  }
};

}  // namespace

COMPAUDIT_PLUGIN(PieMetric, "org.compaudit.metric.pie", compaudit::PluginKind::metric, "1.0.0")
