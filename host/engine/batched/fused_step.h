// host/engine/batched/fused_step.h — one optimizer step and the mask, fused into one pass over a parameter.
//
// Why: after the matrix products, a small model's training step is dominated by passes over its parameters — the
// optimizer's several elementwise kernels, then re-applying the pruning mask (masked_fill_ with a negated copy of
// the mask). Done as one loop, each parameter element is read and written once per step.
//
// The arithmetic is torch::optim's, element by element (LibTorch 1.13, dampening 0, no Nesterov / AMSGrad):
//   SGD:  d = g + wd·w;  buf = first ? d : momentum·buf + d  (no buffer when momentum = 0);  w = w − lr·buf
//   Adam: d = g + wd·w;  m = β1·m + (1−β1)·d;  v = β2·v + (1−β2)·d²;
//         w = w − (lr / (1−β1^t)) · m / (sqrt(v) / sqrt(1−β2^t) + eps)
// then the mask: a bool mask keeps w or writes +0 (as TrainableModel::apply_masks); a float mask multiplies.
// Like torch::optim, the moments of masked weights keep following their gradients; only the weights are masked.
//
// No LibTorch here: plain float loops, compiled with -O3 for every x86-64 vector width (target clones chosen at load
// time) and without floating-point contraction, so every clone gives the same bits.
#pragma once

#include <cstddef>
#include <cstdint>

namespace compaudit::engine::batched {

/// The mask of one parameter: at most one of the two is set (none: no mask).
struct StepMask {
  const std::uint8_t* keep = nullptr;  ///< bool mask (1: keep, 0: write +0)
  const float* scale = nullptr;        ///< float mask (multiplies)
};

/// Settings in double, as torch::optim keeps them; each is rounded to float where torch rounds it.
struct SgdStep {
  double lr = 0, momentum = 0, weight_decay = 0;
  bool first = false;  ///< the momentum buffer's first step: buf = d
};

struct AdamStep {
  double lr = 0, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
  std::int64_t step = 1;  ///< 1-based, for the bias corrections
};

/// w, g, buf: n floats each (buf unused when momentum == 0).
void fused_sgd(float* w, const float* g, float* buf, StepMask mask, std::size_t n, const SgdStep& s);
/// w, g, m, v: n floats each.
void fused_adam(float* w, const float* g, float* m, float* v, StepMask mask, std::size_t n, const AdamStep& s);

}  // namespace compaudit::engine::batched
