// host/engine/data/dataset.h — in-memory examples and the splits an audit works on.
//
// Everything is held as tensors: inputs float32 [N, ...] (images [N, C, H, W], tabular [N, F]) and targets int64
// [N]. `ids` keep each example's index in the file it came from, so a PIE list can name the original example.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace compaudit::engine {

/// Raw examples as read from files: inputs still in their stored type (uint8 images, float32 tabular).
struct RawData {
  at::Tensor inputs;   ///< [N, ...] uint8 or float32.
  at::Tensor targets;  ///< [N] int64, 0 <= label.
  std::vector<std::string> class_names;  ///< From the file when it names them (sklearn CSV header), else empty.
  std::vector<std::int64_t> lines;       ///< CSV: the file line of each example (label errors name it); else empty.
};

/// One split after selection and normalisation.
struct Dataset {
  at::Tensor inputs;   ///< [N, ...] float32, normalised with training statistics.
  at::Tensor targets;  ///< [N] int64.
  at::Tensor ids;      ///< [N] int64: row of the example in its source (train file or test file).
  at::Tensor pixels;   ///< Image data only: [N, C, H, W] uint8 originals (report thumbnails); else undefined.
  std::int64_t size() const { return targets.defined() ? targets.size(0) : 0; }
};

/// The three splits of an audit plus what the model needs to know about them.
struct DataSplits {
  Dataset train, validation, test;
  std::vector<std::int64_t> input_shape;  ///< Per example, e.g. {1, 28, 28} or {64}.
  int num_classes = 0;
  std::vector<std::string> class_names;   ///< num_classes entries ("0", "1", ... when the data names none).
  bool is_image = false;                  ///< Inputs are [N, C, H, W].
  /// Rows of the test source file when the test split comes from its own file (else 0): saved predictions
  /// ([model] / [[arm]] predictions) hold one row per test-file row, and Dataset::ids picks the split's rows.
  std::int64_t test_source_rows = 0;
  /// The normalisation fitted on the training split: x' = (x - shift) / scale, per channel (images) or per feature
  /// (tabular); one element each for "none". Recorded with the run so an exported model can be fed correctly.
  std::string normalize = "standard";
  std::vector<float> norm_shift, norm_scale;
};

}  // namespace compaudit::engine
