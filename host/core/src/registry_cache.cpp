// The registry cache's file format (all integers little-endian, as this host writes them; strings are u32 length +
// bytes):
//   "CAUDREG4" | u32 crc | u32 abi | str compaudit version | u32 count
//              | count x { str file | i64 mtime_ns | u64 size | manifest }
//   crc      = zlib's CRC-32 of every byte after it (to the end of the file); a mismatch drops the whole cache
//   manifest = str id, version, description, license, sha256, library, path | u8 kind | i32 abi
//              | u32 n x param | u32 n x str need | u32 n x { str param, str refers_to } | u8 trains
//   param    = str name | u8 type | u8 has_default [value] | u8 has_min [f64] | u8 has_max [f64]
//              | u32 n x str choice | str doc
// The SDK ABI and compaudit's version are part of the header so that another host never trusts this one's entries.
#include "registry_cache.h"

#include <fmt/format.h>
#include <zlib.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace fs = std::filesystem;

namespace compaudit::host::detail {
namespace {

// '2': manifests gained refers_to; '3': the CRC-32; '4': trains. An older cache is ignored as a whole (and rewritten).
constexpr char kMagic[8] = {'C', 'A', 'U', 'D', 'R', 'E', 'G', '4'};
constexpr std::size_t kCrcAt = sizeof(kMagic);             // u32 CRC-32 of the bytes after it
constexpr std::size_t kBodyAt = kCrcAt + sizeof(std::uint32_t);
constexpr std::size_t kMaxEntries = 20000;                  // a search path with more is cached only in part
constexpr std::size_t kMaxFileBytes = std::size_t(64) << 20;  // far above kMaxEntries real manifests

std::uint32_t crc32_of(const char* data, std::size_t size) {
  uLong crc = ::crc32(0L, Z_NULL, 0);
  while (size > 0) {  // zlib takes uInt lengths
    const uInt n = static_cast<uInt>(std::min<std::size_t>(size, UINT_MAX));
    crc = ::crc32(crc, reinterpret_cast<const Bytef*>(data), n);
    data += n;
    size -= n;
  }
  return static_cast<std::uint32_t>(crc);
}

class Writer {
 public:
  template <class T>
  void pod(const T& v) { out_.append(reinterpret_cast<const char*>(&v), sizeof(T)); }
  void str(const std::string& s) {
    pod(static_cast<std::uint32_t>(s.size()));
    out_ += s;
  }
  void value(const ParamValue& v) {
    std::visit([this](const auto& x) { one(x); }, v);
  }
  std::string& data() { return out_; }

 private:
  void one(bool b) { pod(static_cast<std::uint8_t>(b)); }
  void one(std::int64_t i) { pod(i); }
  void one(double d) { pod(d); }
  void one(const std::string& s) { str(s); }
  template <class T>
  void one(const std::vector<T>& v) {
    pod(static_cast<std::uint32_t>(v.size()));
    for (const auto& x : v) one(x);
  }
  std::string out_;
};

// Reads with bounds checks; any inconsistency sets failed() and the whole cache is dropped.
class Reader {
 public:
  explicit Reader(const std::string& data) : data_(data) {}
  bool failed() const { return failed_; }
  bool at_end() const { return at_ == data_.size(); }
  template <class T>
  T pod() {
    T v{};
    if (data_.size() - at_ < sizeof(T)) {
      failed_ = true;
      return v;
    }
    std::memcpy(&v, data_.data() + at_, sizeof(T));
    at_ += sizeof(T);
    return v;
  }
  std::string str() {
    const auto n = pod<std::uint32_t>();
    if (failed_ || data_.size() - at_ < n) {
      failed_ = true;
      return {};
    }
    std::string s = data_.substr(at_, n);
    at_ += n;
    return s;
  }
  ParamValue value(ParamType type) {
    switch (type) {
      case ParamType::boolean: return pod<std::uint8_t>() != 0;
      case ParamType::integer: return pod<std::int64_t>();
      case ParamType::real: return pod<double>();
      case ParamType::string: return str();
      case ParamType::integer_list: return list<std::int64_t>([this] { return pod<std::int64_t>(); });
      case ParamType::real_list: return list<double>([this] { return pod<double>(); });
      case ParamType::string_list: return list<std::string>([this] { return str(); });
    }
    failed_ = true;
    return false;
  }

 private:
  template <class T, class F>
  std::vector<T> list(F one) {
    const auto n = pod<std::uint32_t>();
    std::vector<T> v;
    for (std::uint32_t i = 0; i < n && !failed_; ++i) v.push_back(one());
    return v;
  }
  const std::string& data_;
  std::size_t at_ = 0;
  bool failed_ = false;
};

void write_manifest(Writer& w, const Manifest& m) {
  for (const std::string* s : {&m.id, &m.version, &m.description, &m.license, &m.sha256, &m.library, &m.path})
    w.str(*s);
  w.pod(static_cast<std::uint8_t>(m.kind));
  w.pod(static_cast<std::int32_t>(m.abi));
  w.pod(static_cast<std::uint32_t>(m.params.size()));
  for (const auto& p : m.params) {
    w.str(p.name);
    w.pod(static_cast<std::uint8_t>(p.type));
    w.pod(static_cast<std::uint8_t>(p.default_value.has_value()));
    if (p.default_value) w.value(*p.default_value);
    w.pod(static_cast<std::uint8_t>(p.min.has_value()));
    if (p.min) w.pod(*p.min);
    w.pod(static_cast<std::uint8_t>(p.max.has_value()));
    if (p.max) w.pod(*p.max);
    w.pod(static_cast<std::uint32_t>(p.choices.size()));
    for (const auto& c : p.choices) w.str(c);
    w.str(p.doc);
  }
  w.pod(static_cast<std::uint32_t>(m.needs.size()));
  for (const auto& n : m.needs) w.str(n);
  w.pod(static_cast<std::uint32_t>(m.refers_to.size()));
  for (const auto& [param, what] : m.refers_to) {
    w.str(param);
    w.str(what);
  }
  w.pod(static_cast<std::uint8_t>(m.trains));
}

Manifest read_manifest(Reader& r) {
  Manifest m;
  for (std::string* s : {&m.id, &m.version, &m.description, &m.license, &m.sha256, &m.library, &m.path}) *s = r.str();
  const auto kind = r.pod<std::uint8_t>();
  if (kind < 1 || kind > 3) return Manifest{};  // an empty id makes the caller distrust the file
  m.kind = static_cast<PluginKind>(kind);
  m.abi = r.pod<std::int32_t>();
  const auto n_params = r.pod<std::uint32_t>();
  for (std::uint32_t i = 0; i < n_params && !r.failed(); ++i) {
    ParamSpec p;
    p.name = r.str();
    const auto type = r.pod<std::uint8_t>();
    if (type > static_cast<std::uint8_t>(ParamType::string_list)) return Manifest{};
    p.type = static_cast<ParamType>(type);
    if (r.pod<std::uint8_t>()) p.default_value = r.value(p.type);
    if (r.pod<std::uint8_t>()) p.min = r.pod<double>();
    if (r.pod<std::uint8_t>()) p.max = r.pod<double>();
    const auto n_choices = r.pod<std::uint32_t>();
    for (std::uint32_t c = 0; c < n_choices && !r.failed(); ++c) p.choices.push_back(r.str());
    p.doc = r.str();
    m.params.push_back(std::move(p));
  }
  const auto n_needs = r.pod<std::uint32_t>();
  for (std::uint32_t i = 0; i < n_needs && !r.failed(); ++i) m.needs.push_back(r.str());
  const auto n_refs = r.pod<std::uint32_t>();
  for (std::uint32_t i = 0; i < n_refs && !r.failed(); ++i) {
    std::string param = r.str();
    m.refers_to[param] = r.str();
  }
  m.trains = r.pod<std::uint8_t>() != 0;
  return m;
}

const char* file_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISFIFO(mode)) return "a fifo";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

// The file to write for a cache configured at `path`: `path` itself when nothing or a regular file is there, the
// link's target when it is a symlink to a regular file; "" (and `why`) for anything else.
std::string write_target(const std::string& path, std::string& why) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return path;  // created on save
    why = fmt::format("not accessible ({})", std::strerror(errno));
    return {};
  }
  if (S_ISREG(st.st_mode)) return path;
  if (!S_ISLNK(st.st_mode)) {
    why = file_kind(st.st_mode);
    return {};
  }
  const bool dangling = ::stat(path.c_str(), &st) != 0;
  if (dangling || !S_ISREG(st.st_mode)) {
    why = fmt::format("a symbolic link to {}", dangling ? "nothing" : file_kind(st.st_mode));
    return {};
  }
  std::error_code ec;
  std::string resolved = fs::canonical(path, ec).string();
  if (ec) why = ec.message();
  return ec ? std::string() : resolved;
}

// The whole of a regular file, or "" (missing, unreadable, too large, or not a regular file: never blocks on a
// fifo, never reads a device).
std::string read_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
  if (fd < 0) return {};
  std::string data;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
      static_cast<std::uint64_t>(st.st_size) <= kMaxFileBytes) {
    data.resize(static_cast<std::size_t>(st.st_size));
    std::size_t got = 0;
    while (got < data.size()) {
      const ssize_t n = ::read(fd, data.data() + got, data.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += static_cast<std::size_t>(n);
    }
    data.resize(got);  // a file that shrank meanwhile fails the CRC
  }
  ::close(fd);
  return data;
}

// Writes `data` to a new temporary file beside `target` and renames it over `target` if that is still absent or a
// regular file. False on any failure (the temporary file is removed).
bool write_atomically(const std::string& target, const std::string& data) {
  std::error_code ec;
  fs::create_directories(fs::path(target).parent_path(), ec);
  std::string tmp = target + ".XXXXXX";
  const int fd = ::mkostemp(tmp.data(), O_CLOEXEC);  // O_EXCL, mode 0600: a file nobody else has
  if (fd < 0) return false;
  bool ok = true;
  for (std::size_t put = 0; ok && put < data.size();) {
    const ssize_t n = ::write(fd, data.data() + put, data.size() - put);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) put += static_cast<std::size_t>(n);
  }
  ok = ::close(fd) == 0 && ok;
  struct stat st {};
  const bool replaceable = ::lstat(target.c_str(), &st) != 0 ? errno == ENOENT : S_ISREG(st.st_mode);
  // rename() is atomic: a concurrent reader sees the old cache or the new one, never half of either.
  if (ok && replaceable && ::rename(tmp.c_str(), target.c_str()) == 0) return true;
  ::unlink(tmp.c_str());
  return false;
}

}  // namespace

std::optional<FileStamp> stamp_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return FileStamp{std::int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec, std::uint64_t(st.st_size)};
}

std::string RegistryCache::default_path() {
  if (const char* p = std::getenv("COMPAUDIT_REGISTRY_CACHE")) return std::string(p) == "off" ? "" : p;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return std::string(xdg) + "/compaudit/registry.bin";
  if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.cache/compaudit/registry.bin";
  return {};
}

std::string RegistryCache::encode(const std::map<std::string, CachedManifest>& entries) {
  Writer w;
  w.data().append(kMagic, sizeof(kMagic));
  w.pod(std::uint32_t{0});  // the CRC, filled in below
  w.pod(static_cast<std::uint32_t>(COMPAUDIT_SDK_ABI_VERSION));
  w.str(COMPAUDIT_SDK_VERSION_STRING);  // another compaudit version may parse manifests differently
  w.pod(static_cast<std::uint32_t>(entries.size()));
  for (const auto& [file, e] : entries) {
    w.str(file);
    w.pod(e.stamp.mtime_ns);
    w.pod(e.stamp.size);
    write_manifest(w, e.manifest);
  }
  std::string& data = w.data();
  const std::uint32_t crc = crc32_of(data.data() + kBodyAt, data.size() - kBodyAt);
  std::memcpy(data.data() + kCrcAt, &crc, sizeof(crc));
  return std::move(data);
}

std::optional<std::map<std::string, CachedManifest>> RegistryCache::decode(const std::string& data) {
  if (data.size() < kBodyAt || std::memcmp(data.data(), kMagic, sizeof(kMagic)) != 0) return std::nullopt;
  std::uint32_t crc = 0;
  std::memcpy(&crc, data.data() + kCrcAt, sizeof(crc));
  if (crc != crc32_of(data.data() + kBodyAt, data.size() - kBodyAt)) return std::nullopt;
  Reader r(data);
  for (std::size_t i = 0; i < kBodyAt; ++i) r.pod<char>();
  if (r.pod<std::uint32_t>() != COMPAUDIT_SDK_ABI_VERSION || r.str() != COMPAUDIT_SDK_VERSION_STRING)
    return std::nullopt;
  const auto count = r.pod<std::uint32_t>();
  std::map<std::string, CachedManifest> entries;
  for (std::uint32_t i = 0; i < count && !r.failed(); ++i) {
    std::string file = r.str();
    CachedManifest e;
    e.stamp.mtime_ns = r.pod<std::int64_t>();
    e.stamp.size = r.pod<std::uint64_t>();
    e.manifest = read_manifest(r);
    if (e.manifest.id.empty()) return std::nullopt;  // inconsistent entry: distrust the whole file
    entries.emplace(std::move(file), std::move(e));
  }
  if (r.failed() || !r.at_end()) return std::nullopt;
  return entries;
}

RegistryCache::RegistryCache(std::string path, std::vector<std::string>* warnings) : path_(std::move(path)) {
  if (path_.empty()) return;
  std::string why;
  target_ = write_target(path_, why);
  if (target_.empty()) {
    if (warnings)
      warnings->push_back(fmt::format("registry cache {} is {}: running without the cache (remove it, or set "
                                      "COMPAUDIT_REGISTRY_CACHE to a file path or \"off\")", path_, why));
    path_.clear();
    return;
  }
  if (auto entries = decode(read_file(target_))) entries_ = std::move(*entries);
}

const Manifest* RegistryCache::find(const std::string& file, const FileStamp& stamp) const {
  auto it = entries_.find(file);
  return it != entries_.end() && it->second.stamp == stamp ? &it->second.manifest : nullptr;
}

void RegistryCache::put(const std::string& file, const FileStamp& stamp, const Manifest& manifest) {
  if (path_.empty()) return;
  if (entries_.size() >= kMaxEntries && !entries_.count(file)) return;
  CachedManifest& e = entries_[file];
  e.stamp = stamp;
  e.manifest = manifest;
  e.manifest.origin.clear();
  dirty_ = true;
}

void RegistryCache::retain(const std::unordered_set<std::string>& files) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (files.count(it->first)) {
      ++it;
    } else {
      it = entries_.erase(it);
      dirty_ = true;
    }
  }
}

void RegistryCache::save() const {
  if (!dirty_ || path_.empty()) return;
  write_atomically(target_, encode(entries_));
}

}  // namespace compaudit::host::detail
