// Fuzz target: the users' data readers — engine::parse_npy (the hand-written .npy header parser and the dtype
// conversions), engine::read_npz (libzip around it) and engine::decode_image (libspng / libjpeg-turbo around it).
//
// Input: [mode: 1 byte][payload ...]. mode % 3 == 0: the payload is an .npy file, parsed from memory; 1: it is an
// .npz archive, written to a file and read with read_npz; 2: it is a PNG or JPEG image, decoded from memory.
// Contract: a contiguous tensor (bool elements 0 or 1) / an image with height * width * channels pixels and 1 or 3
// channels, or compaudit::Error; nothing else.
#include "data_support.h"

#include "data/images.h"
#include "data/npy.h"

namespace {

void check_tensor(const at::Tensor& t) {
  fuzz::require(t.defined() && t.is_contiguous(), "a defined, contiguous tensor");
  fuzz::require(t.dim() <= 32, "at most 32 dimensions");
  if (t.scalar_type() == at::kBool && t.numel() > 0)
    fuzz::require(t.to(at::kByte).max().item<int>() <= 1, "bool elements are 0 or 1");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  static const fuzz::fs::path archive = fuzz::scratch_dir() / "arrays.npz";
  const std::uint8_t* payload = data + 1;
  const std::size_t n = size - 1;
  try {
    switch (data[0] % 3) {
      case 0: check_tensor(compaudit::engine::parse_npy(payload, n, "input.npy")); break;
      case 1: {
        fuzz::write_file(archive, payload, n);
        for (const auto& [name, t] : compaudit::engine::read_npz(archive.string())) check_tensor(t);
        break;
      }
      default: {
        const auto img = compaudit::engine::decode_image(payload, n, "input.png");
        fuzz::require(img.height > 0 && img.width > 0, "a non-empty image");
        fuzz::require(img.channels == 1 || img.channels == 3, "1 or 3 channels");
        fuzz::require(img.pixels.size() == std::size_t(img.height) * img.width * img.channels,
                      "height x width x channels pixels");
      }
    }
  } catch (const compaudit::Error& e) {
    fuzz::check_error(e);
  }
  return 0;
}
