// host/engine/batched/stacked_masks.h — the masks of one parameter, stacked over a population (StackedMlp, StackedCnn).
#pragma once

#include <compaudit/models/models.h>

#include <ATen/core/Tensor.h>

#include <functional>
#include <string>
#include <vector>

namespace compaudit::engine::batched {

/// Stacks the masks the models hold for parameter `name` (shape `model_shape` in each model): undefined when no
/// model masks it; bool when every mask is bool (a missing one keeps everything), else float (a missing one
/// multiplies by 1). `to_slice` turns one model's mask, in the model's shape, into its slice of the stack (the
/// stack's layout for that parameter); the result is [K, slice...], contiguous.
at::Tensor stack_masks(const std::vector<models::TrainableModel*>& models, const std::string& name,
                       at::IntArrayRef model_shape, const std::function<at::Tensor(const at::Tensor&)>& to_slice);

}  // namespace compaudit::engine::batched
