// load_pipeline(): parse, check against the registry, expand. Never opens a plugin library.
#include <compaudit/host/pipeline.h>

#include "pipeline_detail.h"

#include <fstream>
#include <sstream>

namespace fs = std::filesystem;

namespace compaudit::host {

Pipeline load_pipeline(const std::string& path, const Registry& registry) {
  const std::string file = fs::absolute(path).lexically_normal().string();
  Pipeline p;
  p.path = file;
  p.toml = detail::read_small_file(file, ErrorCode::pipeline);
  toml::table root;
  try {
    root = toml::parse(p.toml, file);
  } catch (const toml::parse_error& e) {
    throw Error(ErrorCode::pipeline, std::string("TOML syntax error: ") + std::string(e.description()),
                detail::location(e.source(), file));
  }
  detail::read_sections(root, file, fs::path(file).parent_path(), p);
  detail::read_plugin_uses(root, file, registry, p);
  return p;
}

}  // namespace compaudit::host
