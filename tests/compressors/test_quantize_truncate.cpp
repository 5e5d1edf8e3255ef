// Quantization and SVD truncation through their plugin libraries against fixtures (make_fixtures.py).
#include "plugin_harness.h"
#include "tensor_model.h"

#include <catch2/catch.hpp>
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

using namespace compaudit;
using compaudit::testing::fixture;
using compaudit::testing::fixture_tensor;
using compaudit::testing::load_compressor;
using compaudit::testing::TensorModel;

namespace {
struct NullContext final : CompressionContext {
  std::int64_t seed() const override { return 0; }
  int num_classes() const override { return 10; }
  double train(const TrainRequest&) override { return 0; }
  Evaluation evaluate(const std::string&) override { return {}; }
  std::vector<std::pair<std::string, at::Tensor>> rewind_point(std::int64_t) override { return {}; }
  at::Tensor calibration_batch(std::int64_t n) override { return at::randn({n, 64}); }
  void log(const std::string&) override {}
};
}  // namespace

TEST_CASE("int8 and int4 fake quantization matches the reference at ±max, zero and rounding ties",
          "[quantize][fixtures]") {
  at::set_num_threads(1);
  const auto f = fixture("quantize.json");
  NullContext ctx;
  const at::Tensor w = fixture_tensor(f["weight"]["shape"], f["weight"]["values"]).to(at::kFloat);
  for (const auto& c : f["cases"]) {
    const int bits = c["bits"];
    const std::string scheme = c["scheme"], granularity = c["granularity"];
    DYNAMIC_SECTION("int" << bits << " " << scheme << " " << granularity) {
      TensorModel model({{"w", w}});
      auto q = load_compressor("quantize_ptq", {{"precision", std::string("int") + std::to_string(bits)},
                                                {"scheme", scheme}, {"granularity", granularity}});
      const CompressionRecord record = q->compress(model, ctx);
      const at::Tensor got = model.layers()[0].weight.to(at::kDouble);
      const at::Tensor want = fixture_tensor(f["weight"]["shape"], c["values"]);
      CHECK(got.equal(want));  // exact: the values are on power-of-two grids
      const at::Tensor even = fixture_tensor(f["weight"]["shape"], c["half_to_even"]);
      if (!even.equal(want)) CHECK_FALSE(got.equal(even));  // ties are rounded away from zero, not to even
      CHECK(got[4].abs().sum().item<double>() == 0.0);     // the all-zero channel stays zero
      CHECK(model.storage_bits("w.weight") == bits);
      CHECK(model.storage_bits("w.bias") == 32);
      CHECK(record.details["size_after"]["bytes"].get<std::int64_t>() == (50 * bits + 7) / 8 + 5 * 4);
    }
  }
  SECTION("float16") {
    TensorModel model({{"w", w}});
    load_compressor("quantize_ptq", {{"precision", std::string("float16")}})->compress(model, ctx);
    CHECK(model.layers()[0].weight.to(at::kDouble).equal(fixture_tensor(f["weight"]["shape"], f["float16"])));
    CHECK(model.storage_bits("w.weight") == 16);
  }
}

TEST_CASE("full int8 calibrates activation ranges through the model's hook", "[quantize]") {
  at::set_num_threads(1);
  NullContext ctx;
  auto model = models::make_builtin_model("mlp", {16}, {64}, 4, 0);
  const at::Tensor x = at::randn({8, 64});
  const at::Tensor before = model->forward(x).detach();
  auto record = load_compressor("quantize_ptq", {{"activations", true}})->compress(*model, ctx);
  REQUIRE(record.details["activations"].size() == 2);
  CHECK(record.details["activations"][0]["min"].get<double>() < 0);
  const at::Tensor after = model->forward(x).detach();
  CHECK_FALSE(after.equal(before));
  CHECK((after - before).abs().max().item<double>() < 0.1 * before.abs().max().item<double>());
  SECTION("a model without hooks is refused with a clear message") {
    TensorModel plain({{"w", at::ones({2, 2})}});
    CHECK_THROWS_WITH(load_compressor("quantize_ptq", {{"activations", true}})->compress(plain, ctx),
                      Catch::Contains("activation hooks"));
  }
}

TEST_CASE("SVD truncation along each cut matches numpy, with the kernel norm loss", "[truncate][fixtures]") {
  at::set_num_threads(1);
  const auto f = fixture("svd.json");
  NullContext ctx;
  for (const auto& c : f["cases"]) {
    const std::string layer = c["layer"];
    const auto cuts = c["cuts"].get<std::vector<std::string>>();
    DYNAMIC_SECTION(layer << " " << c["cuts"].dump() << " rank " << c["rank"].dump() << " energy "
                          << c["energy"].dump()) {
      TensorModel model({{layer, fixture_tensor(f[layer]["shape"], f[layer]["values"])}});
      std::map<std::string, ParamValue> params{{"cuts", cuts}};
      if (!c["rank"].is_null()) params["rank"] = c["rank"].get<std::int64_t>();
      if (!c["energy"].is_null()) params["energy"] = c["energy"].get<double>();
      const CompressionRecord record = load_compressor("truncate_svd", params)->compress(model, ctx);
      const at::Tensor want = fixture_tensor(f[layer]["shape"], c["values"]);
      CHECK(at::allclose(model.layers()[0].weight.to(at::kDouble), want, 1e-5, 1e-5));
      REQUIRE(record.details["cuts"].size() == cuts.size());
      for (std::size_t i = 0; i < cuts.size(); ++i) {
        CHECK(record.details["cuts"][i]["chi"] == c["chi"][i]);
        CHECK(record.details["cuts"][i]["norm_loss"].get<double>() == Approx(c["norm_loss"][i].get<double>()).margin(1e-6));
      }
    }
  }
}

TEST_CASE("SVD truncation gives a linear layer its one cut when conv2d cuts are listed, and a conv2d layer needs one",
          "[truncate][errors]") {
  NullContext ctx;
  TensorModel model({{"fc", at::randn({4, 3})}, {"conv", at::randn({2, 2, 3, 3})}});
  // The header's own example: conv2d cuts listed, a linear layer selected too — it takes o|i, truncated to rank 1.
  auto t = load_compressor("truncate_svd", {{"cuts", std::vector<std::string>{"oh|iw"}}, {"rank", std::int64_t{1}}});
  const CompressionRecord record = t->compress(model, ctx);
  REQUIRE(record.details["cuts"].size() == 2);
  CHECK(record.details["cuts"][0]["layer"] == "fc");
  CHECK(record.details["cuts"][0]["cut"] == "o|i");
  CHECK(record.details["cuts"][1]["cut"] == "oh|iw");
  at::Tensor fc;
  for (const auto& [name, p] : model.named_parameters())
    if (name == "fc.weight") fc = p;
  REQUIRE(fc.defined());
  const at::Tensor s = at::linalg_svdvals(fc);
  CHECK(s[1].item<double>() < 1e-5 * s[0].item<double>());  // rank 1
  // A conv2d layer given only the linear cut has nothing to apply: refused, naming the layer.
  auto u = load_compressor("truncate_svd", {{"cuts", std::vector<std::string>{"o|i"}}, {"rank", std::int64_t{1}},
                                            {"layers", std::vector<std::string>{"conv"}}});
  CHECK_THROWS_WITH(u->compress(model, ctx), Catch::Contains("conv2d layer 'conv' gets no cut"));
}
