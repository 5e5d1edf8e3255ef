// Discovery: walk the search path, parse every manifest, keep the winner of each id. No library is opened here;
// that is what keeps `compaudit plugins list` fast (see bench/discovery).
#include <compaudit/host/registry.h>

#include "manifest_internal.h"
#include "registry_cache.h"

#include <fmt/format.h>

#include <dirent.h>
#include <dlfcn.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <thread>
#include <unordered_set>

namespace fs = std::filesystem;

namespace compaudit::host {
namespace {

void split_colons(const std::string& text, const std::string& origin,
                  std::vector<std::pair<std::string, std::string>>& out) {
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find(':', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) out.emplace_back(text.substr(start, end - start), origin);
    start = end + 1;
  }
}

std::string user_plugin_dir() {
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg) return std::string(xdg) + "/compaudit/plugins";
  if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.local/share/compaudit/plugins";
  return {};
}

std::string world_writable_warning(const std::string& dir) {
  return fmt::format("plugin directory {} is world-writable: anyone on this machine can add plugins to it", dir);
}

// `dir`/`name` without doubling the slash of the root directory.
std::string join(const std::string& dir, const std::string& name) {
  return dir.size() == 1 && dir[0] == '/' ? dir + name : dir + "/" + name;
}

bool ends_with_toml(const char* name) {
  const std::size_t n = std::strlen(name);
  return n > 5 && std::strcmp(name + n - 5, ".toml") == 0;
}

// One directory walk of discovery. POSIX readdir rather than std::filesystem's recursive iterator, for two reasons:
// readdir's d_type tells files from directories without a stat per entry (discovery of 1,000 plugins must stay under
// 50 ms, bench/discovery), and an unreadable subdirectory gives a warning and the walk goes on (the iterator either
// skips it silently or ends the whole walk). Directory symlinks are not followed, so there are no cycles.
struct Walk {
  std::vector<std::pair<fs::path, std::string>>& files;  // (manifest path, canonical path)
  std::vector<std::string>& warnings;
  std::unordered_set<std::string>& regular_files;

  // `dir` is absolute and normal; `canonical` is its real path (the root's realpath, then names appended, since
  // only real directories are entered).
  void visit(const std::string& dir, const std::string& canonical) {
    DIR* d = ::opendir(dir.c_str());
    if (!d) {
      warnings.push_back(fmt::format("cannot read plugin directory {}: {} (its plugins are skipped)", dir,
                                     std::strerror(errno)));
      return;
    }
    struct stat st {};
    if (::fstat(::dirfd(d), &st) == 0 && (st.st_mode & S_IWOTH)) warnings.push_back(world_writable_warning(dir));
    std::vector<std::string> subdirs;
    errno = 0;
    while (const dirent* e = ::readdir(d)) {
      const char* name = e->d_name;
      if (std::strcmp(name, ".") == 0 || std::strcmp(name, "..") == 0) continue;
      std::string path = join(dir, name);
      unsigned char type = e->d_type;
      if (type == DT_UNKNOWN) {  // file systems without d_type
        struct stat est {};
        type = ::lstat(path.c_str(), &est) != 0 ? DT_UNKNOWN
               : S_ISDIR(est.st_mode)           ? DT_DIR
               : S_ISREG(est.st_mode)           ? DT_REG
               : S_ISLNK(est.st_mode)           ? DT_LNK
                                                : DT_UNKNOWN;
      }
      if (type == DT_DIR) {
        subdirs.push_back(name);
      } else if (type == DT_REG) {
        if (ends_with_toml(name)) files.emplace_back(path, join(canonical, name));
        regular_files.insert(std::move(path));
      } else if (type == DT_LNK && ends_with_toml(name)) {  // a symlinked manifest counts if it ends at a file
        struct stat est {};
        std::error_code ec;
        if (::stat(path.c_str(), &est) == 0 && S_ISREG(est.st_mode))
          files.emplace_back(path, fs::weakly_canonical(path, ec).string());
      }
      errno = 0;
    }
    if (errno != 0)
      warnings.push_back(fmt::format("cannot read all of plugin directory {}: {}", dir, std::strerror(errno)));
    ::closedir(d);
    for (const auto& sub : subdirs) visit(join(dir, sub), join(canonical, sub));
  }
};

// Manifests under `dir` as (absolute path, canonical path), sorted so that discovery does not depend on directory
// order. The canonical path (to read a directory listed twice only once) costs one realpath for the root; below it,
// only symlinked files need their own. Every regular file seen goes into `regular_files` (libraries then need no
// stat). This keeps discovery at a few system calls per manifest (bench/discovery).
std::vector<std::pair<fs::path, std::string>> manifest_files(const fs::path& dir, std::vector<std::string>& warnings,
                                                             std::unordered_set<std::string>& regular_files) {
  std::vector<std::pair<fs::path, std::string>> files;
  std::error_code ec;
  const fs::path root = fs::canonical(dir, ec);
  if (ec) {
    warnings.push_back(fmt::format("cannot read plugin directory {}: {} (its plugins are skipped)", dir.string(),
                                   ec.message()));
    return files;
  }
  std::string start = fs::absolute(dir, ec).lexically_normal().string();
  while (start.size() > 1 && start.back() == '/') start.pop_back();  // "a/b/" normalises with a trailing slash
  Walk{files, warnings, regular_files}.visit(start, root.string());
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

SearchPaths SearchPaths::standard(const std::vector<std::string>& cli_paths) {
  SearchPaths paths;
  for (const auto& p : cli_paths) split_colons(p, "--plugin-path", paths.dirs);
  if (const char* env = std::getenv("COMPAUDIT_PLUGIN_PATH")) split_colons(env, "COMPAUDIT_PLUGIN_PATH", paths.dirs);
  if (auto user = user_plugin_dir(); !user.empty()) paths.dirs.emplace_back(user, "user");
  const std::string builtin = builtin_plugin_dir();
#ifdef COMPAUDIT_SYSTEM_PLUGIN_DIR
  // The install prefix's plugin directory; when this host runs from that prefix it *is* the built-in directory.
  std::error_code ec;
  if (!fs::equivalent(COMPAUDIT_SYSTEM_PLUGIN_DIR, builtin, ec))
    paths.dirs.emplace_back(COMPAUDIT_SYSTEM_PLUGIN_DIR, "system");
#endif
  paths.dirs.emplace_back(builtin, "built-in");
  paths.cache_file = detail::RegistryCache::default_path();
  return paths;
}

namespace {
struct Candidate {
  fs::path file;
  std::string origin;
  std::optional<Manifest> manifest;
  std::optional<Error> error;
  std::optional<detail::FileStamp> stamp;  // of the manifest file, for the cache
  bool cached = false;                     // taken from the cache, not parsed
};

// An unchanged manifest comes from the cache (one stat); its library must still be a regular file.
void parse_one(Candidate& c, const std::unordered_set<std::string>& regular_files, const detail::RegistryCache& cache) {
  c.stamp = detail::stamp_of(c.file.string());
  if (c.stamp) {
    // The walk gives absolute, normal paths: the key is the path parse_manifest() records as Manifest::path.
    if (const Manifest* m = cache.find(c.file.string(), *c.stamp)) {
      std::error_code ec;
      if (regular_files.count(m->library) || fs::is_regular_file(m->library, ec)) {
        c.manifest = *m;
        c.manifest->origin = c.origin;
        c.cached = true;
        return;
      }
    }
  }
  try {
    c.manifest = detail::parse_manifest(c.file.string(), &regular_files);
    c.manifest->origin = c.origin;
  } catch (const Error& e) {
    c.error = e;
  } catch (const std::exception& e) {
    c.error = Error(ErrorCode::manifest, e.what(), {c.file.string()});
  }
}

// Parses every candidate. Manifests are independent, so a large search path is parsed on up to 4 threads; results
// stay in search order, so the outcome does not depend on the thread count.
void parse_all(std::vector<Candidate>& candidates, const std::unordered_set<std::string>& regular_files,
               const detail::RegistryCache& cache) {
  std::size_t threads =
      candidates.size() < 128 ? 1 : std::min<std::size_t>(4, std::max(1u, std::thread::hardware_concurrency()));
  if (const char* t = std::getenv("COMPAUDIT_DISCOVERY_THREADS")) threads = std::max(1, std::atoi(t));
  if (threads == 1) {
    for (auto& c : candidates) parse_one(c, regular_files, cache);
    return;
  }
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    for (std::size_t i; (i = next.fetch_add(16)) < candidates.size();)
      for (std::size_t j = i; j < std::min(i + 16, candidates.size()); ++j) parse_one(candidates[j], regular_files, cache);
  };
  std::vector<std::thread> pool;
  for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
}
}  // namespace

Registry Registry::discover(const SearchPaths& paths) {
  Registry registry;
  registry.paths_ = paths;
  std::vector<Candidate> candidates;
  std::set<std::string> seen_files;  // canonical manifest paths: a directory listed twice counts once
  std::unordered_set<std::string> regular_files;  // seen by the walks: libraries that need no stat
  for (const auto& [dir, origin] : paths.dirs) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
    for (auto& [file, canonical] : manifest_files(dir, registry.warnings_, regular_files))
      if (seen_files.insert(canonical).second) candidates.push_back({std::move(file), origin, {}, {}});
  }
  detail::RegistryCache cache(paths.cache_file, &registry.warnings_);
  parse_all(candidates, regular_files, cache);
  // The cache keeps what this discovery found and nothing else (bounded by the search path, as GStreamer's registry).
  std::unordered_set<std::string> found_files;
  for (const auto& c : candidates)
    if (c.manifest) found_files.insert(c.manifest->path);
  cache.retain(found_files);
  for (const auto& c : candidates)
    if (c.manifest && !c.cached && c.stamp) cache.put(c.manifest->path, *c.stamp, *c.manifest);
  cache.save();

  std::vector<Manifest> found;               // winners so far, in discovery order
  std::map<std::string, std::size_t> by_id;  // id -> index in found
  found.reserve(candidates.size());
  for (auto& c : candidates) {
    if (c.error) {
      registry.errors_.push_back(std::move(*c.error));
      continue;
    }
    Manifest& m = *c.manifest;
    auto it = by_id.find(m.id);
    if (it == by_id.end()) {
      by_id.emplace(m.id, found.size());
      found.push_back(std::move(m));
      continue;
    }
    Manifest& kept = found[it->second];
    const int order = compare_versions(m.version, kept.version);
    const Manifest& winner = order > 0 ? m : kept;
    const Manifest& loser = order > 0 ? kept : m;
    const char* why = order == 0 ? "same version, found earlier in the search path" : "higher version";
    registry.warnings_.push_back(fmt::format(
        "plugin {} is provided twice: using {} (version {}, {}) over {} (version {}, {}) — {}", m.id, winner.path,
        winner.version, winner.origin, loser.path, loser.version, loser.origin, why));
    if (order > 0) kept = std::move(m);
  }
  std::sort(found.begin(), found.end(), [](const Manifest& a, const Manifest& b) { return a.id < b.id; });
  registry.plugins_ = std::move(found);
  return registry;
}

const Manifest* Registry::find(const std::string& id) const {
  auto it = std::lower_bound(plugins_.begin(), plugins_.end(), id,
                             [](const Manifest& m, const std::string& key) { return m.id < key; });
  return it != plugins_.end() && it->id == id ? &*it : nullptr;
}

std::string host_library_dir() {
  Dl_info info{};
  if (::dladdr(reinterpret_cast<void*>(&host_library_dir), &info) == 0 || !info.dli_fname) return ".";
  std::error_code ec;
  fs::path lib = fs::canonical(info.dli_fname, ec);
  if (ec) lib = fs::absolute(info.dli_fname);
  return lib.parent_path().string();
}

std::string builtin_plugin_dir() { return (fs::path(host_library_dir()) / "compaudit" / "plugins").string(); }

}  // namespace compaudit::host
