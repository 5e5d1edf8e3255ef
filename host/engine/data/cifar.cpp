// CIFAR-10 binary reader: each record is 1 label byte followed by 3072 pixel bytes (1024 red, 1024 green, 1024 blue,
// each 32 x 32 row-major), so the pixels are already in [C, H, W] order.
#include "data/readers.h"

#include <compaudit/error.h>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <cstring>

namespace compaudit::engine {

RawData read_cifar10(const std::vector<std::string>& paths) {
  constexpr std::size_t pixels = 3 * 32 * 32;
  constexpr std::size_t record = 1 + pixels;
  if (paths.empty()) throw Error(ErrorCode::data, "no CIFAR-10 batch files given");
  std::vector<std::vector<std::uint8_t>> files;
  std::int64_t n = 0;
  for (const auto& path : paths) {
    files.push_back(read_file_bytes(path));
    const auto size = files.back().size();
    if (size == 0) throw Error(ErrorCode::data, "empty CIFAR-10 batch file", {path});
    if (size % record != 0)
      throw Error(ErrorCode::data,
                  fmt::format("truncated or not a CIFAR-10 batch: {} bytes is not a whole number of {}-byte records "
                              "({} whole records and {} bytes left over)", size, record, size / record,
                              size % record), {path});
    n += static_cast<std::int64_t>(size / record);
  }
  RawData raw;
  raw.inputs = at::empty({n, 3, 32, 32}, at::kByte);
  raw.targets = at::empty({n}, at::kLong);
  auto* x = raw.inputs.data_ptr<std::uint8_t>();
  auto* y = raw.targets.data_ptr<std::int64_t>();
  std::int64_t row = 0;
  for (std::size_t f = 0; f < files.size(); ++f) {
    const auto& bytes = files[f];
    for (std::size_t r = 0; r < bytes.size() / record; ++r, ++row) {
      const std::uint8_t* rec = bytes.data() + r * record;
      if (rec[0] >= 10)
        throw Error(ErrorCode::data, fmt::format("record {}: label {} is out of range (CIFAR-10 has 10 classes)", r,
                                                 rec[0]), {paths[f]});
      y[row] = rec[0];
      std::memcpy(x + row * pixels, rec + 1, pixels);
    }
  }
  raw.class_names = {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};
  return raw;
}

}  // namespace compaudit::engine
