// Fuzz target: the IDX reader (MNIST family), engine::read_idx, through read_file_bytes (plain or gzip).
//
// Input: [split: 2 bytes little-endian][classes: 1 byte][images file ... | labels file ...]. `split` (modulo the
// remaining length + 1) is where the images file ends; `classes` is max_classes (0 means the default, 256). Both
// files may be gzip-compressed. Contract: RawData [N, 1, H, W] uint8 with N labels below max_classes, or
// compaudit::Error; nothing else.
#include "data_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  static const fuzz::fs::path images = fuzz::scratch_dir() / "images-idx3-ubyte";
  static const fuzz::fs::path labels = fuzz::scratch_dir() / "labels-idx1-ubyte";
  const std::size_t rest = size - 3;
  const std::size_t split = (std::size_t(data[0]) | std::size_t(data[1]) << 8) % (rest + 1);
  const int classes = data[2] == 0 ? 256 : data[2];
  fuzz::write_file(images, data + 3, split);
  fuzz::write_file(labels, data + 3 + split, rest - split);
  try {
    const auto raw = compaudit::engine::read_idx(images.string(), labels.string(), classes);
    fuzz::check_raw(raw, 4, classes - 1);
    fuzz::require(raw.inputs.scalar_type() == at::kByte && raw.inputs.size(1) == 1, "images are [N, 1, H, W] bytes");
  } catch (const compaudit::Error& e) {
    fuzz::check_error(e);
  }
  return 0;
}
