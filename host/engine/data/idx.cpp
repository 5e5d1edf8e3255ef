// IDX reader (the MNIST family: MNIST, Fashion-MNIST, Kuzushiji-MNIST). Format: two zero bytes, a type byte (0x08 =
// unsigned byte, the only type these data sets use), the number of dimensions, then each dimension as a big-endian
// int32, then the data in row-major order.
#include "data/readers.h"

#include <compaudit/error.h>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <cstring>

namespace compaudit::engine {
namespace {

struct IdxArray {
  std::vector<std::int64_t> dims;
  std::vector<std::uint8_t> bytes;  // whole file
  std::size_t offset = 0;           // where the data start
};

IdxArray parse_idx(const std::string& path, int expected_dims) {
  IdxArray a;
  a.bytes = read_file_bytes(path);
  const auto& b = a.bytes;
  if (b.size() < 4) throw Error(ErrorCode::data, "not an IDX file (shorter than its 4-byte magic)", {path});
  if (b[0] != 0 || b[1] != 0)
    throw Error(ErrorCode::data,
                fmt::format("not an IDX file: bad magic 0x{:02x}{:02x}{:02x}{:02x}", b[0], b[1], b[2], b[3]), {path});
  if (b[2] != 0x08)
    throw Error(ErrorCode::data, fmt::format("IDX element type 0x{:02x} is not supported (only 0x08, unsigned byte)",
                                             b[2]), {path});
  if (b[3] != expected_dims)
    throw Error(ErrorCode::data,
                fmt::format("IDX file has {} dimensions, expected {} ({})", b[3], expected_dims,
                            expected_dims == 1 ? "labels" : "images"), {path});
  a.offset = 4 + 4 * static_cast<std::size_t>(expected_dims);
  if (b.size() < a.offset) throw Error(ErrorCode::data, "truncated IDX header", {path});
  const std::size_t have = b.size() - a.offset;
  std::int64_t count = 1;
  for (int d = 0; d < expected_dims; ++d) {
    const std::uint8_t* p = &b[4 + 4 * d];
    const std::int64_t n = (std::int64_t(p[0]) << 24) | (p[1] << 16) | (p[2] << 8) | p[3];
    if (n <= 0 || n > (1 << 28)) throw Error(ErrorCode::data, fmt::format("IDX dimension {} is {}", d, n), {path});
    a.dims.push_back(n);
    // Three dimensions of up to 2^28 overflow int64 (found by fuzz/targets/fuzz_idx.cpp); a product past the
    // file's size is a truncated file anyway, so stop there.
    if (count > static_cast<std::int64_t>(have) / n)
      throw Error(ErrorCode::data, fmt::format("truncated IDX file: header promises more than the {} bytes of data "
                                               "the file holds (dimensions {})", have, fmt::join(a.dims, " x ")),
                  {path});
    count *= n;
  }
  if (have < static_cast<std::size_t>(count))
    throw Error(ErrorCode::data, fmt::format("truncated IDX file: header promises {} bytes of data, file holds {}",
                                             count, have), {path});
  if (have > static_cast<std::size_t>(count))
    throw Error(ErrorCode::data, fmt::format("IDX file has {} bytes after its {} bytes of data", have - count, count),
                {path});
  return a;
}

}  // namespace

RawData read_idx(const std::string& images_path, const std::string& labels_path, int max_classes) {
  IdxArray images = parse_idx(images_path, 3);
  IdxArray labels = parse_idx(labels_path, 1);
  const std::int64_t n = images.dims[0];
  if (labels.dims[0] != n)
    throw Error(ErrorCode::data, fmt::format("{} labels for {} images in {}", labels.dims[0], n, images_path),
                {labels_path});

  RawData raw;
  raw.inputs = at::empty({n, 1, images.dims[1], images.dims[2]}, at::kByte);
  std::memcpy(raw.inputs.data_ptr<std::uint8_t>(), images.bytes.data() + images.offset,
              static_cast<std::size_t>(raw.inputs.numel()));
  raw.targets = at::empty({n}, at::kLong);
  auto* t = raw.targets.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < n; ++i) {
    const int label = labels.bytes[labels.offset + i];
    if (label >= max_classes)
      throw Error(ErrorCode::data, fmt::format("label {} of example {} is out of range (at most {} classes)", label,
                                               i, max_classes), {labels_path});
    t[i] = label;
  }
  return raw;
}

}  // namespace compaudit::engine
