// org.compaudit.metric.top1 — top-1 accuracy of every model of the reference and candidate populations, with the
// population mean, sample standard deviation and a two-sided Student-t interval of the mean (Hooker et al. report
// top-1 as mean ± interval over K seeds; a difference smaller than the intervals is not a finding).
//
//     [[metric]]
//     plugin = "org.compaudit.metric.top1"
//     confidence = 0.95          # coverage of the t-interval (K - 1 degrees of freedom)
//
// Output (candidate first: it is the arm this result belongs to):
//     "summary":   { "top1_mean", "top1_sd", "top1_ref_mean", "top1_ref_sd", "top1_delta" }
//     "intervals": { "top1_mean": [lo, hi], "top1_ref_mean": [lo, hi] }
//     "models":    { "reference": [ {"seed", "top1"}, ... ], "candidate": [ ... ] }
// With K = 1 the standard deviation and the interval do not exist: they are null / absent, never NaN.
#include "metric_top1_manifest.h"  // generated from manifests/metric_top1.toml by compaudit_add_plugin
#include "stats/population.h"

#include <compaudit/metric.h>

namespace {

using compaudit::metrics::number_or_null;

/// One population's per-model top-1 and its description.
struct PopulationTop1 {
  std::vector<double> top1;
  compaudit::stats::Describe describe;
};

class Top1Metric final : public compaudit::Metric {
 public:
  explicit Top1Metric(const compaudit::Params& params) : options_(params) {}

  nlohmann::json compute(const compaudit::MetricInput& input) override {
    const at::Tensor targets = compaudit::metrics::checked_targets(input.data.targets, "top1");
    const PopulationTop1 ref = measure(input.reference, targets, "reference");
    const PopulationTop1 cand = measure(input.candidate, targets, "candidate");

    nlohmann::json summary = {
        {"top1_mean", cand.describe.mean},
        {"top1_sd", number_or_null(cand.describe.sd)},
        {"top1_ref_mean", ref.describe.mean},
        {"top1_ref_sd", number_or_null(ref.describe.sd)},
        {"top1_delta", cand.describe.mean - ref.describe.mean},
    };
    nlohmann::json intervals = nlohmann::json::object();
    if (cand.describe.lo) intervals["top1_mean"] = {*cand.describe.lo, *cand.describe.hi};
    if (ref.describe.lo) intervals["top1_ref_mean"] = {*ref.describe.lo, *ref.describe.hi};
    return {{"summary", std::move(summary)},
            {"intervals", std::move(intervals)},
            {"confidence", options_.confidence},
            {"models",
             {{"reference", per_model(input.reference, ref)}, {"candidate", per_model(input.candidate, cand)}}}};
  }

 private:
  PopulationTop1 measure(const compaudit::Population& pop, const at::Tensor& targets, const char* role) const {
    const at::Tensor predicted = compaudit::metrics::checked_predictions(pop, targets.size(0), role);
    PopulationTop1 out;
    out.top1 = compaudit::metrics::top1_per_model(predicted, targets);
    if (out.top1.empty()) compaudit::metrics::fail("top1: the evaluation split has no examples");
    out.describe = compaudit::stats::describe(out.top1, options_.confidence);
    return out;
  }

  static nlohmann::json per_model(const compaudit::Population& pop, const PopulationTop1& t) {
    nlohmann::json models = nlohmann::json::array();
    for (std::size_t k = 0; k < t.top1.size(); ++k)
      models.push_back({{"seed", compaudit::metrics::seed_of(pop, k)}, {"top1", t.top1[k]}});
    return models;
  }

  const metric_top1_manifest::Options options_;
};

}  // namespace

COMPAUDIT_PLUGIN_MANIFEST(Top1Metric, metric_top1_manifest)
