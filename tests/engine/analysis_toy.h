// analysis_toy.h — a hand-built classifier and its data for the attribution and search unit tests
// (test_attribution.cpp, test_search.cpp), where every flip is known in advance.
//
// Data: 5 features, 4 classes; an example of class c has feature c = 3 + u and the other three of features 0..3
// = 0.1 + 0.2 u' (u, u' in [0, 1], a fixed deterministic pattern); feature 4 is always 0. Model: the built-in MLP
// 5 -> 8 -> 8 -> 4 (fc1, fc2, fc3) with hand-set weights: a diagonal path feature c -> hidden c -> hidden c -> logit c
// (the gains `diag1`, `diag2`, `diag3`) on a background of small weights of distinct magnitudes (<= 0.008, so
// magnitude pruning removes them first and in a known order), biases 0.01. The true class's logit is > 2, every
// other < 0.5: the dense model is right on every example, and a layer that cuts class c's path (a zero diagonal
// entry) flips exactly class c's examples.
#pragma once

#include "data/dataset.h"

#include <compaudit/models/models.h>

#include <ATen/ATen.h>

#include <array>
#include <cmath>
#include <memory>

namespace analysis_toy {

constexpr int kFeatures = 5, kClasses = 4, kHidden = 8;

/// `per_class` examples of each class, class-major; ids = first_id + row (so ids are not row positions).
inline compaudit::engine::Dataset data(int per_class, std::int64_t first_id, int phase = 0) {
  const int n = per_class * kClasses;
  at::Tensor x = at::zeros({n, kFeatures});
  at::Tensor y = at::empty({n}, at::kLong);
  auto wiggle = [](int i, int f, int phase) {  // in [0, 1], deterministic
    return 0.5 + 0.5 * std::sin(12.9898 * (i + 1 + 97 * phase) + 78.233 * (f + 1));
  };
  for (int i = 0; i < n; ++i) {
    const int c = i / per_class;
    y[i] = c;
    for (int f = 0; f < kClasses; ++f)
      x[i][f] = f == c ? 3.0 + wiggle(i, f, phase) : 0.1 + 0.2 * wiggle(i, f, phase);
  }
  compaudit::engine::Dataset d;
  d.inputs = x;
  d.targets = y;
  d.ids = at::arange(first_id, first_id + n, at::kLong);
  return d;
}

/// A weight [out, in] with the diagonal gains on (c, c) for c < kClasses and distinct small background values.
inline at::Tensor weight(std::int64_t out, std::int64_t in, const std::array<double, kClasses>& diag, int salt) {
  at::Tensor w = at::empty({out, in});
  for (std::int64_t o = 0; o < out; ++o)
    for (std::int64_t i = 0; i < in; ++i) {
      const std::int64_t k = o * in + i;
      // 7 is coprime to out * in (40, 64, 32): k -> (7k + salt) mod (out * in) is a permutation, magnitudes distinct.
      const double magnitude = 0.0001 * static_cast<double>(1 + (k * 7 + salt) % (out * in));
      w[o][i] = (k % 2 ? -1.0 : 1.0) * magnitude;
    }
  for (int c = 0; c < kClasses; ++c)
    if (c < out && c < in) w[c][c] = diag[static_cast<std::size_t>(c)];
  return w;
}

struct Gains {
  std::array<double, kClasses> fc1{1.0, 1.0, 1.0, 1.0}, fc2{1.0, 1.0, 1.0, 1.0}, fc3{1.0, 1.0, 1.0, 1.0};
};

inline std::unique_ptr<compaudit::models::TrainableModel> model(const Gains& g = {}) {
  auto m = compaudit::models::make_builtin_model("mlp", {kHidden, kHidden}, {kFeatures}, kClasses, /*seed=*/1);
  m->replace_parameter("fc1.weight", weight(kHidden, kFeatures, g.fc1, 1));
  m->replace_parameter("fc2.weight", weight(kHidden, kHidden, g.fc2, 2));
  m->replace_parameter("fc3.weight", weight(kClasses, kHidden, g.fc3, 3));
  m->replace_parameter("fc1.bias", at::full({kHidden}, 0.01));
  m->replace_parameter("fc2.bias", at::full({kHidden}, 0.01));
  m->replace_parameter("fc3.bias", at::full({kClasses}, 0.01));
  return m;
}

/// A parameter of `m` by name (a copy).
inline at::Tensor param(compaudit::models::TrainableModel& m, const std::string& name) {
  for (auto& [n, t] : m.named_parameters())
    if (n == name) return t.detach().clone();
  throw std::runtime_error("no parameter " + name);
}

/// Softmax of the model's own forward pass (not the engine's predict_probabilities).
inline at::Tensor probabilities(compaudit::models::TrainableModel& m, const at::Tensor& x) {
  at::NoGradGuard no_grad;
  m.train(false);
  return at::softmax(m.forward(x), 1);
}

/// Plain magnitude pruning of one tensor: the round(s n) smallest |w| zeroed (magnitudes here are distinct).
inline at::Tensor magnitude_pruned(const at::Tensor& w, double sparsity) {
  const std::int64_t n = w.numel();
  const auto k = static_cast<std::int64_t>(std::llround(sparsity * static_cast<double>(n)));
  if (k == 0) return w.clone();
  const at::Tensor order = w.abs().flatten().argsort();
  at::Tensor flat = w.flatten().clone();
  flat.index_fill_(0, order.slice(0, 0, k), 0.0);
  return flat.reshape(w.sizes());
}

}  // namespace analysis_toy
