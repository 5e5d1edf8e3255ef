// org.compaudit.augment.randaugment — RandAugment-style augmentation whose magnitude can follow the model's
// sparsity (Yu, Zhang, Ma, "Revisiting data augmentation in model compression": smaller models prefer weaker
// augmentation, and in iterative pruning a magnitude that falls with sparsity beats a constant one).
//
//     [augmentation]
//     plugin = "org.compaudit.augment.randaugment"
//     n = 2                        # operations per image
//     magnitude = 12               # M for the dense model, on RandAugment's 0..30 scale
//     schedule = "linear"          # "constant" | "linear" | "step"
//     magnitude_sparse = 4         # M reached at sparsity_end (linear) / past the last threshold (step)
//     sparsity_end = 0.9
//     ops = ["shift", "rotate", "noise", "cutout", "contrast"]
//     mixup_alpha = 0.2            # 0 disables mixup
//
// Per batch: M = schedule(state.sparsity); for each of n rounds every image draws one of `ops` uniformly and gets
// it at strength M / 30 (strengths at M = 30 are listed in ops/ops.h). Tabular inputs [B, F] only take the noise
// operation (every round, every sample; nothing if "noise" is not in `ops`). Then mixup with λ ~ Beta(α, α) mixes
// inputs and soft targets. Every draw uses context.generator, so a cell's augmentation is reproducible; M = 0 with
// mixup off leaves the batch untouched.
//
// Schedules of M over sparsity s (s = 0 for dense training):
//   constant   M(s) = magnitude
//   linear     M(s) = magnitude + (magnitude_sparse - magnitude) * min(s / sparsity_end, 1)
//   step       M(s) = magnitude + (magnitude_sparse - magnitude) * (#thresholds <= s) / #thresholds
#include "augment_randaugment_manifest.h"  // generated from manifests/augment_randaugment.toml
#include "ops/ops.h"

#include <compaudit/augmentation.h>

#include <ATen/ATen.h>

namespace {

namespace augment = compaudit::augment;

/// The manifest's parameters (augment_randaugment_manifest.h) in the form the operations use.
struct Options {
  std::int64_t n;
  augment::MagnitudeSchedule schedule;
  std::vector<augment::Op> ops;
  double mixup_alpha;
};

Options read(const augment_randaugment_manifest::Options& m) {
  Options o{m.n, {}, {}, m.mixup_alpha};
  o.schedule.kind = augment::MagnitudeSchedule::kind_from_string(m.schedule);
  o.schedule.dense = m.magnitude;
  o.schedule.sparse = m.magnitude_sparse;
  o.schedule.sparsity_end = m.sparsity_end;
  o.schedule.thresholds = m.thresholds;
  for (const std::string& name : m.ops) {
    const auto op = augment::op_from_string(name);
    if (!op) throw compaudit::Error(compaudit::ErrorCode::parameters, "ops: unknown operation '" + name + "'");
    o.ops.push_back(*op);
  }
  return o;
}

class RandAugment final : public compaudit::Augmentation {
 public:
  explicit RandAugment(const compaudit::Params& params)
      : options_(read(augment_randaugment_manifest::Options(params))) {}

  void apply(compaudit::Batch& batch, const compaudit::AugmentationState& state,
             compaudit::AugmentationContext& context) override {
    const double m = options_.schedule.at(state.sparsity) / augment::kMaxMagnitude;
    const bool image = batch.inputs.dim() == 4;
    std::vector<augment::Op> ops;
    for (augment::Op op : options_.ops)
      if (image || op == augment::Op::noise) ops.push_back(op);

    at::Tensor x = batch.inputs;
    const std::int64_t b = x.size(0);
    for (std::int64_t round = 0; round < options_.n && !ops.empty(); ++round) {
      const at::Tensor choice =
          at::randint(static_cast<std::int64_t>(ops.size()), {b}, context.generator, at::TensorOptions(at::kLong));
      for (std::size_t i = 0; i < ops.size(); ++i)
        x = augment::apply(ops[i], x, choice == static_cast<std::int64_t>(i), m, context.generator);
    }
    batch.inputs = x;
    augment::mixup(batch, options_.mixup_alpha, state.num_classes, context.generator);
  }

 private:
  Options options_;
};

}  // namespace

COMPAUDIT_PLUGIN_MANIFEST(RandAugment, augment_randaugment_manifest)
