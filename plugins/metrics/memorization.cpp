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
//     bootstrap = 1000                      # B resamples of the training examples for the intervals; seed = 0
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
// Influence (Feldman & Zhang): infl(i -> j) = mean(correct_j | subset models trained on i) - mean(correct_j | the
// others), from the same T subset models, for the test examples j that flipped (stats/influence.h).
//
// Intervals: a bootstrap over training examples (mem and the mismatch of an example stay together; the scores and
// the models are held fixed, so the interval is about this sample of examples, not about retraining), 95% percentile
// intervals over the resamples in which the statistic exists (stats/mismatch_bootstrap.h).
//
// Output:
//     "summary":   { mismatch_count, mismatch_rate, mean_mem_mismatched, mean_mem_matched, spearman, auc }
//     "intervals": { mismatch_rate, mean_mem_mismatched, mean_mem_matched, spearman, auc: [lo, hi] }
//     "bootstrap": { resamples, seed, confidence, over }
//     "bins":      [ {lo, hi, n, mismatched, mismatch_rate, mismatch_rate_interval}, ... ]   rate null for an empty
//                  bin, interval null when the bin is empty in every resample
//     "influence": { available, models: T, flipped, top, points: [ {example: j, tied_at_max,
//                    top: [ {train: i, influence: infl(i -> j)}, ... ]}, ... ] }   for each test example whose modal
//                  label flipped (the arm's PIEs), its `influence_top` most influential training points (influence
//                  descending, then id ascending; tied_at_max: how many share the largest value, often many with
//                  T = 8 models); {available: false, reason} when the store predates the subset records
//     "subsets":   { models: T, per_example: m, requested_fraction: f, realized_fraction: m / T }   when the host
//                  says how the scores were estimated (fraction 0.7 with T = 8 gives m = 6, realized 0.75)
// Statistics that do not exist (no mismatch at all, a constant mem) are null and have no interval.
#include "metric_memorization_manifest.h"  // generated from manifests/metric_memorization.toml
#include "stats/influence.h"
#include "stats/mismatch_bootstrap.h"
#include "stats/population.h"

#include <compaudit/metric.h>

#include <algorithm>

namespace {

using compaudit::metrics::number_or_null;

class MemorizationMetric final : public compaudit::Metric {
 public:
  explicit MemorizationMetric(const compaudit::Params& params) : options_(params) {
    if (options_.edges.size() < 2 || !std::is_sorted(options_.edges.begin(), options_.edges.end()) ||
        std::adjacent_find(options_.edges.begin(), options_.edges.end()) != options_.edges.end())
      throw compaudit::Error(compaudit::ErrorCode::parameters,
                             "edges = " + compaudit::to_string(compaudit::ParamValue(options_.edges)) +
                                 " must hold at least two strictly increasing values");
  }

  compaudit::MetricNeeds needs() const override { return metric_memorization_manifest::needs; }

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
    std::int64_t mismatches = 0;
    for (std::size_t i = 0; i < mem.size(); ++i) {
      mismatch[i] = ref_mode[i] != cand_mode[i];
      mismatches += mismatch[i];
    }
    const std::vector<std::size_t> bin = bin_of(mem);
    const std::size_t bins = options_.edges.size() - 1;
    const compaudit::stats::MismatchStats s =
        compaudit::stats::mismatch_stats(mem, mismatch, bin, bins, compaudit::stats::mem_order(mem));
    const compaudit::stats::MismatchIntervals ci =
        compaudit::stats::mismatch_bootstrap(mem, mismatch, bin, bins, options_.bootstrap, seed());

    nlohmann::json summary = {
        {"mismatch_count", mismatches},
        {"mismatch_rate", number_or_null(s.mismatch_rate)},
        {"mean_mem_mismatched", number_or_null(s.mean_mem_mismatched)},
        {"mean_mem_matched", number_or_null(s.mean_mem_matched)},
        {"spearman", number_or_null(s.spearman)},
        {"auc", number_or_null(s.auc)},
    };
    nlohmann::json intervals = nlohmann::json::object();
    for (const auto& [name, interval] : {std::pair{"mismatch_rate", &ci.mismatch_rate},
                                         std::pair{"mean_mem_mismatched", &ci.mean_mem_mismatched},
                                         std::pair{"mean_mem_matched", &ci.mean_mem_matched},
                                         std::pair{"spearman", &ci.spearman}, std::pair{"auc", &ci.auc}})
      if (*interval) intervals[name] = {(*interval)->lo, (*interval)->hi};
    nlohmann::json out = {{"summary", std::move(summary)},
                          {"intervals", std::move(intervals)},
                          {"bootstrap", {{"resamples", options_.bootstrap}, {"seed", seed()},
                                         {"confidence", 0.95}, {"over", "training examples"}}},
                          {"bins", bins_json(bin, mismatch, ci)}};
    out["influence"] = influence(input, n);
    if (extras.memorization_models > 0)
      out["subsets"] = {{"models", extras.memorization_models},
                        {"per_example", extras.memorization_subsets_per_example},
                        {"requested_fraction", extras.memorization_fraction},
                        {"realized_fraction", static_cast<double>(extras.memorization_subsets_per_example) /
                                                  static_cast<double>(extras.memorization_models)}};
    return out;
  }

 private:
  /// Feldman & Zhang's influence on the test examples that flipped (PIEs of the arm: modal test label differs between
  /// reference and candidate), from the subset models' membership and test-split correctness.
  nlohmann::json influence(const compaudit::MetricInput& input, std::int64_t n_train) const {
    const compaudit::MetricExtras& extras = input.extras;
    if (options_.influence_top == 0) return {{"available", false}, {"reason", "influence_top = 0"}};
    if (!extras.memorization_membership.defined() || !extras.memorization_test_correct.defined())
      return {{"available", false},
              {"reason", "the store holds no subset membership or test-split correctness of the memorization models "
                         "(scores estimated by an older compaudit; a new run records them)"}};
    const std::int64_t n_test = input.data.targets.numel();
    const at::Tensor member = extras.memorization_membership.to(at::kCPU, at::kByte).contiguous();
    const at::Tensor correct = extras.memorization_test_correct.to(at::kCPU, at::kByte).contiguous();
    const std::int64_t T = member.dim() == 2 ? member.size(0) : 0;
    if (T < 2 || member.size(1) != n_train || correct.dim() != 2 || correct.size(0) != T || correct.size(1) != n_test)
      compaudit::metrics::fail("memorization: membership must be [T, " + std::to_string(n_train) +
                               "] and test correctness [T, " + std::to_string(n_test) + "] with the same T >= 2");
    const int num_classes = input.data.num_classes;
    const at::Tensor ref = compaudit::metrics::checked_predictions(input.reference, n_test, "reference");
    const at::Tensor cand = compaudit::metrics::checked_predictions(input.candidate, n_test, "candidate");
    const std::vector<std::int64_t> ref_mode = compaudit::metrics::modal_labels(ref, num_classes);
    const std::vector<std::int64_t> cand_mode = compaudit::metrics::modal_labels(cand, num_classes);
    std::vector<std::int64_t> flipped;
    for (std::int64_t j = 0; j < n_test; ++j)
      if (ref_mode[j] != cand_mode[j]) flipped.push_back(j);
    const auto points = compaudit::stats::top_influence(member.data_ptr<std::uint8_t>(), correct.data_ptr<std::uint8_t>(),
                                                        T, n_train, n_test, flipped,
                                                        static_cast<std::size_t>(options_.influence_top));
    nlohmann::json list = nlohmann::json::array();
    for (const auto& p : points) {
      nlohmann::json top = nlohmann::json::array();
      for (const auto& e : p.top) top.push_back({{"train", e.train}, {"influence", e.influence}});
      list.push_back({{"example", p.example}, {"tied_at_max", p.tied_at_max}, {"top", std::move(top)}});
    }
    return {{"available", true}, {"models", T}, {"flipped", static_cast<std::int64_t>(flipped.size())},
            {"top", options_.influence_top}, {"points", std::move(list)}};
  }

  /// Bin b holds [e[b], e[b+1]); the last bin is closed; outliers go to the outer bins.
  std::vector<std::size_t> bin_of(const std::vector<double>& mem) const {
    const std::vector<double>& e = options_.edges;
    std::vector<std::size_t> out(mem.size());
    for (std::size_t i = 0; i < mem.size(); ++i) {
      const auto upper = std::upper_bound(e.begin(), e.end(), mem[i]);
      const std::size_t b = upper == e.begin() ? 0 : static_cast<std::size_t>(upper - e.begin()) - 1;
      out[i] = std::min(b, e.size() - 2);
    }
    return out;
  }

  nlohmann::json bins_json(const std::vector<std::size_t>& bin, const std::vector<bool>& mismatch,
                           const compaudit::stats::MismatchIntervals& ci) const {
    const std::vector<double>& e = options_.edges;
    const std::size_t count = e.size() - 1;
    std::vector<std::int64_t> total(count, 0), flipped(count, 0);
    for (std::size_t i = 0; i < bin.size(); ++i) {
      ++total[bin[i]];
      flipped[bin[i]] += mismatch[i];
    }
    nlohmann::json out = nlohmann::json::array();
    for (std::size_t b = 0; b < count; ++b) {
      const auto& interval = ci.bin_rate[b];
      out.push_back({{"lo", e[b]},
                     {"hi", e[b + 1]},
                     {"n", total[b]},
                     {"mismatched", flipped[b]},
                     {"mismatch_rate", total[b] ? nlohmann::json(static_cast<double>(flipped[b]) /
                                                                 static_cast<double>(total[b]))
                                                : nlohmann::json()},
                     {"mismatch_rate_interval",
                      interval ? nlohmann::json::array({interval->lo, interval->hi}) : nlohmann::json()}});
    }
    return out;
  }

  std::uint32_t seed() const { return static_cast<std::uint32_t>(options_.seed); }  // std::mt19937's seed

  const metric_memorization_manifest::Options options_;
};

}  // namespace

COMPAUDIT_PLUGIN_MANIFEST(MemorizationMetric, metric_memorization_manifest)
