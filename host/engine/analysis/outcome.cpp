#include "analysis/outcome.h"

#include <ATen/ATen.h>

namespace compaudit::engine::analysis {

namespace {
constexpr double kProbabilityFloor = 1e-12;  // as the kl_shift metric (plugins/metrics/stats)
}

Reference make_reference(at::Tensor probabilities, at::Tensor targets, std::optional<int> critical_class) {
  Reference r;
  r.correct = probabilities.argmax(1).eq(targets);
  r.probabilities = std::move(probabilities);
  r.targets = std::move(targets);
  r.critical_class = critical_class;
  return r;
}

Outcome compare(const Reference& ref, const at::Tensor& probs) {
  Outcome o;
  const at::Tensor correct = probs.argmax(1).eq(ref.targets);
  const double n = static_cast<double>(std::max<std::int64_t>(ref.targets.numel(), 1));
  o.flipped = ref.correct.logical_and(correct.logical_not());
  o.negative_flips = o.flipped.sum().item<std::int64_t>();
  o.positive_flips = ref.correct.logical_not().logical_and(correct).sum().item<std::int64_t>();
  o.negative_flip_rate = static_cast<double>(o.negative_flips) / n;
  o.accuracy = correct.sum().item<double>() / n;
  o.accuracy_change = o.accuracy - ref.correct.sum().item<double>() / n;
  // KL(p || q) per example with both floored and renormalised, in double.
  const at::Tensor p = ref.probabilities.to(at::kDouble).clamp_min(kProbabilityFloor);
  const at::Tensor q = probs.to(at::kDouble).clamp_min(kProbabilityFloor);
  const at::Tensor pn = p / p.sum(1, true), qn = q / q.sum(1, true);
  o.kl = (pn * (pn.log() - qn.log())).sum(1).mean().item<double>();
  if (ref.critical_class) {
    const at::Tensor in_class = ref.targets.eq(*ref.critical_class);
    const double members = in_class.sum().item<double>();
    o.critical_negative_flips = o.flipped.logical_and(in_class).sum().item<std::int64_t>();
    if (members > 0) {
      o.critical_recall = correct.logical_and(in_class).sum().item<double>() / members;
      o.critical_recall_change = *o.critical_recall - ref.correct.logical_and(in_class).sum().item<double>() / members;
    }
  }
  return o;
}

double damage(const Outcome& o, const Reference& ref) {
  return static_cast<double>(ref.critical_class ? o.critical_negative_flips : o.negative_flips);
}

nlohmann::json Outcome::to_json() const {
  auto opt = [](const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(); };
  return {{"negative_flips", negative_flips},
          {"positive_flips", positive_flips},
          {"negative_flip_rate", negative_flip_rate},
          {"accuracy", accuracy},
          {"accuracy_change", accuracy_change},
          {"kl", kl},
          {"critical_negative_flips", critical_recall ? nlohmann::json(critical_negative_flips) : nlohmann::json()},
          {"critical_recall", opt(critical_recall)},
          {"critical_recall_change", opt(critical_recall_change)}};
}

}  // namespace compaudit::engine::analysis
