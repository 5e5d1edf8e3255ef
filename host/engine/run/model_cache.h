// host/engine/run/model_cache.h — the models a group of seeds keeps at hand: each seed's dense model (the one
// trained here, or restored from the store on resume) and the rewind points compressors ask for.
//
// Bounded by the group: the executor clears it when the next group of seeds starts (run/executor.cpp, kMaxGroup).
// Not thread-safe: used under the executor's host lock.
#pragma once

#include "data/dataset.h"
#include "run/model_source.h"
#include "run/training_plans.h"

#include <compaudit/models/models.h>
#include <compaudit/store/store.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace compaudit::engine {

class ModelCache {
 public:
  /// The references must outlive this.
  ModelCache(store::Store& store, const ModelSource& source, const TrainingPlans& plans, const DataSplits& data);

  /// Dense model `seed`, owned here until clear(): kept by keep_dense, else restored from the store's "state" blob.
  /// Throws Error(runtime) when neither has it.
  models::TrainableModel& dense(std::int64_t seed);
  /// Keeps a dense model just trained (its cell committed), so the group's other arms start from it.
  void keep_dense(std::int64_t seed, std::unique_ptr<models::TrainableModel> model);
  /// The model of a done cell, restored from the store; owned by the caller. Throws Error(runtime) when absent.
  std::unique_ptr<models::TrainableModel> stored(const std::string& arm, std::int64_t seed) const;
  /// Dense model `seed`'s parameters after `step` optimizer steps (0 = initialisation), as copies the caller owns
  /// (SDK 1.1, compressor.h): a plugin that edits one cannot change what later cells rewind to.
  std::vector<std::pair<std::string, at::Tensor>> rewind_point(std::int64_t seed, std::int64_t step);
  /// Drops the dense models and rewind points (the next group of seeds starts from its own).
  void clear();

 private:
  store::Store& store_;
  const ModelSource& source_;
  const TrainingPlans& plans_;
  const DataSplits& data_;
  std::map<std::int64_t, std::unique_ptr<models::TrainableModel>> dense_;
  std::map<std::pair<std::int64_t, std::int64_t>, std::vector<std::pair<std::string, at::Tensor>>> rewinds_;
};

}  // namespace compaudit::engine
