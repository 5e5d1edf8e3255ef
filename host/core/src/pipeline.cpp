// load_pipeline(): parse, check against the registry, expand. Never opens a plugin library.
#include <compaudit/host/pipeline.h>

#include "pipeline_detail.h"

#include <fstream>
#include <optional>
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
  // Layer names and types come from [model] alone (the data would only add shapes), so no data file is read. A
  // TorchScript archive this reader cannot parse leaves its layer patterns to be checked when a cell runs.
  std::optional<ModelSignature> model;
  if (p.model.arch != "predictions") {
    try {
      model = model_signature(p.model);
    } catch (const Error&) {
      if (p.model.arch != "torchscript") throw;
    }
  }
  if (model) detail::check_checkpoints_agree(p.model, *model);
  detail::read_plugin_uses(root, file, registry, p, model ? &*model : nullptr);
  return p;
}

}  // namespace compaudit::host
