// Fail before work, engine side: every plugin of a pipeline created before any data is loaded, model trained or
// store created (run/plugin_check.h).
#include "run/plugin_check.h"

#include "run/worker.h"

#include <compaudit/augmentation.h>
#include <compaudit/compressor.h>
#include <compaudit/host/exit_codes.h>
#include <compaudit/host/loader.h>
#include <compaudit/host/pipeline.h>
#include <compaudit/host/registry.h>
#include <compaudit/metric.h>

#include <fmt/format.h>

namespace compaudit::engine {
namespace {
// The engine links the LibTorch-facing SDK, so it can tell an object's interface (host core cannot).
bool implements(const Plugin& object, PluginKind kind) {
  switch (kind) {
    case PluginKind::compressor: return dynamic_cast<const Compressor*>(&object) != nullptr;
    case PluginKind::metric: return dynamic_cast<const Metric*>(&object) != nullptr;
    case PluginKind::augmentation: return dynamic_cast<const Augmentation*>(&object) != nullptr;
  }
  return false;
}
}  // namespace

std::vector<host::PluginCreationFailure> create_plugins(const host::Pipeline& pipeline,
                                                        const host::Registry& registry, bool announce) {
  host::Loader loader;
  host::CreationNotice notice;
  if (announce)
    notice = [](const std::string& plugin, const std::string& manifest, const std::string& use,
                const SourceLocation& where) {
      fmt::print(stderr, "{}{}\t{}\t{}\t{}\t{}\n", kCreatingPrefix, plugin, manifest, use, where.line, where.column);
      std::fflush(stderr);  // a crash inside create() must not lose the line
    };
  return host::create_pipeline_plugins(pipeline, registry, loader, &implements, notice);
}

int check_plugins_here(const host::WorkerRequest& request) {
  const host::Registry registry = host::Registry::discover(host::SearchPaths::standard(request.plugin_paths));
  const host::Pipeline pipeline = host::load_pipeline(request.check_plugins, registry);
  const auto failures = create_plugins(pipeline, registry, /*announce=*/true);
  if (failures.empty()) return host::exit_ok;
  fmt::print(stderr, "{}\n", host::creation_failures_text(failures));
  return host::exit_plugin;
}

void create_plugins_before_work(const host::Pipeline& pipeline, const host::Registry& registry,
                                const IsolationSettings* isolation) {
  if (isolation) return check_plugins_in_worker(*isolation, pipeline);
  if (const auto failures = create_plugins(pipeline, registry); !failures.empty())
    throw host::PluginCreationError(host::creation_failures_text(failures));
}

}  // namespace compaudit::engine
