// org.compaudit.metric.memorization — does compression forget the memorized examples first? (Feldman & Zhang's
// memorization score against the dense-vs-compressed disagreement; the question of the long-tail compression work.)
//
//     [memorization]             # the host estimates mem[i] on the training split with 8 subset models
//     models = 8
//     fraction = 0.7
//
//     [[metric]]
//     plugin = "org.compaudit.metric.memorization"
//     edges = [0.0, 0.25, 0.5, 0.75, 1.0]   # memorization bins
//
// The host computes mem[i] = mean(correct_i | models trained on i) - mean(correct_i | models not trained on i) and
// hands it over with both populations' predictions on the training split (MetricExtras). A training example is a
// mismatch when its modal label over the reference models differs from its modal label over the candidate models
// (ties to the largest label, as for PIEs). Our choice of statistics:
//   - the mismatch rate per memorization bin (scores outside [edges.front(), edges.back()] count in the outer bins);
//   - the mean memorization of mismatched and of matched examples;
//   - Spearman's rho between mem and the 0/1 mismatch indicator (average ranks, as scipy.stats.spearmanr);
//   - the ROC AUC of mem as a predictor of mismatch (0.5: unrelated; above: memorized examples flip more).
//
// Output:
//     "summary": { mismatch_count, mismatch_rate, mean_mem_mismatched, mean_mem_matched, spearman, auc }
//     "bins":    [ {lo, hi, n, mismatched, mismatch_rate}, ... ]   mismatch_rate null for an empty bin
// Statistics that do not exist (no mismatch at all, a constant mem) are null.
#include "stats/population.h"

#include <compaudit/metric.h>

#include <algorithm>

namespace {

using compaudit::metrics::number_or_null;

/// The plugin's parameters, mirroring manifests/metric_memorization.toml.
struct Options {
  std::vector<double> edges;  ///< Increasing bin edges. Default: 0, 0.1, ..., 1
};

std::optional<double> mean_where(const std::vector<double>& x, const std::vector<bool>& mask, bool value) {
  double sum = 0.0;
  std::size_t count = 0;
  for (std::size_t i = 0; i < x.size(); ++i)
    if (mask[i] == value) {
      sum += x[i];
      ++count;
    }
  if (count == 0) return std::nullopt;
  return sum / static_cast<double>(count);
}

class MemorizationMetric final : public compaudit::Metric {
 public:
  explicit MemorizationMetric(const compaudit::Params& params) {
    options_.edges = params.get<std::vector<double>>("edges");
    if (options_.edges.size() < 2 || !std::is_sorted(options_.edges.begin(), options_.edges.end()) ||
        std::adjacent_find(options_.edges.begin(), options_.edges.end()) != options_.edges.end())
      throw compaudit::Error(compaudit::ErrorCode::parameters,
                             "edges = " + compaudit::to_string(compaudit::ParamValue(options_.edges)) +
                                 " must hold at least two strictly increasing values");
  }

  compaudit::MetricNeeds needs() const override {
    compaudit::MetricNeeds needs;
    needs.memorization = true;
    return needs;
  }

  nlohmann::json compute(const compaudit::MetricInput& input) override {
    const compaudit::MetricExtras& extras = input.extras;
    if (!extras.memorization.defined() || !extras.reference_train || !extras.candidate_train)
      compaudit::metrics::fail("memorization: the host passed no memorization scores or training-split predictions "
                               "(the pipeline needs a [memorization] table)");
    const at::Tensor mem_t = extras.memorization.to(at::kCPU, at::kDouble).contiguous().view({-1});
    const std::int64_t n = mem_t.size(0);
    const int num_classes = input.data.num_classes;
    const at::Tensor ref = compaudit::metrics::checked_predictions(*extras.reference_train, n, "reference (train)");
    const at::Tensor cand = compaudit::metrics::checked_predictions(*extras.candidate_train, n, "candidate (train)");
    const std::vector<std::int64_t> ref_mode = compaudit::metrics::modal_labels(ref, num_classes);
    const std::vector<std::int64_t> cand_mode = compaudit::metrics::modal_labels(cand, num_classes);

    const std::vector<double> mem(mem_t.data_ptr<double>(), mem_t.data_ptr<double>() + n);
    std::vector<bool> mismatch(static_cast<std::size_t>(n));
    std::vector<double> mismatch_value(static_cast<std::size_t>(n));
    std::int64_t mismatches = 0;
    for (std::size_t i = 0; i < mem.size(); ++i) {
      mismatch[i] = ref_mode[i] != cand_mode[i];
      mismatch_value[i] = mismatch[i] ? 1.0 : 0.0;
      mismatches += mismatch[i];
    }

    nlohmann::json summary = {
        {"mismatch_count", mismatches},
        {"mismatch_rate",
         n ? nlohmann::json(static_cast<double>(mismatches) / static_cast<double>(n)) : nlohmann::json()},
        {"mean_mem_mismatched", number_or_null(mean_where(mem, mismatch, true))},
        {"mean_mem_matched", number_or_null(mean_where(mem, mismatch, false))},
        {"spearman", number_or_null(compaudit::stats::spearman(mem, mismatch_value))},
        {"auc", number_or_null(compaudit::stats::roc_auc(mem, mismatch))},
    };
    return {{"summary", std::move(summary)}, {"bins", bins(mem, mismatch)}};
  }

 private:
  nlohmann::json bins(const std::vector<double>& mem, const std::vector<bool>& mismatch) const {
    const std::vector<double>& e = options_.edges;
    const std::size_t count = e.size() - 1;
    std::vector<std::int64_t> total(count, 0), flipped(count, 0);
    for (std::size_t i = 0; i < mem.size(); ++i) {
      // Bin b holds [e[b], e[b+1]); the last bin is closed; outliers go to the outer bins.
      const auto upper = std::upper_bound(e.begin(), e.end(), mem[i]);
      std::size_t b = upper == e.begin() ? 0 : static_cast<std::size_t>(upper - e.begin()) - 1;
      b = std::min(b, count - 1);
      ++total[b];
      flipped[b] += mismatch[i];
    }
    nlohmann::json out = nlohmann::json::array();
    for (std::size_t b = 0; b < count; ++b)
      out.push_back({{"lo", e[b]},
                     {"hi", e[b + 1]},
                     {"n", total[b]},
                     {"mismatched", flipped[b]},
                     {"mismatch_rate", total[b] ? nlohmann::json(static_cast<double>(flipped[b]) /
                                                                 static_cast<double>(total[b]))
                                                : nlohmann::json()}});
    return out;
  }

  Options options_;
};

}  // namespace

COMPAUDIT_PLUGIN(MemorizationMetric, "org.compaudit.metric.memorization", compaudit::PluginKind::metric, "1.0.0")
