// host/engine/run/plugin_set.h — the plugin objects one run uses, created from the registry through one Loader.
//
// Compressor chains are created once per arm and reused for every seed (a compressor sees one model per call);
// metrics and per-layer search steps are created where they are used. Every call into a plugin object goes through
// host::guarded by its caller, so a plugin that throws fails its own cell or result, never the run.
// Not thread-safe: the executor calls it under its host lock (run/executor_impl.h).
#pragma once

#include "training/trainer.h"

#include <compaudit/augmentation.h>
#include <compaudit/error.h>
#include <compaudit/compressor.h>
#include <compaudit/host/loader.h>
#include <compaudit/host/pipeline.h>
#include <compaudit/host/registry.h>
#include <compaudit/metric.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace compaudit::engine {

class PluginSet {
 public:
  /// Creates the pipeline's augmentation policy, if it has one. Throws Error(pipeline) naming its line when the
  /// plugin is not installed, LoadError when its library cannot be loaded. Both references must outlive this.
  PluginSet(const host::Registry& registry, const host::Pipeline& pipeline);

  /// Opens (load checks only, no object created) the libraries of `arm`'s compressors, and the [search] plugin
  /// for a search arm. Throws LoadError: a library that cannot be loaded is the run's plugin error (exit 3).
  void open_libraries(const host::ArmSpec& arm);

  /// `arm`'s chain of compressors, one per step, created on first use and owned here until the run ends.
  /// Throws Error(pipeline) naming the step's line for a plugin that is not installed, LoadError, or Error(runtime)
  /// when a constructor throws.
  std::vector<std::shared_ptr<Compressor>>& chain(const host::ArmSpec& arm);

  /// A new compressor `id` with `params` (a [search] step); the caller owns it. Throws as chain() does.
  std::shared_ptr<Compressor> compressor(const std::string& id, const Params& params,
                                         const SourceLocation& where);

  /// A new metric for `spec`, and what it needs — read from its manifest alone (SDK 1.1: Metric::needs() is not
  /// called), so what `validate` checked before any work is what it gets. Throws as chain() does.
  std::shared_ptr<Metric> metric(const host::MetricSpec& spec, MetricNeeds* needs = nullptr);

  /// The manifest of an installed plugin; throws Error(pipeline) "<kind> plugin '<id>' is not installed" at `where`.
  const host::Manifest& manifest(const std::string& id, const char* kind, const SourceLocation& where) const;

  /// The augmentation policy as the trainer calls it (guarded), or nullptr when the pipeline has none. Valid while
  /// this PluginSet lives.
  const AugmentationHook* augmentation() const { return augmentation_ ? &augmentation_hook_ : nullptr; }

 private:
  const host::Registry& registry_;
  const host::Pipeline& pipeline_;
  host::Loader loader_;
  std::shared_ptr<Augmentation> augmentation_;
  AugmentationHook augmentation_hook_;  // without a teacher (run/training_plans.h adds one per seed)
  std::map<std::string, std::vector<std::shared_ptr<Compressor>>> chains_;  // by arm name
};

}  // namespace compaudit::engine
