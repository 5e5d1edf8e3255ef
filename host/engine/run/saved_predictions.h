// host/engine/run/saved_predictions.h — an arm's (or the reference's) outputs read from a file instead of computed.
//
// A model compressed or run elsewhere (TensorFlow Lite, ONNX Runtime, JAX, llama.cpp) is audited from its saved
// outputs: `predictions = "int8_logits.npy"` in [model] or an [[arm]]. The file holds float logits, log-probabilities
// or probabilities, [N, C] (K = 1) or [K, N, C] (one row block per seed, in seed order), one row per row of the test
// file. Labels come from [data].
#pragma once

#include "data/dataset.h"

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

namespace compaudit::engine {

/// The probabilities [n, C] float32 of seed number `seed_index` (0-based, of `seeds` seeds) on the test split, from
/// `all`, the array read from `path` (read_npy; `path` names the file in errors). Rows whose values are all in
/// [0, 1] and sum to 1 (within 1e-3) are taken as probabilities (renormalised); anything else as logits or
/// log-probabilities (softmax, which maps log-probabilities back to themselves). Throws Error(data) naming the file
/// for: a non-float dtype, a shape that is not [N, C] / [K, N, C], K or C that do not match the pipeline, N that is
/// not the test file's row count, NaN or infinite values (with the first offending row), and a test split that is
/// not a file of its own (rows could not be matched).
at::Tensor saved_probabilities(const at::Tensor& all, const std::string& path, std::size_t seed_index,
                               std::size_t seeds, const DataSplits& data);

/// The same, reading `path` first.
at::Tensor saved_probabilities(const std::string& path, std::size_t seed_index, std::size_t seeds,
                               const DataSplits& data);

}  // namespace compaudit::engine
