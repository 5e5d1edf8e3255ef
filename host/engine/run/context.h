// host/engine/run/context.h — the CompressionContext a compressor gets while it works on one cell's model.
#pragma once

#include <compaudit/compressor.h>
#include <compaudit/models/models.h>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace compaudit::engine {

struct RunParts;

class CellContext final : public CompressionContext {
 public:
  /// `stream`: the arm whose random streams train() draws from (a training control replays its arm's); default `arm`.
  /// `parts` and `model` must outlive this (one compress() call).
  CellContext(const RunParts& parts, models::TrainableModel& model, std::string arm, std::int64_t seed,
              std::string stream = "");

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
  /// Epochs and optimizer steps train() ran so far (stored with the record: a training control must match its arm).
  nlohmann::json trained() const { return {{"epochs", epochs_}, {"steps", steps_}}; }

 private:
  const RunParts& parts_;
  models::TrainableModel& model_;
  std::string arm_;
  std::int64_t seed_;
  std::string stream_;
  int train_calls_ = 0;
  std::int64_t epochs_ = 0, steps_ = 0;
  nlohmann::json lines_ = nlohmann::json::array();
};

}  // namespace compaudit::engine
