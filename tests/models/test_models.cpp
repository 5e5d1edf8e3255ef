// Built-in models and the TorchScript wrapper: shapes, masks through training steps, copies, snapshots, export.
#include <compaudit/models/models.h>
#include <compaudit/error.h>

#include <catch2/catch.hpp>
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>

using compaudit::LayerType;
using compaudit::models::make_builtin_model;
using compaudit::models::TrainableModel;

namespace {
std::string run(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  while (std::size_t n = fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
  REQUIRE(pclose(pipe) == 0);
  return out;
}

std::string temp_path(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("compaudit-models-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

// One plain SGD step on the cross entropy of a random batch, then the masks re-applied, as the engine does.
void sgd_step(TrainableModel& model, const at::Tensor& x, int classes) {
  at::Tensor y = at::randint(classes, {x.size(0)}, at::kLong);
  at::Tensor loss = at::cross_entropy_loss(model.forward(x), y);
  loss.backward();
  {
    at::NoGradGuard no_grad;
    for (auto& p : model.parameters_for_optimizer()) {
      p.sub_(p.grad() * 0.5);
      p.mutable_grad().zero_();
    }
  }
  model.apply_masks();
}
}  // namespace

TEST_CASE("built-in models produce logits of the right shape and name their layers", "[models]") {
  at::set_num_threads(1);
  SECTION("mlp") {
    auto m = make_builtin_model("mlp", {32, 16}, {64}, 10, 0);
    CHECK(m->forward(at::randn({5, 64})).sizes() == at::IntArrayRef({5, 10}));
    auto layers = m->layers();
    REQUIRE(layers.size() == 3);
    CHECK(layers[0].name == "fc1");
    CHECK(layers[0].consumer == 1);
    CHECK(layers[2].consumer == -1);
    CHECK(m->named_parameters().size() == 6);
  }
  SECTION("cnn reads flat square features as an image") {
    auto m = make_builtin_model("cnn", {4, 8}, {64}, 10, 0);
    CHECK(m->forward(at::randn({3, 64})).sizes() == at::IntArrayRef({3, 10}));
    auto layers = m->layers();
    REQUIRE(layers.size() == 3);
    CHECK(layers[0].type == LayerType::conv2d);
    CHECK(layers[1].consumer == 2);
    CHECK(layers[2].weight.size(1) == 8 * 2 * 2);
  }
  SECTION("resnet marks residual outputs as not shrinkable") {
    auto m = make_builtin_model("resnet", {4, 8}, {1, 28, 28}, 10, 0);
    CHECK(m->forward(at::randn({2, 1, 28, 28})).sizes() == at::IntArrayRef({2, 10}));
    for (const auto& l : m->layers()) {
      const bool conv1 = l.name.find(".conv1") != std::string::npos;
      CHECK((l.consumer >= 0) == conv1);
    }
  }
  SECTION("unknown architectures and impossible shapes are pipeline errors") {
    CHECK_THROWS_AS(make_builtin_model("vgg", {}, {64}, 10, 0), compaudit::Error);
    CHECK_THROWS_WITH(make_builtin_model("cnn", {}, {63}, 10, 0), Catch::Contains("cannot take inputs"));
  }
}

TEST_CASE("the same seed gives the same weights, another seed others", "[models]") {
  auto a = make_builtin_model("mlp", {8}, {4}, 3, 11), b = make_builtin_model("mlp", {8}, {4}, 3, 11);
  auto c = make_builtin_model("mlp", {8}, {4}, 3, 12);
  CHECK(a->layers()[0].weight.equal(b->layers()[0].weight));
  CHECK_FALSE(a->layers()[0].weight.equal(c->layers()[0].weight));
  const double bound = 1.0 / 2.0;  // 1/sqrt(fan_in = 4)
  CHECK(a->layers()[0].weight.abs().max().item<double>() <= bound);
}

TEST_CASE("masks stay applied through training steps and survive clone and state", "[models]") {
  at::manual_seed(0);
  for (std::string arch : {"mlp", "cnn", "resnet"}) {
    DYNAMIC_SECTION(arch) {
      auto m = make_builtin_model(arch, {4, 8}, {1, 8, 8}, 3, 1);
      auto layer = m->layers()[1];
      const std::string name = layer.name + ".weight";
      at::Tensor mask = (at::rand(layer.weight.sizes()) > 0.5).to(at::kFloat);
      m->set_mask(name, mask);
      CHECK(m->layers()[1].weight.mul(1 - mask).abs().sum().item<double>() == 0.0);
      const at::Tensor before = m->layers()[1].weight.detach().clone();
      sgd_step(*m, at::randn({6, 64}), 3);
      const at::Tensor after = m->layers()[1].weight.detach();
      CHECK(after.mul(1 - mask).abs().sum().item<double>() == 0.0);
      CHECK_FALSE(after.equal(before));  // the kept weights did train

      auto copy = m->clone();
      REQUIRE(copy->mask(name).defined());
      CHECK(copy->mask(name).equal(m->mask(name)));
      sgd_step(*copy, at::randn({6, 64}), 3);
      CHECK(m->layers()[1].weight.equal(after));  // the original did not move with its copy
      CHECK(copy->layers()[1].weight.mul(1 - mask).abs().sum().item<double>() == 0.0);

      m->set_storage_bits(name, 8);
      auto fresh = make_builtin_model(arch, {4, 8}, {1, 8, 8}, 3, 99);
      fresh->load_state(m->state());
      CHECK(fresh->layers()[1].weight.equal(m->layers()[1].weight));
      CHECK(fresh->mask(name).equal(mask));
      CHECK(fresh->storage_bits(name) == 8);
      CHECK(fresh->storage_bits(layer.name + ".bias") == 32);
    }
  }
}

TEST_CASE("replace_parameter can shrink a built-in layer and drops its mask", "[models]") {
  auto m = make_builtin_model("mlp", {8}, {4}, 3, 0);
  m->set_mask("fc1.weight", at::ones({8, 4}));
  m->replace_parameter("fc1.weight", m->layers()[0].weight.slice(0, 0, 5));
  m->replace_parameter("fc1.bias", m->layers()[0].bias.slice(0, 0, 5));
  m->replace_parameter("fc2.weight", m->layers()[1].weight.slice(1, 0, 5));
  CHECK_FALSE(m->mask("fc1.weight").defined());
  CHECK(m->forward(at::randn({2, 4})).sizes() == at::IntArrayRef({2, 3}));
  CHECK(m->parameters_for_optimizer()[0].requires_grad());
  CHECK_THROWS_WITH(m->replace_parameter("fc9.weight", at::ones({1})), Catch::Contains("no parameter 'fc9.weight'"));
  CHECK_THROWS_WITH(m->set_mask("fc2.weight", at::ones({1, 1})), Catch::Contains("has shape [1, 1]"));
}

TEST_CASE("the activation hook sees every layer's input", "[models]") {
  auto m = make_builtin_model("resnet", {4, 8}, {1, 8, 8}, 3, 0);
  std::vector<int> seen;
  REQUIRE(m->set_activation_hook([&](int layer, const at::Tensor& x) {
    seen.push_back(layer);
    return x;
  }));
  m->forward(at::randn({1, 64}));
  CHECK(seen.size() == m->layers().size());
}

TEST_CASE("an exported built-in model is a state dict that torch.load reads", "[models][python]") {
  auto m = make_builtin_model("mlp", {8}, {4}, 3, 0);
  m->set_mask("fc1.weight", at::zeros({8, 4}));
  const std::string path = temp_path("mlp_state.pt");
  m->save(path);
  const std::string out = run("/usr/bin/python3 " COMPAUDIT_FIXTURE_SCRIPTS "/check_state_dict.py " + path);
  CHECK(out.find("fc1.weight 8x4 0\n") != std::string::npos);
  CHECK(out.find("fc2.bias 3 ") != std::string::npos);
}

TEST_CASE("a TorchScript module is wrapped with parameters by name and fixed shapes", "[models][python]") {
  at::set_num_threads(1);
  const std::string path = temp_path("tiny.pt");
  const std::string expected = run("/usr/bin/python3 " COMPAUDIT_FIXTURE_SCRIPTS "/make_torchscript.py " + path);
  auto m = compaudit::models::load_torchscript_model(path);
  CHECK(m->architecture() == "torchscript");
  CHECK_FALSE(m->can_reshape());
  auto layers = m->layers();
  REQUIRE(layers.size() == 2);
  CHECK(layers[0].name == "conv");
  CHECK(layers[0].type == LayerType::conv2d);
  CHECK(layers[1].type == LayerType::linear);
  CHECK(layers[1].bias.defined());

  std::istringstream want(expected);
  at::Tensor logits = m->forward(at::ones({1, 36}));
  for (int i = 0; i < 3; ++i) {
    double v;
    want >> v;
    CHECK(logits[0][i].item<double>() == Approx(v).margin(1e-5));
  }

  at::Tensor mask = at::ones({3, 144});
  mask.slice(1, 0, 72).zero_();
  m->set_mask("fc.weight", mask);
  sgd_step(*m, at::randn({4, 36}), 3);
  CHECK(m->layers()[1].weight.slice(1, 0, 72).abs().sum().item<double>() == 0.0);
  auto copy = m->clone();
  copy->replace_parameter("fc.bias", at::full({3}, 5.0));
  CHECK(m->layers()[1].bias[0].item<double>() != 5.0);
  CHECK(copy->mask("fc.weight").equal(mask));
  CHECK_THROWS_WITH(m->replace_parameter("fc.weight", at::ones({3, 10})), Catch::Contains("fixed shapes"));
  CHECK_FALSE(m->set_activation_hook([](int, const at::Tensor& x) { return x; }));

  const std::string saved = temp_path("tiny_saved.pt");
  m->save(saved);
  auto reloaded = compaudit::models::load_torchscript_model(saved);
  CHECK(reloaded->layers()[1].weight.equal(m->layers()[1].weight));
}
