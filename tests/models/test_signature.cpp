// The LibTorch-free model signature (host/core: what `compaudit validate` checks layer patterns and cuts against)
// must describe exactly the models host/models builds and loads: for every built-in architecture, the same layer
// names, types and shapes and the same named parameters; for TorchScript archives, the layers LibTorch's wrapper
// finds and every parameter with its shape.
#include <compaudit/host/model_signature.h>
#include <compaudit/models/models.h>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <filesystem>
#include <fstream>

using compaudit::LayerType;
using compaudit::host::ModelSignature;

namespace {
std::vector<std::int64_t> shape_of(const at::Tensor& t) { return t.sizes().vec(); }

void require_same(const ModelSignature& sig, compaudit::models::TrainableModel& model, bool exact_parameters) {
  const auto layers = model.layers();
  REQUIRE(sig.layers.size() == layers.size());
  for (std::size_t i = 0; i < layers.size(); ++i) {
    INFO("layer " << layers[i].name);
    CHECK(sig.layers[i].name == layers[i].name);
    CHECK(sig.layers[i].type == (layers[i].type == LayerType::linear ? "linear" : "conv2d"));
    CHECK(sig.layers[i].weight_shape == shape_of(layers[i].weight));
  }
  const auto params = model.named_parameters();
  if (exact_parameters) REQUIRE(sig.parameters.size() == params.size());
  for (const auto& [name, tensor] : params) {
    INFO("parameter " << name);
    auto it = std::find_if(sig.parameters.begin(), sig.parameters.end(), [&](const auto& p) { return p.first == name; });
    REQUIRE(it != sig.parameters.end());
    CHECK(it->second == shape_of(tensor));
  }
}
}  // namespace

TEST_CASE("the signature of every built-in architecture matches the model host/models builds", "[signature]") {
  struct Case {
    const char* arch;
    std::vector<std::int64_t> hidden, input;
    int classes;
  };
  const Case cases[] = {
      {"mlp", {}, {1, 28, 28}, 10},        {"mlp", {32, 16, 8}, {64}, 3},    {"cnn", {}, {1, 28, 28}, 10},
      {"cnn", {4, 6, 8}, {3, 32, 32}, 10}, {"cnn", {5}, {64}, 4},            {"resnet", {}, {3, 32, 32}, 10},
      {"resnet", {8, 8, 16}, {64}, 2},     {"resnet", {4}, {2, 9, 7}, 5},    {"resnet", {16, 32, 64, 64}, {1, 16, 16}, 7},
  };
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.arch << " hidden [" << fmt::format("{}", fmt::join(c.hidden, ",")) << "] input ["
                           << fmt::format("{}", fmt::join(c.input, ",")) << "]") {
      auto model = compaudit::models::make_builtin_model(c.arch, c.hidden, c.input, c.classes, 0);
      require_same(compaudit::host::builtin_model_signature(c.arch, c.hidden, c.input, c.classes), *model, true);
      // Without the data (as validate sees it): the same names and types, unknown sizes as -1.
      const auto blind = compaudit::host::builtin_model_signature(c.arch, c.hidden);
      const auto layers = model->layers();
      REQUIRE(blind.layers.size() == layers.size());
      for (std::size_t i = 0; i < layers.size(); ++i) CHECK(blind.layers[i].name == layers[i].name);
      CHECK(blind.layers.back().weight_shape.front() == -1);  // the class count is not known
    }
  }
}

TEST_CASE("shapes a built-in recipe cannot take are refused by the signature as by the model", "[signature]") {
  CHECK_THROWS_AS(compaudit::models::make_builtin_model("cnn", {}, {10}, 3, 0), compaudit::Error);
  CHECK_THROWS_AS(compaudit::host::builtin_model_signature("cnn", {}, {10}, 3), compaudit::Error);
  CHECK_THROWS_AS(compaudit::host::builtin_model_signature("transformer", {}), compaudit::Error);
}

TEST_CASE("the signature read from a TorchScript archive matches the module LibTorch loads", "[signature][python]") {
  const auto dir = std::filesystem::temp_directory_path() / ("compaudit-sig-" + std::to_string(::getpid()));
  const std::string command =
      "/usr/bin/python3 " COMPAUDIT_FIXTURE_SCRIPTS "/make_torchscript_nested.py " + dir.string() + " > /dev/null";
  REQUIRE(std::system(command.c_str()) == 0);
  for (const std::string file : {"scripted.pt", "traced.pt"}) {
    DYNAMIC_SECTION(file) {
      const std::string path = (dir / file).string();
      auto model = compaudit::models::load_torchscript_model(path);
      const auto sig = compaudit::host::torchscript_signature(path);
      CHECK(sig.arch == "torchscript");
      require_same(sig, *model, false);  // the archive also holds BatchNorm's buffers
      CHECK(sig.parameters.size() == model->named_parameters().size() + 3);
    }
  }
  // The committed engine fixture (an MLP) as well.
  const std::string mlp = COMPAUDIT_FIXTURE_SCRIPTS "/../engine/tiny_mlp.pt";
  auto model = compaudit::models::load_torchscript_model(mlp);
  require_same(compaudit::host::torchscript_signature(mlp), *model, true);
  std::filesystem::remove_all(dir);
}

TEST_CASE("a file that is not a TorchScript archive is a data error naming it", "[signature]") {
  const auto file = std::filesystem::temp_directory_path() / ("compaudit-sig-bad-" + std::to_string(::getpid()));
  { std::ofstream(file) << "not a zip"; }
  try {
    compaudit::host::torchscript_signature(file.string());
    FAIL("no error");
  } catch (const compaudit::Error& e) {
    CHECK(e.code() == compaudit::ErrorCode::data);
    CHECK(e.where().file == file.string());
  }
  std::filesystem::remove(file);
}
