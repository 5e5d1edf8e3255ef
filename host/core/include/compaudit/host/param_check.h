// compaudit/host/param_check.h — does a plugin's code read the parameters its manifest declares?
//
// The manifest is the parameter schema the host checks pipelines against without loading code; the code reads
// values with Params::get<T>(name). A renamed or retyped [[param]] would otherwise pass `plugins list` and
// `validate` and fail every cell after training. So the host creates the plugin with a ParamReadLog listening and
// compares each name and C++ type asked for with the manifest. Plugins built with compaudit_add_plugin read through
// the generated <target>_manifest.h and agree by construction; hand-written reads are caught here.
#pragma once

#include <compaudit/host/loader.h>
#include <compaudit/host/manifest.h>
#include <compaudit/params.h>

#include <memory>
#include <string>
#include <vector>

namespace compaudit::host {

/// One message per read that disagrees with the manifest: a name it does not declare, or a type other than the
/// declared one. Each names the manifest, the parameter, the declared type and the C++ type asked for. Empty when
/// code and manifest agree.
COMPAUDIT_EXPORT std::vector<std::string> param_read_problems(const Manifest& manifest,
                                                              const std::vector<ParamRead>& reads);

/// The declared parameters not among `reads` (informative: a plugin may read a parameter after its creation).
COMPAUDIT_EXPORT std::vector<std::string> unread_params(const Manifest& manifest, const std::vector<ParamRead>& reads);

/// A created plugin and the parameters it read while being created.
struct CheckedPlugin {
  std::shared_ptr<Plugin> plugin;
  std::vector<ParamRead> reads;
};

/// Loader::instantiate() with every parameter read during creation checked by param_read_problems(). Throws
/// Error(identity) listing all problems (exit 3) — also when the constructor threw because of them, whose own
/// message is then less precise — and otherwise whatever instantiate() throws.
COMPAUDIT_EXPORT CheckedPlugin instantiate_checked(Loader& loader, const Manifest& manifest, const Params& params);

/// Parameter values that satisfy the manifest without a pipeline: each default, and for a required parameter a
/// sample — its first choice, the middle of [min, max] (a float) or its lowest allowed value, "*" for a layer
/// pattern, an empty list. `plugins inspect ID --load` creates the plugin with these.
COMPAUDIT_EXPORT Params sample_params(const Manifest& manifest);

}  // namespace compaudit::host
