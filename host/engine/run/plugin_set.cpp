#include "run/plugin_set.h"

#include <compaudit/error.h>

namespace compaudit::engine {

PluginSet::PluginSet(const host::Registry& registry, const host::Pipeline& pipeline)
    : registry_(registry), pipeline_(pipeline) {
  if (!pipeline_.augmentation) return;
  const auto& use = *pipeline_.augmentation;
  augmentation_ = loader_.instantiate_as<Augmentation>(manifest(use.plugin, "augmentation", use.where), use.params);
  augmentation_hook_.apply = [policy = augmentation_, id = use.plugin](Batch& b, const AugmentationState& s,
                                                                       AugmentationContext& c) {
    host::guarded(id, "apply", [&] { policy->apply(b, s, c); });
  };
}

const host::Manifest& PluginSet::manifest(const std::string& id, const char* kind,
                                          const SourceLocation& where) const {
  const host::Manifest* m = registry_.find(id);
  if (!m) throw Error(ErrorCode::pipeline, std::string(kind) + " plugin '" + id + "' is not installed", where);
  return *m;
}

void PluginSet::open_libraries(const host::ArmSpec& arm) {
  for (const auto& step : arm.steps)
    if (const host::Manifest* m = registry_.find(step.plugin)) loader_.open(*m);  // throws Error(library, ...)
  if (arm.search || arm.search_uniform)
    if (const host::Manifest* m = registry_.find(pipeline_.search.plugin)) loader_.open(*m);
}

std::vector<std::shared_ptr<Compressor>>& PluginSet::chain(const host::ArmSpec& arm) {
  if (auto it = chains_.find(arm.name); it != chains_.end()) return it->second;
  std::vector<std::shared_ptr<Compressor>> chain;
  for (const auto& step : arm.steps) chain.push_back(compressor(step.plugin, step.params, step.where));
  return chains_[arm.name] = std::move(chain);
}

std::shared_ptr<Compressor> PluginSet::compressor(const std::string& id, const Params& params,
                                                  const SourceLocation& where) {
  return loader_.instantiate_as<Compressor>(manifest(id, "compressor", where), params);
}

std::shared_ptr<Metric> PluginSet::metric(const host::MetricSpec& spec, MetricNeeds* needs) {
  const host::Manifest& m = manifest(spec.plugin, "metric", spec.where);
  auto metric = loader_.instantiate_as<Metric>(m, spec.params);
  if (needs)
    for (const auto& n : m.needs) {
      if (n == "probabilities") needs->probabilities = true;
      if (n == "memorization") needs->memorization = true;
    }
  return metric;
}

}  // namespace compaudit::engine
