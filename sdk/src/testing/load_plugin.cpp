// testing::load_plugin_object (compaudit/testing.h): the host's own manifest parser, parameter resolution and
// loader, so a plugin under test passes exactly the checks it meets in `compaudit run`.
#include <compaudit/host/loader.h>
#include <compaudit/host/manifest.h>
#include <compaudit/testing.h>

namespace compaudit::testing {

std::shared_ptr<Plugin> load_plugin_object(const std::string& manifest_path,
                                           const std::map<std::string, ParamValue>& given) {
  const host::Manifest manifest = host::parse_manifest(manifest_path);
  const Params params = Params::resolve(manifest.params, given, manifest.id);
  host::Loader loader;  // the object pins its library; the loader may go
  return loader.instantiate(manifest, params);
}

}  // namespace compaudit::testing
