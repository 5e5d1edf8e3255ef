// What the SDK offers plugin authors and the ownership rules (item 5), through the installed
// headers: layer selection agrees with `compaudit validate`, CompressionContext::generator is deterministic per
// (seed, salt), the testing.h fakes copy inputs and hand out fresh outputs, and keep_masks is exact.
#include <compaudit/host/pipeline.h>
#include <compaudit/host/registry.h>
#include <compaudit/layers.h>
#include <compaudit/select.h>
#include <compaudit/testing.h>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

using namespace compaudit;
using compaudit::testing::FakeContext;
using compaudit::testing::FakeModel;
namespace fs = std::filesystem;

namespace {

// `compaudit validate`'s verdict on prune.magnitude with `selection` (TOML) over an MLP with hidden [16, 8]
// (layers fc1, fc2, fc3): "" when it passes, else the message after "<what>: <param>: ".
std::string validator_verdict(const std::string& selection) {
  static const host::Registry registry = [] {
    host::SearchPaths paths;
    paths.dirs.emplace_back(COMPAUDIT_PLUGIN_DIR, "--plugin-path");
    return host::Registry::discover(paths);
  }();
  const fs::path file = fs::temp_directory_path() / fmt::format("sdk-api-{}.toml", ::getpid());
  std::ofstream(file) << fmt::format(R"([audit]
name = "layers"
seeds = 2
[data]
format = "csv"
train = "{}"
[model]
arch = "mlp"
hidden = [16, 8]
[[arm]]
name = "prune"
  [[arm.step]]
  plugin = "org.compaudit.prune.magnitude"
  sparsity = 0.5
  {}
[[metric]]
plugin = "org.compaudit.metric.recall_welch"
)", COMPAUDIT_TINY_CSV, selection);
  std::string verdict;
  try {
    host::load_pipeline(file.string(), registry);
  } catch (const Error& e) {
    verdict = e.message();
    const auto colon = verdict.find(": ", verdict.find(": ") + 2);  // after "arm 'prune' step 1: <param>"
    verdict = colon == std::string::npos ? verdict : verdict.substr(colon + 2);
  }
  fs::remove(file);
  return verdict;
}

// The plugin side: select_layers on a model with the same layers, "" or the message after "<id>: <param>: ".
std::string plugin_verdict(const LayerSelection& selection) {
  FakeModel model(testing::mlp_weights({4, 16, 8, 3}), "mlp");
  try {
    const std::vector<Layer> chosen = select_layers(model, selection, "org.compaudit.prune.magnitude");
    CHECK_FALSE(chosen.empty());
    return "";
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::parameters);
    const std::string m = e.message();
    return m.substr(m.find(": ", m.find(": ") + 2) + 2);
  }
}

std::vector<float> draws(at::Generator gen) {
  const at::Tensor t = at::randn({16}, gen);
  return {t.data_ptr<float>(), t.data_ptr<float>() + 16};
}

}  // namespace

TEST_CASE("layer selection: a plugin's select_layers and `compaudit validate` give the same verdict", "[sdk]") {
  struct Case {
    std::string toml;
    LayerSelection selection;
  };
  const std::vector<Case> cases = {
      {"", {}},
      {R"(layers = ["fc*"])", {{"fc*"}, {}, {"linear", "conv2d"}}},
      {R"(exclude = ["fc3"])", {{"*"}, {"fc3"}, {"linear", "conv2d"}}},
      {R"(layers = ["conv*"])", {{"conv*"}, {}, {"linear", "conv2d"}}},
      {R"(exclude = ["fc?"])", {{"*"}, {"fc?"}, {"linear", "conv2d"}}},
      {R"(layer_types = ["conv2d"])", {{"*"}, {}, {"conv2d"}}},
      {R"(layers = ["fc1", "block1.*"])", {{"fc1", "block1.*"}, {}, {"linear", "conv2d"}}},
  };
  int failures = 0;
  for (const auto& c : cases) {
    INFO(c.toml);
    const std::string validator = validator_verdict(c.toml), plugin = plugin_verdict(c.selection);
    CHECK(validator == plugin);
    failures += !validator.empty();
  }
  CHECK(failures == 4);  // the cases that must fail do, on both sides
  CHECK_THAT(plugin_verdict({{"conv*"}, {}, {"linear", "conv2d"}}),
             Catch::Equals("pattern \"conv*\" matches no linear or conv2d layer of model mlp (its layers: fc1 "
                           "(linear), fc2 (linear), fc3 (linear))"));
}

TEST_CASE("layer selection keeps model order and applies types, globs and exclusions", "[sdk]") {
  const std::vector<LayerName> layers = {{"conv1", "conv2d"}, {"block1.conv", "conv2d"}, {"fc", "linear"}};
  CHECK(select_layer_names(layers, {{"*"}, {"block1.*"}, {"linear", "conv2d"}}, "cnn").indices ==
        std::vector<std::size_t>{0, 2});
  CHECK(select_layer_names(layers, {{"fc", "conv*"}, {}, {"conv2d"}}, "cnn").problem ==
        SelectedLayers::Problem::unmatched_pattern);  // "fc" is linear, and only conv2d is selected
  CHECK(select_layer_names(layers, {{"*"}, {"*"}, {"linear"}}, "cnn").problem == SelectedLayers::Problem::nothing_left);
  Params p;
  p.set("layers", std::vector<std::string>{"fc*"});
  const LayerSelection read = read_selection(p);  // absent parameters keep the defaults
  CHECK(read.layers == std::vector<std::string>{"fc*"});
  CHECK(read.layer_types == std::vector<std::string>{"linear", "conv2d"});
}

TEST_CASE("context.generator(salt) is deterministic per (seed, salt) and differs across salts and seeds", "[sdk]") {
  FakeModel model(testing::mlp_weights({4, 3}));
  FakeContext seed0(model, 0), seed0_again(model, 0), seed1(model, 1);
  CHECK(draws(seed0.generator(7)) == draws(seed0_again.generator(7)));
  CHECK(draws(seed0.generator(7)) == draws(seed0.generator(7)));  // each call: a new generator, same stream
  CHECK(draws(seed0.generator(7)) != draws(seed0.generator(8)));
  CHECK(draws(seed0.generator(0)) != draws(seed0.generator(1)));
  CHECK(draws(seed0.generator(7)) != draws(seed1.generator(7)));
  CHECK(draws(seed0.generator()) == draws(seed0.generator(0)));
  // Pinned: the seeding formula of sdk/src/generator.cpp, written out here. Changing it changes every plugin's
  // random stream (and so the results of every run that draws from it) — a change this test must make visible.
  auto pinned_seed = [](std::int64_t seed, std::uint64_t salt) {
    auto finalise = [](std::uint64_t z) {
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
      return z ^ (z >> 31);
    };
    return finalise(finalise(static_cast<std::uint64_t>(seed) ^ 0x63A5F1D02B7E9C41ULL) +
                    0x9E3779B97F4A7C15ULL * (salt + 1));
  };
  CHECK(draws(seed1.generator(7)) == draws(at::make_generator<at::CPUGeneratorImpl>(pinned_seed(1, 7))));
}

TEST_CASE("the fake context hands out fresh tensors and the fake model copies masks", "[sdk]") {
  FakeModel model(testing::mlp_weights({4, 5, 3}, 2));
  FakeContext context(model, 0);
  auto first = context.rewind_point(0);
  const at::Tensor before = first.front().second.clone();
  first.front().second.add_(1000.0);  // a plugin editing its rewind point in place
  CHECK(at::equal(context.rewind_point(0).front().second, before));
  CHECK(context.rewinds == std::vector<std::int64_t>{0, 0});
  CHECK_THROWS_AS(context.rewind_point(3), Error);

  at::Tensor mask = at::ones({5, 4}, at::kBool);
  mask[0][0] = false;
  model.set_mask("fc1.weight", mask);
  mask.fill_(false);  // the caller's tensor stays the caller's
  CHECK(zeros_of(model.mask("fc1.weight")) == 1);
  CHECK(model.layers().front().weight[0][0].item<float>() == 0.0f);

  context.set_data(at::randn({12, 4}), at::arange(12, at::kLong).remainder(3));
  TrainRequest request;
  request.epochs = 2;
  int steps = 0;
  request.on_step = [&](const TrainingProgress&) { ++steps; };
  context.train(request);
  CHECK(steps == 2);
  CHECK(model.layers().front().weight[0][0].item<float>() == 0.0f);  // the mask held through training
  CHECK(context.evaluate("test").probabilities.sizes() == at::IntArrayRef({12, 3}));
}

TEST_CASE("prune_to prunes exactly round(f n) globally and per layer, earlier masks kept", "[sdk]") {
  FakeModel model(testing::mlp_weights({30, 20, 10}, 3));
  const std::vector<Layer> layers = select_layers(model, {}, "test");
  std::vector<std::int64_t> per_layer;
  CHECK(prune_to(model, layers, 0.5, /*global=*/true, {}, &per_layer) == count_for(0.5, 30 * 20 + 20 * 10));
  CHECK(per_layer.size() == 2);
  CHECK(prune_to(model, layers, 0.3, /*global=*/false, {}, &per_layer) >= count_for(0.5, 800));  // never unprunes
  prune_to(model, layers, 0.9, /*global=*/false, {}, &per_layer);
  CHECK(per_layer == std::vector<std::int64_t>{count_for(0.9, 600), count_for(0.9, 200)});
  // the pruned weights are the smallest |w| of each layer
  const at::Tensor w = at::abs(testing::mlp_weights({30, 20, 10}, 3).front().second).flatten();
  const at::Tensor kept = model.mask("fc1.weight").flatten().to(at::kBool);
  CHECK(w.masked_select(kept).min().item<float>() >= w.masked_select(~kept).max().item<float>());
}

TEST_CASE("the SDK version agrees in version.h, CMake and docs/sdk-changelog.md", "[sdk]") {
  CHECK(std::string(COMPAUDIT_SDK_VERSION_STRING) ==
        fmt::format("{}.{}.{}", COMPAUDIT_SDK_ABI_VERSION, COMPAUDIT_SDK_ABI_MINOR, COMPAUDIT_SDK_PATCH));
  CHECK(std::string(COMPAUDIT_CMAKE_PROJECT_VERSION) == COMPAUDIT_SDK_VERSION_STRING);
  std::ifstream in(COMPAUDIT_SDK_CHANGELOG);
  const std::string changelog((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK_THAT(changelog, Catch::Contains(fmt::format("\n## SDK {} (ABI {}.{})", COMPAUDIT_SDK_VERSION_STRING,
                                                    COMPAUDIT_SDK_ABI_VERSION, COMPAUDIT_SDK_ABI_MINOR)));
}
