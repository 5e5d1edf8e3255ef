// Reads a whole file, gunzipping it when it is gzip-compressed. zlib's gzread passes plain files through
// unchanged, so one code path serves "train-images-idx3-ubyte" and "train-images-idx3-ubyte.gz" alike.
#include "data/readers.h"

#include <compaudit/error.h>

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>

namespace compaudit::engine {

std::vector<std::uint8_t> read_file_bytes(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error(ErrorCode::data, "file not found", {path});
  if (fs::is_directory(path, ec)) throw Error(ErrorCode::data, "is a directory, expected a data file", {path});

  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) throw Error(ErrorCode::data, std::string("cannot open: ") + std::strerror(errno), {path});
  gzbuffer(file, 1 << 17);
  std::vector<std::uint8_t> bytes;
  std::uint8_t chunk[1 << 16];
  for (;;) {
    const int n = gzread(file, chunk, sizeof chunk);
    if (n < 0) {
      int code = 0;
      std::string why = gzerror(file, &code);
      gzclose_r(file);
      throw Error(ErrorCode::data, "corrupt gzip stream: " + why, {path});
    }
    if (n == 0) break;
    bytes.insert(bytes.end(), chunk, chunk + n);
  }
  // A gzip stream cut short reads "successfully" up to the cut; gzclose_r then reports Z_BUF_ERROR.
  const int closed = gzclose_r(file);
  if (closed == Z_BUF_ERROR) throw Error(ErrorCode::data, "truncated gzip stream (unexpected end of file)", {path});
  if (closed != Z_OK) throw Error(ErrorCode::data, "error reading gzip stream", {path});
  return bytes;
}

}  // namespace compaudit::engine
