// An audit whose compressor changes nothing must claim nothing: pruning at sparsity 0 leaves every model bit for bit
// its dense twin, so the PIE fraction is 0 and not above its seed-noise floor, no class is impacted, no finding is
// marked shown, and neither the report nor the terminal summary says "above noise", "impacted" or "rises".
#include "engine_lib.h"
#include "test_helpers.h"

#include "support/digits_audit.h"

#include <compaudit/host/exit_codes.h>
#include <compaudit/report/report.h>

#include <catch2/catch.hpp>

#include <fstream>

using namespace compaudit;
namespace fs = std::filesystem;

TEST_CASE("A compressor that changes nothing gets no finding", "[engine][verdicts][null]") {
  COMPAUDIT_SKIP_UNLESS_DIGITS();
  const auto dir = engine_test::scratch_dir("null-audit");
  test_support::DigitsAudit audit;
  audit.name = "null-audit";
  audit.seeds = 6;  // K = 6: the smallest population whose permutation test could call PIEs above noise at 0.05
  audit.arms = R"(
[[arm]]
name = "nothing"
  [[arm.step]]
  plugin = "org.compaudit.prune.magnitude"
  sparsity = 0.0
)";
  audit.metrics = {"top1", "pie", "recall_welch"};
  const fs::path pipeline = dir / "pipeline.toml";
  engine_test::write_text(pipeline, audit.toml());
  REQUIRE(engine_test::run_pipeline(pipeline.string(), (dir / "run").string()) == host::exit_ok);

  std::ifstream file(dir / "run" / "report.json");
  REQUIRE(file);
  const auto report = nlohmann::json::parse(file);
  const nlohmann::json* arm = nullptr;
  for (const auto& a : report["arms"])
    if (a["name"] == "nothing") arm = &a;
  REQUIRE(arm);
  for (const auto& m : (*arm)["metrics"]) {
    INFO(m.dump());
    REQUIRE(m["error"] == "");
    const auto& summary = m["result"]["summary"];
    if (m["id"] == "org.compaudit.metric.pie") {
      CHECK(summary["pie_fraction"].get<double>() == 0.0);
      CHECK(summary["above_noise"] == false);
      CHECK(summary["pie_p_value"].get<double>() >= 0.05);
    }
    if (m["id"] == "org.compaudit.metric.recall_welch") CHECK(summary["impacted_classes"] == 0);
  }
  REQUIRE(report.contains("findings"));
  for (const auto& f : report["findings"]) {
    INFO(f.dump());
    CHECK(f.value("shown", false) == false);
    const std::string text = f["text"];
    CHECK_THAT(text, !Catch::Contains("rises") && !Catch::Contains(": above noise"));
  }
  const std::string terminal = report::terminal_summary(report, 100);
  INFO(terminal);
  CHECK_THAT(terminal, Catch::Contains("nothing"));
  CHECK_THAT(terminal, !Catch::Contains(": above noise") && !Catch::Contains(" rises "));
}
