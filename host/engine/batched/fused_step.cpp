#include "batched/fused_step.h"
#include "batched/vector_clones.h"  // one clone per vector width, the same bits

#include <cmath>

namespace compaudit::engine::batched {
namespace {

// The mask applied to a freshly updated weight; the branch is hoisted out of the loops by the compiler.
inline float masked(float w, StepMask mask, std::size_t i) {
  if (mask.keep) return mask.keep[i] ? w : 0.0f;
  if (mask.scale) return w * mask.scale[i];
  return w;
}

}  // namespace

COMPAUDIT_VECTOR_CLONES
void fused_sgd(float* __restrict w, const float* __restrict g, float* __restrict buf, StepMask mask, std::size_t n,
               const SgdStep& s) {
  const auto lr = static_cast<float>(s.lr), mu = static_cast<float>(s.momentum), wd = static_cast<float>(s.weight_decay);
  if (mu == 0.0f) {
    for (std::size_t i = 0; i < n; ++i) w[i] = masked(w[i] - lr * (g[i] + wd * w[i]), mask, i);
  } else if (s.first) {
    for (std::size_t i = 0; i < n; ++i) {
      const float d = g[i] + wd * w[i];
      buf[i] = d;
      w[i] = masked(w[i] - lr * d, mask, i);
    }
  } else {
    for (std::size_t i = 0; i < n; ++i) {
      const float b = mu * buf[i] + (g[i] + wd * w[i]);
      buf[i] = b;
      w[i] = masked(w[i] - lr * b, mask, i);
    }
  }
}

COMPAUDIT_VECTOR_CLONES
void fused_adam(float* __restrict w, const float* __restrict g, float* __restrict m, float* __restrict v, StepMask mask,
                std::size_t n, const AdamStep& s) {
  // As torch::optim::Adam: the bias corrections in double, then used as float scalars.
  const auto t = static_cast<double>(s.step);
  const auto step_size = static_cast<float>(s.lr / (1.0 - std::pow(s.beta1, t)));
  const auto root_c2 = static_cast<float>(std::sqrt(1.0 - std::pow(s.beta2, t)));
  const auto b1 = static_cast<float>(s.beta1), b2 = static_cast<float>(s.beta2);
  const auto a1 = static_cast<float>(1.0 - s.beta1), a2 = static_cast<float>(1.0 - s.beta2);
  const auto eps = static_cast<float>(s.eps), wd = static_cast<float>(s.weight_decay);
  for (std::size_t i = 0; i < n; ++i) {
    const float d = g[i] + wd * w[i];
    const float mi = b1 * m[i] + a1 * d;
    const float vi = b2 * v[i] + a2 * (d * d);
    m[i] = mi;
    v[i] = vi;
    w[i] = masked(w[i] - step_size * (mi / (std::sqrt(vi) / root_c2 + eps)), mask, i);
  }
}

}  // namespace compaudit::engine::batched
