// population.h — small LibTorch-facing helpers shared by the metric plugins: checking the shapes the host hands
// over, reading tensors into plain vectors for stats.h, and writing optional numbers as JSON null.
//
// Header-only and internal to the built-in metrics (each plugin is one library; nothing here is exported).
#pragma once

#include "stats.h"

#include <compaudit/metric.h>

#include <ATen/ATen.h>

#include <optional>
#include <string>
#include <vector>

namespace compaudit::metrics {

/// Throws the runtime error a metric reports for input it cannot use.
[[noreturn]] inline void fail(const std::string& message) { throw Error(ErrorCode::runtime, message); }

/// JSON for a number that may not exist (std::nullopt -> null, never NaN).
inline nlohmann::json number_or_null(const std::optional<double>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json();
}

/// The labels of `targets` as a contiguous CPU int64 tensor of shape [n].
inline at::Tensor checked_targets(const at::Tensor& targets, const char* what) {
  if (!targets.defined() || targets.dim() != 1) fail(std::string(what) + ": targets must be a 1-d tensor");
  return targets.to(at::kCPU, at::kLong).contiguous();
}

/// Examples per class of a checked [n] target tensor; throws when a label is outside [0, num_classes).
inline std::vector<std::int64_t> class_counts(const at::Tensor& targets, int num_classes, const char* what) {
  if (num_classes <= 0) fail(std::string(what) + ": the data declares " + std::to_string(num_classes) + " classes");
  const std::int64_t* y = targets.data_ptr<std::int64_t>();
  std::vector<std::int64_t> counts(static_cast<std::size_t>(num_classes), 0);
  for (std::int64_t i = 0; i < targets.size(0); ++i) {
    if (y[i] < 0 || y[i] >= num_classes)
      fail(std::string(what) + ": target " + std::to_string(y[i]) + " of example " + std::to_string(i) +
           " is outside [0, " + std::to_string(num_classes) + ")");
    ++counts[static_cast<std::size_t>(y[i])];
  }
  return counts;
}

/// The population's predictions as a contiguous CPU int64 [K, n] tensor, after checking the shape.
inline at::Tensor checked_predictions(const Population& pop, std::int64_t n, const char* role) {
  const at::Tensor& p = pop.predicted;
  if (!p.defined() || p.dim() != 2 || p.size(1) != n || p.size(0) < 1)
    fail(std::string(role) + " population '" + pop.arm + "': predicted must be [K, " + std::to_string(n) +
         "], got " + (p.defined() ? c10::str(p.sizes()) : std::string("undefined")));
  return p.to(at::kCPU, at::kLong).contiguous();
}

/// The population's probabilities [K, n, C] (any dtype and device), after checking that they exist and their shape.
inline at::Tensor checked_probabilities(const Population& pop, std::int64_t k, std::int64_t n, int c,
                                        const char* role) {
  const at::Tensor& p = pop.probabilities;
  if (!p.defined())
    fail(std::string(role) + " population '" + pop.arm + "' has no probabilities (the manifest declares needs = "
         "[\"probabilities\"]; the host must keep them)");
  if (p.dim() != 3 || p.size(0) != k || p.size(1) != n || p.size(2) != c)
    fail(std::string(role) + " population '" + pop.arm + "': probabilities must be [" + std::to_string(k) + ", " +
         std::to_string(n) + ", " + std::to_string(c) + "], got " + c10::str(p.sizes()));
  return p;
}

/// Top-1 accuracy of each model (row) of a [K, n] prediction matrix, optionally only over examples where `keep` is
/// true (an empty `keep` keeps all). Returns an empty vector when no example is kept.
inline std::vector<double> top1_per_model(const at::Tensor& predicted, const at::Tensor& targets,
                                          const std::vector<bool>& keep = {}) {
  const std::int64_t k = predicted.size(0), n = predicted.size(1);
  const std::int64_t* pred = predicted.data_ptr<std::int64_t>();
  const std::int64_t* y = targets.data_ptr<std::int64_t>();
  std::int64_t kept = 0;
  for (std::int64_t i = 0; i < n; ++i) kept += keep.empty() || keep[static_cast<std::size_t>(i)];
  if (kept == 0) return {};
  std::vector<double> top1(static_cast<std::size_t>(k));
  for (std::int64_t row = 0; row < k; ++row) {
    std::int64_t correct = 0;
    for (std::int64_t i = 0; i < n; ++i)
      correct += (keep.empty() || keep[static_cast<std::size_t>(i)]) && pred[row * n + i] == y[i];
    top1[static_cast<std::size_t>(row)] = static_cast<double>(correct) / static_cast<double>(kept);
  }
  return top1;
}

/// Modal label per example over the population's K models (ties to the largest label).
inline std::vector<std::int64_t> modal_labels(const at::Tensor& predicted, int num_classes) {
  try {
    return stats::modal_labels(predicted.data_ptr<std::int64_t>(), predicted.size(0), predicted.size(1), num_classes);
  } catch (const std::out_of_range& e) {
    fail(std::string("predicted label out of range: ") + e.what());
  }
}

/// The display name of class c: EvalData::class_names when given, else the number.
inline std::string class_name(const EvalData& data, int c) {
  if (c >= 0 && static_cast<std::size_t>(c) < data.class_names.size()) return data.class_names[c];
  return std::to_string(c);
}

/// Seed of row k, or k when the host gave no seeds.
inline std::int64_t seed_of(const Population& pop, std::size_t k) {
  return k < pop.seeds.size() ? pop.seeds[k] : static_cast<std::int64_t>(k);
}

/// {"mean", "sd", "lo", "hi"} with nulls where a value does not exist.
inline nlohmann::json describe_json(const stats::Describe& d) {
  return {{"n", d.n}, {"mean", d.mean}, {"sd", number_or_null(d.sd)}, {"lo", number_or_null(d.lo)},
          {"hi", number_or_null(d.hi)}};
}

}  // namespace compaudit::metrics
