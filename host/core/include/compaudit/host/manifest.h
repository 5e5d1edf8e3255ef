// compaudit/host/manifest.h — a plugin's manifest: everything needed to list, inspect and validate it without
// opening its library.
//
// Format and policies (unknown fields are errors, the library path is relative to the manifest and must stay in
// its directory tree) are documented in docs/manifests.md.
#pragma once

#include <compaudit/error.h>
#include <compaudit/params.h>
#include <compaudit/plugin.h>

#include <map>
#include <string>
#include <vector>

namespace compaudit::host {

struct Manifest {
  std::string id;           ///< Reverse-DNS id, e.g. "org.compaudit.compressor.magnitude".
  std::string version;      ///< The plugin's version, dotted integers ("1.2.0"); compared numerically.
  std::string description;
  std::string license;
  std::string sha256;       ///< Lower-case hex SHA-256 of the library, or empty (not pinned).
  std::string library;      ///< Absolute, lexically normal path of the library.
  std::string path;         ///< The manifest file (absolute).
  std::string origin;       ///< Search-path origin: "--plugin-path", "COMPAUDIT_PLUGIN_PATH", "user", "system",
                            ///< "built-in"; empty when parsed directly.
  PluginKind kind = PluginKind::compressor;
  int abi = 0;              ///< SDK ABI major the plugin was built against.
  std::vector<ParamSpec> params;
  std::vector<std::string> needs;  ///< Metrics only: "probabilities", "memorization".
  /// Compressors only (`trains = true`): compress() trains the model itself (CompressionContext::train), so a pipeline
  /// adds a control arm that gets the same training with the compression made inert (docs/pipelines.md, "Controls").
  bool trains = false;
  /// Parameters whose values name parts of the pipeline's model ([[param]] `refers_to`), by parameter name:
  /// "layer_pattern" (globs on layer names, each must match a layer), "layer_exclude" (globs that drop layers),
  /// "layer_type" ("linear" / "conv2d" filter) or "cut" (tensor cut names such as "o|ihw"). `validate` checks them
  /// against the model's signature (model_signature.h) without LibTorch. Absent: a plain value.
  std::map<std::string, std::string> refers_to;
};

/// The values `refers_to` may take, in the order docs/manifests.md lists them.
inline constexpr const char* kParamReferences[] = {"layer_pattern", "layer_exclude", "layer_type", "cut"};

/// Reads and checks a manifest. Throws Error(manifest) whose location is the file and, where there is one, the
/// line and column of the offending key or value. Does not open the library; checks that it exists and is a
/// regular file inside the manifest's directory tree.
Manifest parse_manifest(const std::string& path);

/// parse_manifest() without checking that the library exists (Manifest::library is still resolved and must stay
/// in the manifest's directory): the build reads the manifest before the library is built, to generate the
/// plugin's <target>_manifest.h (compaudit_add_plugin, tool compaudit-manifest-header).
Manifest parse_manifest_before_build(const std::string& path);

/// True for an id a manifest may declare: reverse-DNS, at least two dot-separated labels of [a-z0-9_-]
/// ("org.example.compressor.halve"). `compaudit new-plugin --id` checks its argument with this.
bool is_plugin_id(const std::string& id);

/// Compares dotted versions numerically ("1.10.0" > "1.9"): <0, 0, >0. Missing components count as 0; a
/// non-numeric component compares as text.
int compare_versions(const std::string& a, const std::string& b);

}  // namespace compaudit::host
