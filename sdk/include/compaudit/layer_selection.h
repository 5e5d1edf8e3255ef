// compaudit/layer_selection.h — which layers a compressor works on, from its `layers` / `exclude` / `layer_types`
// parameters. No LibTorch: `compaudit validate` (host/core) checks a pipeline's selections against the model's
// signature with this same code before anything runs, and compaudit/layers.h applies it to a Model at compress time,
// so a selection that validates is the selection a plugin gets.
//
// The rules:
//  * a layer is selected when its type is one of `layer_types`, its name matches one of the `layers` globs and
//    none of the `exclude` globs (shell globs, fnmatch without flags: "fc*", "block3.*", "conv?");
//  * every `layers` glob must match at least one layer of the selected types (a typo is an error, not a no-op);
//  * the selection must not be empty.
//
// Manifest: a selecting compressor declares the three parameters with `refers_to = "layer_pattern"`,
// `"layer_exclude"` and `"layer_type"` (docs/manifests.md), which is how the validator finds them:
//
//     [[param]]
//     name = "layers"
//     type = "string_list"
//     default = ["*"]
//     refers_to = "layer_pattern"
//
// Thread safety: plain functions of their arguments.
#pragma once

#include <compaudit/export.h>
#include <compaudit/params.h>
#include <compaudit/version.h>

#include <cstddef>
#include <string>
#include <vector>

COMPAUDIT_NAMESPACE_BEGIN

/// Which layers a scheme touches.
struct LayerSelection {
  std::vector<std::string> layers{"*"};                     ///< Globs on layer names; each must match a layer.
  std::vector<std::string> exclude;                         ///< Layers matching any of these are skipped.
  std::vector<std::string> layer_types{"linear", "conv2d"};  ///< "linear", "conv2d".
};

/// Reads the string_list parameters "layers", "exclude" and "layer_types" (each optional: absent ones keep
/// LayerSelection's defaults). Throws Error(parameters) when one has another type.
COMPAUDIT_SDK_API LayerSelection read_selection(const Params& params);

/// Whether `name` matches the shell glob `pattern` (fnmatch, no flags: '*' also matches '.').
COMPAUDIT_SDK_API bool glob_match(const std::string& pattern, const std::string& name);

/// A layer as selection sees it: its name and type word ("linear", "conv2d", "other").
struct LayerName {
  std::string name;
  std::string type;
};

/// The outcome of a selection: the selected layers' indices (in the given order), or why there are none usable.
struct SelectedLayers {
  enum class Problem : int {
    none = 0,
    unmatched_pattern = 1,  ///< `pattern` (one of LayerSelection::layers) matches no layer of the selected types.
    nothing_left = 2,       ///< No layer is selected (exclusions remove all, or no layer has a selected type).
  };
  std::vector<std::size_t> indices;
  Problem problem = Problem::none;
  std::string pattern;  ///< The unmatched glob, for Problem::unmatched_pattern.
  /// What went wrong as a sentence without prefix, naming the model's layers, e.g. `pattern "fc9" matches no
  /// linear or conv2d layer of model mlp (its layers: fc1 (linear), fc2 (linear))`. Empty when problem is none.
  std::string message;

  bool ok() const noexcept { return problem == Problem::none; }
};

/// Applies `selection` to `layers` (in model order). `model` names the model in messages ("mlp", "resnet").
/// Never throws for a bad selection: the caller turns `problem` into its own error (a plugin: Error(parameters);
/// the validator: Error(pipeline) at the parameter's line).
COMPAUDIT_SDK_API SelectedLayers select_layer_names(const std::vector<LayerName>& layers,
                                                    const LayerSelection& selection, const std::string& model);

COMPAUDIT_NAMESPACE_END
