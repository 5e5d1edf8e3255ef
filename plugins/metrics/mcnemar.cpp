// org.compaudit.metric.mcnemar — is the candidate's change of correctness more than noise, overall and per class?
// (McNemar 1947, exact form: the conditional binomial test on the discordant pairs.)
//
//     [[metric]]
//     plugin = "org.compaudit.metric.mcnemar"
//     correction = "holm"        # across classes: "none" | "bh" (Benjamini–Hochberg) | "holm"
//     alpha = 0.05
//
// b = #(reference right, candidate wrong), c = #(reference wrong, candidate right); p = two-sided binomial test of b
// against Binomial(b + c, 1/2) (stats::mcnemar_exact_p, as scipy.stats.binomtest). Per class: the same on the
// class's examples. b + c = 0 is its own case: p = 1 with status "no_discordant_pairs" (or "no_examples"); such a
// class can never reject, so it is left out of the correction's family (its p_adjusted is 1). A class is impacted
// when its corrected p <= alpha AND b > c: the candidate is significantly worse there. direction: "down" (b > c,
// worse), "up" (c > b), "none".
//
// K > 1 seed pairs: the test runs per pair. Pairs share the N examples, so adding b and c over seeds would count
// the same example K times as if independent and is not a valid exact test; the top-level summary / per_class are
// means over pairs (impacted: in any pair) and "per_seed" holds each pair's summary and per_class (its own b, c, p).
//
// Output: "summary" {b, c, p_value, impacted_classes}; "per_class" [{class, name, b, c, p_value, p_adjusted,
// impacted, direction, status}]; "status" ("ok" | "no_discordant_pairs"); "per_seed"; "alpha"; "correction".
#include "metric_mcnemar_manifest.h"  // generated from manifests/metric_mcnemar.toml
#include "stats/paired.h"

#include <compaudit/metric.h>

namespace {

namespace metrics = compaudit::metrics;
namespace stats = compaudit::stats;
using nlohmann::json;

const char* direction(std::int64_t b, std::int64_t c) { return b > c ? "down" : c > b ? "up" : "none"; }

class McNemarMetric final : public compaudit::Metric {
 public:
  explicit McNemarMetric(const compaudit::Params& params)
      : options_(params), correction_(stats::correction_from_string(options_.correction)) {}

  json compute(const compaudit::MetricInput& input) override {
    const metrics::PairedPredictions p = metrics::checked_pairs(input, "mcnemar");
    std::vector<json> pairs;
    for (std::int64_t k = 0; k < p.k; ++k) pairs.push_back(test_pair(input.data, p, k));
    json out = metrics::mean_over_pairs(pairs);
    out["per_seed"] = metrics::per_seed(input.candidate, pairs, {"per_class"});  // each pair's own tests
    out["alpha"] = options_.alpha;
    out["correction"] = options_.correction;
    return out;
  }

 private:
  json test_pair(const compaudit::EvalData& data, const metrics::PairedPredictions& p, std::int64_t k) const {
    const std::int64_t *y = p.y(), *ref = p.ref(k), *cand = p.cand(k);
    std::vector<std::int64_t> b(p.num_classes, 0), c(p.num_classes, 0);
    for (std::int64_t i = 0; i < p.n; ++i) {
      const bool ref_right = ref[i] == y[i], cand_right = cand[i] == y[i];
      b[y[i]] += ref_right && !cand_right;
      c[y[i]] += !ref_right && cand_right;
    }
    std::vector<std::optional<double>> family(p.num_classes);  // classes with a discordant pair
    for (int cls = 0; cls < p.num_classes; ++cls)
      if (b[cls] + c[cls] > 0) family[cls] = stats::mcnemar_exact_p(b[cls], c[cls]);
    const std::vector<std::optional<double>> adjusted = stats::adjust_p(family, correction_);

    json per_class = json::array();
    std::int64_t b_all = 0, c_all = 0, impacted = 0;
    for (int cls = 0; cls < p.num_classes; ++cls) {
      b_all += b[cls], c_all += c[cls];
      const bool is_impacted = family[cls] && *adjusted[cls] <= options_.alpha && b[cls] > c[cls];
      impacted += is_impacted;
      per_class.push_back({{"class", cls}, {"name", metrics::class_name(data, cls)}, {"b", b[cls]}, {"c", c[cls]},
                           {"p_value", family[cls].value_or(1.0)}, {"p_adjusted", adjusted[cls].value_or(1.0)},
                           {"impacted", is_impacted}, {"direction", direction(b[cls], c[cls])},
                           {"status", family[cls] ? "ok" : p.class_count[cls] ? "no_discordant_pairs"
                                                                               : "no_examples"}});
    }
    return {{"summary",
             {{"b", b_all}, {"c", c_all}, {"p_value", stats::mcnemar_exact_p(b_all, c_all)},
              {"impacted_classes", impacted}}},
            {"per_class", std::move(per_class)},
            {"status", b_all + c_all > 0 ? "ok" : "no_discordant_pairs"}};
  }

  const metric_mcnemar_manifest::Options options_;
  const stats::Correction correction_;
};

}  // namespace

COMPAUDIT_PLUGIN_MANIFEST(McNemarMetric, metric_mcnemar_manifest)
