// registry_cache.h (internal) — parsed manifests kept between runs, keyed by manifest path, mtime and size.
//
// Parsing TOML is most of what discovery costs (about 40 us per manifest here); with the cache, an unchanged
// manifest costs one stat. Like GStreamer's registry cache: a magic and version header, written to a temporary file
// and renamed, and any unreadable or inconsistent cache is ignored as a whole. Only manifests that parsed are cached;
// a changed file (mtime or size) is parsed again. The library's existence is still checked on every run.
//
// Integrity: a CRC-32 (zlib's) covers everything after it; a cache whose checksum does not match is dropped as a
// whole, so a flipped byte can never rename a plugin. CRC-32 rather than SHA-256: it detects every
// error burst up to 32 bits for certain, and at ~1 GB/s it costs ~1 ms of the 50 ms budget of listing 1,000 plugins
// where SHA-256 would cost ~6 ms; the cache guards against accidents, not adversaries (who could rewrite a manifest).
//
// Bound: the cache keeps only the manifests the current discovery found (retain()), as GStreamer's registry drops
// plugins no longer on its path, so temporary plugin folders do not accumulate (item 10).
//
// Safety: the cache is only ever a regular file we create. It is written to a fresh temporary file (mkostemp, same
// directory) and renamed over the target only while that is absent or a regular file; a symlink to a regular file
// is followed (the link stays). Anything else at the path — a directory, device, fifo, socket, or a symlink to one —
// turns the cache off for this process with one warning (item 1).
//
// Location: $COMPAUDIT_REGISTRY_CACHE (a file path, or "off"), else $XDG_CACHE_HOME/compaudit/registry.bin, else
// ~/.cache/compaudit/registry.bin.
#pragma once

#include <compaudit/host/manifest.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

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
  /// Loads `path`; a missing or invalid file gives an empty cache. Something other than a regular file at `path`
  /// turns the cache off, with a warning appended to `warnings` (when given).
  explicit RegistryCache(std::string path, std::vector<std::string>* warnings = nullptr);

  /// The cached manifest for `file` if its stamp matches, else null.
  const Manifest* find(const std::string& file, const FileStamp& stamp) const;
  /// Records a freshly parsed manifest.
  void put(const std::string& file, const FileStamp& stamp, const Manifest& manifest);
  /// Drops every entry whose file is not in `files` (the manifests this discovery found).
  void retain(const std::unordered_set<std::string>& files);
  /// Writes the cache if anything changed (temporary file + rename). Failures are silent: it is only a cache.
  void save() const;

  /// The file format's bytes for these entries, and back (for tests and fuzz/targets/fuzz_registry_cache.cpp):
  /// decode() returns nullopt for anything but an intact cache of this host's ABI and version.
  static std::string encode(const std::map<std::string, CachedManifest>& entries);
  static std::optional<std::map<std::string, CachedManifest>> decode(const std::string& data);

 private:
  std::string path_;    // as configured ("" = off)
  std::string target_;  // the regular file written: path_, or what a symlink at path_ points to
  std::map<std::string, CachedManifest> entries_;
  bool dirty_ = false;
};

}  // namespace compaudit::host::detail
