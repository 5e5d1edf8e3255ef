// org.compaudit.prune.structured — structured pruning of whole output channels (filters / neurons) by L1 or L2 norm.
//
// In each selected layer, the round(amount * channels) output channels whose weight norm is smallest go (ties:
// lower index first), as PyTorch's torch.nn.utils.prune.ln_structured(n, dim=0) chooses them. Where the model allows
// it (built-in models, a layer whose only consumer is known: MLP layers, CNN convs, ResNet blocks' first convs) the
// layer and its consumer are physically sliced, so the model really gets smaller; elsewhere (TorchScript modules,
// layers feeding a residual sum) the channels are masked — weight rows and bias entries — and the record says so.
// The last layer is never pruned: its outputs are the classes.
//
//     [[arm.step]]
//     plugin = "org.compaudit.prune.structured"
//     amount = [0.25, 0.5]            # fraction of output channels removed in each selected layer
//     norm = "l1"                     # or "l2"
//
// Details recorded: per layer {layer, channels_before, channels_after, removed, mode: "sliced" | "masked"}; model
// size before and after (parameters, nonzeros, bytes, sparse_bytes).
#include "prune_structured_manifest.h"  // generated from manifests/prune_structured.toml
#include "support/compress_support.h"

#include <compaudit/compressor.h>

#include <ATen/ATen.h>
#include <fmt/format.h>

namespace compaudit::compressors {
namespace manifest = prune_structured_manifest;

class StructuredPruning final : public Compressor {
 public:
  explicit StructuredPruning(const Params& params) : options_(params) {}

  CompressionRecord compress(Model& model, CompressionContext&) override {
    std::vector<Layer> selected = select_layers(model, options_.selection(), manifest::id);
    const std::string last = model.layers().back().name;
    CompressionRecord record;
    record.details["size_before"] = size_json(model);
    nlohmann::json per_layer = nlohmann::json::array();
    std::int64_t sliced = 0, masked = 0;

    for (const Layer& chosen : selected) {
      if (chosen.name == last) continue;  // the classifier's outputs are the classes
      // Re-read the layer: slicing an earlier layer replaced this one's input weights.
      std::vector<Layer> layers = model.layers();
      const auto index = static_cast<int>(
          std::find_if(layers.begin(), layers.end(), [&](const Layer& l) { return l.name == chosen.name; }) -
          layers.begin());
      const Layer& layer = layers[static_cast<std::size_t>(index)];
      const std::int64_t channels = layer.weight.size(0);
      const std::int64_t remove = std::min(count_for(options_.amount, channels), channels - 1);
      if (remove <= 0) continue;

      // Keep the channels of largest norm; sort is by (norm, index) so ties drop the lower index first.
      const at::Tensor norms = at::linalg_vector_norm(layer.weight.detach().flatten(1), options_.norm == "l1" ? 1 : 2,
                                                      {1}, false, at::kDouble);
      const at::Tensor order = std::get<1>(norms.sort(/*stable=*/true, /*dim=*/0, /*descending=*/false));
      const at::Tensor keep = std::get<0>(order.slice(0, remove).sort());  // surviving channel indices, ascending

      const bool can_slice = options_.shrink && model.can_reshape() && layer.consumer >= 0;
      if (can_slice) {
        slice(model, layer, layers[static_cast<std::size_t>(layer.consumer)], keep);
        ++sliced;
      } else {
        mask(model, layer, order.slice(0, 0, remove));
        ++masked;
      }
      per_layer.push_back({{"layer", layer.name}, {"channels_before", channels},
                           {"channels_after", channels - remove}, {"removed", remove},
                           {"mode", can_slice ? "sliced" : "masked"}});
    }

    record.details["norm"] = options_.norm;
    record.details["amount"] = options_.amount;
    record.details["layers"] = std::move(per_layer);
    record.details["size_after"] = size_json(model);
    const auto& b = record.details["size_before"];
    const auto& a = record.details["size_after"];
    record.summary = fmt::format("structured {} pruning of {:.0f}% of channels ({} layers sliced, {} masked): {} -> {} "
                                 "parameters, {} -> {} bytes",
                                 options_.norm, 100 * options_.amount, sliced, masked,
                                 human_count(b["parameters"].get<std::int64_t>()),
                                 human_count(a["parameters"].get<std::int64_t>()), b["bytes"].get<std::int64_t>(),
                                 a["bytes"].get<std::int64_t>());
    return record;
  }

 private:
  // Replaces a tensor by its slice along `dim`, carrying its mask along (replace_parameter drops a reshaped mask).
  static void replace_sliced(Model& model, const std::string& name, const at::Tensor& value, std::int64_t dim,
                             const at::Tensor& keep, std::int64_t group) {
    auto cut = [&](const at::Tensor& t) {
      if (group == 1) return t.index_select(dim, keep);
      // A flattening consumer: its inputs are channel-major groups of `group` features.
      const at::Tensor grouped = t.reshape({t.size(0), -1, group});
      return grouped.index_select(1, keep).reshape({t.size(0), -1});
    };
    const at::Tensor old_mask = model.mask(name);
    model.replace_parameter(name, cut(value.detach()));
    if (old_mask.defined()) model.set_mask(name, cut(old_mask));
  }

  static void slice(Model& model, const Layer& layer, const Layer& consumer, const at::Tensor& keep) {
    const std::int64_t channels = layer.weight.size(0), inputs = consumer.weight.size(1);
    if (inputs % channels != 0)
      throw Error(ErrorCode::runtime,
                  fmt::format("{}: consumer {} of {} takes {} inputs, not a multiple of {} channels", manifest::id,
                              consumer.name, layer.name, inputs, channels));
    replace_sliced(model, layer.name + ".weight", layer.weight, 0, keep, 1);
    if (layer.bias.defined()) replace_sliced(model, layer.name + ".bias", layer.bias, 0, keep, 1);
    replace_sliced(model, consumer.name + ".weight", consumer.weight, 1, keep, inputs / channels);
  }

  static void mask(Model& model, const Layer& layer, const at::Tensor& removed) {
    at::Tensor m = model.mask(layer.name + ".weight");
    m = m.defined() ? m.to(at::kFloat).clone() : at::ones(layer.weight.sizes(), at::kFloat);
    m.index_fill_(0, removed, 0.0);
    model.set_mask(layer.name + ".weight", m);
    if (layer.bias.defined()) {
      at::Tensor bm = model.mask(layer.name + ".bias");
      bm = bm.defined() ? bm.to(at::kFloat).clone() : at::ones(layer.bias.sizes(), at::kFloat);
      model.set_mask(layer.name + ".bias", bm.index_fill_(0, removed, 0.0));
    }
  }

  const manifest::Options options_;
};

}  // namespace compaudit::compressors

COMPAUDIT_PLUGIN_MANIFEST(compaudit::compressors::StructuredPruning, prune_structured_manifest)
