// Compressor parameters that name parts of the model (manifest `refers_to`), checked against the model's signature
// when the pipeline is validated — the same rules the built-in compressors apply at compress time
// (compaudit/layer_selection.h, the SDK's one selection code, and truncate_svd's cuts), moved before anything runs:
//   layer_pattern  every glob matches at least one layer of the selected types
//   layer_exclude  the exclusions leave at least one layer
//   cut            a linear layer takes its one cut (o|i); conv2d layers take the listed conv2d cuts, so each
//                  listed cut must fit some selected layer and each selected conv2d layer needs one
#include "pipeline_detail.h"

#include <compaudit/layer_selection.h>

#include <fmt/format.h>

#include <algorithm>

namespace compaudit::host::detail {
namespace {

const std::vector<std::string> kConvCuts = {"o|ihw", "i|ohw", "h|oiw", "w|oih", "oi|hw", "oh|iw", "ow|ih"};
const std::vector<std::string> kLinearCuts = {"o|i"};

void append(std::vector<std::string>& to, const std::vector<std::string>& more) {
  to.insert(to.end(), more.begin(), more.end());
}

// A string or string_list parameter's values (refers_to is only allowed on those).
std::vector<std::string> strings_of(const Params& params, const std::string& name) {
  if (!params.has(name)) return {};
  const ParamValue& v = params.values().at(name);
  if (const auto* one = std::get_if<std::string>(&v)) return {*one};
  if (const auto* list = std::get_if<std::vector<std::string>>(&v)) return *list;
  return {};
}

}  // namespace

void check_model_references(const Manifest& manifest, const Params& params, const ModelSignature& model,
                            const std::string& what, const std::function<SourceLocation(const std::string&)>& where) {
  if (manifest.refers_to.empty()) return;
  auto params_for = [&](const char* kind) {
    std::vector<std::string> names;
    for (const auto& [name, ref] : manifest.refers_to)
      if (ref == kind) names.push_back(name);
    return names;
  };
  auto fail = [&](const std::string& param, const std::string& message) {
    throw Error(ErrorCode::pipeline, fmt::format("{}: {}: {}", what, param, message), where(param));
  };

  // The selection the scheme will make at compress time (compaudit/layer_selection.h, the same code): the values of
  // its layer_pattern / layer_exclude / layer_type parameters, or the defaults where it declares none.
  LayerSelection selection;
  const auto includes = params_for("layer_pattern"), excludes = params_for("layer_exclude");
  if (!includes.empty()) selection.layers.clear();
  for (const auto& name : includes) append(selection.layers, strings_of(params, name));
  for (const auto& name : excludes) append(selection.exclude, strings_of(params, name));
  for (const auto& name : params_for("layer_type")) selection.layer_types = strings_of(params, name);
  std::vector<LayerName> names;
  for (const auto& l : model.layers) names.push_back({l.name, l.type});
  const SelectedLayers chosen = select_layer_names(names, selection, model.arch);
  if (!chosen.ok()) {
    // Point at the parameter to fix: the one holding the unmatched pattern, else the exclusions, else the types.
    std::string param;
    for (const auto& name : includes) {
      const auto values = strings_of(params, name);
      if (param.empty() && std::find(values.begin(), values.end(), chosen.pattern) != values.end()) param = name;
    }
    const auto types = params_for("layer_type");
    if (param.empty() && chosen.problem == SelectedLayers::Problem::nothing_left && !excludes.empty())
      param = excludes.front();
    if (param.empty()) param = !includes.empty() ? includes.front() : !types.empty() ? types.front() : "layer_types";
    fail(param, chosen.message);
  }
  std::vector<const LayerSignature*> selected;
  for (std::size_t i : chosen.indices) selected.push_back(&model.layers[i]);

  // Cuts: a linear layer has one cut, o|i, and always takes it; a conv2d layer takes the listed conv2d cuts, in
  // order. So a listed cut must apply to some selected layer, and every selected conv2d layer needs one.
  for (const auto& name : params_for("cut")) {
    const auto cuts = strings_of(params, name);
    if (cuts.empty()) continue;  // each layer's first cut
    auto is_conv_cut = [](const std::string& c) {
      return std::find(kConvCuts.begin(), kConvCuts.end(), c) != kConvCuts.end();
    };
    std::vector<std::string> picked;
    for (const LayerSignature* l : selected) picked.push_back(fmt::format("{} ({})", l->name, l->type));
    for (const auto& cut : cuts) {
      const bool conv = is_conv_cut(cut);
      if (!conv && cut != kLinearCuts.front())
        fail(name, fmt::format("cut \"{}\" is not a cut (conv2d cuts: {}; linear: o|i)", cut, fmt::join(kConvCuts, " ")));
      bool applies = false;
      for (const LayerSignature* l : selected) applies = applies || (l->type == "conv2d") == conv;
      if (!applies)
        fail(name, fmt::format("cut \"{}\" is for {} layers, and none of model {}'s selected layers is one "
                               "(selected: {}); a linear layer takes its one cut o|i by itself",
                               cut, conv ? "conv2d" : "linear", model.arch, fmt::join(picked, ", ")));
    }
    const bool any_conv_cut = std::any_of(cuts.begin(), cuts.end(), is_conv_cut);
    for (const LayerSignature* l : selected)
      if (l->type == "conv2d" && !any_conv_cut)
        fail(name, fmt::format("conv2d layer {} of model {} gets no cut: cuts lists none of the conv2d cuts ({})",
                               l->name, model.arch, fmt::join(kConvCuts, " ")));
  }
}

}  // namespace compaudit::host::detail

namespace compaudit::host::detail {

void check_checkpoints_agree(const ModelSpec& spec, const ModelSignature& first) {
  for (std::size_t k = 1; k < spec.checkpoints.size(); ++k) {
    ModelSignature other;
    try {
      other = torchscript_signature(spec.checkpoints[k]);
    } catch (const Error&) {
      continue;  // not readable without LibTorch: the run compares the loaded modules
    }
    if (const std::string why = parameter_mismatch(first.parameters, other.parameters); !why.empty())
      throw Error(ErrorCode::data,
                  fmt::format("[model] checkpoints: {} is not the architecture of {}: {}; every checkpoint must be "
                              "the same model trained from another seed",
                              spec.checkpoints[k], spec.checkpoints.front(), why),
                  spec.where);
  }
}

}  // namespace compaudit::host::detail
