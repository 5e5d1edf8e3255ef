// org.compaudit.augment.noise — additive Gaussian noise: the smallest complete augmentation plugin, and the one to
// copy when writing your own.
//
//     [augmentation]
//     plugin = "org.compaudit.augment.noise"
//     std = 0.1                    # in units of the (normalised) data's standard deviation
//
// Every input value gets independent N(0, std²) noise, for images [B, C, H, W] and tabular rows [B, F] alike.
// Targets and weights are left alone. The draw uses context.generator (seeded per cell), never the global
// generator, so a run is reproducible; std = 0 leaves the batch untouched.
#include "augment_noise_manifest.h"  // generated from manifests/augment_noise.toml

#include <compaudit/augmentation.h>

#include <ATen/ATen.h>

namespace {

class GaussianNoise final : public compaudit::Augmentation {
 public:
  explicit GaussianNoise(const compaudit::Params& params) : options_(params) {}

  void apply(compaudit::Batch& batch, const compaudit::AugmentationState& /*state*/,
             compaudit::AugmentationContext& context) override {
    if (options_.std <= 0.0) return;
    batch.inputs = batch.inputs + at::randn(batch.inputs.sizes(), context.generator, batch.inputs.options()) *
                                      options_.std;
  }

 private:
  const augment_noise_manifest::Options options_;
};

}  // namespace

COMPAUDIT_PLUGIN_MANIFEST(GaussianNoise, augment_noise_manifest)
