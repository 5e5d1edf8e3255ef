// registry_cache.h (internal) — parsed manifests kept between runs, keyed by manifest path, mtime and size.
//
// Parsing TOML is most of what discovery costs (about 40 us per manifest here); with the cache, an unchanged
// manifest costs one stat. Like GStreamer's registry cache: a magic and version header, written to a temporary file
// and renamed, and any unreadable or inconsistent cache is ignored as a whole. Only manifests that parsed are cached;
// a changed file (mtime or size) is parsed again. The library's existence is still checked on every run.
//
// Location: $COMPAUDIT_REGISTRY_CACHE (a file path, or "off"), else $XDG_CACHE_HOME/compaudit/registry.bin, else
// ~/.cache/compaudit/registry.bin.
#pragma once

#include <compaudit/host/manifest.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace compaudit::host::detail {

struct FileStamp {
  std::int64_t mtime_ns = 0;
  std::uint64_t size = 0;
  bool operator==(const FileStamp& o) const { return mtime_ns == o.mtime_ns && size == o.size; }
};

/// stat() of a file, or nullopt.
std::optional<FileStamp> stamp_of(const std::string& path);

struct CachedManifest {
  FileStamp stamp;
  Manifest manifest;  // origin not stored
};

class RegistryCache {
 public:
  /// The configured cache file, or "" when caching is off or no location is known.
  static std::string default_path();
  /// Loads `path`; a missing or invalid file gives an empty cache.
  explicit RegistryCache(std::string path);

  /// The cached manifest for `file` if its stamp matches, else null.
  const Manifest* find(const std::string& file, const FileStamp& stamp) const;
  /// Records a freshly parsed manifest.
  void put(const std::string& file, const FileStamp& stamp, const Manifest& manifest);
  /// Writes the cache if anything was put (temporary file + rename). Failures are silent: it is only a cache.
  void save() const;

 private:
  std::string path_;
  std::map<std::string, CachedManifest> entries_;
  bool dirty_ = false;
};

}  // namespace compaudit::host::detail
