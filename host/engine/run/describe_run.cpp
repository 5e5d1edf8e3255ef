#include "run/describe_run.h"

#include "run/memorization_phase.h"
#include "run/store_io.h"

#include <ATen/Parallel.h>

namespace compaudit::engine {

void describe_run(const host::Pipeline& pipeline, const DataSplits& data, const std::string& pipeline_dir,
                  const std::string& model_path, const nlohmann::json& extra_settings, store::Store& store) {
  if (store.data()) return;  // resumed: already described
  nlohmann::json settings;
  settings["seeds"] = pipeline.seeds;
  settings["formats"] = pipeline.report.formats;
  settings["pipeline_dir"] = pipeline_dir;
  settings["model"] = {{"arch", pipeline.model.arch},
                       {"hidden", pipeline.model.hidden},
                       {"path", model_path},
                       {"checkpoints", pipeline.model.checkpoints},
                       {"init", pipeline.model.init},
                       {"pretrained", pipeline.model.pretrained},
                       {"predictions", pipeline.model.predictions}};
  nlohmann::json saved = nlohmann::json::object();  // arms given as saved outputs
  for (const auto& arm : pipeline.arms)
    if (!arm.predictions.empty()) saved[arm.name] = arm.predictions;
  settings["saved_predictions"] = saved;
  settings["gates"] = gates_json(pipeline.gates);
  if (pipeline.attribution.enabled) settings["attribution"] = attribution_json(pipeline.attribution);
  if (pipeline.search.enabled) settings["search"] = search_json(pipeline);
  const auto& t = pipeline.training;
  settings["training"] = {{"epochs", t.epochs}, {"batch_size", t.batch_size}, {"optimizer", t.optimizer},
                          {"lr", t.lr}, {"momentum", t.momentum}, {"weight_decay", t.weight_decay},
                          {"schedule", t.schedule}, {"threads", at::get_num_threads()}};
  settings["data"] = {{"format", pipeline.data.format}, {"train", data.train.size()},
                      {"validation", data.validation.size()}, {"test", data.test.size()},
                      {"imbalance", pipeline.data.imbalance}};
  settings["normalization"] = {{"mode", data.normalize}, {"shift", data.norm_shift}, {"scale", data.norm_scale},
                               {"per", data.is_image ? "channel" : "feature"}};
  if (pipeline.augmentation)
    settings["augmentation"] = {{"plugin", pipeline.augmentation->plugin},
                                {"params", to_json(pipeline.augmentation->params)}};
  if (pipeline.memorization.enabled)
    settings["memorization"] = {
        {"models", pipeline.memorization.models},
        {"fraction", pipeline.memorization.fraction},
        {"subsets_per_example", subsets_per_example(pipeline.memorization)},
        {"realized_fraction", static_cast<double>(subsets_per_example(pipeline.memorization)) /
                                  static_cast<double>(pipeline.memorization.models)}};
  nlohmann::json metrics = nlohmann::json::array();
  for (const auto& m : pipeline.metrics) metrics.push_back({{"plugin", m.plugin}, {"params", to_json(m.params)}});
  settings["metrics"] = metrics;
  for (const auto& [key, value] : extra_settings.items()) settings[key] = value;  // scale-out: "shard"
  store.transaction([&] {
    store.put_run_settings(settings);
    store.put_arms(arm_infos(pipeline));
    store.put_data(data_info(data));
    const auto thumbs = test_thumbnails(data);
    if (!thumbs.empty()) store.put_thumbnails(thumbs);
  });
}

}  // namespace compaudit::engine
