// host/engine/data/images.h — image folders (root/<class>/*.png|jpg|jpeg) and the PNG / JPEG decoding beneath them.
//
// Decoding is Debian's libspng and libjpeg-turbo; this code only chooses formats, checks sizes and
// turns every library complaint into Error(data) naming the file.
#pragma once

#include "data/dataset.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace compaudit::engine {

/// One decoded image: 8-bit pixels in [H, W, C] order, C = 1 (grayscale) or 3 (RGB).
struct Image {
  int height = 0, width = 0, channels = 0;
  std::vector<std::uint8_t> pixels;
};

/// Decodes a PNG or JPEG held in memory; the format is told by the content (signature), not by the file name.
///   PNG:  any colour type and bit depth; palette images become RGB, 16-bit samples keep their high byte, an alpha
///         channel is dropped (the stored colour is kept, not composited); no gamma is applied — the stored values,
///         as Pillow and OpenCV read them.
///   JPEG: grayscale stays 1 channel, YCbCr becomes RGB; CMYK is refused. A "corrupt data" warning from libjpeg
///         (e.g. a truncated file, which libjpeg would otherwise fill with grey) is an error.
/// Images over 2^27 pixels are refused. Throws Error(data) naming `name_for_errors`.
Image decode_image(const std::uint8_t* data, std::size_t size, const std::string& name_for_errors);

struct ImageFolderOptions {
  std::vector<std::int64_t> resize;   ///< {H, W} to resize every image to; empty = all images must share one size.
  std::string resize_method = "bilinear";  ///< "bilinear" or "nearest" (PyTorch's interpolate, align_corners=False)
  int channels = 0;                   ///< 1 or 3 to convert every image to; 0 = the images' own (they must agree).
};

/// Reads root/<class>/<image> for every class folder (sorted by name, byte-wise; folders starting with '.' are
/// skipped). Images are the files ending in .png, .jpg or .jpeg (any case), sorted by name; other files are ignored.
/// Returns inputs [N, C, H, W] uint8 (class by class, file order within a class), targets = the class folder's
/// index, class_names = the folder names. Errors (Error(data), naming the file or folder): a root that is not a
/// folder or has no class folders, a class folder with no images, an image that does not decode, images of
/// different sizes without `resize`, grayscale and colour images mixed without `channels`.
/// Channel conversion: gray -> RGB copies the value; RGB -> gray is round(0.299 R + 0.587 G + 0.114 B) (ITU-R 601,
/// as Pillow's convert("L")).
RawData read_image_folder(const std::string& root, const ImageFolderOptions& options);

}  // namespace compaudit::engine
