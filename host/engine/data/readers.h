// host/engine/data/readers.h — file-format readers: IDX (MNIST family), CIFAR-10 binary, CSV.
//
// Every reader accepts plain or gzip-compressed files (detected by content, not by name) and throws
// compaudit::Error(data) naming the file — and for CSV the line and column — when a file is missing, corrupt or
// inconsistent. Readers do no selection or normalisation; see splits.h.
#pragma once

#include "data/dataset.h"

#include <cstdint>
#include <string>
#include <vector>

namespace compaudit::engine {

/// The whole content of a file, gunzipped when it starts with the gzip magic. Throws Error(data) for a missing
/// file or a truncated / corrupt gzip stream.
std::vector<std::uint8_t> read_file_bytes(const std::string& path);

/// IDX images ([N, H, W] ubyte, magic 0x00000803) and labels ([N] ubyte, magic 0x00000801). Returns inputs
/// [N, 1, H, W] uint8. Checks magic, sizes, that both files hold the same N, and that labels are < max_classes.
RawData read_idx(const std::string& images_path, const std::string& labels_path, int max_classes = 256);

/// CIFAR-10 binary batches: records of 1 label byte + 3072 pixel bytes (3 x 32 x 32, channel-major). Returns inputs
/// [N, 3, 32, 32] uint8. Checks the record size and that labels are < 10.
RawData read_cifar10(const std::vector<std::string>& paths);

struct CsvOptions {
  std::string label_column = "last";  ///< "last", "first" or a 0-based column index.
  bool header = true;                 ///< The first row is a header (sklearn's "n_rows,n_features,name0,.." too).
};
/// A numeric CSV with one integer label column. Returns inputs [N, F] float32. Rejects ragged rows, non-numeric
/// cells and negative or non-integral labels with file:line:column. A sklearn-style header ("569,30,malignant,
/// benign") is checked against the data and gives the class names.
RawData read_csv(const std::string& path, const CsvOptions& options);

}  // namespace compaudit::engine
