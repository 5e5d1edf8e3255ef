// Helpers shared by the built-in compressors (a static library linked into each plugin; not part of the SDK).
//   * choosing the tensors a scheme works on (layer name patterns, layer types, exclusions),
//   * exact k-smallest selection over many tensors without sorting (magnitude pruning, lottery, class-dependent),
//   * per-layer size and sparsity records for CompressionRecord::details.
// Third parties copying a built-in plugin can copy the part they use; each function stands alone.
#pragma once

#include <compaudit/compressor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace compaudit::compressors {

/// Which layers a scheme touches. Patterns are shell globs (fnmatch) on layer names ("fc*", "block3.*").
struct LayerSelection {
  std::vector<std::string> include{"*"};          ///< Each pattern must match at least one layer of the right type.
  std::vector<std::string> exclude;               ///< Layers matching any of these are skipped.
  std::vector<std::string> types{"linear", "conv2d"};
};

/// Reads the "layers", "exclude" and "layer_types" parameters every selecting compressor declares.
LayerSelection read_selection(const Params& params);

/// The selected layers of `model`, in model order. Throws Error(parameters) naming the pattern when an include
/// pattern matches no layer of the selected types, or when nothing at all is selected.
std::vector<Layer> select_layers(Model& model, const LayerSelection& selection, const std::string& plugin_id);

/// Whether `name` matches the shell glob `pattern`.
bool glob_match(const std::string& pattern, const std::string& name);

/// How selection of the k smallest scores treats its inputs.
struct ScoreSource {
  at::Tensor values;     ///< float32 scores (any shape; made contiguous).
  at::Tensor pruned;     ///< optional: existing mask (0 = already pruned); such entries rank below every score.
  bool absolute = true;  ///< rank |values| (magnitude) instead of values
};

/// Keep-masks (bool, true = keep) that prune exactly `k` entries over all sources together: the k smallest
/// scores, already-pruned entries first, ties at the threshold broken by position (earlier source, then lower flat
/// index, pruned first) so the count is exact. O(n) and no sort: a sampled bracket around the k-th score, then
/// one pass that writes the mask of everything outside the bracket and collects the few entries inside it, whose
/// fate nth_element decides (a bracket that misses costs two more passes, same answer).
/// The masks are views of one buffer (one allocation, faulted in as huge pages where the system allows): hand them
/// to Model::set_mask as they are — the model keeps them without a copy.
/// `pruned_counts`, if given, receives the number pruned in each mask.
std::vector<at::Tensor> keep_masks(const std::vector<ScoreSource>& sources, std::int64_t k,
                                   std::vector<std::int64_t>* pruned_counts = nullptr);

/// Masks the selected layers' weights so that round(sparsity * n) of them are pruned — over all layers together
/// (global) or per layer — keeping every weight already masked pruned. `scores` (one per layer, optional) replace
/// |w| as the ranking (signed: smaller goes first). Returns the number of weights pruned in total; `per_layer`, if
/// given, receives the number pruned in each layer.
std::int64_t prune_to(Model& model, const std::vector<Layer>& layers, double sparsity, bool global,
                      const std::vector<at::Tensor>& scores = {}, std::vector<std::int64_t>* per_layer = nullptr);

/// Sets every parameter named in `point` back to its value there (masks are re-applied by the model). Throws
/// Error(runtime) when a parameter's shape changed since (structured pruning ran before a rewinding scheme).
void rewind_parameters(Model& model, const std::vector<std::pair<std::string, at::Tensor>>& point,
                       const std::string& plugin_id);

/// Per layer {layer, parameters, pruned, sparsity} from the model's masks.
nlohmann::json mask_json(Model& model, const std::vector<Layer>& layers);

/// ROC AUC of `score` for `positive` (bool) by the rank-sum formula, ties given their average rank (as sklearn's
/// roc_auc_score). NaN when either outcome is absent.
double roc_auc(const at::Tensor& score, const at::Tensor& positive);

/// round(fraction * n) with ties to even, the count torch.nn.utils.prune uses (Python's round()).
std::int64_t count_for(double fraction, std::int64_t n);

/// Number of zero entries of a mask (or of a tensor).
std::int64_t zeros_of(const at::Tensor& t);

/// {"parameters", "nonzeros", "bytes", "sparse_bytes"} of the whole model.
nlohmann::json size_json(Model& model);

/// Per-layer record: name, type, shape, parameters, nonzeros, sparsity, storage bits of the weight.
nlohmann::json layer_json(Model& model, const Layer& layer);

/// "12.3M" / "45.6k" / "789" — for summaries.
std::string human_count(std::int64_t n);

}  // namespace compaudit::compressors
