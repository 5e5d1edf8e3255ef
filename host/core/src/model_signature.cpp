// Signatures of the built-in architectures: the recipe of host/models/src/builtin_recipes.cpp (build_builtin) with
// shapes instead of tensors. Keep the two in step — tests/models/test_signature.cpp fails when they drift.
#include <compaudit/host/model_signature.h>

#include <fmt/format.h>


namespace compaudit::host {
namespace {

constexpr std::int64_t kUnknown = -1;

std::int64_t times(std::int64_t a, std::int64_t b) { return a == kUnknown || b == kUnknown ? kUnknown : a * b; }

[[noreturn]] void bad_shape(const char* arch, const std::vector<std::int64_t>& shape) {
  throw Error(ErrorCode::pipeline, fmt::format("model '{}' cannot take inputs of shape [{}]; it needs an image "
                                               "[C, H, W] (or a square number of features)",
                                               arch, fmt::join(shape, ", ")));
}

// The recipe's image shape (image_shape); unknown -> {-1, -1, -1}.
std::vector<std::int64_t> as_image(const char* arch, const std::vector<std::int64_t>& shape) {
  if (shape.empty()) return {kUnknown, kUnknown, kUnknown};
  if (auto image = image_shape(shape)) return *image;
  bad_shape(arch, shape);
}

class Builder {
 public:
  explicit Builder(std::string arch) { sig_.arch = std::move(arch); }
  void layer(std::string name, const char* type, std::vector<std::int64_t> shape) {
    sig_.parameters.emplace_back(name + ".weight", shape);
    sig_.parameters.emplace_back(name + ".bias", std::vector<std::int64_t>{shape[0]});
    sig_.layers.push_back({std::move(name), type, std::move(shape)});
  }
  void conv(std::string name, std::int64_t in, std::int64_t out, std::int64_t k) {
    layer(std::move(name), "conv2d", {out, in, k, k});
  }
  ModelSignature done() { return std::move(sig_); }

 private:
  ModelSignature sig_;
};

}  // namespace

ModelSignature builtin_model_signature(const std::string& arch, const std::vector<std::int64_t>& hidden_in,
                                       const std::vector<std::int64_t>& input_shape, int num_classes) {
  const std::int64_t classes = num_classes > 0 ? num_classes : kUnknown;
  Builder b(arch);
  if (arch == "mlp") {
    const std::vector<std::int64_t> hidden = hidden_in.empty() ? std::vector<std::int64_t>{128} : hidden_in;
    std::int64_t in = input_shape.empty() ? kUnknown : 1;
    for (auto d : input_shape) in = times(in, d);
    for (std::size_t i = 0; i <= hidden.size(); ++i) {
      const std::int64_t out = i < hidden.size() ? hidden[i] : classes;
      b.layer(fmt::format("fc{}", i + 1), "linear", {out, in});
      in = out;
    }
  } else if (arch == "cnn") {
    const std::vector<std::int64_t> hidden = hidden_in.empty() ? std::vector<std::int64_t>{16, 32} : hidden_in;
    const std::vector<std::int64_t> image = as_image("cnn", input_shape);
    std::int64_t c = image[0], h = image[1], w = image[2];
    for (std::size_t i = 0; i < hidden.size(); ++i) {
      if (h != kUnknown && (h < 2 || w < 2)) bad_shape("cnn (too many pooling blocks for the image size)", image);
      b.conv(fmt::format("conv{}", i + 1), c, hidden[i], 3);
      c = hidden[i];
      if (h != kUnknown) h /= 2, w /= 2;
    }
    b.layer("fc", "linear", {classes, times(c, times(h, w))});
  } else if (arch == "resnet") {
    const std::vector<std::int64_t> hidden = hidden_in.empty() ? std::vector<std::int64_t>{16, 32, 64} : hidden_in;
    const std::vector<std::int64_t> image = as_image("resnet", input_shape);
    b.conv("stem", image[0], hidden[0], 3);
    std::int64_t c = hidden[0];
    for (std::size_t k = 0; k < hidden.size(); ++k) {
      const int stride = k == 0 ? 1 : 2;
      b.conv(fmt::format("block{}.conv1", k + 1), c, hidden[k], 3);
      b.conv(fmt::format("block{}.conv2", k + 1), hidden[k], hidden[k], 3);
      if (stride != 1 || c != hidden[k]) b.conv(fmt::format("block{}.shortcut", k + 1), c, hidden[k], 1);
      c = hidden[k];
    }
    b.layer("fc", "linear", {classes, c});
  } else {
    throw Error(ErrorCode::pipeline,
                fmt::format("unknown model arch '{}' (known: mlp, cnn, resnet, torchscript)", arch));
  }
  return b.done();
}

ModelSignature model_signature(const ModelSpec& spec, const std::vector<std::int64_t>& input_shape,
                               int num_classes) {
  if (spec.arch == "torchscript")
    return torchscript_signature(spec.checkpoints.empty() ? spec.path : spec.checkpoints.front());
  return builtin_model_signature(spec.arch, spec.hidden, input_shape, num_classes);
}

}  // namespace compaudit::host
