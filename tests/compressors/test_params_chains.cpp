// Bad parameters are refused by the manifests' schemas before anything runs (what `compaudit validate` checks),
// the checks a schema cannot express fail at compress time with a clear message, and chains of compressors
// compose: each step reads the state the previous one left.
#include "plugin_harness.h"

#include <catch2/catch.hpp>
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

using namespace compaudit;
using compaudit::testing::load_compressor;
using compaudit::testing::TestContext;

namespace {
std::string schema_error(const std::string& name, const std::map<std::string, ParamValue>& given) {
  try {
    Params::resolve(test::built_manifest(name).params, given, name);
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::parameters);
    return e.message();
  }
  return "accepted";
}
}  // namespace

TEST_CASE("the manifests' schemas refuse out-of-range and unsupported parameters", "[params][errors]") {
  CHECK_THAT(schema_error("prune_magnitude", {{"sparsity", 1.5}}), Catch::Contains("sparsity = 1.5 is above its maximum 1"));
  CHECK_THAT(schema_error("prune_magnitude", {}), Catch::Contains("required parameter 'sparsity'"));
  CHECK_THAT(schema_error("prune_magnitude", {{"sparsity", 0.5}, {"scope", std::string("local")}}),
             Catch::Contains("not one of"));
  CHECK_THAT(schema_error("quantize_ptq", {{"precision", std::string("int3")}}), Catch::Contains("\"int3\" is not one of"));
  CHECK_THAT(schema_error("truncate_svd", {{"rank", std::int64_t{0}}}), Catch::Contains("rank = 0 is below its minimum 1"));
  CHECK_THAT(schema_error("truncate_svd", {{"cuts", std::vector<std::string>{"o|x"}}}), Catch::Contains("not one of"));
  CHECK_THAT(schema_error("prune_structured", {{"amount", -0.1}}), Catch::Contains("below its minimum 0"));
  CHECK_THAT(schema_error("prune_gradual", {{"final_sparsity", 0.9}, {"frequency", std::int64_t{0}}}),
             Catch::Contains("frequency = 0 is below its minimum 1"));
  CHECK_THAT(schema_error("prune_lottery", {{"sparsity", 0.9}, {"rounds", std::int64_t{0}}}), Catch::Contains("rounds = 0"));
  CHECK_THAT(schema_error("classdep", {{"sparsity", 0.9}}), Catch::Contains("required parameter 'critical_class'"));
  CHECK_THAT(schema_error("prune_magnitude", {{"sparsity", 0.5}, {"layer_types", std::vector<std::string>{"lstm"}}}),
             Catch::Contains("\"lstm\" is not one of"));
  CHECK(schema_error("prune_magnitude", {{"sparsity", 0.5}}) == "accepted");
}

TEST_CASE("a layer pattern that matches nothing fails at compress time, listing the model's layers",
          "[params][errors]") {
  auto model = models::make_builtin_model("mlp", {8}, {4}, 3, 0);
  TestContext ctx(*model, 3, 4);
  auto p = load_compressor("prune_magnitude", {{"sparsity", 0.5}, {"layers", std::vector<std::string>{"conv*"}}});
  try {
    p->compress(*model, ctx);
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::parameters);
    CHECK_THAT(e.message(), Catch::Contains("layers: pattern \"conv*\" matches no") &&
                                 Catch::Contains("fc1 (linear), fc2 (linear)"));
  }
  // neither rank nor energy: nothing to truncate, refused when the plugin is created
  CHECK_THROWS_WITH(load_compressor("truncate_svd", {}), Catch::Contains("set rank or energy"));
}

TEST_CASE("chains compose: prune then quantize keeps the zeros, truncate then prune keeps exact counts", "[chains]") {
  at::set_num_threads(1);
  auto model = models::make_builtin_model("cnn", {4, 8}, {1, 8, 8}, 3, 0);
  TestContext ctx(*model, 3, 64);
  SECTION("prune -> quantize -> fine-tune") {
    load_compressor("prune_magnitude", {{"sparsity", 0.8}})->compress(*model, ctx);
    auto record = load_compressor("quantize_ptq", {{"precision", std::string("int4")}})->compress(*model, ctx);
    TrainRequest one;
    ctx.train(one);
    for (const auto& l : model->layers()) {
      const at::Tensor m = model->mask(l.name + ".weight");
      REQUIRE(m.defined());
      CHECK(l.weight.masked_select(m.eq(0)).abs().sum().item<double>() == 0.0);
      CHECK(model->storage_bits(l.name + ".weight") == 4);
    }
    CHECK(record.details["size_after"]["bytes"].get<std::int64_t>() <
          record.details["size_before"]["bytes"].get<std::int64_t>() / 4);
  }
  SECTION("truncate -> prune") {
    load_compressor("truncate_svd", {{"energy", 0.8}})->compress(*model, ctx);
    auto record = load_compressor("prune_magnitude", {{"sparsity", 0.5}})->compress(*model, ctx);
    std::int64_t n = 0;
    for (const auto& l : model->layers()) n += l.weight.numel();
    CHECK(record.details["pruned"].get<std::int64_t>() == n / 2);
  }
  SECTION("structured (slices) -> magnitude -> lottery refuses to rewind reshaped layers") {
    load_compressor("prune_structured", {{"amount", 0.5}})->compress(*model, ctx);
    load_compressor("prune_magnitude", {{"sparsity", 0.5}})->compress(*model, ctx);
    CHECK_THROWS_WITH(load_compressor("prune_lottery", {{"sparsity", 0.9}})->compress(*model, ctx),
                      Catch::Contains("reshaped"));
  }
}
