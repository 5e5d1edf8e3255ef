// select_layers on a Model (compaudit/layers.h): the model's layers named and typed, then the SDK's one selection.
#include <compaudit/error.h>
#include <compaudit/layers.h>

#include <fmt/format.h>

COMPAUDIT_NAMESPACE_BEGIN

const char* to_string(LayerType type) noexcept {
  switch (type) {
    case LayerType::linear: return "linear";
    case LayerType::conv2d: return "conv2d";
    case LayerType::other: return "other";
  }
  return "other";
}

std::vector<Layer> select_layers(Model& model, const LayerSelection& selection, const std::string& plugin_id) {
  std::vector<Layer> all = model.layers();
  std::vector<LayerName> names;
  for (const Layer& l : all) names.push_back({l.name, to_string(l.type)});
  const SelectedLayers chosen = select_layer_names(names, selection, model.architecture());
  if (!chosen.ok()) {
    const bool excluded = chosen.problem == SelectedLayers::Problem::nothing_left && !selection.exclude.empty();
    throw Error(ErrorCode::parameters,
                fmt::format("{}: {}: {}", plugin_id, excluded ? "exclude" : "layers", chosen.message));
  }
  std::vector<Layer> out;
  for (std::size_t i : chosen.indices) out.push_back(std::move(all[i]));
  return out;
}

COMPAUDIT_NAMESPACE_END
