// org.compaudit.prune.magnitude — unstructured magnitude pruning, layerwise or global.
//
// Zeroes the weights of smallest |w|: either one threshold over all selected tensors (scope = "global", PyTorch's
// torch.nn.utils.prune.global_unstructured with L1Unstructured) or the same fraction in every tensor (scope =
// "layerwise", PyTorch's l1_unstructured per tensor). Exactly round(sparsity * n) weights go (ties at the threshold
// are broken by position), installed as masks, so the host keeps them at zero through any fine-tuning. Biases are
// never pruned. Weights an earlier step already masked stay masked and count towards the target.
//
//     [[arm]]
//     name = "prune"
//     finetune_epochs = 2
//       [[arm.step]]
//       plugin = "org.compaudit.prune.magnitude"
//       sparsity = [0.5, 0.7, 0.9]     # a sweep: one arm per value
//       scope = "global"               # or "layerwise"
//       layers = ["*"]                 # shell globs on layer names; exclude = ["fc3"] keeps the classifier dense
//
// Details recorded: per layer {layer, parameters, pruned, sparsity}; selected, pruned and previously pruned counts.
// (No model-wide size scan here: this plugin runs at memory speed, and the host's size metric measures the model.)
//
// The shortest complete compressor, and the one to copy: its id, version and parameters are declared once, in the
// manifest; the build generates prune_magnitude_manifest.h from it (Options: one member per [[param]]), and it uses
// only the installed SDK (layer selection from compaudit/layers.h, exact selection from compaudit/select.h).
#include "prune_magnitude_manifest.h"  // generated from manifests/prune_magnitude.toml

#include <compaudit/compressor.h>
#include <compaudit/layers.h>
#include <compaudit/select.h>

#include <ATen/ATen.h>
#include <fmt/format.h>

namespace {
namespace manifest = prune_magnitude_manifest;

class MagnitudePruning final : public compaudit::Compressor {
 public:
  explicit MagnitudePruning(const compaudit::Params& params) : options_(params) {}

  compaudit::CompressionRecord compress(compaudit::Model& model, compaudit::CompressionContext&) override {
    const std::vector<compaudit::Layer> layers = compaudit::select_layers(model, options_.selection(), manifest::id);
    std::int64_t total = 0, already = 0;
    for (const auto& l : layers) {
      total += l.weight.numel();
      if (at::Tensor m = model.mask(l.name + ".weight"); m.defined()) already += compaudit::zeros_of(m);
    }
    // The k smallest |w| by an O(n) selection (no sort), exact under ties; masks installed on the model.
    std::vector<std::int64_t> counts;
    const bool global = options_.scope == "global";
    const std::int64_t pruned = compaudit::prune_to(model, layers, options_.sparsity, global, {}, &counts);
    nlohmann::json per_layer = nlohmann::json::array();
    for (std::size_t i = 0; i < layers.size(); ++i) {
      const auto n = layers[i].weight.numel();
      per_layer.push_back({{"layer", layers[i].name}, {"parameters", n}, {"pruned", counts[i]},
                           {"sparsity", static_cast<double>(counts[i]) / static_cast<double>(n)}});
    }

    compaudit::CompressionRecord record;
    record.details = {{"scope", options_.scope},    {"target_sparsity", options_.sparsity},
                      {"selected_weights", total},  {"pruned", pruned},
                      {"previously_pruned", already}, {"layers", std::move(per_layer)}};
    record.summary = fmt::format("{} magnitude pruning to {:.1f}% ({} of {} weights in {} layers zeroed)",
                                 options_.scope, 100.0 * static_cast<double>(pruned) / static_cast<double>(total),
                                 pruned, total, layers.size());
    return record;
  }

 private:
  const manifest::Options options_;
};

}  // namespace

COMPAUDIT_PLUGIN_MANIFEST(MagnitudePruning, prune_magnitude_manifest)
