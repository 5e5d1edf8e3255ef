// Compressed stays compressed: every built-in compressor, fine-tuned after compression on digits,
// still satisfies its own compression in the final model — masked weights are zero, truncated weights keep their
// rank (numerical rank by SVD), quantized weights sit on the grid the TFLite rules give for the dense weights — and
// the size metric reports the same realized figures. The oracles are computed here from the stored weights, not by
// the host's code: the rank from the singular values (numpy.linalg.matrix_rank's tolerance), the grid from the
// dense model's weights.
#include "engine_lib.h"
#include "test_helpers.h"

#include "run/state_io.h"
#include "support/digits_audit.h"

#include <compaudit/host/exit_codes.h>
#include <compaudit/store/store.h>

#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <limits>

using namespace compaudit;
namespace fs = std::filesystem;

namespace {

// One arm per built-in compressor, each fine-tuned for 2 epochs after compression; the one-shot compressors also
// once without fine-tuning, to show that fine-tuning moved the weights it then had to keep compressed.
const std::string kArms = R"(
[[arm]]
name = "magnitude-ft"
finetune_epochs = 2
  [[arm.step]]
  plugin = "org.compaudit.prune.magnitude"
  sparsity = 0.7

[[arm]]
name = "structured-ft"
finetune_epochs = 2
  [[arm.step]]
  plugin = "org.compaudit.prune.structured"
  amount = 0.5

[[arm]]
name = "gradual-ft"
finetune_epochs = 2
  [[arm.step]]
  plugin = "org.compaudit.prune.gradual"
  final_sparsity = 0.7
  epochs = 1

[[arm]]
name = "lottery-ft"
finetune_epochs = 2
  [[arm.step]]
  plugin = "org.compaudit.prune.lottery"
  sparsity = 0.7
  rounds = 1
  epochs = 1

[[arm]]
name = "classdep-ft"
finetune_epochs = 2
  [[arm.step]]
  plugin = "org.compaudit.compress.classdep"
  critical_class = 3
  sparsity = 0.7
  rounds = 1
  epochs = 1

[[arm]]
name = "int8-ft"
finetune_epochs = 2
  [[arm.step]]
  plugin = "org.compaudit.quantize.ptq"

[[arm]]
name = "int8"
  [[arm.step]]
  plugin = "org.compaudit.quantize.ptq"

[[arm]]
name = "int4-affine-ft"
finetune_epochs = 2
  [[arm.step]]
  plugin = "org.compaudit.quantize.ptq"
  precision = "int4"
  scheme = "affine"
  granularity = "per_tensor"

[[arm]]
name = "svd-ft"
finetune_epochs = 2
  [[arm.step]]
  plugin = "org.compaudit.truncate.svd"
  rank = 4

[[arm]]
name = "svd"
  [[arm.step]]
  plugin = "org.compaudit.truncate.svd"
  rank = 4
)";

using State = std::map<std::string, at::Tensor>;

State final_state(const store::Store& s, const std::string& arm, std::int64_t seed) {
  const auto blob = s.blob(arm, seed, "state");
  REQUIRE(blob.has_value());
  return engine::decode_state(*blob);
}

std::vector<std::string> weights_of(const State& state) {
  std::vector<std::string> out;
  for (const auto& [name, t] : state)
    if (name.rfind("mask/", 0) != 0 && name.rfind("bits/", 0) != 0 && name.size() > 7 &&
        name.compare(name.size() - 7, 7, ".weight") == 0)
      out.push_back(name);
  return out;
}

// numpy.linalg.matrix_rank: singular values above s_max * max(m, n) * eps (float32 values).
std::int64_t matrix_rank(const at::Tensor& w) {
  const at::Tensor s = at::linalg_svdvals(w.to(at::kDouble).flatten(1));
  const double tol = s.max().item<double>() * static_cast<double>(std::max(w.size(0), w.flatten(1).size(1))) *
                     static_cast<double>(std::numeric_limits<float>::epsilon());
  return (s > tol).sum().item<std::int64_t>();
}

// Largest distance of w / scale + zero from an integer, and whether every code lies in [qmin, qmax].
std::pair<double, bool> grid_distance(const at::Tensor& w, const at::Tensor& scale, const at::Tensor& zero,
                                      double qmin, double qmax) {
  const at::Tensor q = w.to(at::kDouble) / scale + zero;
  const double off = (q - q.round()).abs().max().item<double>();
  const bool in_range = (q.round() >= qmin).all().item<bool>() && (q.round() <= qmax).all().item<bool>();
  return {off, in_range};
}

const nlohmann::json* size_summary(const std::vector<store::MetricResult>& all, const std::string& arm) {
  for (const auto& m : all)
    if (m.metric_id == "org.compaudit.metric.size" && m.arm == arm) return &m.result["summary"];
  return nullptr;
}

}  // namespace

TEST_CASE("Every built-in compressor, fine-tuned, still satisfies its own compression", "[engine][compressed]") {
  COMPAUDIT_SKIP_UNLESS_DIGITS();
  const auto dir = engine_test::scratch_dir("compressed-stays");
  test_support::DigitsAudit audit;
  audit.name = "compressed-stays";
  audit.seeds = 2;
  audit.arms = kArms;
  audit.metrics = {"top1", "size"};
  const fs::path pipeline = dir / "pipeline.toml";
  engine_test::write_text(pipeline, audit.toml());
  REQUIRE(engine_test::run_pipeline(pipeline.string(), (dir / "run").string()) == host::exit_ok);

  const store::Store s = store::Store::open((dir / "run").string(), store::Store::Access::read_only);
  for (const auto& c : s.cells()) {
    INFO(c.arm << " seed " << c.seed << ": " << c.error);
    REQUIRE(store::to_string(c.status) == std::string("done"));
  }
  const auto metrics = s.metrics();
  const std::vector<std::int64_t> seeds = {0, 1};

  SECTION("pruned arms: every masked weight is still zero after fine-tuning") {
    for (const std::string arm : {"magnitude-ft", "gradual-ft", "lottery-ft", "classdep-ft"}) {
      for (std::int64_t seed : seeds) {
        INFO(arm << " seed " << seed);
        const State state = final_state(s, arm, seed);
        std::int64_t masked = 0, weights = 0;
        for (const std::string& name : weights_of(state)) {
          weights += state.at(name).numel();
          const auto m = state.find("mask/" + name);
          if (m == state.end()) continue;
          const at::Tensor dropped = m->second.to(at::kFloat) == 0;
          masked += dropped.sum().item<std::int64_t>();
          CHECK(state.at(name).masked_select(dropped).abs().max().item<double>() == 0.0);
        }
        CHECK(static_cast<double>(masked) / static_cast<double>(weights) > 0.5);  // pruning happened (target 0.7)
      }
      const nlohmann::json* summary = size_summary(metrics, arm);
      REQUIRE(summary != nullptr);
      CHECK((*summary)["sparsity_cand"].get<double>() > 0.5);
    }
  }

  SECTION("structured pruning: the shrunken shapes (and any masks) hold through fine-tuning") {
    for (std::int64_t seed : seeds) {
      const State dense = final_state(s, "dense", seed), state = final_state(s, "structured-ft", seed);
      std::int64_t dense_params = 0, params = 0;
      for (const std::string& name : weights_of(dense)) dense_params += dense.at(name).numel();
      for (const std::string& name : weights_of(state)) {
        params += state.at(name).numel();
        if (const auto m = state.find("mask/" + name); m != state.end())
          CHECK(state.at(name).masked_select(m->second.to(at::kFloat) == 0).abs().sum().item<double>() == 0.0);
      }
      CHECK(params < dense_params);
      CHECK(state.at("fc1.weight").size(0) == 16);  // half of the 32 hidden units, removed for good
    }
  }

  SECTION("truncated arms: each layer's numerical rank stays at the recorded chi") {
    for (std::int64_t seed : seeds) {
      INFO("seed " << seed);
      const State tuned = final_state(s, "svd-ft", seed), untuned = final_state(s, "svd", seed);
      const auto cell = s.cell("svd-ft", seed);
      REQUIRE(cell.has_value());
      const nlohmann::json& cuts = cell->records.at(0).at("details").at("cuts");
      REQUIRE(cuts.size() == 2);  // fc1, fc2
      for (const auto& cut : cuts) {
        const std::string name = cut["layer"].get<std::string>() + ".weight";
        INFO(name);
        CHECK(cut["chi"].get<std::int64_t>() == 4);
        CHECK(matrix_rank(tuned.at(name)) == 4);
        CHECK(matrix_rank(untuned.at(name)) == 4);
        // Fine-tuning did move the weights (the projection keeps them low-rank, it does not freeze them).
        CHECK((tuned.at(name) - untuned.at(name)).abs().max().item<double>() > 1e-4);
      }
      // The host's realized figures agree.
      for (const auto& layer : cell->size.at("realized").at("layers")) {
        REQUIRE(layer.contains("cuts"));
        CHECK(layer["cuts"][0]["rank"].get<std::int64_t>() == 4);
        CHECK(layer["norm_loss"].get<double>() > 0.0);
      }
    }
    const nlohmann::json* summary = size_summary(metrics, "svd-ft");
    REQUIRE(summary != nullptr);
    CHECK((*summary)["realized_rank_excess_max"].get<double>() == 0.0);
    CHECK((*summary)["realized_norm_loss_mean"].get<double>() > 0.0);
  }

  SECTION("quantized arms: every weight sits on the grid of the dense weights (same scales, zero points)") {
    for (std::int64_t seed : seeds) {
      INFO("seed " << seed);
      const State dense = final_state(s, "dense", seed);
      const State int8 = final_state(s, "int8-ft", seed), int8_untuned = final_state(s, "int8", seed);
      const State int4 = final_state(s, "int4-affine-ft", seed);
      for (const std::string& name : weights_of(dense)) {
        INFO(name);
        const at::Tensor wd = dense.at(name).to(at::kDouble);
        // int8, symmetric, per channel: s_c = max |w_c| / 127, codes in [-127, 127].
        const at::Tensor scale = std::get<0>(wd.abs().flatten(1).max(1)).reshape({-1, 1}) / 127.0;
        const auto [off8, in8] = grid_distance(int8.at(name), scale, at::zeros_like(scale), -127, 127);
        CHECK(off8 < 1e-3);
        CHECK(in8);
        CHECK(int8.at("bits/" + name).item<std::int64_t>() == 8);
        CHECK((int8.at(name) - int8_untuned.at(name)).abs().max().item<double>() > 0.0);  // fine-tuning moved codes
        // int4, affine, per tensor: range [min(w, 0), max(w, 0)], s = range / 15, z = clamp(-8 - round(lo / s)).
        const double lo = std::min(0.0, wd.min().item<double>()), hi = std::max(0.0, wd.max().item<double>());
        const double s4 = (hi - lo) / 15.0;
        const double rounded = lo / s4 >= 0 ? std::floor(lo / s4 + 0.5) : -std::floor(-lo / s4 + 0.5);
        const double z = std::clamp(-8.0 - rounded, -8.0, 7.0);
        const auto [off4, in4] = grid_distance(int4.at(name), at::scalar_tensor(s4, at::kDouble),
                                               at::scalar_tensor(z, at::kDouble), -8, 7);
        CHECK(off4 < 1e-3);
        CHECK(in4);
      }
    }
    for (const std::string arm : {"int8-ft", "int4-affine-ft"}) {
      INFO(arm);
      const nlohmann::json* summary = size_summary(metrics, arm);
      REQUIRE(summary != nullptr);
      CHECK((*summary)["realized_off_grid_fraction_max"].get<double>() == 0.0);
      CHECK((*summary)["realized_levels_excess_max"].get<double>() <= 0.0);
    }
  }
}
