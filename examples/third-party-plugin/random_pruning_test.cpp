// Unit test of the random-pruning example, without the host: compaudit/testing.h opens the built plugin through
// its manifest exactly as `compaudit run` does and hands it a fake model and context. Run: ctest --test-dir build
// ATen first: it brings glog, whose CHECK would otherwise replace Catch2's (a failed check then aborts the test).
#include <ATen/ATen.h>
#include <catch2/catch.hpp>
#include <compaudit/testing.h>

namespace ct = compaudit::testing;

namespace {
// Zeroed entries of one weight after its mask is applied (the mask is what the plugin installs).
std::int64_t zeros_in(compaudit::Model& model, const std::string& layer) {
  const at::Tensor mask = model.mask(layer + ".weight");
  REQUIRE(mask.defined());
  return mask.numel() - mask.count_nonzero().item<std::int64_t>();
}
}  // namespace

TEST_CASE("zeroes exactly round(sparsity * n) entries of every layer") {
  ct::FakeModel model(ct::mlp_weights({20, 30, 10}, /*seed=*/1));  // fc1: 600 weights, fc2: 300
  ct::FakeContext context(model, /*seed=*/3);
  auto pruner = ct::load_plugin_under_test<compaudit::Compressor>({{"sparsity", 0.3}});
  const compaudit::CompressionRecord record = pruner->compress(model, context);
  CHECK(zeros_in(model, "fc1") == 180);
  CHECK(zeros_in(model, "fc2") == 90);
  CHECK(record.details["sparsity"].get<double>() == Approx(0.3));
  CHECK(compaudit::measure(model).nonzeros == (600 - 180) + (300 - 90));  // FakeModel's biases are zero
}

TEST_CASE("the mask is drawn from the context's seed, salted by seed_offset") {
  auto mask_for = [](std::int64_t seed, std::int64_t offset) {
    ct::FakeModel model(ct::mlp_weights({20, 30, 10}, 1));
    ct::FakeContext context(model, seed);
    ct::load_plugin_under_test<compaudit::Compressor>({{"seed_offset", offset}})->compress(model, context);
    return model.mask("fc1.weight");
  };
  CHECK(mask_for(5, 0).equal(mask_for(5, 0)));   // reproducible: same seed, same mask
  CHECK(!mask_for(5, 0).equal(mask_for(6, 0)));  // another seed, another mask
  CHECK(!mask_for(5, 1).equal(mask_for(5, 0)));  // another salt, another mask
}

TEST_CASE("keeps what an earlier step of a chain pruned") {
  ct::FakeModel model(ct::mlp_weights({20, 30, 10}, 1));
  ct::FakeContext context(model, 0);
  at::Tensor earlier = at::ones({30, 20});
  earlier.slice(0, 0, 10).zero_();  // an earlier compressor removed the first 10 output rows
  model.set_mask("fc1.weight", earlier);
  ct::load_plugin_under_test<compaudit::Compressor>({{"sparsity", 0.5}})->compress(model, context);
  const at::Tensor mask = model.mask("fc1.weight");
  CHECK(mask.slice(0, 0, 10).count_nonzero().item<std::int64_t>() == 0);
  CHECK(zeros_in(model, "fc1") >= 300);  // at least its own half, and never fewer than before
}

TEST_CASE("the manifest's range is enforced before the plugin is created") {
  CHECK_THROWS_AS(ct::load_plugin_under_test<compaudit::Compressor>({{"sparsity", 1.5}}), compaudit::Error);
}
