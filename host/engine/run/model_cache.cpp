#include "run/model_cache.h"

#include "run/state_io.h"

#include <compaudit/error.h>

#include <ATen/ATen.h>
#include <fmt/format.h>

namespace compaudit::engine {

ModelCache::ModelCache(store::Store& store, const ModelSource& source, const TrainingPlans& plans,
                       const DataSplits& data)
    : store_(store), source_(source), plans_(plans), data_(data) {}

models::TrainableModel& ModelCache::dense(std::int64_t seed) {
  if (auto it = dense_.find(seed); it != dense_.end()) return *it->second;
  const auto blob = store_.blob("dense", seed, "state");
  if (!blob) throw Error(ErrorCode::runtime, fmt::format("the dense model of seed {} is not available", seed));
  auto model = source_.new_model(seed);
  model->load_state(decode_state(*blob));
  return *(dense_[seed] = std::move(model));
}

void ModelCache::keep_dense(std::int64_t seed, std::unique_ptr<models::TrainableModel> model) {
  dense_[seed] = std::move(model);
}

std::unique_ptr<models::TrainableModel> ModelCache::stored(const std::string& arm, std::int64_t seed) const {
  const auto blob = store_.blob(arm, seed, "state");
  if (!blob) throw Error(ErrorCode::runtime, fmt::format("the model of {} seed {} is not in the store", arm, seed));
  auto model = source_.new_model(seed);
  model->load_state(decode_state(*blob));
  return model;
}

std::vector<std::pair<std::string, at::Tensor>> ModelCache::rewind_point(std::int64_t seed, std::int64_t step) {
  auto copies = [](const std::vector<std::pair<std::string, at::Tensor>>& point) {
    std::vector<std::pair<std::string, at::Tensor>> out;
    for (const auto& [name, t] : point) out.emplace_back(name, t.clone());
    return out;
  };
  const auto key = std::make_pair(seed, step);
  if (auto it = rewinds_.find(key); it != rewinds_.end()) return copies(it->second);
  // Re-run the dense training's first `step` steps: the run is deterministic, so these are the values the dense
  // model had then. Cheaper than recording snapshots at every step for a request we cannot foresee.
  auto model = source_.new_model(seed);
  if (step > 0) {
    TrainPlan plan = plans_.dense(seed);
    plan.max_steps = step;
    train_model(*model, data_.train, plan);
  }
  std::vector<std::pair<std::string, at::Tensor>> params;
  for (const auto& [name, t] : model->named_parameters()) params.emplace_back(name, t.detach().clone());
  rewinds_[key] = params;
  return copies(params);
}

void ModelCache::clear() {
  dense_.clear();
  rewinds_.clear();
}

}  // namespace compaudit::engine
