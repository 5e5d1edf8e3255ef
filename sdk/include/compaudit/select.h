// compaudit/select.h — exact, fast selection of the k smallest scores over many tensors: the selection the built-in
// pruners (prune.magnitude, prune.gradual, prune.lottery, classdep) use, for third-party pruners.
//
//   keep_masks  keep-masks that prune exactly k entries over all tensors together (the k smallest |w| or scores),
//               O(n) without sorting, ties at the threshold broken by position so the count is exact;
//   prune_to    masks a model's layers to a fraction, over all layers together (global: one threshold, like
//               torch.nn.utils.prune.global_unstructured) or per layer (like l1_unstructured per tensor);
//   count_for   round(fraction * n) as PyTorch's pruning rounds it.
//
//     // 90% of the selected weights, smallest |w| first, one threshold over all layers:
//     const auto layers = compaudit::select_layers(model, selection_, kId);            // compaudit/layers.h
//     const std::int64_t pruned = compaudit::prune_to(model, layers, 0.9, /*global=*/true);
//
// Thread safety: plain functions; each call uses its own memory. The inputs are read, never modified.
#pragma once

#include <compaudit/export.h>
#include <compaudit/model.h>
#include <compaudit/version.h>

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

COMPAUDIT_NAMESPACE_BEGIN

/// One tensor of scores to select from.
struct ScoreSource {
  at::Tensor values;     ///< Scores of any shape and floating dtype (read as float32).
  at::Tensor pruned;     ///< Optional existing mask, same shape (0 = already pruned): such entries go first.
  bool absolute = true;  ///< Rank |values| (magnitude); false: rank the signed values (smaller goes first).
};

/// Keep-masks (bool, true = keep; one per source, of its shape) that prune exactly `k` entries (clamped to 0..n)
/// over all sources together: the k smallest scores, already-pruned entries first, ties at the threshold broken
/// by position (earlier source, then lower flat index, first) so the count is exact. -0.0 ranks as +0.0. O(n) and
/// no sort: a sampled bracket around the k-th score, one pass that decides everything outside it, nth_element on
/// the few entries inside it. `pruned_counts`, if given, receives the number pruned in each mask.
/// The masks are fresh tensors owned by the caller (views of one buffer, allocated as huge pages where the system
/// allows: 23M entries fault in in 15 ms instead of 200 ms).
COMPAUDIT_SDK_API std::vector<at::Tensor> keep_masks(const std::vector<ScoreSource>& sources, std::int64_t k,
                                                     std::vector<std::int64_t>* pruned_counts = nullptr);

/// Masks the weights of `layers` (from select_layers) so that round(fraction * n) of them are pruned — over all
/// layers together (`global`) or in each layer — keeping every weight already masked pruned (the target never
/// drops below what earlier steps pruned). `scores` (one per layer, optional) replace |w| as the ranking (signed:
/// smaller goes first). Installs the masks with Model::set_mask. Returns the number of weights pruned in total;
/// `per_layer`, if given, receives the number pruned in each layer.
COMPAUDIT_SDK_API std::int64_t prune_to(Model& model, const std::vector<Layer>& layers, double fraction, bool global,
                                        const std::vector<at::Tensor>& scores = {},
                                        std::vector<std::int64_t>* per_layer = nullptr);

/// round(fraction * n) with ties to even, the count torch.nn.utils.prune uses (Python's round()).
COMPAUDIT_SDK_API std::int64_t count_for(double fraction, std::int64_t n);

/// Number of zero entries of a tensor (of a mask: the pruned entries).
COMPAUDIT_SDK_API std::int64_t zeros_of(const at::Tensor& t);

COMPAUDIT_NAMESPACE_END
