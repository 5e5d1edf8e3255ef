// org.compaudit.metric.pie — Pruning Identified Exemplars (Hooker et al., "What do compressed deep neural networks
// forget?"): the examples on which the compressed population, taken as a whole, changed its mind.
//
//     [[metric]]
//     plugin = "org.compaudit.metric.pie"
//     alpha = 0.05          # "above noise" when the permutation p-value is below alpha
//     permutations = 1000   # P random within-seed swaps (all 2^K when 2^K <= P); bootstrap = 1000; seed = 0
//
// An example is a PIE when its modal predicted label over the K reference models differs from its modal label over
// the K candidate models. The true label does not enter the definition. Ties in the mode go to the largest label
// (what the reference code does), so the result never depends on the order of the models.
//
// Noise floor (docs/science.md §4, stats/pie_null.h). Reference model k and candidate model k are a pair; under
// "compression changed nothing" swapping them is harmless, so the PIE count over random swaps is its null: the mean
// is the floor that seed noise alone produces, p = share of swaps whose count reaches the observed one, and PIEs are
// "above noise" only when p < alpha. At K = 5 there are 32 swap patterns (16 distinct), so p >= 1/16 after the
// identity: a population that small can never show PIEs above noise at alpha = 0.05. The interval resamples the
// pairs with replacement (percentile, 95 %).
//
// Output:
//     "summary":  { pie_count, pie_fraction, pie_fraction_null_mean, pie_p_value, above_noise, top1_ref, top1_cand,
//                   top1_ref_without_pies, top1_cand_without_pies }
//     "intervals": { pie_fraction_ci: [lo, hi] }   (absent when bootstrap = 0)
//     "null":     { permutations, exact, alpha, bootstrap, seed }   how the floor and p were obtained
//     "per_seed": [ {seed, disagreement}, ... ]   share of examples on which the pair's two models disagree: the
//                 per-seed statistic behind the PIE fraction, for the report's trend test across levels
//                 (top-1 is the mean over the population's models of each model's accuracy; "without_pies" on the
//                 examples that are not PIEs, null when every example is a PIE)
//     "examples": [ id, ... ]    PIE indices into the evaluation split, ascending
//     "pie_labels": [ {id, label, reference, candidate}, ... ]   true and both modal labels, for galleries
//     "per_class": [ {class, name, count, pie_fraction, data_fraction}, ... ]  by true label: the share of all PIEs
//                 in this class against the class's share of the data; PIEs over-index on a class when the first
//                 is larger.
// Cost: O(K N) for the PIEs — N = 10,000 and K = 30 take about a millisecond — plus O((P + B) K m) for the null and
// the interval, m = examples on which some pair disagrees.
#include "metric_pie_manifest.h"  // generated from manifests/metric_pie.toml
#include "stats/pie_null.h"
#include "stats/population.h"

#include <compaudit/metric.h>

namespace {

using compaudit::metrics::number_or_null;
namespace stats = compaudit::stats;

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

/// The reference and candidate models that share a seed, row by row: the pairs of the noise floor. Without seeds
/// (a host that gives none) rows pair by index. Models without a partner (a failed cell) are left out of the null.
struct SeedPairs {
  at::Tensor reference, candidate;  ///< [m, n] int64, row r of each from the same seed
  std::vector<std::int64_t> seeds;  ///< [m]
};

SeedPairs seed_pairs(const compaudit::MetricInput& input, const at::Tensor& ref, const at::Tensor& cand) {
  std::vector<std::int64_t> ref_rows, cand_rows;
  SeedPairs out;
  for (std::int64_t c = 0; c < cand.size(0); ++c) {
    const std::int64_t seed = compaudit::metrics::seed_of(input.candidate, static_cast<std::size_t>(c));
    for (std::int64_t r = 0; r < ref.size(0); ++r)
      if (compaudit::metrics::seed_of(input.reference, static_cast<std::size_t>(r)) == seed) {
        ref_rows.push_back(r);
        cand_rows.push_back(c);
        out.seeds.push_back(seed);
        break;
      }
  }
  const auto rows = [](const at::Tensor& t, const std::vector<std::int64_t>& idx) {
    return t.index_select(0, at::tensor(idx, at::kLong)).contiguous();
  };
  out.reference = rows(ref, ref_rows);
  out.candidate = rows(cand, cand_rows);
  return out;
}

class PieMetric final : public compaudit::Metric {
 public:
  explicit PieMetric(const compaudit::Params& params) : options_(params) {
    null_options_.permutations = options_.permutations;
    null_options_.bootstrap = options_.bootstrap;
    null_options_.seed = static_cast<std::uint32_t>(options_.seed);
  }

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
    const SeedPairs pairs = seed_pairs(input, ref, cand);
    const std::int64_t k = pairs.reference.size(0);
    std::optional<stats::PieNullResult> null;
    if (k > 0)
      null = stats::pie_null(pairs.reference.data_ptr<std::int64_t>(), pairs.candidate.data_ptr<std::int64_t>(), k, n,
                             num_classes, null_options_);
    const std::vector<double> disagreement =
        stats::pair_disagreement(pairs.reference.data_ptr<std::int64_t>(), pairs.candidate.data_ptr<std::int64_t>(), k, n);
    nlohmann::json per_seed = nlohmann::json::array();
    for (std::size_t r = 0; r < disagreement.size(); ++r)
      per_seed.push_back({{"seed", pairs.seeds[r]}, {"disagreement", disagreement[r]}});

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
        {"pie_fraction_null_mean", null ? nlohmann::json(null->null_mean / static_cast<double>(n)) : nlohmann::json()},
        {"pie_p_value", null ? nlohmann::json(null->p_value) : nlohmann::json()},
        {"above_noise", null && null->p_value < options_.alpha},
        {"top1_ref", number_or_null(mean_top1(ref, targets, {}))},
        {"top1_cand", number_or_null(mean_top1(cand, targets, {}))},
        {"top1_ref_without_pies", number_or_null(mean_top1(ref, targets, keep))},
        {"top1_cand_without_pies", number_or_null(mean_top1(cand, targets, keep))},
    };
    nlohmann::json intervals = nlohmann::json::object();
    if (null && !null->bootstrap_counts.empty())
      intervals["pie_fraction_ci"] = {null->ci_lo / static_cast<double>(n), null->ci_hi / static_cast<double>(n)};
    return {{"summary", std::move(summary)},
            {"intervals", std::move(intervals)},
            {"null",
             {{"pairs", k}, {"permutations", null ? null->permutations : 0}, {"exact", null && null->exact},
              {"alpha", options_.alpha}, {"bootstrap", null_options_.bootstrap}, {"seed", null_options_.seed}}},
            {"per_seed", std::move(per_seed)},
            {"examples", std::move(examples)},
            {"pie_labels", std::move(pie_labels)},
            {"per_class", std::move(per_class)}};
  }

 private:
  const metric_pie_manifest::Options options_;
  stats::PieNullOptions null_options_;
};

}  // namespace

COMPAUDIT_PLUGIN_MANIFEST(PieMetric, metric_pie_manifest)
