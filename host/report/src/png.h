// png.h — a minimal PNG encoder (8-bit gray or RGB, zlib-compressed) and base64, for inline thumbnails.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace compaudit::report {

/// Encodes row-major HWC uint8 pixels (channels 1 = gray, 3 = RGB) as a PNG file. Throws std::invalid_argument when
/// the pixel count does not match the shape.
std::vector<std::uint8_t> encode_png(const std::vector<std::uint8_t>& pixels, int width, int height, int channels);

std::string base64(const std::vector<std::uint8_t>& bytes);

/// "data:image/png;base64,..." for an <img src>.
std::string png_data_uri(const std::vector<std::uint8_t>& pixels, int width, int height, int channels);

}  // namespace compaudit::report
