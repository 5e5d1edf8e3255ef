// Test helpers: a built compressor plugin created the way the host creates it (tests/support/plugin_loading.h:
// host::parse_manifest of the manifest beside the built library, Params resolved against its schema, host::Loader),
// and a small CompressionContext over synthetic data that trains with plain SGD — so the plugins are tested exactly
// as the host uses them, without depending on the engine.
#pragma once

#include "support/plugin_loading.h"

#include <compaudit/compressor.h>
#include <compaudit/models/models.h>

#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace compaudit::testing {

/// Creates the compressor of the build's <name>.toml (e.g. "prune_magnitude") with `given` resolved against its
/// schema: Error(parameters) exactly as validation would, Error(runtime) naming the plugin when its constructor
/// throws (as in a run). The returned object keeps the library loaded.
inline std::shared_ptr<Compressor> load_compressor(const std::string& name,
                                                   const std::map<std::string, ParamValue>& given) {
  return test::make_plugin<Compressor>(name, given);
}

/// Reads tests/compressors/fixtures/<file>.
nlohmann::json fixture(const std::string& file);

/// A tensor from a fixture entry {"shape": [...], "values": [...]} (or shape + a flat list).
at::Tensor fixture_tensor(const nlohmann::json& shape, const nlohmann::json& values);

/// A CompressionContext over a synthetic, learnable classification task (Gaussian clusters), with SGD training.
class TestContext final : public CompressionContext {
 public:
  /// `features` per example, `batches` per epoch of `batch` examples. The dense model is what rewind points
  /// refer to: rewind_point(0) is its state when the context is made.
  TestContext(models::TrainableModel& model, int classes, std::int64_t features, int batches = 5, int batch = 32);

  std::int64_t seed() const override { return 0; }
  int num_classes() const override { return classes_; }
  double train(const TrainRequest& request) override;
  Evaluation evaluate(const std::string& split) override;
  std::vector<std::pair<std::string, at::Tensor>> rewind_point(std::int64_t step) override;
  at::Tensor calibration_batch(std::int64_t n) override;
  void log(const std::string& message) override { logs.push_back(message); }

  std::vector<std::string> logs;
  std::vector<std::int64_t> steps_seen;   ///< progress.step of every on_step call
  std::vector<std::int64_t> rewinds;      ///< steps asked of rewind_point
  int epochs_trained = 0;

 private:
  models::TrainableModel& model_;
  int classes_, batches_, batch_;
  at::Tensor x_, y_, vx_, vy_;
  std::vector<std::pair<std::string, at::Tensor>> initial_;
};

}  // namespace compaudit::testing
