#include "run/context.h"

#include "run/progress.h"
#include "run/run_parts.h"

#include <compaudit/error.h>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <algorithm>

namespace compaudit::engine {

CellContext::CellContext(const RunParts& parts, models::TrainableModel& model, std::string arm, std::int64_t seed,
                         std::string stream)
    : parts_(parts), model_(model), arm_(std::move(arm)), seed_(seed),
      stream_(stream.empty() ? arm_ : std::move(stream)) {}

int CellContext::num_classes() const { return parts_.data.num_classes; }

double CellContext::train(const TrainRequest& request) {
  if (request.epochs < 0) throw Error(ErrorCode::runtime, "TrainRequest.epochs is negative");
  TrainPlan plan =
      parts_.plans.finetune(seed_, request.epochs, fmt::format("compress/{}/{}", stream_, train_calls_++));
  plan.request = request;
  plan.request.on_step = [this, &request](const TrainingProgress& p) {
    ++steps_;
    if (request.on_step) request.on_step(p);
  };
  plan.request.on_epoch = [this, &request](const TrainingProgress& p) {
    ++epochs_;
    if (request.on_epoch) request.on_epoch(p);
  };
  return train_model(model_, parts_.data.train, plan);
}

Evaluation CellContext::evaluate(const std::string& split) {
  const DataSplits& d = parts_.data;
  const Dataset* set = split == "train" ? &d.train : split == "validation" ? &d.validation
                     : split == "test"  ? &d.test  : nullptr;
  if (!set) throw Error(ErrorCode::runtime, "evaluate: unknown split '" + split + "' (train, validation or test)");
  if (set->size() == 0)
    throw Error(ErrorCode::runtime, "evaluate: the " + split + " split is empty (set data.validation_fraction)");
  return {predict_probabilities(model_, set->inputs), set->targets};
}

std::vector<std::pair<std::string, at::Tensor>> CellContext::rewind_point(std::int64_t step) {
  if (step < 0) throw Error(ErrorCode::runtime, "rewind_point: negative step");
  return parts_.models.rewind_point(seed_, step);
}

at::Tensor CellContext::calibration_batch(std::int64_t n) {
  const Dataset& train = parts_.data.train;
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(derive_seed(seed_, "calibration"));
  const at::Tensor perm = at::randperm(train.size(), gen, at::kLong);
  return train.inputs.index_select(0, perm.slice(0, 0, std::min(n, train.size())));
}

void CellContext::log(const std::string& message) {
  lines_.push_back(message);
  parts_.store.log("info", fmt::format("{}: {}", cell_name(arm_, seed_), message));
}

}  // namespace compaudit::engine
