// Discovery: walk the search path, parse every manifest, keep the winner of each id. No library is opened here;
// that is what keeps `compaudit plugins list` fast (see bench/discovery).
#include <compaudit/host/registry.h>

#include <fmt/format.h>

#include <dlfcn.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>

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

bool world_writable(const fs::path& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return false;
  return (st.st_mode & S_IWOTH) != 0;
}

// Manifests under `dir`, sorted so that discovery does not depend on directory order.
std::vector<fs::path> manifest_files(const fs::path& dir, std::vector<std::string>& warnings) {
  std::vector<fs::path> files;
  std::error_code ec;
  if (world_writable(dir))
    warnings.push_back(fmt::format("plugin directory {} is world-writable: anyone on this machine can add plugins "
                                   "to it", dir.string()));
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end;
  if (ec) {
    warnings.push_back(fmt::format("cannot read plugin directory {}: {}", dir.string(), ec.message()));
    return files;
  }
  for (; it != end; it.increment(ec)) {
    if (ec) break;
    const auto& entry = *it;
    std::error_code type_ec;
    if (entry.is_directory(type_ec)) {
      if (world_writable(entry.path()))
        warnings.push_back(fmt::format("plugin directory {} is world-writable: anyone on this machine can add "
                                       "plugins to it", entry.path().string()));
      continue;
    }
    if (entry.path().extension() == ".toml" && entry.is_regular_file(type_ec)) files.push_back(entry.path());
  }
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
  return paths;
}

Registry Registry::discover(const SearchPaths& paths) {
  Registry registry;
  registry.paths_ = paths;
  std::vector<Manifest> found;                 // winners so far, in discovery order
  std::map<std::string, std::size_t> by_id;    // id -> index in found
  std::set<std::string> seen_files;            // canonical manifest paths: a directory listed twice counts once
  for (const auto& [dir, origin] : paths.dirs) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
    for (const fs::path& file : manifest_files(dir, registry.warnings_)) {
      const std::string canonical = fs::weakly_canonical(file, ec).string();
      if (!seen_files.insert(canonical).second) continue;
      Manifest m;
      try {
        m = parse_manifest(file.string());
      } catch (const Error& e) {
        registry.errors_.push_back(e);
        continue;
      } catch (const std::exception& e) {
        registry.errors_.push_back(Error(ErrorCode::manifest, e.what(), {file.string()}));
        continue;
      }
      m.origin = origin;
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
