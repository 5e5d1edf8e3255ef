// Random unstructured pruning — a complete third-party compressor plugin.
//
// Removes a random `sparsity` fraction of every linear and conv weight. It is the control that magnitude pruning
// should beat: if a magnitude-pruned population forgets the same examples as a randomly pruned one, the damage is
// about capacity, not about which weights were chosen.
//
// Use it in a pipeline (after `COMPAUDIT_PLUGIN_PATH=<dir holding librandom_pruning.so and its manifest>`):
//
//   [[arm]]
//   name = "random"
//   finetune_epochs = 1
//     [[arm.step]]
//     plugin = "org.example.prune.random"
//     sparsity = [0.5, 0.9]
//
// Its id, version and parameters are declared once, in random_pruning.toml: the build generates
// random_pruning_manifest.h from it (Options: one member per [[param]], read by name from the host's checked Params).
#include "random_pruning_manifest.h"  // generated from random_pruning.toml

#include <compaudit/compressor.h>

#include <ATen/ATen.h>  // not <torch/torch.h>: half the compile time and memory (bench/plugin_build/README.md)

#include <cmath>
#include <string>

namespace {

class RandomPruning final : public compaudit::Compressor {
 public:
  explicit RandomPruning(const compaudit::Params& params) : options_(params) {}

  compaudit::CompressionRecord compress(compaudit::Model& model, compaudit::CompressionContext& context) override {
    at::NoGradGuard no_grad;
    // The SDK's seeded stream: the same seed and salt give the same masks in every run, process and unit test.
    at::Generator generator = context.generator(static_cast<std::uint64_t>(options_.seed_offset));
    compaudit::CompressionRecord record;
    std::int64_t total = 0, zeroed = 0;
    for (const compaudit::Layer& layer : model.layers()) {
      const std::string name = layer.name + ".weight";
      const std::int64_t n = layer.weight.numel();
      const auto k = static_cast<std::int64_t>(std::llround(options_.sparsity * double(n)));
      // Exactly k entries: the first k of a random permutation. Keep what earlier steps of a chain pruned.
      auto mask = at::ones({n}, layer.weight.options());
      mask.index_fill_(0, at::randperm(n, generator, at::kLong).slice(0, 0, k), 0.0);
      mask = mask.view_as(layer.weight);
      if (auto previous = model.mask(name); previous.defined()) mask.mul_(previous);
      model.set_mask(name, mask);
      const auto layer_zeroed = n - mask.count_nonzero().item<std::int64_t>();
      record.details["layers"][layer.name] = {{"weights", n}, {"zeroed", layer_zeroed}};
      total += n;
      zeroed += layer_zeroed;
    }
    if (total == 0) throw compaudit::Error(compaudit::ErrorCode::runtime, "the model has no linear or conv layer");
    record.details["sparsity"] = double(zeroed) / double(total);
    record.summary = "random pruning: " + std::to_string(zeroed) + " of " + std::to_string(total) + " weights zeroed";
    return record;
  }

 private:
  const random_pruning_manifest::Options options_;
};

}  // namespace

COMPAUDIT_PLUGIN_MANIFEST(RandomPruning, random_pruning_manifest)
