// Magnitude and structured pruning through their plugin libraries, against torch.nn.utils.prune (fixtures from
// scripts/fixtures/compressors/make_fixtures.py).
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
  double train(const TrainRequest&) override { throw Error(ErrorCode::runtime, "no training here"); }
  Evaluation evaluate(const std::string&) override { return {}; }
  std::vector<std::pair<std::string, at::Tensor>> rewind_point(std::int64_t) override { return {}; }
  at::Tensor calibration_batch(std::int64_t) override { return {}; }
  void log(const std::string&) override {}
};

TensorModel fixture_model(const nlohmann::json& tensors) {
  std::vector<std::pair<std::string, at::Tensor>> w;
  for (const char* k : {"a", "b", "c"}) w.emplace_back(k, fixture_tensor(tensors[k]["shape"], tensors[k]["values"]));
  return TensorModel(w);
}

// Our masks against PyTorch's: the same decision for every weight whose magnitude is not the threshold itself
// (which of several tied weights PyTorch's topk drops is unspecified). Returns (our count, torch's count) of
// pruned weights, which the caller compares per tensor (layerwise) or in total (global).
std::pair<double, double> check_same_masks(const at::Tensor& weight, const at::Tensor& ours, const at::Tensor& torch_mask,
                                           double threshold) {
  const at::Tensor ours_f = ours.to(at::kFloat), want = torch_mask.to(at::kFloat);
  const at::Tensor clear = weight.abs().to(at::kDouble).ne(threshold);
  CHECK(ours_f.masked_select(clear).equal(want.masked_select(clear)));
  return {ours_f.eq(0).sum().item<double>(), want.eq(0).sum().item<double>()};
}

// The largest pruned magnitude over the given tensors: PyTorch's threshold.
double threshold_of(const std::vector<at::Tensor>& weights, const std::vector<at::Tensor>& masks) {
  double t = -1;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    const at::Tensor pruned = weights[i].abs().to(at::kDouble).masked_select(masks[i].eq(0));
    if (pruned.numel()) t = std::max(t, pruned.max().item<double>());
  }
  return t;
}
}  // namespace

TEST_CASE("magnitude pruning gives torch's l1_unstructured and global_unstructured masks, ties included",
          "[prune][magnitude][fixtures]") {
  at::set_num_threads(1);
  const auto f = fixture("pruning.json");
  NullContext ctx;
  for (const auto& c : f["cases"]) {
    const double amount = c["amount"].get<double>();
    for (std::string scope : {"layerwise", "global"}) {
      DYNAMIC_SECTION(scope << " at " << amount) {
        TensorModel model = fixture_model(f["tensors"]);
        std::map<std::string, at::Tensor> original;
        for (const auto& l : model.layers()) original[l.name] = l.weight.clone();
        auto pruner = load_compressor("prune_magnitude", {{"sparsity", amount}, {"scope", scope}});
        const CompressionRecord record = pruner->compress(model, ctx);
        std::vector<at::Tensor> ws, want;
        for (const char* k : {"a", "b", "c"}) {
          ws.push_back(original[k]);
          want.push_back(fixture_tensor(f["tensors"][k]["shape"], c[scope][k]));
        }
        double ours_total = 0, torch_total = 0;
        int i = 0;
        for (const char* k : {"a", "b", "c"}) {
          INFO("tensor " << k);
          const double threshold = scope == "global" ? threshold_of(ws, want) : threshold_of({ws[i]}, {want[i]});
          const auto [ours, theirs] = check_same_masks(ws[i], model.mask(std::string(k) + ".weight"), want[i], threshold);
          if (scope == "layerwise") CHECK(ours == theirs);
          ours_total += ours, torch_total += theirs, ++i;
        }
        CHECK(ours_total == torch_total);
        CHECK(record.details["scope"] == scope);
        CHECK_THAT(record.summary, Catch::Contains("magnitude pruning"));
      }
    }
  }
}

TEST_CASE("magnitude pruning keeps earlier masks and counts them towards the target", "[prune][magnitude]") {
  NullContext ctx;
  TensorModel model({{"w", at::arange(1, 101, at::kFloat).reshape({10, 10})}});
  at::Tensor earlier = at::ones({10, 10});
  earlier.view(-1).slice(0, 90).zero_();  // the 10 largest weights were pruned before
  model.set_mask("w.weight", earlier);
  auto record = load_compressor("prune_magnitude", {{"sparsity", 0.3}})->compress(model, ctx);
  const at::Tensor m = model.mask("w.weight").to(at::kFloat).view(-1);
  CHECK(m.slice(0, 90).sum().item<double>() == 0);   // still pruned
  CHECK(m.slice(0, 0, 20).sum().item<double>() == 0);  // plus the 20 smallest: 30 in all
  CHECK(m.sum().item<double>() == 70);
  CHECK(record.details["previously_pruned"] == 10);
}

TEST_CASE("structured pruning drops the channels torch's ln_structured drops", "[prune][structured][fixtures]") {
  const auto f = fixture("pruning.json")["structured"];
  NullContext ctx;
  for (const auto& c : f["cases"]) {
    const std::string norm = c["n"].get<int>() == 1 ? "l1" : "l2";
    const double amount = c["amount"].get<double>();
    DYNAMIC_SECTION(norm << " at " << amount) {
      // Two models of one layer each, so neither is "the last layer" that structured pruning always spares; a
      // trailing dummy layer takes that role.
      for (const char* key : {"conv", "linear"}) {
        TensorModel model({{key, fixture_tensor(f[key]["shape"], f[key]["values"])}, {"last", at::ones({2, 2})}});
        auto pruner = load_compressor("prune_structured",
                                      {{"amount", amount}, {"norm", norm}, {"layers", std::vector<std::string>{key}}});
        const CompressionRecord record = pruner->compress(model, ctx);
        const at::Tensor mask = model.mask(std::string(key) + ".weight");
        const at::Tensor kept = mask.flatten(1).select(1, 0).to(at::kLong);
        INFO(key);
        CHECK(kept.equal(at::tensor(c[key].get<std::vector<std::int64_t>>())));
        CHECK(record.details["layers"][0]["mode"] == "masked");
        CHECK(model.mask(std::string(key) + ".bias").defined());
      }
    }
  }
}

TEST_CASE("structured pruning physically shrinks built-in models and reports the smaller size",
          "[prune][structured]") {
  at::set_num_threads(1);
  NullContext ctx;
  for (std::string arch : {"mlp", "cnn", "resnet"}) {
    DYNAMIC_SECTION(arch) {
      auto model = models::make_builtin_model(arch, {8, 16}, {1, 8, 8}, 3, 0);
      const auto before = measure(*model);
      auto record = load_compressor("prune_structured", {{"amount", 0.5}})->compress(*model, ctx);
      const auto after = measure(*model);
      CHECK(after.parameters < before.parameters);
      CHECK(after.bytes < before.bytes);
      CHECK(record.details["size_after"]["parameters"] == after.parameters);
      CHECK(record.details["size_before"]["parameters"] == before.parameters);
      CHECK(model->forward(at::randn({2, 64})).sizes() == at::IntArrayRef({2, 3}));
      bool any_sliced = false;
      for (const auto& l : record.details["layers"]) any_sliced = any_sliced || l["mode"] == "sliced";
      CHECK(any_sliced);
      if (arch == "mlp") CHECK(model->layers()[0].weight.size(0) == 4);
      if (arch == "resnet") {  // residual outputs cannot shrink: they are masked instead
        bool masked = false;
        for (const auto& l : record.details["layers"]) masked = masked || l["mode"] == "masked";
        CHECK(masked);
      }
    }
  }
}
