// ParameterMasks: masks and storage bits by parameter name, shared by every Model implementation.
#include <compaudit/models/parameter_masks.h>

#include <compaudit/error.h>

#include <ATen/ATen.h>
#include <fmt/format.h>

namespace compaudit::models {

void apply_mask(at::Tensor& param, const at::Tensor& mask) {
  at::NoGradGuard no_grad;
  if (param.scalar_type() == at::kFloat && mask.scalar_type() == at::kBool && param.is_contiguous() &&
      mask.is_contiguous()) {
    // The common case (pruning masks) as a plain loop that GCC vectorizes at -O3: ATen's mul_ with a bool operand
    // takes a slow casting path (about 10x slower), and this runs after every optimizer step.
    float* p = param.data_ptr<float>();
    const bool* m = mask.data_ptr<bool>();
    for (std::int64_t i = 0, n = param.numel(); i < n; ++i) p[i] = m[i] ? p[i] : 0.0f;
    return;
  }
  param.mul_(mask);
}

void ParameterMasks::set(const std::string& name, at::Tensor& param, const at::Tensor& mask) {
  if (!mask.defined()) {
    masks_.erase(name);
    return;
  }
  if (!mask.sizes().equals(param.sizes()))
    throw Error(ErrorCode::runtime, fmt::format("mask for '{}' has shape [{}], the parameter has [{}]", name,
                                                fmt::join(mask.sizes(), ", "), fmt::join(param.sizes(), ", ")));
  // Copied (SDK 1.1, model.h: inputs are copied), so the caller's tensor stays the caller's. A bool mask stays bool
  // (a quarter of a float mask's memory); any other takes the parameter's dtype. Re-masking a parameter (gradual
  // schedules) copies into the installed mask's memory: no fresh pages to fault in. Safe because no one else holds
  // that memory — get() hands out copies.
  const at::ScalarType kept = mask.scalar_type() == at::kBool ? at::kBool : param.scalar_type();
  at::Tensor& slot = masks_[name];
  at::NoGradGuard no_grad;
  if (slot.defined() && slot.scalar_type() == kept && slot.sizes().equals(mask.sizes()))
    slot.copy_(mask.detach());
  else
    slot = mask.detach().to(kept, /*non_blocking=*/false, /*copy=*/true).contiguous();
  apply_mask(param, slot);
}

at::Tensor ParameterMasks::get(const std::string& name) const {
  auto it = masks_.find(name);
  return it == masks_.end() ? at::Tensor() : it->second.clone();  // the caller's copy (SDK 1.1, model.h)
}

void ParameterMasks::reapply(const std::string& name, at::Tensor& param) const {
  if (auto it = masks_.find(name); it != masks_.end()) apply_mask(param, it->second);
}

void ParameterMasks::apply_all(const Lookup& param) const {
  for (const auto& [name, m] : masks_) {
    at::Tensor p = param(name);
    apply_mask(p, m);
  }
}

void ParameterMasks::set_projection(const std::string& name, ParameterProjection projection, ProjectionTime when) {
  if (projection) {
    projections_[{name, when}] = std::move(projection);
  } else {
    projections_.erase({name, when});
  }
}

ParameterProjection ParameterMasks::projection(const std::string& name, ProjectionTime when) const {
  auto it = projections_.find({name, when});
  return it == projections_.end() ? ParameterProjection() : it->second;
}

bool ParameterMasks::has_projections(ProjectionTime when) const {
  for (const auto& [key, fn] : projections_)
    if (key.second == when) return true;
  return false;
}

void ParameterMasks::project_all(ProjectionTime when, const Lookup& param) const {
  at::NoGradGuard no_grad;
  for (const auto& [key, fn] : projections_) {
    if (key.second != when) continue;
    at::Tensor p = param(key.first);
    fn(p);
  }
}

void ParameterMasks::erase_projections(const std::string& name) {
  for (ProjectionTime when : {ProjectionTime::every_step, ProjectionTime::end_of_training})
    projections_.erase({name, when});
}

int ParameterMasks::bits(const std::string& name) const {
  auto it = bits_.find(name);
  return it == bits_.end() ? 32 : it->second;
}

void ParameterMasks::set_bits(const std::string& name, int bits) {
  if (bits < 1 || bits > 32)
    throw Error(ErrorCode::runtime, fmt::format("storage bits of '{}' must be in 1..32, got {}", name, bits));
  bits_[name] = bits;
}

ParameterMasks ParameterMasks::deep_copy() const {
  ParameterMasks copy;
  for (const auto& [name, m] : masks_) copy.masks_[name] = m.clone();
  copy.projections_ = projections_;
  copy.bits_ = bits_;
  return copy;
}

void ParameterMasks::save_state(std::map<std::string, at::Tensor>& state) const {
  for (const auto& [name, m] : masks_) state["mask/" + name] = m.clone();
  for (const auto& [name, b] : bits_) state["bits/" + name] = at::scalar_tensor(b, at::kLong);
}

void ParameterMasks::load_state(const std::map<std::string, at::Tensor>& state, const Lookup& param) {
  masks_.clear();
  bits_.clear();
  for (const auto& [key, value] : state) {
    if (key.rfind("mask/", 0) == 0) {
      const std::string name = key.substr(5);
      at::Tensor p = param(name);
      set(name, p, value.clone());  // a snapshot may be loaded into several models: each gets its own mask
    } else if (key.rfind("bits/", 0) == 0) {
      const std::string name = key.substr(5);
      param(name);  // an unknown parameter is an error
      set_bits(name, static_cast<int>(value.item<std::int64_t>()));
    }
  }
}

}  // namespace compaudit::models
