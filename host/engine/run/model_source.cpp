#include "run/model_source.h"

#include "training/trainer.h"

#include <compaudit/error.h>
#include <compaudit/host/model_signature.h>

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

namespace compaudit::engine {

ModelSource::ModelSource(const host::Pipeline& pipeline, const DataSplits& data, std::string pipeline_dir)
    : pipeline_(pipeline), data_(data), pipeline_dir_(std::move(pipeline_dir)) {}

std::size_t ModelSource::seed_index(std::int64_t seed) const {
  const auto& seeds = pipeline_.seeds;
  const auto it = std::find(seeds.begin(), seeds.end(), seed);
  if (it == seeds.end()) throw Error(ErrorCode::runtime, fmt::format("seed {} is not one of the pipeline's", seed));
  return static_cast<std::size_t>(it - seeds.begin());
}

std::string ModelSource::model_path() const {
  if (pipeline_.model.path.empty()) return "";
  std::filesystem::path p(pipeline_.model.path);
  return (p.is_absolute() ? p : std::filesystem::path(pipeline_dir_) / p).lexically_normal().string();
}

std::unique_ptr<models::TrainableModel> ModelSource::new_model(std::int64_t seed) const {
  const host::ModelSpec& m = pipeline_.model;
  if (!m.checkpoints.empty()) {  // one file per seed: seed k's model is checkpoint k, of the first one's architecture
    const std::size_t k = seed_index(seed);
    auto model = models::load_torchscript_model(m.checkpoints[k]);
    std::lock_guard<std::mutex> lock(checkpoint_mutex_);
    if (k == 0 || first_checkpoint_.empty()) {
      first_checkpoint_ = k == 0 ? models::parameter_list(*model)
                                 : models::parameter_list(*models::load_torchscript_model(m.checkpoints.front()));
    }
    if (const std::string why = host::parameter_mismatch(first_checkpoint_, models::parameter_list(*model)); !why.empty())
      throw Error(ErrorCode::data, fmt::format("checkpoint {} is not the architecture of {}: {}", m.checkpoints[k],
                                               m.checkpoints.front(), why),
                  {m.checkpoints[k]});
    return model;
  }
  if (m.arch == "torchscript" && m.init == "reset") {  // trained here: each seed from its own initialisation
    auto model = models::load_torchscript_model(model_path());
    models::reset_torchscript_parameters(*model, derive_seed(seed, "init"));
    return model;
  }
  return models::make_model(pipeline_.model, data_.input_shape, data_.num_classes, seed, pipeline_dir_);
}

}  // namespace compaudit::engine
