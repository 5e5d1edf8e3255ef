// Issue 14 item 2 through the real `compaudit` executable: what `run --resume` computes again. A worker killed by a
// signal failed its cell for a reason outside the cell's own report (docs/isolation.md#what-resume-retries-and-refuses)
// and is retried on resume; a plugin that threw stays failed unless `--retry-failed`. The kind is in report.json.
#include "cli_process.h"

#include <compaudit/host/exit_codes.h>

#include <catch2/catch.hpp>

using namespace isolation_test;
using compaudit::store::CellStatus;
using compaudit::store::FailureKind;
using compaudit::store::Store;

namespace {

// How many times each failed cell was computed: the host logs one "error" line per failure of a cell.
std::map<std::string, int> attempts(const fs::path& run_dir) {
  std::map<std::string, int> n;
  const Store s = Store::open(run_dir.string(), Store::Access::read_only);
  for (const auto& line : s.log_lines())
    for (const char* arm : {"fault@fault=segv", "fault@fault=throw"})
      if (line.text.rfind(std::string(arm) + " seed 1:", 0) == 0) ++n[arm];
  return n;
}

}  // namespace

TEST_CASE("Resume retries a cell whose worker was killed, not one its plugin failed, unless --retry-failed",
          "[isolation][resume][retry]") {
  COMPAUDIT_SKIP_UNLESS_DIGITS();
  const auto dir = scratch_dir("resume-retry");
  compaudit::test_support::DigitsAudit audit;
  audit.name = "retry";
  audit.seeds = 2;
  audit.hidden = "[16]";
  audit.arms = R"(
[[arm]]
name = "fault"
  [[arm.step]]
  plugin = "org.test.compressor.fault"
  fault = ["segv", "throw"]
  seed = 1
)";
  audit.tables = "\n[report]\nformats = [\"json\"]\n[run]\nisolation = \"process\"\ncell_timeout = 60\n";
  write_text(dir / "pipeline.toml", audit.toml());
  const fs::path run_dir = dir / "run";
  const std::vector<std::string> plugins{"--plugin-path", ISOLATION_PLUGIN_DIR};
  std::vector<std::string> args{"run", (dir / "pipeline.toml").string(), "-o", run_dir.string(), "-q"};
  args.insert(args.end(), plugins.begin(), plugins.end());
  REQUIRE(run(args, dir / "run.log") == compaudit::host::exit_cells_failed);
  {
    const Store s = Store::open(run_dir.string(), Store::Access::read_only);
    CHECK(s.cell("fault@fault=segv", 1)->failure == FailureKind::environment);
    CHECK(s.cell("fault@fault=throw", 1)->failure == FailureKind::plugin);
    const auto report = nlohmann::json::parse(read_text(run_dir / "report.json"));
    std::map<std::string, std::string> kinds;
    for (const auto& c : report.at("failed_cells")) kinds[c.at("arm")] = c.at("failure");
    CHECK(kinds["fault@fault=segv"] == "environment");
    CHECK(kinds["fault@fault=throw"] == "plugin");
  }
  CHECK(attempts(run_dir) == std::map<std::string, int>{{"fault@fault=segv", 1}, {"fault@fault=throw", 1}});

  std::vector<std::string> resume{"run", "--resume", run_dir.string(), "-q"};
  resume.insert(resume.end(), plugins.begin(), plugins.end());
  CHECK(run(resume, dir / "resume.log") == compaudit::host::exit_cells_failed);  // the segfault happens again
  INFO(read_text(dir / "resume.log"));
  CHECK(attempts(run_dir) == std::map<std::string, int>{{"fault@fault=segv", 2}, {"fault@fault=throw", 1}});

  resume.push_back("--retry-failed");
  CHECK(run(resume, dir / "retry.log") == compaudit::host::exit_cells_failed);
  CHECK(attempts(run_dir) == std::map<std::string, int>{{"fault@fault=segv", 3}, {"fault@fault=throw", 2}});
}
