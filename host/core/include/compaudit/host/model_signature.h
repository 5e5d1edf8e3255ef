// compaudit/host/model_signature.h — the layers and parameters a pipeline's model will have, known without LibTorch.
//
// `compaudit validate` runs in the LibTorch-free front end, yet a compressor's `layers = ["conv*"]` or
// `cuts = ["oi|hw"]` can only be checked against the model. The signature gives what those checks need: each
// layer's name, type ("linear" / "conv2d") and weight shape, and every parameter's name and shape, exactly as
// compaudit::Model::layers() / named_parameters() will report them.
//  * Built-in models (mlp, cnn, resnet): computed from [model].hidden, the data's input shape and the class count
//    with the same recipe host/models builds them with (tests/models/test_signature.cpp compares the two for
//    every architecture, so they cannot drift). Layer names and types depend on [model] alone; shapes also on the
//    data, and are -1 where the data are not known (validate does not read data files).
//  * TorchScript (.pt) archives: read from the archive's data.pkl without LibTorch (a zip whose entries PyTorch
//    writes uncompressed; the module tree is a pickle whose tensors are torch._utils._rebuild_tensor_v2 calls).
//    Every tensor attribute counts as a parameter (buffers cannot be told apart there); a layer is a "<path>.weight"
//    of rank 2 (linear) or 4 (conv2d), as the TorchScript wrapper defines it.
#pragma once

#include <compaudit/host/pipeline.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace compaudit::host {

struct LayerSignature {
  std::string name;                        ///< "fc1", "block2.conv1", "features.0"
  std::string type;                        ///< "linear" | "conv2d" — the words of a compressor's layer_types
  std::vector<std::int64_t> weight_shape;  ///< [out, in] or [out, in, kh, kw]; -1 where not known
};

struct ModelSignature {
  std::string arch;                        ///< "mlp", "cnn", "resnet", "torchscript"
  std::vector<LayerSignature> layers;      ///< in forward order
  /// Every parameter in named_parameters() order: name and shape (-1 where not known).
  std::vector<std::pair<std::string, std::vector<std::int64_t>>> parameters;
};

/// How the cnn and resnet recipes read a per-example input shape as an image [C, H, W]: [C, H, W] as is,
/// [H, W] -> [1, H, W], [n] with n a perfect square -> [1, sqrt(n), sqrt(n)] (8x8 digits given as 64 features);
/// nullopt for anything else. Inline: host/models, which does not link this library, builds its models with it.
inline std::optional<std::vector<std::int64_t>> image_shape(const std::vector<std::int64_t>& shape) {
  if (shape.size() == 3) return shape;
  if (shape.size() == 2) return std::vector<std::int64_t>{1, shape[0], shape[1]};
  if (shape.size() == 1) {
    const auto side = static_cast<std::int64_t>(std::lround(std::sqrt(static_cast<double>(shape[0]))));
    if (side * side == shape[0]) return std::vector<std::int64_t>{1, side, side};
  }
  return std::nullopt;
}

/// Parameters by name and shape, in named_parameters() order.
using ParameterList = std::vector<std::pair<std::string, std::vector<std::int64_t>>>;

/// "" when `other` has the parameters of `first` (names, order, shapes), else how it differs ("parameter 'fc1.weight'
/// has shape [48, 64], not [32, 64]"). Inline: the LibTorch-free validator compares checkpoint archives with it, and
/// host/models (which does not link this library) the loaded modules.
inline std::string parameter_mismatch(const ParameterList& first, const ParameterList& other) {
  auto shape = [](const std::vector<std::int64_t>& s) {
    std::string out = "[";
    for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
    return out + "]";
  };
  for (std::size_t i = 0; i < std::max(first.size(), other.size()); ++i) {
    if (i >= first.size()) return "it has an extra parameter '" + other[i].first + "'";
    if (i >= other.size()) return "it lacks parameter '" + first[i].first + "'";
    if (first[i].first != other[i].first)
      return "parameter " + std::to_string(i) + " is '" + other[i].first + "', not '" + first[i].first + "'";
    if (first[i].second != other[i].second)
      return "parameter '" + first[i].first + "' has shape " + shape(other[i].second) + ", not " + shape(first[i].second);
  }
  return "";
}

/// The signature of a built-in model. `input_shape` per example ({1, 28, 28}, {64}); empty = not known (shapes
/// that depend on it are -1). `num_classes` <= 0 = not known. Throws Error(pipeline) for an unknown arch and, when
/// the input shape is known, for a shape the recipe cannot take — as models::make_builtin_model does.
ModelSignature builtin_model_signature(const std::string& arch, const std::vector<std::int64_t>& hidden,
                                       const std::vector<std::int64_t>& input_shape = {}, int num_classes = 0);

/// The signature of the TorchScript module saved at `path`. Throws Error(data) naming the file when it is not a
/// TorchScript archive this reader understands (then callers skip the checks that need it; LibTorch may still
/// load the file).
ModelSignature torchscript_signature(const std::string& path);

/// The signature of the pipeline's [model] (spec.path for torchscript, or the first of spec.checkpoints).
ModelSignature model_signature(const ModelSpec& spec, const std::vector<std::int64_t>& input_shape = {},
                               int num_classes = 0);

}  // namespace compaudit::host
