// PNG (libspng) and JPEG (libjpeg-turbo) decoding to 8-bit [H, W, C] pixels.
//
// libjpeg reports errors through a callback that must not return; the documented way out is longjmp. The function
// that calls setjmp (decode_jpeg_into) therefore holds only trivially destructible locals, and everything with a
// destructor lives in its caller, so no C++ object is skipped by the jump.
#include "data/images.h"

#include <compaudit/error.h>

#include <fmt/format.h>

// jpeglib.h needs size_t and FILE declared before it.
#include <cstdio>
#include <csetjmp>
#include <cstring>
#include <jpeglib.h>
#include <spng.h>

#include <memory>
#include <new>

namespace compaudit::engine {
namespace {

constexpr std::uint64_t kMaxPixels = std::uint64_t{1} << 27;

[[noreturn]] void too_large(std::uint64_t w, std::uint64_t h, const std::string& file) {
  throw Error(ErrorCode::data, fmt::format("image is {}x{} pixels; at most {} pixels are read", w, h, kMaxPixels),
              {file});
}

Image decode_png(const std::uint8_t* data, std::size_t size, const std::string& file) {
  std::unique_ptr<spng_ctx, void (*)(spng_ctx*)> ctx(spng_ctx_new(0), spng_ctx_free);
  if (!ctx) throw std::bad_alloc();
  auto check = [&](int rc) {
    if (rc != 0) throw Error(ErrorCode::data, fmt::format("corrupt PNG: {}", spng_strerror(rc)), {file});
  };
  // Ancillary chunks (text, ICC profiles) may not make us hold more than 16 MiB.
  check(spng_set_chunk_limits(ctx.get(), std::size_t{1} << 24, std::size_t{1} << 24));
  check(spng_set_png_buffer(ctx.get(), data, size));
  spng_ihdr ihdr;
  check(spng_get_ihdr(ctx.get(), &ihdr));
  if (std::uint64_t(ihdr.width) * ihdr.height > kMaxPixels) too_large(ihdr.width, ihdr.height, file);
  // RGB8 for every colour type and depth: palettes expanded, 16-bit samples reduced to their high byte, alpha and
  // tRNS dropped, no gamma applied (the stored values, as Pillow and OpenCV read them). Gray keeps one channel.
  const bool gray = ihdr.color_type == SPNG_COLOR_TYPE_GRAYSCALE || ihdr.color_type == SPNG_COLOR_TYPE_GRAYSCALE_ALPHA;
  std::size_t bytes = 0;
  check(spng_decoded_image_size(ctx.get(), SPNG_FMT_RGB8, &bytes));
  std::vector<std::uint8_t> rgb(bytes);
  check(spng_decode_image(ctx.get(), rgb.data(), rgb.size(), SPNG_FMT_RGB8, 0));
  Image out;
  out.height = static_cast<int>(ihdr.height);
  out.width = static_cast<int>(ihdr.width);
  out.channels = gray ? 1 : 3;
  if (!gray) {
    out.pixels = std::move(rgb);
    return out;
  }
  const std::size_t pixels = std::size_t(ihdr.width) * ihdr.height;
  out.pixels.resize(pixels);
  for (std::size_t i = 0; i < pixels; ++i) out.pixels[i] = rgb[3 * i];
  return out;
}

struct JpegErrors {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void jpeg_fail(j_common_ptr cinfo) {
  auto* errors = reinterpret_cast<JpegErrors*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, errors->message);
  std::longjmp(errors->jump, 1);
}

// Level -1 is a corrupt-data warning (libjpeg would go on and fill the rest of the image with grey): an error here.
// Levels >= 0 are trace messages.
void jpeg_message(j_common_ptr cinfo, int level) {
  if (level < 0) jpeg_fail(cinfo);
}

enum class JpegResult { ok, failed, cmyk, too_large };

// Reads the header, then (after `allocate` has sized `out`) the pixels. Only trivially destructible locals here.
JpegResult decode_jpeg_into(const std::uint8_t* data, std::size_t size, JpegErrors* errors, Image* out) {
  jpeg_decompress_struct cinfo;
  std::memset(&cinfo, 0, sizeof cinfo);  // so that jpeg_destroy_decompress is safe whenever the jump comes
  cinfo.err = jpeg_std_error(&errors->mgr);
  errors->mgr.error_exit = jpeg_fail;
  errors->mgr.emit_message = jpeg_message;
  errors->message[0] = '\0';
  if (setjmp(errors->jump)) {
    jpeg_destroy_decompress(&cinfo);
    return JpegResult::failed;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
    jpeg_destroy_decompress(&cinfo);
    return JpegResult::cmyk;
  }
  cinfo.out_color_space = cinfo.jpeg_color_space == JCS_GRAYSCALE ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(&cinfo);
  if (std::uint64_t(cinfo.output_width) * cinfo.output_height > kMaxPixels) {
    out->width = static_cast<int>(cinfo.output_width);
    out->height = static_cast<int>(cinfo.output_height);
    jpeg_destroy_decompress(&cinfo);
    return JpegResult::too_large;
  }
  out->height = static_cast<int>(cinfo.output_height);
  out->width = static_cast<int>(cinfo.output_width);
  out->channels = cinfo.output_components;
  const std::size_t stride = std::size_t(out->width) * out->channels;
  out->pixels.resize(stride * out->height);  // may throw bad_alloc: nothing of libjpeg's is on the stack above us
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = out->pixels.data() + std::size_t(cinfo.output_scanline) * stride;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return JpegResult::ok;
}

Image decode_jpeg(const std::uint8_t* data, std::size_t size, const std::string& file) {
  JpegErrors errors;
  Image out;
  switch (decode_jpeg_into(data, size, &errors, &out)) {
    case JpegResult::ok: return out;
    case JpegResult::failed:
      throw Error(ErrorCode::data, fmt::format("corrupt JPEG: {}", errors.message), {file});
    case JpegResult::cmyk:
      throw Error(ErrorCode::data, "CMYK JPEG images are not supported (convert to RGB or grayscale)", {file});
    case JpegResult::too_large:
      too_large(static_cast<std::uint64_t>(out.width), static_cast<std::uint64_t>(out.height), file);
  }
  throw Error(ErrorCode::runtime, "unreachable", {file});
}

}  // namespace

Image decode_image(const std::uint8_t* data, std::size_t size, const std::string& name_for_errors) {
  static const std::uint8_t png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (size >= 8 && std::memcmp(data, png_signature, 8) == 0) return decode_png(data, size, name_for_errors);
  if (size >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff)
    return decode_jpeg(data, size, name_for_errors);
  throw Error(ErrorCode::data, size == 0 ? "empty image file" : "not a PNG or JPEG image (unknown signature)",
              {name_for_errors});
}

}  // namespace compaudit::engine
