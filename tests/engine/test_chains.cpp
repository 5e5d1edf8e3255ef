// Chains of cells in parallel (run/executor.cpp): the dense cells split by seeds, then the other arms as (arm, seed
// share) tasks that free chains take from a shared queue, biggest first. Whatever the shares and whichever chain
// takes a task, the results must be the bits of a one-thread run, and a run stopped by the cell budget while
// chains are mid-task must resume to them.
#include "engine_lib.h"
#include "run_fingerprint.h"
#include "test_helpers.h"

#include "support/digits_audit.h"

#include <compaudit/host/exit_codes.h>
#include <compaudit/store/store.h>

#include <catch2/catch.hpp>

#include <algorithm>

using namespace compaudit;
namespace fs = std::filesystem;

namespace {

using test_support::kDigitsCsv;

// K = 4: dense, dense+ft (1 epoch), prune@0.5 and prune@0.9 (1 epoch), int8 (no training) = 20 cells. One chain
// trains each arm as one stack of 4; 2 chains take tasks of 2 seeds, the int8 ones last; 4 chains, of one seed.
std::string pipeline_text() {
  test_support::DigitsAudit audit;
  audit.name = "chains";
  audit.seeds = 4;
  audit.one_thread = false;  // the runs below choose their thread count
  audit.metrics = {"recall_welch"};
  return audit.toml();
}

int run(const std::string& pipeline, const fs::path& run_dir, int threads, bool resume = false) {
  return engine_test::run_pipeline(pipeline, run_dir.string(), resume, threads);
}

std::string fingerprint(const fs::path& run_dir) { return engine_test::fingerprint(run_dir.string()); }

}  // namespace

TEST_CASE("Chains taking (arm, seed share) tasks from a shared queue give the bits of a one-thread run",
          "[engine][chains]") {
  COMPAUDIT_SKIP_UNLESS_DIGITS();
  const auto dir = engine_test::scratch_dir("chains-queue");
  const auto pipeline = dir / "pipeline.toml";
  engine_test::write_text(pipeline, pipeline_text());
  REQUIRE(run(pipeline.string(), dir / "one", 1) == host::exit_ok);
  const std::string one = fingerprint(dir / "one");
  REQUIRE(one.find("int8/3 done") != std::string::npos);
  REQUIRE(one.find("prune@sparsity=0.9/3 done") != std::string::npos);

  SECTION("two chains, tasks of two seeds") {
    REQUIRE(run(pipeline.string(), dir / "two", 2) == host::exit_ok);
    CHECK(fingerprint(dir / "two") == one);
  }
  SECTION("four chains (more than the cores, run --chains 4), tasks of one seed") {
    host::RunRequest r = engine_test::pipeline_request(pipeline.string(), (dir / "four").string(), false, 2);
    r.chains = 4;
    REQUIRE(engine_test::engine().run(r) == host::exit_ok);
    CHECK(fingerprint(dir / "four") == one);
  }
  SECTION("one chain with both threads inside it (run --chains 1)") {
    host::RunRequest r = engine_test::pipeline_request(pipeline.string(), (dir / "chain1").string(), false, 2);
    r.chains = 1;
    REQUIRE(engine_test::engine().run(r) == host::exit_ok);
    CHECK(fingerprint(dir / "chain1") == one);
  }
  SECTION("two chains stopped by the cell budget, then resumed") {
    // the 4 dense cells, then 5 cells of the queue: mid-task
    REQUIRE(engine_test::run_stopped_after(pipeline.string(), (dir / "parts").string(), 9, 2) == host::exit_ok);
    {
      const store::Store s = store::Store::open((dir / "parts").string(), store::Store::Access::read_only);
      CHECK(s.cells(store::CellStatus::done).size() == 9);
      CHECK(s.metrics().empty());
    }
    REQUIRE(run("", dir / "parts", 2, /*resume=*/true) == host::exit_ok);
    CHECK(fingerprint(dir / "parts") == one);
  }
}

TEST_CASE("The memorization estimate has the same bits at one and two chains", "[engine][chains][memorization]") {
  COMPAUDIT_SKIP_UNLESS_DIGITS();
  const std::string arch = GENERATE(std::string("mlp"), std::string("cnn"));
  INFO(arch);
  const auto dir = engine_test::scratch_dir("chains-memorization-" + arch);
  // Five models (two stacks of 3 and 2, in parallel at two chains) on half the training set each.
  test_support::DigitsAudit audit;
  audit.name = "chains-memorization";
  audit.arch = arch;
  audit.hidden = arch == "cnn" ? "[8]" : "[32]";
  audit.seeds = 2;
  audit.one_thread = false;
  audit.arms = test_support::kInt8Arm;
  audit.metrics = {"memorization"};
  audit.tables = "\n[memorization]\nmodels = 5\nfraction = 0.5\nepochs = 2\n";
  const auto pipeline = dir / "pipeline.toml";
  engine_test::write_text(pipeline, audit.toml());
  REQUIRE(run(pipeline.string(), dir / "one", 1) == host::exit_ok);
  REQUIRE(run(pipeline.string(), dir / "two", 2) == host::exit_ok);
  const auto scores = [&](const char* name) {
    const store::Store s = store::Store::open((dir / name).string(), store::Store::Access::read_only);
    return s.memorization("train");
  };
  const auto one = scores("one"), two = scores("two");
  REQUIRE(one);
  REQUIRE(two);
  CHECK(*one == *two);
  // A real estimate: every training point has a score in [-1, 1], and the models disagree on some points.
  REQUIRE_FALSE(one->empty());
  CHECK(std::all_of(one->begin(), one->end(), [](float m) { return m >= -1.0f && m <= 1.0f; }));
  CHECK(std::any_of(one->begin(), one->end(), [](float m) { return m != 0.0f; }));
  // Trained as stacks, not one at a time.
  CHECK(engine_test::log_text((dir / "two").string()).find("memorization models trained one at a time") ==
        std::string::npos);
}
