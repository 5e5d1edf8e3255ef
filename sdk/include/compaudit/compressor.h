// compaudit/compressor.h — compression schemes.
//
// A Compressor transforms one model in place: pruning installs masks, quantization rewrites values, truncation and
// structured pruning may replace parameters. One-shot schemes only implement compress(). Schemes that act during
// training (gradual pruning, lottery tickets, class-dependent compression) drive training themselves through the
// CompressionContext: the host owns the data, the optimizer and the loop, the scheme owns the schedule.
//
// Chains: a Compressor must accept any model a previous compressor produced (masks already set, reduced precision,
// replaced parameters), so read the current state from the model instead of assuming a dense float32 one.
#pragma once

#include <compaudit/model.h>
#include <compaudit/plugin.h>

#include <nlohmann/json.hpp>

COMPAUDIT_NAMESPACE_BEGIN

/// Where the host is in a training run; given to step and epoch callbacks.
struct TrainingProgress {
  std::int64_t step = 0;         ///< Optimizer steps done in this train() call.
  std::int64_t total_steps = 0;  ///< Steps this train() call will do.
  int epoch = 0;                 ///< 0-based epoch of this train() call.
  int epochs = 0;
  double last_loss = 0.0;
};

/// What to train and how. Unset members use the pipeline's fine-tuning settings.
struct TrainRequest {
  int epochs = 1;
  /// Replaces the loss: (logits [B, C], targets [B] int64) -> scalar. Empty: the pipeline's loss (cross entropy).
  std::function<at::Tensor(const at::Tensor& logits, const at::Tensor& targets)> loss;
  /// Called after every optimizer step, after masks are re-applied. May change masks or parameters.
  std::function<void(const TrainingProgress&)> on_step;
  /// Called after every epoch. May evaluate the model.
  std::function<void(const TrainingProgress&)> on_epoch;
};

/// Predictions of the model on one split of the data.
struct Evaluation {
  at::Tensor probabilities;  ///< [N, C] float32, softmax of the logits.
  at::Tensor targets;        ///< [N] int64, true labels.
};

/// Services the host offers a compressor while it works on one model of one cell. Valid during compress() only.
class COMPAUDIT_SDK_API CompressionContext {
 public:
  virtual ~CompressionContext();
  /// The population seed of this model (arm k starts from dense model k).
  virtual std::int64_t seed() const = 0;
  /// Number of classes of the task.
  virtual int num_classes() const = 0;
  /// Trains the model on the training split (masks held). Returns the mean loss of the last epoch.
  virtual double train(const TrainRequest& request) = 0;
  /// Evaluates the model on "train", "validation" or "test".
  virtual Evaluation evaluate(const std::string& split) = 0;
  /// Parameter values of this seed's dense model after `step` optimizer steps of its training (0 = initialisation),
  /// by name. For rewinding. Costs a re-run of those steps when they were not recorded.
  virtual std::vector<std::pair<std::string, at::Tensor>> rewind_point(std::int64_t step) = 0;
  /// Up to `n` training inputs (a deterministic representative batch) for calibration.
  virtual at::Tensor calibration_batch(std::int64_t n) = 0;
  /// A progress / diagnostic line, shown in the log and stored with the cell.
  virtual void log(const std::string& message) = 0;
};

/// What a compressor did to one model. `details` is free-form JSON stored with the cell and shown in the report
/// (e.g. per-layer sparsity, norm loss per layer and cut, bytes before and after).
struct CompressionRecord {
  std::string summary;     ///< One line, e.g. "global magnitude pruning to 90.0% (21.0M of 23.3M weights zeroed)".
  nlohmann::json details = nlohmann::json::object();
};

class COMPAUDIT_SDK_API Compressor : public Plugin {
 public:
  ~Compressor() noexcept(false) override;
  /// Compresses `model` in place. May be called several times on one instance (once per seed), from one thread at a
  /// time; keep no per-model state between calls. Throw compaudit::Error (or any std::exception) on failure: the
  /// host fails this cell only.
  virtual CompressionRecord compress(Model& model, CompressionContext& context) = 0;
};

COMPAUDIT_NAMESPACE_END
