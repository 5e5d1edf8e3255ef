// Compressor parameters that name parts of the model (manifest `refers_to`), checked against the model's signature
// when the pipeline is validated — the same rules the built-in compressors apply at compress time
// (plugins/compressors/support: select_layers, and truncate_svd's cuts), moved before anything runs:
//   layer_pattern  every glob matches at least one layer of the selected types
//   layer_exclude  the exclusions leave at least one layer
//   cut            a linear layer takes its one cut (o|i); conv2d layers take the listed conv2d cuts, so each
//                  listed cut must fit some selected layer and each selected conv2d layer needs one
#include "pipeline_detail.h"

#include <fmt/format.h>

#include <fnmatch.h>

#include <algorithm>

namespace compaudit::host::detail {
namespace {

const std::vector<std::string> kConvCuts = {"o|ihw", "i|ohw", "h|oiw", "w|oih", "oi|hw", "oh|iw", "ow|ih"};
const std::vector<std::string> kLinearCuts = {"o|i"};

bool glob_match(const std::string& pattern, const std::string& name) {
  return fnmatch(pattern.c_str(), name.c_str(), 0) == 0;
}

// A string or string_list parameter's values (refers_to is only allowed on those).
std::vector<std::string> strings_of(const Params& params, const std::string& name) {
  if (!params.has(name)) return {};
  const ParamValue& v = params.values().at(name);
  if (const auto* one = std::get_if<std::string>(&v)) return {*one};
  if (const auto* list = std::get_if<std::vector<std::string>>(&v)) return *list;
  return {};
}

std::string layer_list(const ModelSignature& model) {
  std::vector<std::string> parts;
  for (const auto& l : model.layers) parts.push_back(fmt::format("{} ({})", l.name, l.type));
  return parts.empty() ? "none" : fmt::format("{}", fmt::join(parts, ", "));
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

  // The types a scheme selects: its layer_type parameter, or every layer type.
  std::vector<std::string> types{"linear", "conv2d"};
  for (const auto& name : params_for("layer_type")) types = strings_of(params, name);
  const std::string type_words = fmt::format("{}", fmt::join(types, " or "));
  std::vector<const LayerSignature*> typed;
  for (const auto& l : model.layers)
    if (std::find(types.begin(), types.end(), l.type) != types.end()) typed.push_back(&l);

  std::vector<const LayerSignature*> selected;
  const auto includes = params_for("layer_pattern");
  for (const auto& name : includes)
    for (const auto& pattern : strings_of(params, name)) {
      bool any = false;
      for (const LayerSignature* l : typed) any = any || glob_match(pattern, l->name);
      if (!any)
        fail(name, fmt::format("pattern \"{}\" matches no {} layer of model {} (its layers: {})", pattern,
                               type_words, model.arch, layer_list(model)));
    }
  for (const LayerSignature* l : typed) {
    bool in = includes.empty(), out = false;
    for (const auto& name : includes)
      for (const auto& pattern : strings_of(params, name)) in = in || glob_match(pattern, l->name);
    for (const auto& name : params_for("layer_exclude"))
      for (const auto& pattern : strings_of(params, name)) out = out || glob_match(pattern, l->name);
    if (in && !out) selected.push_back(l);
  }
  if (selected.empty()) {
    const auto excludes = params_for("layer_exclude");
    fail(excludes.empty() ? (includes.empty() ? std::string("layer_types") : includes.front()) : excludes.front(),
         fmt::format("no {} layer of model {} is left to compress (its layers: {})", type_words, model.arch,
                     layer_list(model)));
  }

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
