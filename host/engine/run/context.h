// host/engine/run/context.h — the CompressionContext a compressor gets while it works on one cell's model.
#pragma once

#include <compaudit/compressor.h>
#include <compaudit/models/models.h>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace compaudit::engine {

class Executor;

class CellContext final : public CompressionContext {
 public:
  CellContext(Executor& executor, models::TrainableModel& model, std::string arm, std::int64_t seed);

  std::int64_t seed() const override { return seed_; }
  int num_classes() const override;
  /// Trains the cell's model with the pipeline's optimizer settings; each call draws its own batch order (derived
  /// from the seed, the arm and the call's number), so a scheme that trains several times stays deterministic.
  double train(const TrainRequest& request) override;
  Evaluation evaluate(const std::string& split) override;
  std::vector<std::pair<std::string, at::Tensor>> rewind_point(std::int64_t step) override;
  at::Tensor calibration_batch(std::int64_t n) override;
  void log(const std::string& message) override;

  /// The lines logged so far (stored with the cell's compression record).
  const nlohmann::json& lines() const { return lines_; }

 private:
  Executor& executor_;
  models::TrainableModel& model_;
  std::string arm_;
  std::int64_t seed_;
  int train_calls_ = 0;
  nlohmann::json lines_ = nlohmann::json::array();
};

}  // namespace compaudit::engine
