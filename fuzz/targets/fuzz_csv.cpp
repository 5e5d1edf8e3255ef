// Fuzz target: the numeric CSV reader, engine::read_csv, through read_file_bytes (plain or gzip).
//
// Input: [options: 1 byte][CSV file ...]. Bit 0 of `options` is CsvOptions::header; bits 1-3 pick label_column from
// "last", "first", "0", "1", "2", "17", "-1", "x". Contract: RawData [N, F] float32 (finite) with N non-negative
// labels, below the number of class names when the header names classes, or compaudit::Error; nothing else.
#include "data_support.h"

#include <cmath>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  static const fuzz::fs::path file = fuzz::scratch_dir() / "data.csv";
  static const char* const columns[] = {"last", "first", "0", "1", "2", "17", "-1", "x"};
  compaudit::engine::CsvOptions options;
  options.header = (data[0] & 1) != 0;
  options.label_column = columns[(data[0] >> 1) & 7];
  fuzz::write_file(file, data + 1, size - 1);
  try {
    const auto raw = compaudit::engine::read_csv(file.string(), options);
    const std::int64_t max_label =
        raw.class_names.empty() ? 1000000 : static_cast<std::int64_t>(raw.class_names.size()) - 1;
    fuzz::check_raw(raw, 2, max_label);
    fuzz::require(raw.inputs.scalar_type() == at::kFloat && raw.inputs.size(1) >= 1, "inputs are [N, F] float32");
    fuzz::require(at::isfinite(raw.inputs).all().item<bool>(), "every feature is finite");
  } catch (const compaudit::Error& e) {
    fuzz::check_error(e);
  }
  return 0;
}
