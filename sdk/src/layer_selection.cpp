// Layer selection (compaudit/layer_selection.h): the one implementation behind the validator's checks, the
// built-in compressors and third-party plugins.
#include <compaudit/layer_selection.h>

#include <fmt/format.h>

#include <fnmatch.h>

#include <algorithm>

COMPAUDIT_NAMESPACE_BEGIN

namespace {
std::vector<std::string> list_or(const Params& params, const char* name, std::vector<std::string> fallback) {
  return params.has(name) ? params.get<std::vector<std::string>>(name) : std::move(fallback);
}

bool any_match(const std::vector<std::string>& patterns, const std::string& name) {
  return std::any_of(patterns.begin(), patterns.end(), [&](const std::string& p) { return glob_match(p, name); });
}

std::string layer_list(const std::vector<LayerName>& layers) {
  std::vector<std::string> parts;
  for (const auto& l : layers) parts.push_back(fmt::format("{} ({})", l.name, l.type));
  return parts.empty() ? "none" : fmt::format("{}", fmt::join(parts, ", "));
}
}  // namespace

LayerSelection read_selection(const Params& params) {
  LayerSelection s;
  s.layers = list_or(params, "layers", std::move(s.layers));
  s.exclude = list_or(params, "exclude", std::move(s.exclude));
  s.layer_types = list_or(params, "layer_types", std::move(s.layer_types));
  return s;
}

bool glob_match(const std::string& pattern, const std::string& name) {
  return fnmatch(pattern.c_str(), name.c_str(), 0) == 0;
}

SelectedLayers select_layer_names(const std::vector<LayerName>& layers, const LayerSelection& selection,
                                  const std::string& model) {
  SelectedLayers out;
  const auto& types = selection.layer_types;
  auto typed = [&](const LayerName& l) { return std::find(types.begin(), types.end(), l.type) != types.end(); };
  const std::string type_words = fmt::format("{}", fmt::join(types, " or "));
  for (const auto& pattern : selection.layers) {
    const bool any = std::any_of(layers.begin(), layers.end(),
                                 [&](const LayerName& l) { return typed(l) && glob_match(pattern, l.name); });
    if (!any) {
      out.problem = SelectedLayers::Problem::unmatched_pattern;
      out.pattern = pattern;
      out.message = fmt::format("pattern \"{}\" matches no {} layer of model {} (its layers: {})", pattern, type_words,
                                model, layer_list(layers));
      return out;
    }
  }
  for (std::size_t i = 0; i < layers.size(); ++i)
    if (typed(layers[i]) && any_match(selection.layers, layers[i].name) && !any_match(selection.exclude, layers[i].name))
      out.indices.push_back(i);
  if (out.indices.empty()) {
    out.problem = SelectedLayers::Problem::nothing_left;
    out.message = fmt::format("no {} layer of model {} is left to compress (its layers: {})", type_words, model,
                              layer_list(layers));
  }
  return out;
}

COMPAUDIT_NAMESPACE_END
