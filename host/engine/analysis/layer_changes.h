// host/engine/analysis/layer_changes.h — a compressed model as a set of per-layer changes to its reference, so that
// any subset of them can be applied to a copy of the reference ("only this layer compressed", "all but this one",
// a search's per-layer configuration).
#pragma once

#include <compaudit/models/models.h>

#include <memory>
#include <string>
#include <vector>

namespace compaudit::engine::analysis {

/// One parameter's value and storage bits.
struct ParameterValue {
  std::string name;  ///< e.g. "fc1.weight"
  at::Tensor value;
  int bits = 32;
};

/// A layer whose parameters (values or storage bits) differ between a reference and a candidate.
struct LayerChange {
  int index = 0;                           ///< In Model::layers()
  std::string layer;                       ///< e.g. "fc1"
  LayerType type = LayerType::other;
  std::vector<ParameterValue> candidate;   ///< The candidate's weight (and bias) — deep copies
  std::vector<ParameterValue> reference;   ///< The reference's
};

/// The layers of `candidate` that differ from `reference`, in model order (deep copies: they outlive both models).
/// Throws Error(runtime) naming the layer when its shape changed (a structured pruner that shrinks): a layer alone
/// cannot then be put into the other model, so attribution and search need shape-preserving compression.
std::vector<LayerChange> changed_layers(models::TrainableModel& reference, models::TrainableModel& candidate);

/// A copy of `reference` with the candidate values and bits of `changes` installed. Masks and activation hooks of the
/// candidate are not carried: the copy differs from the reference only in these parameters' values and bits.
std::unique_ptr<models::TrainableModel> with_changes(const models::TrainableModel& reference,
                                                     const std::vector<const LayerChange*>& changes);

/// The weight (and bias) of `layer` of `model` with their storage bits — deep copies, so they outlive the model.
std::vector<ParameterValue> layer_parameters(models::TrainableModel& model, const Layer& layer);

/// The stored bytes of every layer of `model` (stored_bytes of each layer_parameters), summed.
double model_stored_bytes(models::TrainableModel& model);

/// Bytes the layer's weight and bias take stored in the cheapest of three forms at their storage bits: dense, only
/// the non-zeros, or a rank-r factorisation (r (m + n) values for an m x n weight, conv weights as
/// [out, in * kh * kw]) when its numerical rank r makes that smaller. Index overhead is ignored, as in
/// compaudit::measure's sparse_bytes.
double stored_bytes(const std::vector<ParameterValue>& parameters);

}  // namespace compaudit::engine::analysis
