#include "batched/stacked_masks.h"

#include <ATen/ATen.h>

namespace compaudit::engine::batched {

at::Tensor stack_masks(const std::vector<models::TrainableModel*>& models, const std::string& name,
                       at::IntArrayRef model_shape, const std::function<at::Tensor(const at::Tensor&)>& to_slice) {
  std::vector<at::Tensor> masks;
  bool any = false, all_bool = true;
  for (auto* m : models) {
    at::Tensor mask = m->mask(name);
    any = any || mask.defined();
    if (mask.defined() && mask.scalar_type() != at::kBool) all_bool = false;
    masks.push_back(mask);
  }
  if (!any) return {};
  const auto dtype = all_bool ? at::kBool : at::kFloat;
  for (auto& mask : masks) {
    const at::Tensor full = mask.defined() ? mask.detach().to(dtype).reshape(model_shape)
                                           : at::ones(model_shape, at::TensorOptions(dtype));
    mask = to_slice(full);
  }
  return at::stack(masks, 0).contiguous();
}

}  // namespace compaudit::engine::batched
