// `compaudit run --shard I/N` and `compaudit merge` through the real executable: shards merged give exactly one
// run's results (report.json minus timings, every prediction bit, memorization, metrics); merge refuses stores of
// another pipeline, overlapping and missing cells, unfinished shards; bad --shard values are usage errors.
#include "scaling_helpers.h"

#include <compaudit/store/store.h>

#include <catch2/catch.hpp>

using namespace scaling_test;
using namespace compaudit;

namespace {

std::vector<std::pair<std::string, std::int64_t>> cell_keys(const fs::path& run_dir) {
  const store::Store s = store::Store::open(run_dir.string(), store::Store::Access::read_only);
  std::vector<std::pair<std::string, std::int64_t>> out;
  for (const auto& c : s.cells()) out.emplace_back(c.arm, c.seed);
  return out;
}

}  // namespace

TEST_CASE("Shards 0/2 and 1/2 merged give the report and the predictions of one run", "[scaling][shard][merge]") {
  COMPAUDIT_SKIP_UNLESS_DIGITS();
  // Computed once per process (Catch re-enters the test case for every section).
  static const fs::path dir = scratch_dir("shard-merge");
  static const std::string p = write_pipeline(dir, digits_pipeline("digits-shards"));
  static const Result single = cli(fmt::format("run '{}' -o '{}' -q", p, (dir / "single").string()));
  static const Result s0 = cli(fmt::format("run '{}' --shard 0/2 -o '{}' -q", p, (dir / "s0").string()));
  static const Result s1 = cli(fmt::format("run '{}' --shard 1/2 -o '{}'", p, (dir / "s1").string()));
  REQUIRE(single.code == 0);
  INFO(s0.output << s1.output);
  REQUIRE(s0.code == 0);
  REQUIRE(s1.code == 0);
  CHECK(s1.output.find("shard 1/2 (seeds 1)") != std::string::npos);

  SECTION("each shard holds every arm of its seeds (positions p % 2), no metrics; shard 0 the memorization") {
    const store::Store a = store::Store::open((dir / "s0").string(), store::Store::Access::read_only);
    const store::Store b = store::Store::open((dir / "s1").string(), store::Store::Access::read_only);
    CHECK(a.cells().size() == 10);  // seeds 0 and 2, 5 arms
    CHECK(b.cells().size() == 5);   // seed 1
    for (const auto& c : a.cells()) CHECK((c.seed == 0 || c.seed == 2));
    for (const auto& c : b.cells()) CHECK(c.seed == 1);
    CHECK(a.metrics().empty());
    CHECK(b.metrics().empty());
    CHECK(a.memorization("train").has_value());
    CHECK_FALSE(b.memorization("train").has_value());
    CHECK(a.run().settings["shard"]["seeds"] == json::array({0, 2}));
    CHECK_FALSE(fs::exists(dir / "s0" / "report.json"));  // a shard has no metrics, so no report
  }
  SECTION("the merge equals the single run: report.json minus timings, predictions, states, metrics") {
    const Result m = cli(fmt::format("merge '{}' '{}' '{}' -q", (dir / "merged").string(),
                                           (dir / "s0").string(), (dir / "s1").string()));
    INFO(m.output);
    REQUIRE(m.code == 0);
    const json a = report_without_timings(dir / "single"), b = report_without_timings(dir / "merged");
    CHECK(a.dump(1) == b.dump(1));
    CHECK(a["arms"].size() == 5);
    CHECK(a["arms"][0]["metrics"].size() == 4);
    const std::string fa = fingerprint(dir / "single"), fb = fingerprint(dir / "merged");
    CHECK(fa.size() > 100000);  // really holds the predictions
    CHECK(fa == fb);
    const store::Store merged = store::Store::open((dir / "merged").string(), store::Store::Access::read_only);
    CHECK_FALSE(merged.run().settings.contains("shard"));
  }
  SECTION("resuming a shard needs no --shard, and another --shard for its directory is refused") {
    const Result again = cli(fmt::format("run --resume '{}' -q", (dir / "s1").string()));
    CHECK(again.code == 0);
    CHECK(cell_keys(dir / "s1").size() == 5);
    const Result other = cli(fmt::format("run '{}' --shard 0/2 -o '{}' -q", p, (dir / "s1").string()));
    CHECK(other.code == 4);
    CHECK(other.output.find("holds shard 1/2, not 0/2") != std::string::npos);
  }
}

TEST_CASE("Merge refuses other pipelines and overlapping or missing cells and unfinished shards",
          "[scaling][merge][errors]") {
  COMPAUDIT_SKIP_UNLESS_DIGITS();
  static const fs::path dir = scratch_dir("merge-refusals");
  const auto path = [&](const char* name) { return (dir / name).string(); };
  static const std::string p = [&] {
    Shape mini;  // 2 seeds x 2 arms (dense, int8), one epoch: cheap stores to misassemble
    mini.seeds = 2, mini.memorization = false, mini.pruning = false, mini.epochs = 1;
    return write_pipeline(dir, digits_pipeline("mini", mini));
  }();
  // Built once per process (Catch re-enters the test case for every section); each section uses new output dirs.
  static const int setup = [&] {
    Shape other_shape;
    other_shape.seeds = 2, other_shape.memorization = false, other_shape.pruning = false, other_shape.epochs = 1;
    other_shape.lr = "0.04";
    const std::string other = write_pipeline(dir, digits_pipeline("mini", other_shape), "other.toml");
    int worst = 0;
    for (const auto& args : {fmt::format("run '{}' --shard 0/2 -o '{}' -q", p, path("s0")),
                             fmt::format("run '{}' --shard 1/2 -o '{}' -q", p, path("s1")),
                             fmt::format("run '{}' --shard 1/2 -o '{}' -q", other, path("other1")),
                             fmt::format("run '{}' -o '{}' -q", p, path("whole"))})
      worst = std::max(worst, cli(args).code);
    return worst;
  }();
  REQUIRE(setup == 0);

  SECTION("a shard of another pipeline") {
    const Result r = cli(fmt::format("merge '{}' '{}' '{}' -q", path("m1"), path("s0"), path("other1")));
    CHECK(r.code == 4);
    CHECK(r.output.find(path("other1") + "/results.sqlite") != std::string::npos);
    CHECK(r.output.find("pipeline text differs") != std::string::npos);
    CHECK_FALSE(fs::exists(dir / "m1" / "results.sqlite"));
  }
  SECTION("overlapping cells: a whole run and a shard") {
    const Result r = cli(fmt::format("merge '{}' '{}' '{}' -q", path("m2"), path("whole"), path("s1")));
    CHECK(r.code == 4);
    CHECK(r.output.find("is also in " + path("whole")) != std::string::npos);
    CHECK(r.output.find("shards overlap") != std::string::npos);
  }
  SECTION("the same store twice") {
    const Result r = cli(fmt::format("merge '{}' '{}' '{}' -q", path("m3"), path("s0"), path("s0")));
    CHECK(r.code == 4);
    CHECK(r.output.find("given twice") != std::string::npos);
  }
  SECTION("missing cells: shard 1/2 left out") {
    const Result r = cli(fmt::format("merge '{}' '{}' -q", path("m4"), path("s0")));
    CHECK(r.code == 4);
    CHECK(r.output.find("do not cover the run: 2 cells of seeds 1") != std::string::npos);
    CHECK(r.output.find("no store of shard 1/2") != std::string::npos);
  }
  SECTION("an unfinished shard") {
    // compaudit's test twin (host/cli/CMakeLists.txt), whose hidden option sets the engine's stop hook
    const Result stop = sh(fmt::format("'{}' run '{}' --shard 1/2 -o '{}' -q --test-stop-after-cells 1 "
                                       "--plugin-path '{}'",
                                       COMPAUDIT_TESTHOOKS_CLI, p, path("half1"), COMPAUDIT_TEST_PLUGIN_DIR));
    REQUIRE(stop.code == 0);
    const Result r = cli(fmt::format("merge '{}' '{}' '{}' -q", path("m5"), path("s0"), path("half1")));
    CHECK(r.code == 4);
    CHECK(r.output.find("this shard is not finished: cell int8 seed 1 is pending") != std::string::npos);
    CHECK(r.output.find("compaudit run --resume " + path("half1")) != std::string::npos);
  }
  SECTION("an output directory that already holds a run, and a directory without a store") {
    const Result r = cli(fmt::format("merge '{}' '{}' '{}' -q", path("whole"), path("s0"), path("s1")));
    CHECK(r.code == 6);
    CHECK(r.output.find("already holds a results store") != std::string::npos);
    const Result none = cli(fmt::format("merge '{}' '{}' '{}' -q", path("m6"), path("s0"), path("nowhere")));
    CHECK(none.code == 6);
    CHECK(none.output.find("no results store here") != std::string::npos);
  }
  SECTION("a correct set still merges after all these refusals") {
    const Result r = cli(fmt::format("merge '{}' '{}' '{}' -q", path("m7"), path("s1"), path("s0")));
    INFO(r.output);
    CHECK(r.code == 0);
    CHECK(report_without_timings(dir / "m7").dump() == report_without_timings(dir / "whole").dump());
  }
}

TEST_CASE("More shards than seeds: the extra shards are empty and the merge still equals one run",
          "[scaling][shard]") {
  COMPAUDIT_SKIP_UNLESS_DIGITS();
  const auto dir = scratch_dir("more-shards-than-seeds");
  Shape mini;
  mini.seeds = 2, mini.memorization = false, mini.pruning = false, mini.epochs = 1;
  const std::string p = write_pipeline(dir, digits_pipeline("mini3", mini));
  REQUIRE(cli(fmt::format("run '{}' -o '{}' -q", p, (dir / "whole").string())).code == 0);
  // Default shard directories: RUN_DIR/shards/I-of-N, RUN_DIR being the pipeline's output (here: -o is not given).
  for (int i = 0; i < 3; ++i) {
    const Result r = cli(fmt::format("run '{}' --shard {}/3", p, i));
    INFO(r.output);
    REQUIRE(r.code == 0);
    if (i == 2) CHECK(r.output.find("shard 2/3 has no seeds") != std::string::npos);
  }
  const fs::path shards = dir / "runs" / "mini3" / "shards";
  CHECK(cell_keys(shards / "2-of-3").empty());
  const Result m = cli(fmt::format("merge '{}' '{}' '{}' '{}' -q", (dir / "merged").string(),
                                         (shards / "0-of-3").string(), (shards / "1-of-3").string(),
                                         (shards / "2-of-3").string()));
  INFO(m.output);
  REQUIRE(m.code == 0);
  CHECK(report_without_timings(dir / "merged").dump(1) == report_without_timings(dir / "whole").dump(1));
  CHECK(fingerprint(dir / "merged") == fingerprint(dir / "whole"));
}

TEST_CASE("Bad --shard values are usage errors that name the rule", "[scaling][shard][errors]") {
  const auto dir = scratch_dir("bad-shard");
  const std::string p = write_pipeline(dir, digits_pipeline("bad"));
  const std::vector<std::pair<std::string, std::string>> cases{
      {"2/2", "I must be in 0..1"}, {"-1/2", "I must be in 0..1"}, {"0/0", "N must be at least 1"},
      {"1", "expected I/N"},        {"a/b", "expected I/N"},       {"1/", "expected I/N"}};
  for (const auto& [value, message] : cases) {
    const Result r = cli(fmt::format("run '{}' --shard '{}' -q", p, value));
    INFO(value << ": " << r.output);
    CHECK(r.code == 2);
    CHECK(r.output.find(message) != std::string::npos);
  }
  const Result both = cli(fmt::format("merge '{}' -q", (dir / "out").string()));
  CHECK(both.code == 2);  // merge needs at least one shard directory
}
