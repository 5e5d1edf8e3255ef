// Entry points of compaudit_models: make_model dispatches on the pipeline's [model].arch.
#include "builtin_model.h"

#include <compaudit/error.h>
#include <compaudit/host/pipeline.h>

#include <fmt/format.h>

#include <filesystem>

namespace compaudit::models {

TrainableModel::~TrainableModel() = default;

std::unique_ptr<TrainableModel> make_builtin_model(const std::string& arch, const std::vector<std::int64_t>& hidden,
                                                   std::vector<std::int64_t> input_shape, int num_classes,
                                                   std::int64_t seed) {
  Recipe recipe;
  if (arch == "mlp") {
    recipe = Recipe::mlp;
  } else if (arch == "cnn") {
    recipe = Recipe::cnn;
  } else if (arch == "resnet") {
    recipe = Recipe::resnet;
  } else {
    throw Error(ErrorCode::pipeline,
                fmt::format("unknown model arch '{}' (known: mlp, cnn, resnet, torchscript)", arch));
  }
  return build_builtin(recipe, hidden, std::move(input_shape), num_classes, seed);
}

std::unique_ptr<TrainableModel> make_model(const host::ModelSpec& spec, std::vector<std::int64_t> input_shape,
                                           int num_classes, std::int64_t seed, const std::string& pipeline_dir) {
  try {
    if (spec.arch == "torchscript") {
      std::filesystem::path path(spec.path);
      if (path.is_relative() && !pipeline_dir.empty()) path = std::filesystem::path(pipeline_dir) / path;
      return load_torchscript_model(path.string());
    }
    return make_builtin_model(spec.arch, spec.hidden, std::move(input_shape), num_classes, seed);
  } catch (const Error& e) {
    if (!e.where().file.empty() || spec.where.file.empty()) throw;
    throw Error(e.code(), e.message(), spec.where);  // point at the [model] table
  }
}

LayerGeometry layer_geometry(const TrainableModel& model, int index) {
  if (auto* builtin = dynamic_cast<const BuiltinModel*>(&model)) return builtin->layer(index).geometry;
  return {};
}

}  // namespace compaudit::models
