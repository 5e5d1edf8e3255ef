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

#include <ATen/core/Generator.h>
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

/// Services the host offers a compressor while it works on one model of one cell.
///
/// Contract of every member (SDK 1.1):
///  * Lifetime: the context is owned by the host and valid during the compress() call it was given to only; do not
///    keep a pointer or reference to it (nor capture one in a projection, docs/sdk-changelog.md 1.1).
///  * Thread: called only from the thread that runs compress(), one call at a time. TrainRequest callbacks run on
///    that same thread, inside train().
///  * Ownership: inputs are copied (or only read during the call); outputs belong to the caller — every tensor
///    returned is fresh and the caller's to keep, edit or drop. Nothing returned aliases host state.
class COMPAUDIT_SDK_API CompressionContext {
 public:
  virtual ~CompressionContext();
  /// The population seed of this model (arm k starts from dense model k). The same for every arm of a seed.
  virtual std::int64_t seed() const = 0;
  /// Number of classes of the task (>= 2).
  virtual int num_classes() const = 0;
  /// Trains the model given to compress() on the training split, masks held (and projections applied, model.h).
  /// Returns the mean loss of the last epoch (0 when epochs = 0). `request` is read during the call only; its
  /// callbacks are called on this thread and may change masks or parameters of the model. Each call draws its own
  /// batch order from the seed, so a scheme that trains several times stays deterministic. Throws Error(runtime).
  virtual double train(const TrainRequest& request) = 0;
  /// The model's predictions on "train", "validation" or "test": fresh tensors owned by the caller. Throws
  /// Error(runtime) for an unknown or empty split.
  virtual Evaluation evaluate(const std::string& split) = 0;
  /// Parameter values of this seed's dense model after `step` optimizer steps of its training (0 = initialisation),
  /// by name, in named_parameters() order. For rewinding. Fresh tensors owned by the caller: editing them changes
  /// neither the host's copy nor what a later call returns (SDK 1.1; before, they were shared with the host's cache).
  /// Costs a re-run of those steps the first time a (seed, step) is asked for; later calls cost a copy.
  virtual std::vector<std::pair<std::string, at::Tensor>> rewind_point(std::int64_t step) = 0;
  /// Up to `n` training inputs (a deterministic representative batch) for calibration: a fresh tensor owned by the
  /// caller, the same rows for the same seed and n.
  virtual at::Tensor calibration_batch(std::int64_t n) = 0;
  /// A progress / diagnostic line, shown in the log and stored with the cell. The text is copied.
  virtual void log(const std::string& message) = 0;

  /// A CPU generator for the compressor's random draws (random pruning, sampling), seeded from seed() and `salt`
  /// alone: the same (seed, salt) gives the same stream in every run, arm, process and host (and in the testing.h
  /// fake), different salts give independent streams, and none of them is a stream the host itself draws from.
  /// Use one salt per independent purpose (e.g. the layer index). Each call returns a new generator owned by the
  /// caller. Not virtual: the seeding is the SDK's, so it cannot differ between hosts. (SDK 1.1.)
  at::Generator generator(std::uint64_t salt = 0) const;
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
  /// Compresses `model` in place and returns what it did (the record is the caller's).
  /// Called several times on one instance (once per seed and arm), from one thread at a time — but not always the
  /// same thread (cells of a chain run on a pool), so keep no thread-local state and no per-model state between
  /// calls. `model` and `context` are the host's and valid during this call only (see model.h for what outlives it:
  /// masks and projections installed on the model). Throw compaudit::Error (or any std::exception) on failure: the
  /// host fails this cell only.
  virtual CompressionRecord compress(Model& model, CompressionContext& context) = 0;
};

COMPAUDIT_NAMESPACE_END
