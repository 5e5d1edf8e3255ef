// compaudit/host/registry.h — discovering plugins from their manifests, without opening any library.
//
// Search order (first listed is searched first):
//   1. "--plugin-path"           directories given on the command line
//   2. "COMPAUDIT_PLUGIN_PATH"   colon-separated directories from the environment
//   3. "user"                    $XDG_DATA_HOME/compaudit/plugins, else ~/.local/share/compaudit/plugins
//   4. "system"                  <install prefix>/<libdir>/compaudit/plugins (when it differs from the built-ins)
//   5. "built-in"                builtin_plugin_dir()
// Every directory is searched recursively for `*.toml` files. Two manifests with one id: the higher version wins,
// then the one found earlier in this order; a warning names both files. A manifest that fails to parse becomes an
// entry of errors() and discovery goes on. Parsed manifests are cached between runs (SearchPaths::cache_file), so an
// unchanged manifest costs one stat. See docs/manifests.md.
#pragma once

#include <compaudit/error.h>
#include <compaudit/host/manifest.h>

#include <string>
#include <utility>
#include <vector>

namespace compaudit::host {

struct SearchPaths {
  std::vector<std::pair<std::string, std::string>> dirs;  ///< (directory, origin), in search order.
  /// Where parsed manifests are cached between runs (keyed by path, mtime and size), or "" for no cache.
  /// standard() sets $COMPAUDIT_REGISTRY_CACHE ("off" disables), else $XDG_CACHE_HOME/compaudit/registry.bin, else
  /// ~/.cache/compaudit/registry.bin. See docs/manifests.md.
  std::string cache_file;

  /// The standard order above, with `cli_paths` first. Directories that do not exist are kept (and skipped
  /// silently at discovery) so that `plugins list --json` can show where it looked.
  static SearchPaths standard(const std::vector<std::string>& cli_paths);
};

class Registry {
 public:
  /// Scans every directory. Never throws for a bad manifest or directory: see errors() and warnings().
  static Registry discover(const SearchPaths& paths);

  /// The winning manifest for `id`, or null. The pointer lives as long as this Registry.
  const Manifest* find(const std::string& id) const;
  /// Winning manifests, sorted by id.
  const std::vector<Manifest>& plugins() const { return plugins_; }
  /// Duplicate ids, world-writable directories.
  const std::vector<std::string>& warnings() const { return warnings_; }
  /// Manifests that failed to parse (each an Error(manifest) with file:line:column).
  const std::vector<Error>& errors() const { return errors_; }
  /// The directories searched, in order (as given to discover()).
  const SearchPaths& search_paths() const { return paths_; }

 private:
  SearchPaths paths_;
  std::vector<Manifest> plugins_;
  std::vector<std::string> warnings_;
  std::vector<Error> errors_;
};

/// <libdir>/compaudit/plugins next to the host library (build tree and install tree alike).
std::string builtin_plugin_dir();
/// The directory holding libcompaudit_host.so (found with dladdr on a function of this library).
std::string host_library_dir();

}  // namespace compaudit::host
