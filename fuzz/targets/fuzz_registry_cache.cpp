// Fuzz target: the registry cache file (host/core/src/registry_cache.h) — RegistryCache::decode, and discovery with
// the bytes as its cache file.
//
// Input: the bytes of a cache file. The CRC-32 rejects almost every mutation before the entries are parsed, so when
// the input starts with the magic its CRC field is recomputed over the rest first (the fuzzer then explores the
// entry parser); every input is also decoded as is, so the check itself is fuzzed too. Contract: decode() returns nullopt or entries that encode() writes back and decode()
// reads again unchanged; Registry::discover with that file as its cache never throws, and still reports the one
// real plugin of its search path under its own id (a cache can never rename a plugin).
#include "fuzz_support.h"

#include "registry_cache.h"

#include <compaudit/host/registry.h>

#include <zlib.h>

#include <cstring>

namespace {
namespace fs = std::filesystem;
using compaudit::host::detail::RegistryCache;

constexpr std::size_t kCrcAt = 8, kBodyAt = 12;  // after "CAUDREG4"; see registry_cache.cpp

struct Layout {
  compaudit::host::SearchPaths paths;
};

const Layout& layout() {
  static const Layout l = [] {
    Layout out;
    const fs::path dir = fuzz::scratch_dir() / "plugins";
    fs::create_directories(dir);
    fuzz::write_file(dir / "libreal.so", "");
    const std::string manifest = "id = \"org.fuzz.compressor.real\"\nversion = \"1.0.0\"\nkind = \"compressor\"\n"
                                 "library = \"libreal.so\"\nabi = 1\n";
    fuzz::write_file(dir / "real.toml", manifest);
    out.paths.dirs = {{dir.string(), "--plugin-path"}};
    out.paths.cache_file = (fuzz::scratch_dir() / "registry.bin").string();
    return out;
  }();
  return l;
}

std::string with_valid_crc(std::string data) {
  if (data.size() < kBodyAt || std::memcmp(data.data(), "CAUDREG", 7) != 0) return data;
  const auto crc = static_cast<std::uint32_t>(
      ::crc32(0L, reinterpret_cast<const Bytef*>(data.data() + kBodyAt), static_cast<uInt>(data.size() - kBodyAt)));
  std::memcpy(data.data() + kCrcAt, &crc, sizeof(crc));
  return data;
}

void check_round_trip(const std::string& data) {
  const auto entries = RegistryCache::decode(data);
  if (!entries) return;
  const auto again = RegistryCache::decode(RegistryCache::encode(*entries));
  if (!again || again->size() != entries->size()) std::abort();
  for (const auto& [file, e] : *entries) {
    const auto it = again->find(file);
    if (it == again->end() || it->second.manifest.id != e.manifest.id || !(it->second.stamp == e.stamp)) std::abort();
  }
}

void check_discovery(const std::string& data) {
  const Layout& l = layout();
  fuzz::write_file(l.paths.cache_file, data);
  const auto registry = compaudit::host::Registry::discover(l.paths);  // must not throw
  // Only a cache entry stamped like real.toml could stand in for it; the fuzzer cannot know the stamp, so the
  // real manifest must come back as itself.
  if (registry.find("org.fuzz.compressor.real") == nullptr) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  const std::string raw(reinterpret_cast<const char*>(bytes), size);
  const std::string fixed = with_valid_crc(raw);
  check_round_trip(raw);
  check_round_trip(fixed);
  check_discovery(fixed);
  return 0;
}
