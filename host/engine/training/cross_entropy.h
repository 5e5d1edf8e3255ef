// host/engine/training/cross_entropy.h — the cross entropy every training path minimises, and its gradient.
//
// One formula, two forms: the loss recorded by autograd (train_model's hard-target loss, the drift tests' oracle)
// and its gradient with respect to the logits written out (the stacked trainers, which run without autograd). The
// gradient is computed in the order autograd's log_softmax backward computes it (softmax scaled by 1/B, then −1/B
// added at the target class), so the stack and autograd differ only where their products round differently.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace compaudit::engine {

/// −log softmax(logits)[target] per example, over the last dimension: logits [..., C], targets [...] (int64);
/// recorded by autograd.
at::Tensor cross_entropy_per_example(const at::Tensor& logits, const at::Tensor& targets);

/// d/d logits of the sum over models of each model's mean cross entropy, for logits [K, B, C] and targets [K, B]
/// (int64), without autograd: softmax/n_k − 1/n_k at the target class. `rows` (empty: n_k = B for every model):
/// model k's batch is its first rows[k] rows, the rest padding that gets no gradient (rows[k] == 0: none at all).
at::Tensor mean_cross_entropy_grad(const at::Tensor& logits, const at::Tensor& targets,
                                   const std::vector<std::int64_t>& rows = {});

}  // namespace compaudit::engine
