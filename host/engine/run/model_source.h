// host/engine/run/model_source.h — where seed k's model comes from: a built-in model with seed k's initial weights,
// the pipeline's TorchScript file (reset to seed k's initialisation, or as it is when pretrained), or checkpoint k.
#pragma once

#include "data/dataset.h"

#include <compaudit/host/pipeline.h>
#include <compaudit/models/models.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace compaudit::engine {

class ModelSource {
 public:
  /// `pipeline_dir` resolves relative model paths. The references must outlive this.
  ModelSource(const host::Pipeline& pipeline, const DataSplits& data, std::string pipeline_dir);

  /// A new model of `seed`, owned by the caller: its initial weights when trained here, the seed's checkpoint when
  /// pretrained. Throws Error(data) naming the checkpoint that is not the first one's architecture. Thread-safe.
  std::unique_ptr<models::TrainableModel> new_model(std::int64_t seed) const;
  /// Position of `seed` among the pipeline's seeds (its checkpoint, its block of saved predictions); throws when
  /// it is not one of them.
  std::size_t seed_index(std::int64_t seed) const;
  /// The pipeline's [model] path resolved against the pipeline's directory ("" when it has none).
  std::string model_path() const;

 private:
  const host::Pipeline& pipeline_;
  const DataSplits& data_;
  std::string pipeline_dir_;
  // Checkpoint 0's parameters (names, shapes), read once: every other checkpoint must match them.
  mutable std::mutex checkpoint_mutex_;
  mutable std::vector<std::pair<std::string, std::vector<std::int64_t>>> first_checkpoint_;
};

}  // namespace compaudit::engine
