// test_support.h — temporary plugin directories for the core tests: write manifests, place (copy or link) the
// test plugins' libraries beside them, and assert on compaudit::Error's code, location and text.
#pragma once

#include <compaudit/error.h>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

namespace fs = std::filesystem;

namespace test {

/// A fresh directory under $TMPDIR, removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "compaudit-test-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

inline void write_file(const fs::path& file, const std::string& text) {
  fs::create_directories(file.parent_path());
  std::ofstream(file, std::ios::binary) << text;
}

inline std::string read_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// The built test plugin lib<name>.so.
inline fs::path plugin_lib(const std::string& name) { return fs::path(TEST_PLUGIN_DIR) / ("lib" + name + ".so"); }

/// Copies test plugin `name` into `dir` (a copy is a different file: its own library image).
inline void copy_plugin(const std::string& name, const fs::path& dir) {
  fs::create_directories(dir);
  fs::copy_file(plugin_lib(name), dir / ("lib" + name + ".so"), fs::copy_options::overwrite_existing);
}

/// Writes <dir>/<file>.toml for a plugin whose library is lib<lib>.so beside it.
inline fs::path write_manifest(const fs::path& dir, const std::string& file, const std::string& id,
                               const std::string& lib, const std::string& version = "1.0.0",
                               const std::string& kind = "compressor", const std::string& extra = "") {
  const fs::path path = dir / (file + ".toml");
  write_file(path, fmt::format("id = \"{}\"\nversion = \"{}\"\nkind = \"{}\"\nlibrary = \"lib{}.so\"\nabi = 1\n"
                               "description = \"test plugin\"\nlicense = \"MIT\"\n{}",
                               id, version, kind, lib, extra));
  return path;
}

/// A plugin directory holding test plugin `lib` and a manifest for it.
inline fs::path plugin_dir_with(const TempDir& tmp, const std::string& sub, const std::string& id,
                                const std::string& lib, const std::string& version = "1.0.0",
                                const std::string& kind = "compressor", const std::string& extra = "") {
  const fs::path dir = tmp / sub;
  copy_plugin(lib, dir);
  return write_manifest(dir, lib, id, lib, version, kind, extra);
}

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace test

/// Runs `expr`, requires it to throw a compaudit::Error (or subclass ERROR_T) and binds it to `error`.
#define REQUIRE_THROWS_ERROR(ERROR_T, error, expr)                   \
  std::optional<ERROR_T> error;                                      \
  try {                                                              \
    (void)(expr);                                                    \
  } catch (const ERROR_T& caught) {                                  \
    error.emplace(caught);                                           \
  }                                                                  \
  REQUIRE(error.has_value());                                        \
  INFO("error: " << error->what())
