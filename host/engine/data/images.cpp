// Image folders: root/<class>/<image>, the layout of torchvision's ImageFolder and Keras' image_dataset_from_directory.
// Classes are the sorted folder names; every image is decoded (data/image_decode.cpp), brought to one channel count
// and one size, and stacked into [N, C, H, W] uint8 — the same RawData the IDX and CIFAR-10 readers give, so
// thumbnails and normalisation work unchanged.
#include "data/images.h"

#include "data/readers.h"

#include <compaudit/error.h>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>

namespace compaudit::engine {
namespace {

namespace fs = std::filesystem;

bool is_image_name(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

const char* channels_name(int c) { return c == 1 ? "grayscale (1 channel)" : "RGB (3 channels)"; }

// Gray -> RGB copies the value; RGB -> gray is Pillow's convert("L"): (19595 R + 38470 G + 7471 B + 2^15) >> 16.
void convert_channels(Image& img, int channels) {
  if (img.channels == channels) return;
  const std::size_t n = std::size_t(img.height) * img.width;
  std::vector<std::uint8_t> out(n * channels);
  for (std::size_t i = 0; i < n; ++i) {
    if (channels == 3) {
      out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = img.pixels[i];
    } else {
      const std::uint8_t* p = &img.pixels[3 * i];
      out[i] = static_cast<std::uint8_t>((19595u * p[0] + 38470u * p[1] + 7471u * p[2] + 0x8000u) >> 16);
    }
  }
  img.pixels = std::move(out);
  img.channels = channels;
}

// [H, W, C] pixels -> [C, h, w] uint8, resized with PyTorch's interpolation (align_corners = False) when asked.
at::Tensor to_chw(const Image& img, const std::vector<std::int64_t>& size, const std::string& method) {
  at::Tensor hwc = at::from_blob(const_cast<std::uint8_t*>(img.pixels.data()), {img.height, img.width, img.channels},
                                 at::kByte);
  at::Tensor chw = hwc.permute({2, 0, 1});
  // clone, not contiguous(): a one-channel permute already counts as contiguous and would still point into `img`.
  if (size.empty() || (size[0] == img.height && size[1] == img.width)) return chw.clone(at::MemoryFormat::Contiguous);
  const at::Tensor x = chw.unsqueeze(0).to(at::kFloat);
  const at::Tensor y = method == "nearest" ? at::upsample_nearest2d(x, {size[0], size[1]})
                                           : at::upsample_bilinear2d(x, {size[0], size[1]}, /*align_corners=*/false);
  return y.squeeze(0).round().clamp(0, 255).to(at::kByte).contiguous();
}

std::vector<fs::path> sorted_entries(const fs::path& dir, bool folders) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path& p = it->path();
    if (folders ? (it->is_directory(ec) && p.filename().string().front() != '.')
                : (it->is_regular_file(ec) && is_image_name(p)))
      out.push_back(p);
  }
  if (ec) throw Error(ErrorCode::data, "cannot list the folder: " + ec.message(), {dir.string()});
  std::sort(out.begin(), out.end(), [](const fs::path& a, const fs::path& b) {
    return a.filename().string() < b.filename().string();
  });
  return out;
}

}  // namespace

RawData read_image_folder(const std::string& root, const ImageFolderOptions& options) {
  std::error_code ec;
  if (!fs::exists(root, ec)) throw Error(ErrorCode::data, "image folder not found", {root});
  if (!fs::is_directory(root, ec))
    throw Error(ErrorCode::data, "is not a folder (expected root/<class>/*.png)", {root});
  const std::vector<fs::path> class_dirs = sorted_entries(root, true);
  if (class_dirs.empty())
    throw Error(ErrorCode::data, "holds no class folders (expected root/<class>/*.png|jpg|jpeg)", {root});

  RawData raw;
  std::vector<at::Tensor> images;
  std::vector<std::int64_t> labels;
  std::string first_file;
  int channels = options.channels;
  std::vector<std::int64_t> size = options.resize;
  for (std::size_t c = 0; c < class_dirs.size(); ++c) {
    raw.class_names.push_back(class_dirs[c].filename().string());
    const std::vector<fs::path> files = sorted_entries(class_dirs[c], false);
    if (files.empty())
      throw Error(ErrorCode::data, fmt::format("class folder '{}' holds no .png, .jpg or .jpeg images",
                                               raw.class_names.back()), {class_dirs[c].string()});
    for (const fs::path& f : files) {
      const std::string file = f.string();
      const std::vector<std::uint8_t> bytes = read_file_bytes(file);
      Image img = decode_image(bytes.data(), bytes.size(), file);
      if (first_file.empty()) {
        first_file = file;
        if (channels == 0) channels = img.channels;
        if (size.empty()) size = {img.height, img.width};
      }
      if (options.channels == 0 && img.channels != channels)
        throw Error(ErrorCode::data, fmt::format("image is {} but {} is {}; set channels = 1 or 3 in [data] to "
                                                 "convert every image", channels_name(img.channels), first_file,
                                                 channels_name(channels)), {file});
      if (options.resize.empty() && (img.height != size[0] || img.width != size[1]))
        throw Error(ErrorCode::data, fmt::format("image is {}x{} (height x width) but {} is {}x{}; declare resize = "
                                                 "[H, W] in [data] to resize every image", img.height, img.width,
                                                 first_file, size[0], size[1]), {file});
      convert_channels(img, channels);
      images.push_back(to_chw(img, options.resize, options.resize_method));
      labels.push_back(static_cast<std::int64_t>(c));
    }
  }
  raw.inputs = at::stack(images);
  raw.targets = at::tensor(labels, at::kLong);
  return raw;
}

}  // namespace compaudit::engine
