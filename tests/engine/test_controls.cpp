// Matched controls on digits through the real engine: one dense control per fine-tuning budget,
// and for every compressor that trains inside compress() (gradual, lottery, class-dependent) a control that runs
// the same plugin with the same parameters and random streams with compression made inert — it must train exactly
// as long as its arm (optimizer steps counted by the host) and end dense — and each arm compared with its control.
#include "engine_lib.h"
#include "stored_state.h"
#include "test_helpers.h"

#include "support/digits_audit.h"

#include <compaudit/host/exit_codes.h>
#include <compaudit/store/store.h>

#include <ATen/ATen.h>
#include <catch2/catch.hpp>

#include <map>

using namespace compaudit;
namespace fs = std::filesystem;

namespace {

const std::string kArms = R"(
[[arm]]
name = "prune"
finetune_epochs = 1
  [[arm.step]]
  plugin = "org.compaudit.prune.magnitude"
  sparsity = 0.5

[[arm]]
name = "prune-long"
finetune_epochs = 2
  [[arm.step]]
  plugin = "org.compaudit.prune.magnitude"
  sparsity = 0.5

[[arm]]
name = "gradual"
  [[arm.step]]
  plugin = "org.compaudit.prune.gradual"
  final_sparsity = 0.7
  epochs = 1

[[arm]]
name = "lottery"
finetune_epochs = 1
  [[arm.step]]
  plugin = "org.compaudit.prune.lottery"
  sparsity = 0.7
  rounds = 2
  epochs = 1

[[arm]]
name = "classdep"
  [[arm.step]]
  plugin = "org.compaudit.compress.classdep"
  critical_class = 3
  sparsity = 0.7
  rounds = 1
  epochs = 2
)";

using engine_test::final_state;
using engine_test::State;

}  // namespace

TEST_CASE("Controls match each arm's extra training: one per budget, and one per training compressor",
          "[engine][controls]") {
  COMPAUDIT_SKIP_UNLESS_DIGITS();
  const auto dir = engine_test::scratch_dir("controls");
  test_support::DigitsAudit audit;
  audit.name = "controls";
  audit.seeds = 2;
  audit.arms = kArms;
  audit.metrics = {"top1", "pie"};
  const fs::path pipeline = dir / "pipeline.toml";
  engine_test::write_text(pipeline, audit.toml());
  REQUIRE(engine_test::run_pipeline(pipeline.string(), (dir / "run").string()) == host::exit_ok);

  const store::Store s = store::Store::open((dir / "run").string(), store::Store::Access::read_only);
  for (const auto& c : s.cells()) {
    INFO(c.arm << " seed " << c.seed << ": " << c.error);
    REQUIRE(store::to_string(c.status) == std::string("done"));
  }
  std::map<std::string, store::ArmInfo> arms;
  std::vector<std::string> order;
  for (const auto& a : s.arms()) arms[a.name] = a, order.push_back(a.name);
  CHECK(order == std::vector<std::string>{"dense", "dense+ft1", "dense+ft2", "gradual control", "lottery control",
                                          "classdep control", "prune", "prune-long", "gradual", "lottery",
                                          "classdep"});

  SECTION("one dense control per fine-tuning budget, each the reference of the arms with that budget") {
    CHECK(arms["dense+ft1"].finetune_epochs == 1);
    CHECK(arms["dense+ft2"].finetune_epochs == 2);
    CHECK(arms["dense+ft1"].steps.empty());
    CHECK(arms["prune"].reference == "dense+ft1");
    CHECK(arms["prune-long"].reference == "dense+ft2");
    CHECK(arms["dense+ft2"].reference == "dense");
    for (const auto& m : s.metrics())
      if (m.arm == "prune-long") CHECK(m.reference == "dense+ft2");
  }

  SECTION("a training compressor's control trains exactly as its arm, stays dense, and is the arm's reference") {
    for (const std::string arm : {"gradual", "lottery", "classdep"}) {
      const std::string control = arm + " control";
      INFO(arm);
      CHECK(arms[arm].reference == control);
      CHECK(arms[control].reference == "dense");
      CHECK(arms[control].finetune_epochs == arms[arm].finetune_epochs);
      REQUIRE(arms[control].steps.size() == 1);
      CHECK(arms[control].steps[0]["inert"] == true);
      CHECK(arms[control].steps[0]["params"] == arms[arm].steps[0]["params"]);  // the same parameters
      for (const auto& m : s.metrics())
        if (m.arm == arm) CHECK(m.reference == control);
      for (std::int64_t seed : {0, 1}) {
        INFO("seed " << seed);
        const auto cell = s.cell(arm, seed), twin = s.cell(control, seed), dense = s.cell("dense", seed);
        REQUIRE((cell && twin && dense));
        REQUIRE(cell->records.size() == 1);
        REQUIRE(twin->records.size() == 1);
        const nlohmann::json &r = cell->records[0], &t = twin->records[0];
        // The same training: epochs and optimizer steps inside compress(), as the host counted them.
        REQUIRE(r.contains("trained"));
        CHECK(r["trained"]["steps"].get<std::int64_t>() > 0);
        CHECK(t["trained"] == r["trained"]);
        // The compression calls were made and dropped.
        CHECK(t["inert"]["dropped"]["set_mask"].get<std::int64_t>() > 0);
        CHECK_THAT(t["summary"].get<std::string>(), Catch::StartsWith("control, compression inert: "));
        // Dense at the end: no mask, no zero among the layer weights; and trained (not the dense model's weights).
        const State state = final_state(s, control, seed), dense_state = final_state(s, "dense", seed);
        const State pruned = final_state(s, arm, seed);
        double moved = 0.0;
        std::int64_t pruned_masks = 0;
        for (const auto& [name, value] : state) {
          CHECK(name.rfind("mask/", 0) != 0);
          CHECK(name.rfind("bits/", 0) != 0);
          if (name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0) {
            CHECK(value.eq(0).sum().item<std::int64_t>() == dense_state.at(name).eq(0).sum().item<std::int64_t>());
            moved = std::max(moved, (value - dense_state.at(name)).abs().max().item<double>());
          }
          pruned_masks += pruned.count("mask/" + name);
        }
        CHECK(moved > 1e-4);
        CHECK(pruned_masks > 0);  // while the arm itself is pruned
      }
    }
    // Class-dependent compression's control is trained with the same class-weighted loss.
    const auto twin = s.cell("classdep control", 0);
    REQUIRE(twin);
    CHECK(twin->records[0]["details"]["class_weights"][3].get<double>() == 5.0);
    CHECK(twin->records[0]["details"]["class_weights"][0].get<double>() == 1.0);
  }
}
