// Crash isolation (docs/isolation.md) through the real `compaudit run`: a compressor that segfaults, aborts, hangs,
// exhausts memory (operator new, LibTorch tensors) or throws fails only its own cell, with the cause recorded in the
// store and report.json; the other cells are done; the exit code is 1 ("some cells failed"). And an isolated run
// computes the same bits as an in-process run.
#include "cli_process.h"

#include <compaudit/host/exit_codes.h>

#include <catch2/catch.hpp>

using namespace isolation_test;
using compaudit::store::CellStatus;
using compaudit::store::Store;

namespace {

// K = 2 two-epoch MLPs on digits. `arms` are appended [[arm]] tables; `run` the [run] table.
std::string digits_pipeline(const std::string& name, const std::string& arms, const std::string& run = "") {
  compaudit::test_support::DigitsAudit audit;
  audit.name = name;
  audit.seeds = 2;
  audit.hidden = "[16]";
  audit.arms = arms;
  audit.metrics = {"top1", "pie"};
  audit.tables = "\n[report]\nformats = [\"json\", \"terminal\"]\n" + run;
  return audit.toml();
}

const std::string kFaultArms = R"(
[[arm]]
name = "fault"
  [[arm.step]]
  plugin = "org.test.compressor.fault"
  fault = ["segv", "abort", "hang", "oom", "oom_tensor", "throw"]
  seed = 1
)";

const std::string kPlainArms = R"(
[[arm]]
name = "prune"
finetune_epochs = 1
  [[arm.step]]
  plugin = "org.compaudit.prune.magnitude"
  sparsity = 0.8
[[arm]]
name = "calm"
  [[arm.step]]
  plugin = "org.test.compressor.fault"
  fault = "none"
)";

}  // namespace

TEST_CASE("A plugin that segfaults, aborts, hangs or runs out of memory fails only its own cell, with the cause",
          "[isolation][fault][.slow]") {
  COMPAUDIT_SKIP_UNLESS_DIGITS();
  const auto dir = scratch_dir("faults");
  // 45 s per worker is far above a digits cell (1-3 s with start-up, more on a loaded machine) and bounds the
  // hanging one; 1024 MiB is the smallest limit allowed, so the memory faults end soon.
  const std::string run_table = "\n[run]\nisolation = \"process\"\ncell_timeout = 45\ncell_memory_mb = 1024\n";
  write_text(dir / "pipeline.toml", digits_pipeline("faults", kFaultArms, run_table));
  const fs::path run_dir = dir / "run";
  const int rc = run({"run", (dir / "pipeline.toml").string(), "-o", run_dir.string(), "-q", "--plugin-path",
                      ISOLATION_PLUGIN_DIR},
                     dir / "run.log");
  INFO(read_text(dir / "run.log"));
  CHECK(rc == compaudit::host::exit_cells_failed);

  const Store s = Store::open(run_dir.string(), Store::Access::read_only);
  std::map<std::string, std::string> failed;  // arm -> error
  for (const auto& c : s.cells(CellStatus::failed)) {
    CHECK(c.seed == 1);
    failed[c.arm] = c.error;
  }
  REQUIRE(failed.size() == 6);
  CHECK_THAT(failed["fault@fault=segv"], Catch::StartsWith("killed by signal 11 (SIGSEGV)"));
  CHECK_THAT(failed["fault@fault=abort"], Catch::StartsWith("killed by signal 6 (SIGABRT)"));
  CHECK(failed["fault@fault=hang"] == "timed out after 45 s in its worker process");
  CHECK_THAT(failed["fault@fault=oom"], Catch::StartsWith("out of memory (limit 1024 MiB)"));
  CHECK_THAT(failed["fault@fault=oom_tensor"], Catch::StartsWith("out of memory (limit 1024 MiB)"));
  // An exception is the ordinary in-process failure: the worker commits it as the engine always does.
  CHECK_THAT(failed["fault@fault=throw"], Catch::Contains("the fault plugin throws, as asked"));
  // Every other cell is done: dense and every fault arm of seed 0, dense of seed 1.
  CHECK(s.cells(CellStatus::done).size() == 2 * 7 - 6);
  CHECK(s.cells(CellStatus::running).empty());
  CHECK(s.cells(CellStatus::pending).empty());
  CHECK_FALSE(s.metrics().empty());
  // No worker log is left behind in the run directory.
  for (const auto& e : fs::directory_iterator(run_dir)) CHECK(e.path().filename().string().rfind(".worker-", 0) != 0);

  // report.json lists each failed cell with its cause.
  const auto report = nlohmann::json::parse(read_text(run_dir / "report.json"));
  REQUIRE(report["failed_cells"].size() == 6);
  std::map<std::string, std::string> reported;
  for (const auto& f : report["failed_cells"]) reported[f["arm"].get<std::string>()] = f["error"].get<std::string>();
  CHECK(reported == failed);
}

TEST_CASE("An isolated run computes the same results as an in-process run", "[isolation][equality]") {
  COMPAUDIT_SKIP_UNLESS_DIGITS();
  const auto dir = scratch_dir("equality");
  write_text(dir / "pipeline.toml", digits_pipeline("equality", kPlainArms));
  const std::string pipeline = (dir / "pipeline.toml").string();
  const int in_process = run({"run", pipeline, "-o", (dir / "none").string(), "-q", "--isolate", "none",
                              "--plugin-path", ISOLATION_PLUGIN_DIR},
                             dir / "none.log");
  // No --isolate: "auto", which isolates because org.test.compressor.fault is not a built-in plugin.
  const int isolated = run({"run", pipeline, "-o", (dir / "auto").string(), "--plugin-path", ISOLATION_PLUGIN_DIR},
                           dir / "auto.log");
  INFO(read_text(dir / "auto.log"));
  REQUIRE(in_process == compaudit::host::exit_ok);
  REQUIRE(isolated == compaudit::host::exit_ok);
  CHECK_THAT(read_text(dir / "auto.log"), Catch::Contains("cells run in worker processes (isolation auto, plugin "
                                                          "org.test.compressor.fault is not built in"));
  CHECK(fingerprint(dir / "none") == fingerprint(dir / "auto"));
  CHECK(report_without_timings(dir / "none") == report_without_timings(dir / "auto"));

  // Store::Access::worker_of_lock_holder: a worker started by hand, with no host holding the run lock, refuses to
  // write (an orphaned worker must never write into a run that a later --resume owns).
  const int orphan = run({"worker", "--run-dir", (dir / "none").string(), "--arm", "dense", "--seed", "0",
                          "--plugin-path", ISOLATION_PLUGIN_DIR},
                         dir / "orphan.log");
  INFO(read_text(dir / "orphan.log"));
  CHECK(orphan == compaudit::host::exit_io);
  CHECK_THAT(read_text(dir / "orphan.log"), Catch::Contains("is not locked by a running host"));
  // And one whose --parent-pid is not its parent stops before it opens anything.
  const int stray = run({"worker", "--run-dir", (dir / "none").string(), "--arm", "dense", "--seed", "0",
                         "--parent-pid", "1"},
                        dir / "stray.log");
  CHECK(stray == compaudit::host::exit_runtime);
  CHECK_THAT(read_text(dir / "stray.log"), Catch::Contains("the host that started this worker is gone"));
  CHECK(fingerprint(dir / "none") == fingerprint(dir / "auto"));  // neither wrote anything
}

TEST_CASE("Bad isolation settings are refused with the pipeline's file, line and key", "[isolation][bad]") {
  COMPAUDIT_SKIP_UNLESS_DIGITS();
  const auto dir = scratch_dir("bad-settings");
  for (const auto& [run_table, expected] : std::vector<std::pair<std::string, std::string>>{
           {"\n[run]\nisolation = \"always\"\n", "isolation = \"always\" is not one of"},
           {"\n[run]\ncell_timeout = -1\n", "cell_timeout = -1 must be in [0, 86400]"},
           {"\n[run]\ncell_memory_mb = 100\n", "cell_memory_mb = 100 must be 0"},
           {"\n[run]\ncell_limit = 3\n", "cell_limit"}}) {
    write_text(dir / "pipeline.toml", digits_pipeline("bad", kPlainArms, run_table));
    const int rc = run({"validate", (dir / "pipeline.toml").string(), "--plugin-path", ISOLATION_PLUGIN_DIR},
                       dir / "validate.log");
    const std::string log = read_text(dir / "validate.log");
    INFO(log);
    CHECK(rc == compaudit::host::exit_input);
    CHECK_THAT(log, Catch::Contains(expected));
    CHECK_THAT(log, Catch::Contains((dir / "pipeline.toml").string() + ":"));
    fs::remove(dir / "validate.log");
  }
}
