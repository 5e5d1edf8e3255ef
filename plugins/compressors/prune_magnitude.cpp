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
#include "support/compress_support.h"

#include <compaudit/compressor.h>

#include <ATen/ATen.h>
#include <fmt/format.h>

namespace compaudit::compressors {

/// The parameters of the manifest (manifests/prune_magnitude.toml), with the same defaults.
struct MagnitudeOptions {
  double sparsity = 0.5;           ///< Fraction of the selected weights that are zero afterwards. Required.
  std::string scope = "global";    ///< "global": one threshold over all tensors; "layerwise": per tensor.
  LayerSelection selection;        ///< layers / exclude / layer_types. Default: every linear and conv2d layer.

  explicit MagnitudeOptions(const Params& p)
      : sparsity(p.get<double>("sparsity")), scope(p.get<std::string>("scope")), selection(read_selection(p)) {}
};

class MagnitudePruning final : public Compressor {
 public:
  static constexpr const char* kId = "org.compaudit.prune.magnitude";

  explicit MagnitudePruning(const Params& params) : options_(params) {}

  CompressionRecord compress(Model& model, CompressionContext&) override {
    const std::vector<Layer> layers = select_layers(model, options_.selection, kId);
    std::int64_t total = 0, already = 0;
    for (const auto& l : layers) {
      total += l.weight.numel();
      if (at::Tensor m = model.mask(l.name + ".weight"); m.defined()) already += zeros_of(m);
    }
    // The k smallest |w| by an O(n) selection (no sort), exact under ties; masks installed on the model.
    std::vector<std::int64_t> counts;
    const std::int64_t pruned = prune_to(model, layers, options_.sparsity, options_.scope == "global", {}, &counts);
    nlohmann::json per_layer = nlohmann::json::array();
    for (std::size_t i = 0; i < layers.size(); ++i) {
      const auto n = static_cast<double>(layers[i].weight.numel());
      per_layer.push_back({{"layer", layers[i].name}, {"parameters", layers[i].weight.numel()},
                           {"pruned", counts[i]}, {"sparsity", static_cast<double>(counts[i]) / n}});
    }

    CompressionRecord record;
    record.details["scope"] = options_.scope;
    record.details["target_sparsity"] = options_.sparsity;
    record.details["selected_weights"] = total;
    record.details["pruned"] = pruned;
    record.details["previously_pruned"] = already;
    record.details["layers"] = std::move(per_layer);
    record.summary = fmt::format("{} magnitude pruning to {:.1f}% ({} of {} weights in {} layers zeroed)",
                                 options_.scope, 100.0 * static_cast<double>(pruned) / static_cast<double>(total),
                                 human_count(pruned), human_count(total), layers.size());
    return record;
  }

 private:
  MagnitudeOptions options_;
};

}  // namespace compaudit::compressors

COMPAUDIT_PLUGIN(compaudit::compressors::MagnitudePruning, "org.compaudit.prune.magnitude",
                 compaudit::PluginKind::compressor, "1.0.0")
