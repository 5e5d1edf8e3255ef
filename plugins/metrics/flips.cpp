// org.compaudit.metric.flips — which examples changed their answer between the reference and the candidate?
// (Dutta et al., "Accuracy is Not All You Need", NeurIPS 2024; negative flips: Yan et al., CVPR 2021.)
//
//     [[metric]]
//     plugin = "org.compaudit.metric.flips"
//
// Per example i with label y, reference prediction r and candidate prediction c:
//   negative flip   r = y, c != y            (correct -> wrong; Yan et al.'s NFR counts these)
//   positive flip   r != y, c = y            (wrong -> correct)
//   wrong_to_other  r != y, c != y, r != c   (wrong -> another wrong answer; Dutta et al.'s "AllFlips" counts these)
// flip_rate = (negative + positive) / N (correctness changed); accuracy_change = (positive - negative) / N is shown
// beside it because two models with equal accuracy can disagree on many examples; changed_answers = #(r != c) / N.
//
// Output: "summary" {flip_rate, negative_flip_rate, positive_flip_rate, wrong_to_other_rate, accuracy_change,
// changed_answers}; "per_class" [{class, name, n, negative_flips, positive_flips, wrong_to_other,
// negative_flip_rate, recall_change}] (rates over the class's n examples, null when n = 0); "per_seed" [{seed,
// summary}]; "examples_table": columns of equal length {seed, id, label, ref_pred, cand_pred, flip} and, when the
// populations carry probabilities, {ref_conf, cand_conf, kl} (probability of each model's own prediction;
// KL(P_ref || P_cand) with stats::kl_floored's floor). Rows only for examples whose two predictions differ (every flip
// is among them, so `flip` is "negative" | "positive" | "wrong_to_other", never "none"), for every seed pair; `id` is
// the index in the evaluated split.
// K > 1 seed pairs: each pair is counted alone and summary / per_class are means over pairs (stats/paired.h).
#include "metric_flips_manifest.h"  // generated from manifests/metric_flips.toml
#include "stats/paired.h"

#include <compaudit/metric.h>

namespace {

namespace metrics = compaudit::metrics;
using nlohmann::json;

/// The three kinds of changed answer, as named in the examples table. Examples with the same answer never flip.
enum Flip { negative, positive, wrong_to_other };
constexpr const char* flip_names[] = {"negative", "positive", "wrong_to_other"};

/// The kind of change of an example whose two predictions differ (so at most one of them is right).
Flip flip_of(bool ref_right, bool cand_right) {
  return ref_right ? negative : cand_right ? positive : wrong_to_other;
}

double rate(std::int64_t count, std::int64_t n) { return static_cast<double>(count) / static_cast<double>(n); }

/// The per-example comparison table, one column per member.
struct ExamplesTable {
  std::vector<std::int64_t> seed, id, label, ref_pred, cand_pred;
  std::vector<double> ref_conf, cand_conf, kl;
  std::vector<std::string> flip;

  json to_json(bool with_probabilities) const {
    json t = {{"seed", seed}, {"id", id}, {"label", label}, {"ref_pred", ref_pred}, {"cand_pred", cand_pred},
              {"flip", flip}};
    if (with_probabilities) t.update({{"ref_conf", ref_conf}, {"cand_conf", cand_conf}, {"kl", kl}});
    return t;
  }
};

class FlipsMetric final : public compaudit::Metric {
 public:
  explicit FlipsMetric(const compaudit::Params&) {}

  compaudit::MetricNeeds needs() const override { return metric_flips_manifest::needs; }

  json compute(const compaudit::MetricInput& input) override {
    const metrics::PairedPredictions p = metrics::checked_pairs(input, "flips");
    const bool with_probabilities = input.reference.probabilities.defined() && input.candidate.probabilities.defined();
    at::Tensor prob_ref, prob_cand;
    if (with_probabilities) {
      prob_ref = metrics::float_probabilities(input.reference, p, "reference");
      prob_cand = metrics::float_probabilities(input.candidate, p, "candidate");
    }
    ExamplesTable table;
    std::vector<json> pairs;
    for (std::int64_t k = 0; k < p.k; ++k) {
      const std::int64_t *y = p.y(), *ref = p.ref(k), *cand = p.cand(k);
      std::vector<std::vector<std::int64_t>> flips(3, std::vector<std::int64_t>(p.num_classes, 0));  // [Flip][class]
      std::int64_t changed = 0;
      for (std::int64_t i = 0; i < p.n; ++i) {
        if (ref[i] == cand[i]) continue;  // the same answer cannot flip: no row, nothing to count
        ++changed;
        const Flip type = flip_of(ref[i] == y[i], cand[i] == y[i]);
        ++flips[type][y[i]];
        table.seed.push_back(metrics::seed_of(input.candidate, k));
        table.id.push_back(i);
        table.label.push_back(y[i]);
        table.ref_pred.push_back(ref[i]);
        table.cand_pred.push_back(cand[i]);
        table.flip.push_back(flip_names[type]);
        if (with_probabilities) {
          const std::int64_t c = p.num_classes, row = (k * p.n + i) * c;
          const float *pr = prob_ref.data_ptr<float>() + row, *pc = prob_cand.data_ptr<float>() + row;
          table.ref_conf.push_back(pr[ref[i]]);
          table.cand_conf.push_back(pc[cand[i]]);
          table.kl.push_back(compaudit::stats::kl_floored(pr, pc, static_cast<int>(c)));
        }
      }
      pairs.push_back(pair_result(input.data, p, flips[negative], flips[positive], flips[wrong_to_other], changed));
    }
    json out = metrics::mean_over_pairs(pairs);
    out["per_seed"] = metrics::per_seed(input.candidate, pairs);
    out["examples_table"] = table.to_json(with_probabilities);
    return out;
  }

 private:
  static json pair_result(const compaudit::EvalData& data, const metrics::PairedPredictions& p,
                          const std::vector<std::int64_t>& negatives, const std::vector<std::int64_t>& positives,
                          const std::vector<std::int64_t>& others, std::int64_t changed) {
    std::int64_t neg = 0, pos = 0, oth = 0;
    json per_class = json::array();
    for (int c = 0; c < p.num_classes; ++c) {
      neg += negatives[c], pos += positives[c], oth += others[c];
      const std::int64_t n = p.class_count[c];
      per_class.push_back({{"class", c}, {"name", metrics::class_name(data, c)}, {"n", n},
                           {"negative_flips", negatives[c]}, {"positive_flips", positives[c]},
                           {"wrong_to_other", others[c]},
                           {"negative_flip_rate", n ? json(rate(negatives[c], n)) : json()},
                           {"recall_change", n ? json(rate(positives[c] - negatives[c], n)) : json()}});
    }
    return {{"summary",
             {{"flip_rate", rate(neg + pos, p.n)}, {"negative_flip_rate", rate(neg, p.n)},
              {"positive_flip_rate", rate(pos, p.n)}, {"wrong_to_other_rate", rate(oth, p.n)},
              {"accuracy_change", rate(pos - neg, p.n)}, {"changed_answers", rate(changed, p.n)}}},
            {"per_class", std::move(per_class)}};
  }
};

}  // namespace

COMPAUDIT_PLUGIN_MANIFEST(FlipsMetric, metric_flips_manifest)
