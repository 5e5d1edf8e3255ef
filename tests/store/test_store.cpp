// Results store: round trips of every table, resume listing, the writer lock, crash consistency, bad files.
#include <compaudit/store/store.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "support/temp_dir.h"

using namespace compaudit;
using namespace compaudit::store;
using compaudit::test::TempDir;

namespace {
RunInfo sample_run() {
  RunInfo r;
  r.name = "unit";
  r.pipeline_path = "/tmp/unit.toml";
  r.pipeline_toml = "[audit]\nname = \"unit\"\nseeds = 3\n";
  r.settings = {{"seeds", {0, 1, 2}}, {"alpha", 0.05}};
  return r;
}

Predictions preds(const std::string& arm, std::int64_t seed, std::vector<std::int16_t> labels) {
  Predictions p;
  p.arm = arm;
  p.seed = seed;
  p.split = "test";
  p.labels = std::move(labels);
  return p;
}

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::io);
    return e.what();
  }
  return "(no error)";
}
}  // namespace

TEST_CASE("A store round-trips the run, arms, data and thumbnails", "[store]") {
  TempDir dir;
  {
    auto s = Store::create(dir.path(), sample_run());
    s.put_arms(
        {{"dense", "dense", 0.0, {}, nlohmann::json::array(), 0, ""},
         {"prune@sparsity=0.9",
          "prune",
          0.9,
          {{"sparsity", "0.9"}},
          nlohmann::json::array({{{"plugin", "org.compaudit.prune.magnitude"}, {"params", {{"sparsity", 0.9}}}}}),
          1,
          "dense+ft"}});
    DataInfo d;
    d.kind = "image";
    d.num_classes = 3;
    d.class_names = {"a", "b", "c"};
    d.input_shape = {1, 2, 2};
    d.splits = {{"train", 4, {0, 1, 2, 2}}, {"test", 2, {2, 0}}};
    s.put_data(d);
    s.put_thumbnails({{"test", 1, 1, 2, 2, {0, 64, 128, 255}}, {"test", 0, 1, 2, 2, {1, 2, 3, 4}}});
  }
  auto s = Store::open(dir.path(), Store::Access::read_only);
  auto r = s.run();
  CHECK(r.name == "unit");
  CHECK(r.pipeline_toml == sample_run().pipeline_toml);
  CHECK(r.schema_version == kSchemaVersion);
  CHECK(r.settings["alpha"] == 0.05);
  CHECK(r.created_at.size() == 20);
  CHECK(!r.compaudit_version.empty());

  auto arms = s.arms();
  REQUIRE(arms.size() == 2);
  CHECK(arms[1].name == "prune@sparsity=0.9");
  CHECK(arms[1].level == 0.9);
  CHECK(arms[1].sweep.at("sparsity") == "0.9");
  CHECK(arms[1].steps[0]["plugin"] == "org.compaudit.prune.magnitude");
  CHECK(arms[1].reference == "dense+ft");
  CHECK(arms[1].finetune_epochs == 1);

  auto d = s.data();
  REQUIRE(d);
  CHECK(d->class_names == std::vector<std::string>{"a", "b", "c"});
  CHECK(d->input_shape == std::vector<std::int64_t>{1, 2, 2});
  REQUIRE(d->splits.size() == 2);
  CHECK(d->splits[0].name == "train");
  CHECK(d->splits[1].targets == std::vector<std::int16_t>{2, 0});

  auto all = s.thumbnails("test");
  REQUIRE(all.size() == 2);
  CHECK(all[0].example_id == 0);
  auto one = s.thumbnails("test", {1, 7});
  REQUIRE(one.size() == 1);
  CHECK(one[0].pixels == std::vector<std::uint8_t>{0, 64, 128, 255});
}

TEST_CASE("Predictions keep int8, int16 labels and fp16 probabilities exactly", "[store]") {
  TempDir dir;
  auto s = Store::create(dir.path(), sample_run());
  auto narrow = preds("dense", 0, {0, 5, 127, 3});
  narrow.true_prob = {float_to_half(0.25f), float_to_half(1.0f), float_to_half(0.0f), float_to_half(0.5f)};
  auto wide = preds("dense", 1, {0, 300, -2, 32000});
  wide.num_classes = 2;
  wide.probs.assign(8, float_to_half(0.5f));
  s.put_predictions(narrow);
  s.put_predictions(wide);

  auto a = s.predictions("dense", 0, "test");
  REQUIRE(a);
  CHECK(a->labels == narrow.labels);
  CHECK(half_to_float(a->true_prob[0]) == 0.25f);
  CHECK(a->probs.empty());
  auto b = s.predictions("dense", 1, "test");
  REQUIRE(b);
  CHECK(b->labels == wide.labels);
  CHECK(b->probs.size() == 8);
  auto light = s.arm_predictions("dense", "test");
  REQUIRE(light.size() == 2);
  CHECK(light[1].probs.empty());  // not loaded unless asked
  CHECK(light[1].labels == wide.labels);
  CHECK(!s.predictions("dense", 2, "test"));
  CHECK_THROWS_AS(s.put_predictions([] {
    auto p = preds("x", 0, {1, 2});
    p.true_prob = {1};
    return p;
  }()),
                  Error);
}

TEST_CASE("Metrics, memorization, blobs and log round-trip", "[store]") {
  TempDir dir;
  auto s = Store::create(dir.path(), sample_run());
  s.put_metric({0, "org.compaudit.metric.pie", "prune", "dense", {{"summary", {{"pie_fraction", 0.1}}}}, ""});
  s.put_metric({0, "org.compaudit.metric.pie", "prune", "dense", {{"summary", {{"pie_fraction", 0.2}}}}, ""});
  s.put_metric({1, "org.compaudit.metric.top1", "prune", "dense", nullptr, "boom"});
  auto m = s.metrics();
  REQUIRE(m.size() == 2);  // the second put replaced the first
  CHECK(m[0].result["summary"]["pie_fraction"] == 0.2);
  CHECK(m[1].error == "boom");
  s.clear_metrics();
  CHECK(s.metrics().empty());
  // A plugin's message with invalid UTF-8 is stored with a replacement character, not lost to an exception.
  s.put_metric({2, "org.x", "prune", "dense", {{"note", std::string("bad \xff byte")}}, ""});
  CHECK(s.metrics().at(0).result["note"] == "bad \xEF\xBF\xBD byte");
  s.clear_metrics();

  s.put_memorization("train", {0.5f, -0.25f, 1.0f});
  CHECK(*s.memorization("train") == std::vector<float>{0.5f, -0.25f, 1.0f});
  CHECK(!s.memorization("test"));
  s.put_blob("dense", 3, "state", {1, 2, 3});
  CHECK(*s.blob("dense", 3, "state") == std::vector<std::uint8_t>{1, 2, 3});
  s.log("info", "hello");
  s.log("warning", "world");
  auto lines = s.log_lines();
  REQUIRE(lines.size() == 2);
  CHECK(lines[1].level == "warning");
  CHECK(lines[1].text == "world");
}

TEST_CASE("Resume lists done cells and resets cells left running", "[store][resume]") {
  TempDir dir;
  {
    auto s = Store::create(dir.path(), sample_run());
    s.put_arms({{"dense", "dense", 0, {}, {}, 0, ""}, {"prune", "prune", 0.5, {}, {}, 0, "dense"}});
    s.ensure_cells({{"prune", 0}, {"dense", 0}, {"dense", 1}});
    s.start_cell("dense", 0);
    Cell c;
    c.arm = "dense";
    c.seed = 0;
    c.train_seconds = 1.5;
    s.finish_cell(c, {preds("dense", 0, {1, 2, 3})});
    s.start_cell("dense", 1);  // the process "dies" here
    s.start_cell("prune", 0);
    s.fail_cell("prune", 0, "plugin org.x failed in compress: bad");
  }
  auto s = Store::open(dir.path());
  CHECK(s.reset_running_cells() == 1);
  s.ensure_cells({{"dense", 0}, {"dense", 1}, {"prune", 0}});  // a resume re-declares all cells: no effect on these
  auto done = s.cells(CellStatus::done);
  REQUIRE(done.size() == 1);
  CHECK(done[0].arm == "dense");
  CHECK(done[0].train_seconds == 1.5);
  CHECK(!done[0].started_at.empty());
  CHECK(!done[0].finished_at.empty());
  auto pending = s.cells(CellStatus::pending);
  REQUIRE(pending.size() == 1);
  CHECK(pending[0].seed == 1);
  auto failed = s.cells(CellStatus::failed);
  REQUIRE(failed.size() == 1);
  CHECK(failed[0].error.find("bad") != std::string::npos);
  auto all = s.cells();
  REQUIRE(all.size() == 3);
  CHECK(all[2].arm == "prune");  // arm position order
  CHECK(s.predictions("dense", 0, "test")->labels == std::vector<std::int16_t>{1, 2, 3});
}

TEST_CASE("A failing transaction leaves no trace", "[store]") {
  TempDir dir;
  auto s = Store::create(dir.path(), sample_run());
  CHECK_THROWS_WITH(s.transaction([&] {
    s.put_cell(Cell{"dense", 0, CellStatus::done});
    s.transaction([&] { s.log("info", "nested"); });
    throw std::runtime_error("stop");
  }),
                    "stop");
  CHECK(s.cells().empty());
  CHECK(s.log_lines().empty());
  s.log("info", "after");  // the store is still usable
  CHECK(s.log_lines().size() == 1);
}

TEST_CASE("Only one writer may open a run directory", "[store][lock]") {
  TempDir dir;
  auto first = Store::create(dir.path(), sample_run());
  SECTION("a second writer in the same process is refused with the holder's PID") {
    auto msg = error_of([&] { Store::open(dir.path()); });
    CHECK_THAT(msg, Catch::Contains("is in use by process " + std::to_string(::getpid())));
    CHECK_THAT(msg, Catch::Contains(dir.path()));
  }
  SECTION("a reader is allowed while the writer works") {
    first.log("info", "x");
    auto reader = Store::open(dir.path(), Store::Access::read_only);
    CHECK(reader.log_lines().size() == 1);
    CHECK_THROWS_AS(reader.log("info", "y"), Error);
  }
  SECTION("the lock is released when the writer closes") {
    { Store gone = std::move(first); }
    CHECK_NOTHROW(Store::open(dir.path()));
  }
}

// Issue 14, item 3: `ln -s $PWD/v d/.lock; compaudit run p.toml -o d` overwrote v with a PID.
TEST_CASE("The run lock never follows a symlink and refuses anything but a regular file", "[store][lock]") {
  TempDir dir;
  const std::filesystem::path lock = std::filesystem::path(dir.path()) / ".lock";
  { Store::create(dir.path(), sample_run()); }  // a real run, closed: its lock file is then replaced
  std::filesystem::remove(lock);
  SECTION("a symlink to a victim file") {
    TempDir other;
    const std::filesystem::path victim = std::filesystem::path(other.path()) / "v";
    std::ofstream(victim) << "precious\n";
    std::filesystem::create_symlink(victim, lock);
    const std::string msg = error_of([&] { Store::open(dir.path()); });
    CHECK_THAT(msg, Catch::Contains(lock.string()));
    CHECK_THAT(msg, Catch::Contains("symbolic link"));
    std::ifstream in(victim);
    CHECK(std::string(std::istreambuf_iterator<char>(in), {}) == "precious\n");  // not overwritten with a PID
  }
  SECTION("a dangling symlink is not created through") {
    TempDir other;
    std::filesystem::create_symlink(std::filesystem::path(other.path()) / "created", lock);
    CHECK_THAT(error_of([&] { Store::open(dir.path()); }), Catch::Contains("symbolic link"));
    CHECK_FALSE(std::filesystem::exists(std::filesystem::path(other.path()) / "created"));
  }
  SECTION("a fifo (opening it must not block)") {
    REQUIRE(::mkfifo(lock.c_str(), 0644) == 0);
    const std::string msg = error_of([&] { Store::open(dir.path()); });
    CHECK_THAT(msg, Catch::Contains(lock.string()));
    CHECK_THAT(msg, Catch::Contains("not a regular file"));
  }
}

TEST_CASE("A writer in another process blocks this one", "[store][lock]") {
  TempDir dir;
  { Store::create(dir.path(), sample_run()); }
  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    auto s = Store::open(dir.path());
    char c = 1;
    (void)!::write(ready[1], &c, 1);
    ::pause();
    _exit(0);
  }
  char c = 0;
  REQUIRE(::read(ready[0], &c, 1) == 1);
  auto msg = error_of([&] { Store::open(dir.path()); });
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  CHECK_THAT(msg, Catch::Contains("is in use by process " + std::to_string(child)));
  CHECK_NOTHROW(Store::open(dir.path()));  // a killed holder's lock dies with it
}

TEST_CASE("A kill at any moment leaves done cells complete", "[store][durability]") {
  TempDir dir;
  { Store::create(dir.path(), sample_run()); }
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    auto s = Store::open(dir.path());
    for (std::int64_t seed = 0;; ++seed) {
      s.start_cell("dense", seed);
      Cell c{"dense", seed};
      s.finish_cell(c, {preds("dense", seed, std::vector<std::int16_t>(5000, 3))});
    }
  }
  ::usleep(300 * 1000);
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  auto s = Store::open(dir.path());
  auto done = s.cells(CellStatus::done);
  CHECK(!done.empty());
  for (const auto& c : done) {
    auto p = s.predictions("dense", c.seed, "test", false);
    REQUIRE(p);
    CHECK(p->labels.size() == 5000);
  }
  CHECK(s.reset_running_cells() <= 1);
}

TEST_CASE("Bad store files get a clear error", "[store][errors]") {
  TempDir dir;
  SECTION("a missing run directory") {
    CHECK_THAT(error_of([&] { Store::open(dir.path() + "/nope"); }), Catch::Contains("no such run directory"));
  }
  SECTION("a directory without a store") {
    CHECK_THAT(error_of([&] { Store::open(dir.path()); }), Catch::Contains("no results store"));
  }
  SECTION("garbage bytes") {
    std::ofstream(dir.path() + "/results.sqlite") << std::string(4096, '\x5a') << "garbage";
    for (auto access : {Store::Access::read_write, Store::Access::read_only}) {
      auto msg = error_of([&] { Store::open(dir.path(), access); });
      CHECK_THAT(msg, Catch::Contains("results.sqlite"));
      CHECK_THAT(msg, Catch::Contains("not a compaudit results store"));
    }
  }
  SECTION("a truncated store") {
    { Store::create(dir.path(), sample_run()).log("info", "x"); }
    std::filesystem::resize_file(dir.path() + "/results.sqlite", 100);
    std::filesystem::remove(dir.path() + "/results.sqlite-wal");
    CHECK_THAT(error_of([&] { Store::open(dir.path()).run(); }), Catch::Contains("results.sqlite"));
  }
  SECTION("creating over an existing store") {
    { Store::create(dir.path(), sample_run()); }
    CHECK_THAT(error_of([&] { Store::create(dir.path(), sample_run()); }), Catch::Contains("already exists"));
  }
}

TEST_CASE("fp16 conversion is exact where it must be and rounds to nearest even", "[store][fp16]") {
  CHECK(float_to_half(1.0f) == 0x3c00);
  CHECK(float_to_half(0.5f) == 0x3800);
  CHECK(float_to_half(65504.0f) == 0x7bff);
  CHECK(float_to_half(1e6f) == 0x7c00);
  CHECK(float_to_half(-2.0f) == 0xc000);
  CHECK(float_to_half(1e-9f) == 0x0000);
  CHECK(float_to_half(5.9604645e-8f) == 0x0001);       // smallest subnormal
  CHECK(float_to_half(1.0f + 1.0f / 2048) == 0x3c00);  // tie: rounds to even
  CHECK(float_to_half(1.0f + 3.0f / 2048) == 0x3c02);  // tie: rounds to even (up)
  int mismatches = 0;
  for (std::uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) continue;  // NaN payloads need not round-trip
    if (float_to_half(half_to_float(static_cast<std::uint16_t>(h))) != h) ++mismatches;
  }
  CHECK(mismatches == 0);
}
