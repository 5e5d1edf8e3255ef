#include "api/run_dir.h"

#include "data/load.h"
#include "run/executor.h"

#include <compaudit/error.h>
#include <compaudit/host/registry.h>

#include <fmt/format.h>

#include <filesystem>

namespace compaudit::engine {
namespace fs = std::filesystem;

RunPlan plan_run(const host::RunRequest& request, const host::Registry& registry) {
  RunPlan plan;
  std::string pipeline_path = request.pipeline_path;
  int stored_threads = 0;
  std::string stored_toml;
  if (request.resume) {
    if (request.run_dir.empty()) throw Error(ErrorCode::pipeline, "--resume needs a run directory");
    plan.run_dir = fs::absolute(request.run_dir).lexically_normal().string();
    const store::Store existing = store::Store::open(plan.run_dir, store::Store::Access::read_only);
    const store::RunInfo info = existing.run();
    if (pipeline_path.empty()) pipeline_path = info.pipeline_path;
    stored_toml = info.pipeline_toml;
    stored_threads = info.settings.value("training", nlohmann::json::object()).value("threads", 0);
    plan.resuming = true;
  }
  if (pipeline_path.empty()) throw Error(ErrorCode::pipeline, "no pipeline file given");
  if (!fs::exists(pipeline_path))
    throw Error(ErrorCode::pipeline, plan.resuming ? "the run's pipeline file is gone; pass it again" : "pipeline file not found",
                {pipeline_path});
  plan.pipeline = host::load_pipeline(fs::absolute(pipeline_path).lexically_normal().string(), registry);

  if (!plan.resuming) {
    if (!request.run_dir.empty()) {
      plan.run_dir = request.run_dir;
    } else if (!plan.pipeline.output.empty()) {
      plan.run_dir = resolve_path(plan.pipeline.output, pipeline_dir(plan.pipeline));
    } else {
      plan.run_dir = (fs::path(pipeline_dir(plan.pipeline)) / "runs" / plan.pipeline.name).string();
    }
    plan.run_dir = fs::absolute(plan.run_dir).lexically_normal().string();
    if (store::Store::exists(plan.run_dir)) {
      const store::Store existing = store::Store::open(plan.run_dir, store::Store::Access::read_only);
      const store::RunInfo info = existing.run();
      if (info.pipeline_toml != plan.pipeline.toml)
        throw Error(ErrorCode::io, fmt::format("{} already holds a run of another pipeline ({}); choose another "
                                               "output directory or remove it", plan.run_dir, info.pipeline_path));
      stored_toml = info.pipeline_toml;
      stored_threads = info.settings.value("training", nlohmann::json::object()).value("threads", 0);
      plan.resuming = true;
    }
  }
  if (plan.resuming && stored_toml != plan.pipeline.toml)
    throw Error(ErrorCode::pipeline, "the pipeline file changed since the run started; done cells would not be "
                                     "comparable with new ones — start a new run instead", {plan.pipeline.path});
  plan.threads = request.threads > 0 ? request.threads : stored_threads > 0 ? stored_threads : plan.pipeline.training.threads;
  plan.info.name = plan.pipeline.name;
  plan.info.pipeline_path = plan.pipeline.path;
  plan.info.pipeline_toml = plan.pipeline.toml;
  return plan;
}

std::unique_ptr<models::TrainableModel> rebuild_model(const store::Store& store, std::int64_t seed) {
  const store::RunInfo info = store.run();
  const auto data = store.data();
  if (!data) throw Error(ErrorCode::io, "the store does not describe its data yet", {store.path()});
  const nlohmann::json m = info.settings.value("model", nlohmann::json::object());
  host::ModelSpec spec;
  spec.arch = m.value("arch", "");
  spec.hidden = m.value("hidden", std::vector<std::int64_t>{});
  spec.path = m.value("path", "");
  // Pretrained checkpoints: the seed's own file gives the architecture (its weights are replaced by the state).
  const auto checkpoints = m.value("checkpoints", std::vector<std::string>{});
  const auto seeds = info.settings.value("seeds", std::vector<std::int64_t>{});
  for (std::size_t k = 0; k < seeds.size() && k < checkpoints.size(); ++k)
    if (seeds[k] == seed) spec.path = checkpoints[k];
  if (spec.arch == "predictions")
    throw Error(ErrorCode::pipeline, "this run's reference was given as saved predictions: it has no model");
  return models::make_model(spec, data->input_shape, data->num_classes, seed,
                            info.settings.value("pipeline_dir", ""));
}

}  // namespace compaudit::engine
