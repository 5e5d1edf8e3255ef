// tests/support/plugin_loading.h — creates built-in plugins the way the host does: the manifest beside the built
// library is parsed by host::parse_manifest, the parameters are resolved against its schema, and the library is
// opened and checked by host::Loader. So every plugin test also checks that the manifest parses and matches its
// library. Needs COMPAUDIT_TEST_PLUGIN_DIR (the build's plugin directory) and compaudit_host.
#pragma once

#include <compaudit/host/loader.h>
#include <compaudit/host/manifest.h>

#include <map>
#include <memory>
#include <string>

namespace compaudit::test {

/// The manifest `<name>.toml` in the build's plugin directory (e.g. "metric_pie"), as discovery reads it.
inline host::Manifest built_manifest(const std::string& name) {
  return host::parse_manifest(std::string(COMPAUDIT_TEST_PLUGIN_DIR) + "/" + name + ".toml");
}

/// Instantiates the plugin of built_manifest(name) with `given` resolved against its schema (Error(parameters)
/// exactly as validation would); a plugin whose constructor throws fails as in a run (Error(runtime) naming it).
template <class T>
std::shared_ptr<T> make_plugin(const std::string& name, const std::map<std::string, ParamValue>& given = {}) {
  static host::Loader loader;  // libraries stay loaded as long as any instance lives, even past the loader
  const host::Manifest manifest = built_manifest(name);
  return loader.instantiate_as<T>(manifest, Params::resolve(manifest.params, given, name));
}

}  // namespace compaudit::test
