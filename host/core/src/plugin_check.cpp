// create_pipeline_plugins(): every plugin of a pipeline created once before any work (compaudit/host/plugin_check.h).
#include <compaudit/host/plugin_check.h>

#include <compaudit/host/loader.h>
#include <compaudit/host/param_check.h>
#include <compaudit/host/pipeline.h>
#include <compaudit/host/registry.h>

#include <fmt/format.h>

#include <map>

namespace compaudit::host {
namespace {

// A plugin and its parameters, as one key: uses with equal keys are created once.
std::string use_key(const std::string& plugin, const Params& params) {
  std::string key = plugin;
  for (const auto& [name, value] : params.values())
    key += fmt::format("\x1f{}={}", name, compaudit::to_string(value));
  return key;
}

// The error without what the failure line says already: the loader wraps what create() threw as "plugin ID failed
// in create: ..."; its own checks are shown with their category ("version error: library ... SDK ABI 2").
// Kept to one line: a list of problems ("...:\n  a\n  b") becomes "...: a; b".
std::string describe(const Error& e, const std::string& plugin) {
  const std::string wrapped = "plugin " + plugin + " failed in create: ";
  std::string text = e.message().rfind(wrapped, 0) == 0
                         ? "its create() threw: " + e.message().substr(wrapped.size())
                         : fmt::format("{} error: {}", to_string(e.code()), e.message());
  for (std::size_t at; (at = text.find(":\n  ")) != std::string::npos;) text.replace(at, 4, ": ");
  for (std::size_t at; (at = text.find("\n  ")) != std::string::npos;) text.replace(at, 3, "; ");
  for (char& c : text)
    if (c == '\n') c = ' ';
  return text;
}

std::string try_create(const Manifest& manifest, const Params& params, Loader& loader,
                       const InterfaceCheck& implements) {
  try {
    // Every parameter the plugin reads while being created is checked against its manifest (param_check.h).
    const std::shared_ptr<Plugin> object = instantiate_checked(loader, manifest, params).plugin;
    if (implements && !implements(*object, manifest.kind))
      return fmt::format("identity error: its create() returned an object that does not implement the {0} "
                         "interface (the class given to COMPAUDIT_PLUGIN must derive from compaudit::{1})",
                         to_string(manifest.kind),
                         manifest.kind == PluginKind::compressor ? "Compressor"
                         : manifest.kind == PluginKind::metric   ? "Metric"
                                                                 : "Augmentation");
    return {};  // destroyed here; a destructor that throws is reported by the loader, not fatal
  } catch (const Error& e) {
    return describe(e, manifest.id);
  } catch (const std::exception& e) {
    return e.what();
  }
}

std::string location_text(const SourceLocation& where) {
  std::string text = where.file;
  if (where.line > 0) text += fmt::format(":{}", where.line);
  if (where.column > 0) text += fmt::format(":{}", where.column);
  return text;
}

}  // namespace

std::vector<PluginCreationFailure> create_pipeline_plugins(const Pipeline& pipeline, const Registry& registry,
                                                           Loader& loader, const InterfaceCheck& implements,
                                                           const CreationNotice& notice) {
  std::map<std::string, std::string> outcome;  // use_key -> error ("" = created)
  std::vector<PluginCreationFailure> failures;
  const auto use = [&](const std::string& plugin, const Params& params, const std::string& what,
                       const SourceLocation& where) {
    const Manifest* manifest = registry.find(plugin);
    const std::string key = use_key(plugin, params);
    auto it = outcome.find(key);
    if (it == outcome.end()) {
      if (notice) notice(plugin, manifest ? manifest->path : "", what, where);
      const std::string error = manifest ? try_create(*manifest, params, loader, implements)
                                         : "pipeline error: no installed plugin has this id";
      it = outcome.emplace(key, error).first;
    }
    if (it->second.empty()) return;
    for (auto& f : failures)
      if (f.plugin == plugin && f.error == it->second) return f.uses.push_back(what);
    failures.push_back({plugin, manifest ? manifest->path : "", it->second, {what}, where});
  };
  if (pipeline.augmentation) use(pipeline.augmentation->plugin, pipeline.augmentation->params, "[augmentation]",
                                 pipeline.augmentation->where);
  for (const auto& arm : pipeline.arms)
    for (std::size_t s = 0; s < arm.steps.size(); ++s)
      use(arm.steps[s].plugin, arm.steps[s].params, fmt::format("arm '{}' step {}", arm.name, s + 1),
          arm.steps[s].where);
  if (pipeline.search.enabled)  // [search]: the compressor as the search creates it, once per value
    if (const Manifest* m = registry.find(pipeline.search.plugin))
      for (const ParamValue& value : pipeline.search.values)
        use(pipeline.search.plugin, search_step_params(pipeline.search, *m, value, {"*"}),
            fmt::format("[search] {} = {}", pipeline.search.parameter, compaudit::to_string(value)),
            pipeline.search.where);
  for (std::size_t i = 0; i < pipeline.metrics.size(); ++i)
    use(pipeline.metrics[i].plugin, pipeline.metrics[i].params, fmt::format("[[metric]] #{}", i + 1),
        pipeline.metrics[i].where);
  return failures;
}

std::string creation_failures_text(const std::vector<PluginCreationFailure>& failures) {
  if (failures.empty()) return {};
  std::string text = fmt::format("{} of the pipeline cannot be created, so nothing was run (it would fail every "
                                 "cell that uses it):",
                                 failures.size() == 1 ? "a plugin" : fmt::format("{} plugins", failures.size()));
  constexpr std::size_t kUsesShown = 4;  // a sweep can have thousands of points
  for (const auto& f : failures) {
    std::string uses;
    for (std::size_t i = 0; i < f.uses.size() && i < kUsesShown; ++i) uses += (i ? ", " : "") + f.uses[i];
    if (f.uses.size() > kUsesShown) uses += fmt::format(" and {} more", f.uses.size() - kUsesShown);
    text += fmt::format("\n{}: plugin error: {} (manifest {}) cannot be created for {}: {}", location_text(f.where),
                        f.plugin, f.manifest.empty() ? "none" : f.manifest, uses, f.error);
  }
  return text;
}

PluginCreationError::PluginCreationError(std::string text) : Error(ErrorCode::runtime, std::move(text)) {}

}  // namespace compaudit::host
