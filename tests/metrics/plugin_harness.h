// plugin_harness.h — creates built-in plugins the way the host does: the manifest beside the built library is
// parsed by host::parse_manifest, the parameters resolved against its schema, and the library opened and checked
// by host::Loader. So every test also checks that the manifest parses and matches its library.
#pragma once

#include <compaudit/host/loader.h>
#include <compaudit/host/manifest.h>

#include <map>
#include <memory>
#include <string>

namespace compaudit::test {

/// Instantiates the plugin whose manifest is `<name>.toml` in the build's plugin directory, e.g. "metric_pie".
template <class T>
std::shared_ptr<T> make_plugin(const std::string& name, const std::map<std::string, ParamValue>& given = {}) {
  static host::Loader loader;  // libraries stay loaded as long as any instance lives, even past the loader
  const host::Manifest manifest = host::parse_manifest(std::string(COMPAUDIT_TEST_PLUGIN_DIR) + "/" + name + ".toml");
  return loader.instantiate_as<T>(manifest, Params::resolve(manifest.params, given, name));
}

}  // namespace compaudit::test
