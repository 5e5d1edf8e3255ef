// compaudit/testing.h — unit tests of a plugin without the host: a fake Model, a fake CompressionContext, a fake
// metric input, and load_plugin(), which opens a built plugin exactly as the host does. Link compaudit::sdk_testing;
// the CMake helper does it for you and registers the test with ctest:
//
//     compaudit_add_plugin(my_pruner SOURCES my_pruner.cpp MANIFEST my_pruner.toml)
//     compaudit_add_plugin_test(my_pruner_test SOURCES my_pruner_test.cpp PLUGIN my_pruner)   # Catch2 v2
//
//     #include <catch2/catch.hpp>
//     #include <compaudit/testing.h>
//     TEST_CASE("prunes half of every layer") {
//       compaudit::testing::FakeModel model(compaudit::testing::mlp_weights({8, 16, 3}, /*seed=*/1));
//       compaudit::testing::FakeContext context(model, /*seed=*/0);
//       auto pruner = compaudit::testing::load_plugin_under_test<compaudit::Compressor>({{"fraction", 0.5}});
//       pruner->compress(model, context);
//       CHECK(compaudit::measure(model).nonzeros < ...);
//     }
//
// Everything here follows the host's rules (model.h, compressor.h): masks are copied and kept applied, storage bits
// are checked, rewind_point and evaluate return fresh tensors, generator() is the SDK's. Not thread-safe: one test
// thread per object. Not part of what the host loads — link it into tests only.
#pragma once

#include <compaudit/compressor.h>
#include <compaudit/metric.h>
#include <compaudit/model.h>
#include <compaudit/params.h>
#include <compaudit/plugin.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace compaudit::testing {

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

/// Weights of an MLP with layer sizes {inputs, hidden..., classes}: layers "fc1", "fc2", ... of shape [out, in],
/// drawn N(0, 1 / in) from `seed` (the same seed gives the same weights).
NamedTensors mlp_weights(const std::vector<std::int64_t>& sizes, std::uint64_t seed = 0);

/// A Model over given weights. Rank-2 weights are linear layers ([out, in]), rank-4 conv2d layers ([out, in, kh,
/// kw], stride 1, padding kh/2, kw/2); each gets a zero bias "<name>.bias". forward() runs the layers in order with a
/// ReLU between them (inputs are flattened before the first linear layer that follows a conv2d, or a [B, ...]
/// input): plain at::linear / at::conv2d, masks applied, the activation hook called on every layer's input.
/// Masks, storage bits and projections follow the host's models (the same code: compaudit_models'
/// ParameterMasks): set_mask copies, replace_parameter copies (and may reshape: can_reshape() is true; a reshape
/// drops the parameter's mask and projections).
class FakeModel final : public Model {
 public:
  explicit FakeModel(const NamedTensors& weights, std::string architecture = "fake");
  ~FakeModel() override;
  FakeModel(const FakeModel&) = delete;
  FakeModel& operator=(const FakeModel&) = delete;

  std::string architecture() const override;
  std::vector<std::pair<std::string, at::Tensor>> named_parameters() override;
  std::vector<Layer> layers() override;
  at::Tensor forward(const at::Tensor& input) override;
  bool can_reshape() const override { return true; }
  void replace_parameter(const std::string& name, const at::Tensor& value) override;
  void set_mask(const std::string& name, const at::Tensor& mask) override;
  at::Tensor mask(const std::string& name) const override;
  int storage_bits(const std::string& name) const override;
  void set_storage_bits(const std::string& name, int bits) override;
  bool set_activation_hook(ActivationHook hook) override;
  bool set_projection(const std::string& name, ParameterProjection projection, ProjectionTime when) override;

  /// What the host does after an optimizer step (masks, then every_step projections) and at the end of a training
  /// run (end_of_training projections). FakeContext::train calls them; a test may too.
  void after_step();
  void after_training();
  /// The parameters (leaves that require gradients, as the host's built-in models hold them).
  std::vector<at::Tensor> trainable_parameters();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

/// A CompressionContext for one FakeModel. Without data, train() only counts calls (and runs the callbacks of no
/// step); with set_data(), it runs `steps_per_epoch` full-batch SGD steps per epoch (learning_rate, the request's
/// loss or cross entropy, masks and projections applied after each step as the host does). evaluate() predicts on
/// the data (every split); calibration_batch() returns its first rows. rewind_point(step) returns copies of what
/// set_rewind_point stored for that step — step 0 is the model's parameters when the context was made.
class FakeContext final : public CompressionContext {
 public:
  explicit FakeContext(FakeModel& model, std::int64_t seed = 0, int num_classes = 0);

  /// Inputs [B, ...] and int64 targets [B] for train(), evaluate() and calibration_batch().
  void set_data(const at::Tensor& inputs, const at::Tensor& targets);
  /// Parameters rewind_point(step) returns (copied in).
  void set_rewind_point(std::int64_t step, const NamedTensors& parameters);

  std::int64_t seed() const override { return seed_; }
  /// The constructor's num_classes, else the rows of the last layer's weight.
  int num_classes() const override;
  double train(const TrainRequest& request) override;
  Evaluation evaluate(const std::string& split) override;
  /// Fresh copies; Error(runtime) for a step nothing was stored for.
  std::vector<std::pair<std::string, at::Tensor>> rewind_point(std::int64_t step) override;
  at::Tensor calibration_batch(std::int64_t n) override;
  void log(const std::string& message) override { lines.push_back(message); }

  double learning_rate = 0.1;
  int steps_per_epoch = 1;

  std::vector<std::string> lines;          ///< Every log() line.
  int train_calls = 0;                     ///< train() calls.
  std::int64_t steps = 0;                  ///< SGD steps taken over all train() calls.
  std::vector<std::int64_t> rewinds;       ///< Steps asked of rewind_point, in order.

 private:
  FakeModel& model_;
  std::int64_t seed_;
  int num_classes_;
  at::Tensor inputs_, targets_;
  std::map<std::int64_t, NamedTensors> rewind_points_;
};

/// The input of a Metric for two populations of top-1 predictions ([K, N] int64 each; row k = seed k) on
/// `targets` ([N] int64). Fill `reference.probabilities` / `candidate.probabilities` ([K, N, C] float32) or
/// `extras` for metrics that need them; input() refers to these members.
struct FakeMetricInput {
  FakeMetricInput(const at::Tensor& targets, const at::Tensor& reference_predicted,
                  const at::Tensor& candidate_predicted, int num_classes = 0);
  FakeMetricInput(const FakeMetricInput&) = delete;
  FakeMetricInput& operator=(const FakeMetricInput&) = delete;

  MetricInput input() const { return {data, reference, candidate, extras}; }

  EvalData data;           ///< split "test", class names "0", "1", ...
  Population reference;    ///< arm "dense", seeds 0..K-1, records {} per seed
  Population candidate;    ///< arm "candidate"
  MetricExtras extras;
};

/// Opens the plugin of the manifest at `manifest_path` as the host does — the manifest parsed, the library's
/// descriptor checked (ABI, LibTorch, id and kind against the manifest), `given` resolved against the manifest's
/// [[param]] schema with its defaults (Error(parameters) as `compaudit validate` reports it) — and creates it.
/// The object keeps its library loaded. Throws compaudit::Error; Error(identity) when it is not a Kind.
std::shared_ptr<Plugin> load_plugin_object(const std::string& manifest_path,
                                           const std::map<std::string, ParamValue>& given = {});

template <class Kind>
std::shared_ptr<Kind> load_plugin(const std::string& manifest_path,
                                  const std::map<std::string, ParamValue>& given = {}) {
  std::shared_ptr<Plugin> plugin = load_plugin_object(manifest_path, given);
  if (auto typed = std::dynamic_pointer_cast<Kind>(plugin)) return typed;
  throw Error(ErrorCode::identity, manifest_path + ": the plugin is not of the kind the test asked for");
}

#ifdef COMPAUDIT_TEST_MANIFEST
/// The plugin under test (compaudit_add_plugin_test(... PLUGIN target) defines COMPAUDIT_TEST_MANIFEST).
template <class Kind>
std::shared_ptr<Kind> load_plugin_under_test(const std::map<std::string, ParamValue>& given = {}) {
  return load_plugin<Kind>(COMPAUDIT_TEST_MANIFEST, given);
}
#endif

}  // namespace compaudit::testing
