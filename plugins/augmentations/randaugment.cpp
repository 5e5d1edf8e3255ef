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
#include "ops/ops.h"

#include <compaudit/augmentation.h>

#include <ATen/ATen.h>

namespace {

namespace augment = compaudit::augment;

/// The plugin's parameters, mirroring manifests/augment_randaugment.toml.
struct Options {
  std::int64_t n = 2;                  ///< Operations per image. Default: 2
  augment::MagnitudeSchedule schedule; ///< magnitude, schedule, magnitude_sparse, sparsity_end, thresholds.
  std::vector<augment::Op> ops;        ///< Operations to draw from. Default: all five
  double mixup_alpha = 0.0;            ///< Beta(α, α) parameter of mixup; 0 = off. Default: 0
};

Options read(const compaudit::Params& p) {
  Options o;
  o.n = p.get<std::int64_t>("n");
  o.schedule.kind = augment::MagnitudeSchedule::kind_from_string(p.get<std::string>("schedule"));
  o.schedule.dense = p.get<double>("magnitude");
  o.schedule.sparse = p.get<double>("magnitude_sparse");
  o.schedule.sparsity_end = p.get<double>("sparsity_end");
  o.schedule.thresholds = p.get<std::vector<double>>("thresholds");
  for (const std::string& name : p.get<std::vector<std::string>>("ops")) {
    const auto op = augment::op_from_string(name);
    if (!op) throw compaudit::Error(compaudit::ErrorCode::parameters, "ops: unknown operation '" + name + "'");
    o.ops.push_back(*op);
  }
  o.mixup_alpha = p.get<double>("mixup_alpha");
  return o;
}

class RandAugment final : public compaudit::Augmentation {
 public:
  explicit RandAugment(const compaudit::Params& params) : options_(read(params)) {}

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

COMPAUDIT_PLUGIN(RandAugment, "org.compaudit.augment.randaugment", compaudit::PluginKind::augmentation, "1.0.0")
