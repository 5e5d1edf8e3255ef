// A unit test of a built-in compressor written with compaudit/testing.h alone — the shape a third party's plugin test
// takes (compaudit_add_plugin_test(... PLUGIN prune_magnitude) loads the built library through its manifest, as
// the host does). The oracle is a full sort of |w|, not the plugin's O(n) selection.
#include <compaudit/testing.h>

#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <cmath>

using namespace compaudit;

TEST_CASE("prune.magnitude: global sparsity zeroes exactly the smallest |w| of all layers", "[unit]") {
  const testing::NamedTensors weights = testing::mlp_weights({20, 16, 10}, /*seed=*/5);
  testing::FakeModel model(weights);
  testing::FakeContext context(model);
  auto pruner = testing::load_plugin_under_test<Compressor>({{"sparsity", 0.75}, {"scope", std::string("global")}});
  const CompressionRecord record = pruner->compress(model, context);

  std::vector<at::Tensor> magnitudes;
  for (const auto& [name, w] : weights) magnitudes.push_back(w.abs().flatten());
  const at::Tensor sorted = std::get<0>(at::cat(magnitudes).sort());
  const std::int64_t k = std::llround(0.75 * static_cast<double>(sorted.numel()));  // no .5 ties at n = 480
  const float threshold = sorted[k - 1].item<float>();
  for (const auto& [name, w] : weights) {
    INFO(name);
    CHECK(at::equal(model.mask(name + ".weight").to(at::kBool), w.abs().gt(threshold)));
  }
  CHECK(record.details["pruned"].get<std::int64_t>() == k);
  CHECK(measure(model).nonzeros == sorted.numel() - k);  // biases start at zero
}

TEST_CASE("prune.magnitude: layerwise prunes each layer alone, exclusions stay dense, masks survive training",
          "[unit]") {
  testing::FakeModel model(testing::mlp_weights({20, 16, 10}, /*seed=*/6));
  testing::FakeContext context(model);
  auto pruner = testing::load_plugin_under_test<Compressor>(
      {{"sparsity", 0.5}, {"scope", std::string("layerwise")}, {"exclude", std::vector<std::string>{"fc2"}}});
  pruner->compress(model, context);
  CHECK(model.mask("fc1.weight").logical_not().sum().item<std::int64_t>() == 160);
  CHECK_FALSE(model.mask("fc2.weight").defined());

  context.set_data(at::randn({32, 20}), at::arange(32, at::kLong).remainder(10));
  context.train(TrainRequest{});
  CHECK((model.layers()[0].weight == 0).sum().item<std::int64_t>() == 160);
  CHECK(model.layers()[1].weight.ne(0).all().item<bool>());
}

TEST_CASE("prune.magnitude: a layer pattern that matches nothing fails and names the model's layers", "[unit]") {
  testing::FakeModel model(testing::mlp_weights({4, 3}));
  testing::FakeContext context(model);
  auto pruner = testing::load_plugin_under_test<Compressor>(
      {{"sparsity", 0.5}, {"layers", std::vector<std::string>{"conv*"}}});
  CHECK_THROWS_WITH(pruner->compress(model, context), Catch::Contains("matches no") && Catch::Contains("fc1 (linear)"));
}
