// load_pipeline(): parse, check against the registry, expand. Never opens a plugin library.
#include <compaudit/host/pipeline.h>

#include "pipeline_detail.h"

#include <compaudit/host/error_list.h>

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
  // Every independent part is checked even after another failed, and all errors are thrown together
  // (compaudit/host/error_list.h); what depends on a part that failed is not checked, so no error is a mere echo.
  ErrorCollector errors;
  const bool settled = detail::read_sections(root, file, fs::path(file).parent_path(), p, errors);
  // Layer names and types come from [model] alone (the data would only add shapes), so no data file is read. A
  // TorchScript archive this reader cannot parse leaves its layer patterns to be checked when a cell runs.
  std::optional<ModelSignature> model;
  if (settled && p.model.arch != "predictions")
    errors.check([&] {
      try {
        model = model_signature(p.model);
      } catch (const Error&) {
        if (p.model.arch != "torchscript") throw;
      }
      if (model) detail::check_checkpoints_agree(p.model, *model);
    });
  errors.check([&] { detail::read_plugin_uses(root, file, registry, p, model ? &*model : nullptr, errors); });
  errors.throw_if_any();
  return p;
}

}  // namespace compaudit::host
