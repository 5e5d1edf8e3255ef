// org.compaudit.augment.difficulty — augmentation with a teacher-difficulty filter (Yu, Zhang, Ma: a large model's
// confidence on an augmented sample measures its difficulty; samples too hard for the teacher hurt a small model).
//
//     [augmentation]
//     plugin = "org.compaudit.augment.difficulty"
//     magnitude = 12               # M on the 0..30 scale of the shift and noise applied first
//     threshold = 0.6              # hard when 1 - p_teacher(y | x') > threshold
//     hard_weight = 0.0            # loss weight of a hard sample: 0 drops it, 0.2 down-weights it
//
// Per batch, every sample is first augmented at strength M / 30 — images are shifted, then get noise; tabular rows
// only get noise (the same operations and strengths as org.compaudit.augment.randaugment, see ops/ops.h). Then the
// teacher — the dense model of the same seed, given by the host as context.teacher — scores the augmented batch x',
// and samples with 1 - p_teacher(y | x') > threshold get loss weight `hard_weight` (multiplied into existing
// weights). Kept simple on purpose: it does not wrap another policy; it is its own one.
// With no teacher (dense training, when the dense model is the one being trained) only the augmentation applies.
// Every random draw uses context.generator.
#include "augment_difficulty_manifest.h"  // generated from manifests/augment_difficulty.toml
#include "ops/ops.h"

#include <compaudit/augmentation.h>

#include <ATen/ATen.h>

namespace {

namespace augment = compaudit::augment;

class DifficultyFilter final : public compaudit::Augmentation {
 public:
  explicit DifficultyFilter(const compaudit::Params& params) : options_(params) {}

  void apply(compaudit::Batch& batch, const compaudit::AugmentationState& /*state*/,
             compaudit::AugmentationContext& context) override {
    const double m = options_.magnitude / augment::kMaxMagnitude;
    const std::int64_t b = batch.inputs.size(0);
    const at::Tensor all = at::ones({b}, at::TensorOptions(at::kBool));
    at::Tensor x = batch.inputs;
    if (x.dim() == 4) x = augment::apply(augment::Op::shift, x, all, m, context.generator);
    x = augment::apply(augment::Op::noise, x, all, m, context.generator);
    batch.inputs = x;
    if (!context.teacher) return;

    const at::Tensor probabilities = context.teacher(x);
    if (!probabilities.defined() || probabilities.dim() != 2 || probabilities.size(0) != b)
      throw compaudit::Error(compaudit::ErrorCode::runtime,
                             "difficulty: the teacher must return probabilities [B, C] for a batch of " +
                                 std::to_string(b));
    const at::Tensor p_true =
        probabilities.to(at::kFloat).gather(1, batch.targets.to(probabilities.device()).view({-1, 1})).view({-1});
    const at::Tensor hard = (1.0 - p_true) > options_.threshold;
    const at::Tensor weight =
        at::where(hard, at::full({b}, options_.hard_weight, at::kFloat), at::ones({b}, at::kFloat))
            .to(batch.inputs.device());
    batch.weights = batch.weights.defined() ? batch.weights * weight : weight;
  }

 private:
  const augment_difficulty_manifest::Options options_;
};

}  // namespace

COMPAUDIT_PLUGIN_MANIFEST(DifficultyFilter, augment_difficulty_manifest)
