// Helpers shared by the built-in compressors (a static library linked into each plugin; not part of the SDK):
// rewinding, per-layer size and sparsity records for CompressionRecord::details, ROC AUC.
// Layer selection and the exact k-smallest selection are SDK functions, for third parties too: compaudit/layers.h
// (select_layers, read_selection, glob_match) and compaudit/select.h (keep_masks, prune_to, count_for, zeros_of);
// this namespace sits inside compaudit, so the built-in plugins call them unqualified.
#pragma once

#include <compaudit/compressor.h>
#include <compaudit/layers.h>
#include <compaudit/select.h>

#include <cstdint>
#include <string>
#include <vector>

namespace compaudit::compressors {

/// Sets every parameter named in `point` back to its value there (masks are re-applied by the model). Throws
/// Error(runtime) when a parameter's shape changed since (structured pruning ran before a rewinding scheme).
void rewind_parameters(Model& model, const std::vector<std::pair<std::string, at::Tensor>>& point,
                       const std::string& plugin_id);

/// Per layer {layer, parameters, pruned, sparsity} from the model's masks.
nlohmann::json mask_json(Model& model, const std::vector<Layer>& layers);

/// ROC AUC of `score` for `positive` (bool) by the rank-sum formula, ties given their average rank (as sklearn's
/// roc_auc_score). NaN when either outcome is absent.
double roc_auc(const at::Tensor& score, const at::Tensor& positive);

/// {"parameters", "nonzeros", "bytes", "sparse_bytes"} of the whole model.
nlohmann::json size_json(Model& model);

/// Per-layer record: name, type, shape, parameters, nonzeros, sparsity, storage bits of the weight.
nlohmann::json layer_json(Model& model, const Layer& layer);

/// "12.3M" / "45.6k" / "789" — for summaries.
std::string human_count(std::int64_t n);

}  // namespace compaudit::compressors
