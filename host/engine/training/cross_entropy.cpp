#include "training/cross_entropy.h"

#include <compaudit/error.h>

#include <ATen/ATen.h>

#include <algorithm>

namespace compaudit::engine {

at::Tensor cross_entropy_per_example(const at::Tensor& logits, const at::Tensor& targets) {
  const std::int64_t d = logits.dim() - 1;
  const at::Tensor logp = at::log_softmax(logits, d);
  return -logp.gather(d, targets.unsqueeze(d)).squeeze(d);
}

at::Tensor mean_cross_entropy_grad(const at::Tensor& logits, const at::Tensor& targets,
                                   const std::vector<std::int64_t>& rows) {
  const std::int64_t k = logits.size(0), b = logits.size(1);
  at::Tensor dz = at::softmax(logits, 2);
  if (rows.empty()) {
    const double inv_b = 1.0 / static_cast<double>(b);
    dz.mul_(inv_b);
    dz.scatter_add_(2, targets.reshape({k, b, 1}), at::full({k, b, 1}, -inv_b, dz.options()));
    return dz;
  }
  // Model k's mean is over its own rows[k] rows (the same float factor as above); padding gets none.
  if (static_cast<std::int64_t>(rows.size()) != k)
    throw Error(ErrorCode::runtime, "mean_cross_entropy_grad: one row count per model");
  at::Tensor scale = at::zeros({k, b, 1}, dz.options());
  for (std::int64_t m = 0; m < k; ++m)
    if (rows[m] > 0) scale[m].narrow(0, 0, std::min(rows[m], b)).fill_(1.0 / static_cast<double>(rows[m]));
  dz.mul_(scale);
  dz.scatter_add_(2, targets.reshape({k, b, 1}), scale.neg());
  return dz;
}

}  // namespace compaudit::engine
