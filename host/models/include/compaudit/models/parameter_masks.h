// compaudit/models/parameter_masks.h — the per-parameter state every compaudit::Model keeps besides its weights:
// installed masks (kept applied through training), projections (compression that must survive training, such as
// a rank or a quantization grid; Model::set_projection) and storage bits (for size reports).
//
// The built-in models, the TorchScript wrapper and the tests' / benchmark's TensorModel all hold one of these, so
// the rules live once:
//  * set(): a mask must have the parameter's shape; a bool mask stays bool (a quarter of a float mask's memory),
//    any other takes the parameter's dtype. It is copied (Model::set_mask's contract, SDK 1.1) — into the installed
//    mask's memory when shape and dtype match — and multiplied into the parameter; get() returns a copy.
//  * apply_mask(): the fast path for float parameters and bool masks (ATen's mul_ with a bool operand takes a slow
//    casting path, about 10x slower here, and this runs after every optimizer step).
//  * state snapshots: "mask/<param>" for every mask and "bits/<param>" (an int64 scalar) below 32 bits.
// No <torch/torch.h> here: models.h includes this header.
#pragma once

#include <compaudit/model.h>

#include <ATen/core/Tensor.h>

#include <functional>
#include <map>
#include <string>

#ifndef COMPAUDIT_MODELS_API
#define COMPAUDIT_MODELS_API __attribute__((visibility("default")))
#endif

namespace compaudit::models {

/// Multiplies `mask` into `param` in place, without recording gradients.
COMPAUDIT_MODELS_API void apply_mask(at::Tensor& param, const at::Tensor& mask);

class COMPAUDIT_MODELS_API ParameterMasks {
 public:
  /// Looks a parameter up by name; throws compaudit::Error(runtime) for an unknown one.
  using Lookup = std::function<at::Tensor(const std::string& name)>;

  /// Model::set_mask: checks `mask` against `param` (Error(runtime) naming both shapes), keeps a copy and applies
  /// it to `param`. An undefined mask removes the parameter's mask.
  void set(const std::string& name, at::Tensor& param, const at::Tensor& mask);
  /// A copy of the mask of a parameter (the caller's), or an undefined tensor.
  at::Tensor get(const std::string& name) const;
  /// Forgets a parameter's mask (its shape changed).
  void erase(const std::string& name) { masks_.erase(name); }
  /// Re-applies the parameter's mask, if it has one (after its values were replaced).
  void reapply(const std::string& name, at::Tensor& param) const;
  /// Applies every mask (Model::apply_masks, after each optimizer step).
  void apply_all(const Lookup& param) const;

  /// Model::set_projection: keeps `projection` for (name, when); an empty one removes it. The caller has checked
  /// the name.
  void set_projection(const std::string& name, ParameterProjection projection, ProjectionTime when);
  /// The projection of (name, when), or an empty function.
  ParameterProjection projection(const std::string& name, ProjectionTime when) const;
  /// True when any parameter has a projection for `when`.
  bool has_projections(ProjectionTime when) const;
  /// Applies every projection for `when` to its parameter, without recording gradients (after masks).
  void project_all(ProjectionTime when, const Lookup& param) const;
  /// Forgets a parameter's projections (its shape changed).
  void erase_projections(const std::string& name);

  /// Bits per stored weight; 32 unless set.
  int bits(const std::string& name) const;
  /// Throws Error(runtime) unless bits is in 1..32.
  void set_bits(const std::string& name, int bits);

  /// A copy that shares no storage with this one (TrainableModel::clone); projections are copied as functions
  /// (what they captured is shared: a projection only reads it).
  ParameterMasks deep_copy() const;
  /// Adds "mask/<param>" (copies) and "bits/<param>" entries to a state snapshot.
  void save_state(std::map<std::string, at::Tensor>& state) const;
  /// Replaces everything with the "mask/" and "bits/" entries of `state` (masks checked against and applied to
  /// the parameters `param` finds); other keys are ignored here.
  void load_state(const std::map<std::string, at::Tensor>& state, const Lookup& param);

 private:
  std::map<std::string, at::Tensor> masks_;
  std::map<std::pair<std::string, ProjectionTime>, ParameterProjection> projections_;
  std::map<std::string, int> bits_;
};

}  // namespace compaudit::models
