// host/engine/analysis/output_error.h — how far each compressed layer's output is from the reference layer's, on the
// reference model's own activations (the layer-wise error compression toolkits report, here also over one class).
#pragma once

#include "analysis/layer_changes.h"

#include <nlohmann/json.hpp>

#include <optional>
#include <vector>

namespace compaudit::engine::analysis {

/// For each change, the error of the layer's pre-activation output y' = f(x; W', b') against y = f(x; W, b), where x
/// is what enters the layer when the *reference* model runs on `inputs` (so errors do not compound across layers):
///   relative_l2 = ||y' - y|| / ||y||  and  sqnr_db = 10 log10(||y||^2 / ||y' - y||^2)  over all examples, and the
///   same over the examples of `critical_class` ("relative_l2_critical", "sqnr_db_critical"; null without one).
/// One JSON object per change, in order; null entries when the model cannot report its layers' inputs (TorchScript
/// modules have no activation hooks). Runs `reference` (a copy is made; the model is not changed).
std::vector<nlohmann::json> output_errors(const models::TrainableModel& reference,
                                          const std::vector<LayerChange>& changes, const at::Tensor& inputs,
                                          const at::Tensor& targets, std::optional<int> critical_class);

}  // namespace compaudit::engine::analysis
