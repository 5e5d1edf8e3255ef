// Fuzz target: plugin manifests — host::parse_manifest, and for a manifest that parses, discovery beside a rival
// manifest with the same id (Registry::discover, which ranks duplicates with compare_versions).
//
// Input: the bytes of a manifest file. It is written as <scratch>/a/plugin.toml beside libplugin.so, libdummy.so
// (empty regular files) and a directory adir/, so that `library = ...` can name a file that exists, a missing one or
// a directory. Contract: parse_manifest returns a manifest that satisfies the invariants below or throws
// compaudit::Error; nothing else may escape, crash or trip a sanitizer.
#include "fuzz_support.h"

#include <compaudit/host/manifest.h>
#include <compaudit/host/registry.h>

#include <set>

namespace {
namespace fs = std::filesystem;
using compaudit::host::compare_versions;

struct Layout {
  fs::path dir, manifest, rival_dir;
};

const Layout& layout() {
  static const Layout l = [] {
    Layout out;
    out.dir = fuzz::scratch_dir() / "a";
    out.rival_dir = fuzz::scratch_dir() / "b";
    fs::create_directories(out.dir / "adir");
    fs::create_directories(out.rival_dir);
    for (const fs::path& d : {out.dir, out.rival_dir}) {
      fuzz::write_file(d / "libplugin.so", "");
      fuzz::write_file(d / "libdummy.so", "");
    }
    out.manifest = out.dir / "plugin.toml";
    return out;
  }();
  return l;
}

void check_versions(const std::string& v) {
  for (const char* other : {"1.0.0", "0", "1.0.0-rc1", "18446744073709551616"}) {
    const int ab = compare_versions(v, other), ba = compare_versions(other, v);
    fuzz::require(ab == -ba, "compare_versions is antisymmetric");
  }
  fuzz::require(compare_versions(v, v) == 0, "compare_versions(v, v) == 0");
}

void check_manifest(const compaudit::host::Manifest& m) {
  fuzz::require(!m.id.empty() && m.id.find('.') != std::string::npos, "the id is a reverse-DNS name");
  fuzz::require(!m.version.empty(), "the version is not empty");
  fuzz::require(m.abi == COMPAUDIT_SDK_ABI_VERSION, "the abi is the host's");
  fuzz::require(m.library.rfind(layout().dir.string() + "/", 0) == 0, "the library is inside the manifest's directory");
  fuzz::require(m.sha256.empty() || m.sha256.size() == 64, "sha256 is empty or 64 digits");
  std::set<std::string> names;
  for (const auto& spec : m.params) {
    fuzz::require(names.insert(spec.name).second, "parameter names are unique");
    if (spec.default_value)
      fuzz::require(compaudit::check_value(spec, *spec.default_value).empty(), "a default passes its own checks");
  }
  check_versions(m.version);
}

// Discovery with a rival manifest of the same id in a second search directory: the higher version must win.
void check_discovery(const compaudit::host::Manifest& m) {
  const std::string rival = "id = \"" + m.id + "\"\nversion = \"1.0.0\"\nkind = \"" + compaudit::to_string(m.kind) +
                            "\"\nlibrary = \"libplugin.so\"\nabi = " + std::to_string(COMPAUDIT_SDK_ABI_VERSION) +
                            "\n";
  fuzz::write_file(layout().rival_dir / "rival.toml", rival);
  compaudit::host::SearchPaths paths;
  paths.dirs = {{layout().dir.string(), "--plugin-path"}, {layout().rival_dir.string(), "user"}};
  const auto registry = compaudit::host::Registry::discover(paths);
  const compaudit::host::Manifest* winner = registry.find(m.id);
  fuzz::require(winner != nullptr, "a manifest that parses is discovered");
  fuzz::require(registry.errors().empty(), "discovery reports no errors for two good manifests");
  fuzz::require(compare_versions(winner->version, m.version) >= 0 && compare_versions(winner->version, "1.0.0") >= 0,
                "the highest version wins");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const Layout& l = layout();
  fuzz::write_file(l.manifest, data, size);
  compaudit::host::Manifest m;
  try {
    m = compaudit::host::parse_manifest(l.manifest.string());
  } catch (const compaudit::Error& e) {
    fuzz::check_error(e);
    return 0;
  }
  check_manifest(m);
  check_discovery(m);
  return 0;
}
