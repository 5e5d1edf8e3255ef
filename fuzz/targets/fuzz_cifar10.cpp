// Fuzz target: the CIFAR-10 binary reader, engine::read_cifar10, through read_file_bytes (plain or gzip).
//
// Input: [files: 1 byte][batch file ...]. The batch is passed once when `files` is even and twice when it is odd,
// which exercises the concatenation of several batches. Contract: RawData [N, 3, 32, 32] uint8 with N labels below
// 10 and the ten class names, or compaudit::Error; nothing else. (Run with -max_len of a few records: see run.sh.)
#include "data_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  static const fuzz::fs::path batch = fuzz::scratch_dir() / "data_batch_1.bin";
  fuzz::write_file(batch, data + 1, size - 1);
  std::vector<std::string> paths{batch.string()};
  if (data[0] & 1) paths.push_back(batch.string());
  try {
    const auto raw = compaudit::engine::read_cifar10(paths);
    fuzz::check_raw(raw, 4, 9);
    fuzz::require(raw.inputs.scalar_type() == at::kByte && raw.inputs.size(1) == 3 && raw.inputs.size(2) == 32 &&
                      raw.inputs.size(3) == 32, "images are [N, 3, 32, 32] bytes");
    fuzz::require(raw.class_names.size() == 10, "the ten CIFAR-10 class names");
  } catch (const compaudit::Error& e) {
    fuzz::check_error(e);
  }
  return 0;
}
