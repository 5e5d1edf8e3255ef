// compaudit/host/plugin_check.h — fail before work: every plugin a pipeline uses, created once before anything runs.
//
// A plugin that cannot be created — its library does not load, its descriptor disagrees with its manifest, its
// constructor throws (a parameter it reads that its manifest does not declare, or declares with another type) —
// would fail every cell that uses it alike, and only after the dense models trained. `compaudit run` therefore
// creates every plugin of the pipeline first (each arm step's compressor with every sweep point's parameters, each
// metric, the augmentation) and stops with exit 3 and one message when any cannot be created; `compaudit validate
// --load` does the same on demand (docs/cli.md). The objects are destroyed right away: this only proves they can be
// made.
#pragma once

#include <compaudit/error.h>
#include <compaudit/export.h>
#include <compaudit/plugin.h>

#include <functional>
#include <string>
#include <vector>

namespace compaudit::host {

class Loader;
class Registry;
struct Pipeline;

/// One plugin that could not be created, with every use of the pipeline that failed the same way.
struct PluginCreationFailure {
  std::string plugin;             ///< the plugin id
  std::string manifest;           ///< its manifest file ("" when no installed plugin has the id)
  std::string error;              ///< why: the loader's check, or what the plugin's create() threw
  std::vector<std::string> uses;  ///< "arm 'prune@sparsity=0.5' step 1", "[[metric]] #2", "[augmentation]"
  SourceLocation where;           ///< the first of those uses in the pipeline file
};

/// Whether an object created by a plugin of `kind` implements that kind's interface (a dynamic_cast to Compressor,
/// Metric or Augmentation, which only code linking the LibTorch-facing SDK can do: the engine).
using InterfaceCheck = std::function<bool(const Plugin& object, PluginKind kind)>;
/// Called just before a plugin is created (a worker prints it, so a crash inside create() names its plugin).
using CreationNotice = std::function<void(const std::string& plugin, const std::string& manifest,
                                          const std::string& use, const SourceLocation& where)>;

/// Creates (and destroys) every plugin `pipeline` uses, each distinct (plugin, parameters) once, through `loader`.
/// Returns the failures in pipeline order, grouped by plugin and error; empty when everything was created.
COMPAUDIT_EXPORT std::vector<PluginCreationFailure> create_pipeline_plugins(const Pipeline& pipeline,
                                                                            const Registry& registry, Loader& loader,
                                                                            const InterfaceCheck& implements = {},
                                                                            const CreationNotice& notice = {});

/// One line per failure, "FILE:LINE:COLUMN: plugin error: ID (manifest M) cannot be created for USES: ERROR", after
/// a first line saying how many plugins failed and that nothing was run.
COMPAUDIT_EXPORT std::string creation_failures_text(const std::vector<PluginCreationFailure>& failures);

/// What `run` throws when plugins cannot be created: what() is creation_failures_text() (or, from a worker process,
/// the text it printed), without a category prefix. Exit code 3 (exit_plugin) whatever the plugins' own errors were:
/// a plugin that cannot be created is a plugin error, not a failed cell.
class COMPAUDIT_EXPORT PluginCreationError : public Error {
 public:
  explicit PluginCreationError(std::string text);
  const char* what() const noexcept override { return message().c_str(); }
};

}  // namespace compaudit::host
