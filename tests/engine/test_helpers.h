// Helpers shared by the engine tests: scratch directories and small data files written by the tests themselves.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace engine_test {

/// A fresh directory under the build tree's temp area, removed at the start (not the end: keep it to inspect).
inline std::filesystem::path scratch_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / "compaudit-engine-tests" / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

inline void write_bytes(const std::filesystem::path& path, const std::vector<std::uint8_t>& bytes, bool gzip = false) {
  if (gzip) {
    gzFile f = gzopen(path.string().c_str(), "wb");
    gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(f);
  } else {
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                                static_cast<std::streamsize>(bytes.size()));
  }
}

inline void write_text(const std::filesystem::path& path, const std::string& text) { std::ofstream(path) << text; }

inline void put_be32(std::vector<std::uint8_t>& b, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<std::uint8_t>(v >> s));
}

/// IDX images [n, h, w] with pixel (i, r, c) = (i + r + c) % 256, and labels i % classes.
inline std::vector<std::uint8_t> idx_images(std::uint32_t n, std::uint32_t h, std::uint32_t w) {
  std::vector<std::uint8_t> b{0, 0, 8, 3};
  put_be32(b, n), put_be32(b, h), put_be32(b, w);
  for (std::uint32_t i = 0; i < n; ++i)
    for (std::uint32_t r = 0; r < h; ++r)
      for (std::uint32_t c = 0; c < w; ++c) b.push_back(static_cast<std::uint8_t>((i + r + c) % 256));
  return b;
}
inline std::vector<std::uint8_t> idx_labels(std::uint32_t n, std::uint32_t classes) {
  std::vector<std::uint8_t> b{0, 0, 8, 1};
  put_be32(b, n);
  for (std::uint32_t i = 0; i < n; ++i) b.push_back(static_cast<std::uint8_t>(i % classes));
  return b;
}

}  // namespace engine_test
