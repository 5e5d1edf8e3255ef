// Every compressor works on a TorchScript module exported from PyTorch (parameters by name, fixed shapes).
#include "plugin_harness.h"

#include <catch2/catch.hpp>
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cstdio>
#include <filesystem>

using namespace compaudit;
using compaudit::testing::load_compressor;
using compaudit::testing::TestContext;

namespace {
// The module written by scripts/fixtures/compressors/make_torchscript.py: conv(1->4, 3x3) -> ReLU -> fc(144->3),
// taking 36 features (a 6x6 image).
std::unique_ptr<models::TrainableModel> tiny_module() {
  static const std::string path = [] {
    const auto dir = std::filesystem::temp_directory_path() / ("compaudit-ts-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string file = (dir / "tiny.pt").string();
    const std::string command = "/usr/bin/python3 " COMPAUDIT_FIXTURE_SCRIPTS "/make_torchscript.py " + file + " > /dev/null";
    REQUIRE(std::system(command.c_str()) == 0);
    return file;
  }();
  return models::load_torchscript_model(path);
}

double zero_fraction(const at::Tensor& t) { return 1.0 - double(t.count_nonzero().item<std::int64_t>()) / double(t.numel()); }
}  // namespace

TEST_CASE("compressors work on a TorchScript module, masking where they would reshape", "[torchscript][python]") {
  at::set_num_threads(1);
  auto model = tiny_module();
  TestContext ctx(*model, 3, 36);
  SECTION("magnitude pruning, held through training") {
    load_compressor("prune_magnitude", {{"sparsity", 0.6}})->compress(*model, ctx);
    ctx.train(TrainRequest{});
    CHECK(zero_fraction(model->layers()[1].weight) >= 0.6 - 1e-9);
  }
  SECTION("structured pruning masks channels instead of slicing") {
    auto record = load_compressor("prune_structured", {{"amount", 0.5}})->compress(*model, ctx);
    CHECK(record.details["layers"][0]["mode"] == "masked");
    CHECK(model->layers()[0].weight.sizes() == at::IntArrayRef({4, 1, 3, 3}));
    CHECK(zero_fraction(model->layers()[0].weight) == 0.5);
  }
  SECTION("quantization and truncation") {
    load_compressor("truncate_svd", {{"rank", std::int64_t{1}}, {"layers", std::vector<std::string>{"fc"}}})
        ->compress(*model, ctx);
    CHECK(at::linalg_matrix_rank(model->layers()[1].weight.detach()).item<std::int64_t>() == 1);
    auto record = load_compressor("quantize_ptq", {{"precision", std::string("int4")}})->compress(*model, ctx);
    CHECK(model->storage_bits("fc.weight") == 4);
    CHECK(model->forward(at::randn({2, 36})).sizes() == at::IntArrayRef({2, 3}));
  }
  SECTION("lottery tickets rewind by parameter name") {
    load_compressor("prune_lottery", {{"sparsity", 0.5}, {"rounds", std::int64_t{2}}})->compress(*model, ctx);
    CHECK(zero_fraction(model->layers()[1].weight) >= 0.5 - 1e-9);
  }
}
