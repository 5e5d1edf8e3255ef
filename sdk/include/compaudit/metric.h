// compaudit/metric.h — metrics over paired populations.
//
// The host evaluates every model of every arm on the evaluation split and hands a Metric the predictions of a
// reference population (the dense arm, or the dense control fine-tuned for the same budget) and of a candidate
// population (a compressed arm; for the reference arm itself, candidate == reference). Models are paired by seed:
// row k of both populations comes from the same seed.
//
// A metric returns JSON with these conventional members (all optional), which the report knows how to show:
//   "summary":   { name: number, ... }           scalar results, shown in the terminal table and plotted per level
//   "intervals": { name: [low, high], ... }      95% intervals of summary values
//   "per_class": [ { "class": c, ... }, ... ]    one object per class
//   "examples":  [ id, ... ]                     example indices singled out (e.g. PIEs)
// Anything else is stored and shown as raw JSON.
#pragma once

#include <compaudit/plugin.h>

#include <ATen/core/Tensor.h>
#include <torch/version.h>
#include <nlohmann/json.hpp>

COMPAUDIT_NAMESPACE_BEGIN

/// The evaluation data, without inputs.
struct EvalData {
  std::string split;                     ///< "test", "validation" or "train".
  at::Tensor targets;                    ///< [N] int64 true labels.
  int num_classes = 0;
  std::vector<std::string> class_names;  ///< num_classes names.
};

/// One population's predictions on EvalData.
struct Population {
  std::string arm;                  ///< Arm name, e.g. "dense" or "prune@0.9".
  std::vector<std::int64_t> seeds;  ///< K seeds, row order of the tensors below.
  at::Tensor predicted;             ///< [K, N] int64 top-1 labels.
  at::Tensor probabilities;         ///< [K, N, C] float32, or undefined when the pipeline does not keep them.
  std::vector<nlohmann::json> records;  ///< Per seed: compression records and model size ({} for dense).
};

/// Optional inputs a metric may ask for with Metric::needs().
struct MetricExtras {
  /// [N_train] memorization score per training example (Feldman & Zhang), when `needs().memorization`.
  at::Tensor memorization;
  /// Predictions on the training split, aligned with `memorization`, when `needs().memorization`.
  const Population* reference_train = nullptr;
  const Population* candidate_train = nullptr;
  at::Tensor train_targets;
  // Appended in SDK 1.0.x (docs/sdk-changelog.md); new members only ever go at the end. How `memorization` was
  // estimated, when `needs().memorization`: T subset models, each training example in exactly m of them, for the
  // requested fraction f (m = round(f T) clamped to 1..T-1, so the realized fraction m / T can differ from f).
  // Plain values, filled by the host; 0 when the host does not know them (a plugin must then not report them).
  // Owner of everything in MetricExtras: the host; valid during compute() only.
  int memorization_models = 0;                ///< T
  int memorization_subsets_per_example = 0;  ///< m
  double memorization_fraction = 0.0;        ///< f as requested by the pipeline's [memorization] fraction
  /// [T, N_train] uint8 0/1: subset model t trained on training example i (each column sums to m). Undefined when
  /// the store predates it (scores estimated by older hosts are not recomputed). Shared with the host, which keeps
  /// it alive for the whole compute() call: read it, do not modify it or keep it after compute() returns.
  at::Tensor memorization_membership;
  /// [T, N] uint8 0/1: subset model t classifies example j of EvalData (the test split) correctly; with the
  /// membership it gives Feldman & Zhang's influence of training point i on test point j. Undefined, lifetime and
  /// ownership as for memorization_membership.
  at::Tensor memorization_test_correct;
};

/// Everything a metric reads. Owner: the host; valid during compute() only. Read it, do not modify it (the host
/// shares the populations between metrics and arms) and do not keep references past compute(); copy (clone()) what
/// you need to keep.
struct MetricInput {
  const EvalData& data;
  const Population& reference;
  const Population& candidate;
  const MetricExtras& extras;
};

/// What a metric needs beyond the evaluation split's top-1 predictions. Declared in the manifest (`needs =
/// ["probabilities", "memorization", "population"]`), which is what the host reads (SDK 1.1).
struct MetricNeeds {
  bool probabilities = false;  ///< Population::probabilities must be defined.
  bool memorization = false;   ///< MetricExtras must be filled (the pipeline must configure [memorization]).
};

class COMPAUDIT_SDK_API Metric : public Plugin {
 public:
  ~Metric() noexcept(false) override;
  /// Not read by the host (SDK 1.1): a metric's needs are its manifest's `needs`, which `validate` checks against
  /// the pipeline before any work and the run then provides — the code cannot widen them after the cells have run.
  /// Kept so that plugins built before 1.1 load unchanged (same vtable). If you override it, return exactly the
  /// manifest's needs (the generated <target>_manifest.h has them as `needs`); tests may compare the two.
  virtual MetricNeeds needs() const { return {}; }
  /// Computes the metric and returns its result (a JSON value the caller owns; see the members above). Pure: same
  /// input, same output — draw nothing at random without a fixed seed. Called once per (arm, reference) pair, on
  /// the host's main thread (or a worker process's), one call at a time; the same instance serves every arm.
  /// Throw compaudit::Error (or any std::exception) on failure: the host records it for this arm only.
  virtual nlohmann::json compute(const MetricInput& input) = 0;
};

COMPAUDIT_NAMESPACE_END
