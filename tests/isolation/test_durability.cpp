// Durability (docs/isolation.md#durability): `kill -9` of the host at several moments — after N cells, at a random
// time inside a cell, during the memorization and metrics phase, right after the store appears, and while a worker
// computes an isolated cell — then `compaudit run --resume` completes the run with results identical to an
// uninterrupted run (the store's predictions, records, memorization and metrics bit for bit, report.json minus
// timings). And a second run on a run directory in use is refused by the lock.
#include "cli_process.h"

#include <compaudit/host/exit_codes.h>

#include <catch2/catch.hpp>

#include <csignal>
#include <cstdlib>
#include <random>

using namespace isolation_test;
using compaudit::store::CellStatus;
using compaudit::store::Store;

namespace {

// K = 3: dense, dense+ft, prune@0.5, prune@0.9, int8 = 15 cells, then memorization (8 models) and 3 metrics.
std::string pipeline_text(const std::string& name) {
  compaudit::test_support::DigitsAudit audit;
  audit.name = name;
  audit.hidden = "[64]";
  audit.epochs = 4;
  audit.metrics = {"top1", "pie", "recall_welch"};
  audit.tables = R"(
[memorization]
models = 8
fraction = 0.5

[report]
formats = ["json", "html"]
)";
  return audit.toml();
}

constexpr int kCells = 15;
constexpr std::size_t kMetricResults = 3 * 5;  // one per metric and arm

struct Progress {
  int done = 0, running = 0;
  std::size_t metrics = 0;  // metric results stored
  bool memorization = false;
};

Progress progress_of(const fs::path& run_dir) {
  Progress p;
  if (auto s = try_open(run_dir)) {
    try {
      for (const auto& c : s->cells()) {
        p.done += c.status == CellStatus::done;
        p.running += c.status == CellStatus::running;
      }
      p.metrics = s->metrics().size();
      p.memorization = s->memorization("train").has_value();
    } catch (const std::exception&) {  // described only partly yet
    }
  }
  return p;
}

// Polls the run every few milliseconds until `ready` holds or the host exits; false when it exited first.
template <class Ready>
bool wait_until(pid_t host, const fs::path& run_dir, Ready ready) {
  for (;;) {
    if (ready(progress_of(run_dir))) return true;
    int status = 0;
    if (waitpid(host, &status, WNOHANG) == host) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
  }
}

struct Fixture {
  fs::path dir;
  std::string pipeline;
  std::string reference;         // fingerprint of the uninterrupted run
  nlohmann::json reference_report;
  double seconds = 0;            // how long the uninterrupted run took (random kill times are drawn within it)
};

const Fixture& fixture() {
  static const Fixture f = [] {
    Fixture x;
    // One directory per test process: ctest may run these cases in parallel, each with its own fixture.
    x.dir = scratch_dir("durability-" + std::to_string(::getpid()));
    write_text(x.dir / "pipeline.toml", pipeline_text("durable"));
    x.pipeline = (x.dir / "pipeline.toml").string();
    const auto t0 = std::chrono::steady_clock::now();
    const int rc = run({"run", x.pipeline, "-o", (x.dir / "whole").string(), "-q"}, x.dir / "whole.log");
    x.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (rc != 0) throw std::runtime_error("the uninterrupted run failed:\n" + read_text(x.dir / "whole.log"));
    x.reference = fingerprint(x.dir / "whole");
    x.reference_report = report_without_timings(x.dir / "whole");
    return x;
  }();
  return f;
}

// Starts a run, kills it with SIGKILL once `ready` holds (after an extra `delay`), resumes it and compares. Both
// runs are of `exe` (see cli_process.h start) with `extra_args`.
template <class Ready>
void kill_and_resume(const std::string& name, Ready ready, std::chrono::milliseconds delay,
                     const std::vector<std::string>& extra_args = {}, bool must_be_unfinished = true,
                     const char* exe = COMPAUDIT_EXE) {
  const Fixture& f = fixture();
  const fs::path run_dir = f.dir / name;
  fs::remove_all(run_dir);
  std::vector<std::string> args{"run", f.pipeline, "-o", run_dir.string(), "-q"};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  const pid_t host = start(args, f.dir / (name + ".log"), std::nullopt, exe);
  const bool caught = wait_until(host, run_dir, ready);
  INFO("kill point " << name << ": the host " << (caught ? "reached it" : "exited before it"));
  REQUIRE(caught);
  std::this_thread::sleep_for(delay);
  kill(host, SIGKILL);
  const int code = wait_exit(host);
  if (must_be_unfinished) CHECK(code == 128 + SIGKILL);
  if (code != 128 + SIGKILL) WARN(name << ": the run had ended before the kill (exit " << code << ")");
  const Progress at_kill = progress_of(run_dir);
  WARN(name << ": killed with " << at_kill.done << " of " << kCells << " cells done, " << at_kill.running
              << " running, memorization " << (at_kill.memorization ? "stored" : "not stored") << ", "
              << at_kill.metrics << " of " << kMetricResults << " metric results stored");
  INFO("at the kill: " << at_kill.done << " cells done, " << at_kill.running << " running, memorization "
                       << at_kill.memorization << ", metrics " << at_kill.metrics);
  if (must_be_unfinished) CHECK(at_kill.metrics < kMetricResults);  // killed before the end: something is left

  std::vector<std::string> resume{"run", "--resume", run_dir.string(), "-q"};
  resume.insert(resume.end(), extra_args.begin(), extra_args.end());  // an isolated run resumes isolated
  const int rc = run(resume, f.dir / (name + "-resume.log"), exe);
  INFO(read_text(f.dir / (name + "-resume.log")));
  REQUIRE(rc == compaudit::host::exit_ok);
  CHECK(fingerprint(run_dir) == f.reference);
  CHECK(report_without_timings(run_dir) == f.reference_report);
}

std::mt19937 random_engine() {
  const unsigned seed = std::random_device{}();
  WARN("random kill times drawn with seed " << seed);
  return std::mt19937(seed);
}

}  // namespace

TEST_CASE("kill -9 after some cells, then --resume, equals an uninterrupted run", "[durability][kill]") {
  COMPAUDIT_SKIP_UNLESS_DIGITS();
  for (const int n : {1, 7, kCells - 1})
    kill_and_resume("after-" + std::to_string(n), [n](const Progress& p) { return p.done >= n; },
                    std::chrono::milliseconds(0));
}

TEST_CASE("kill -9 at random times, then --resume, equals an uninterrupted run", "[durability][kill]") {
  COMPAUDIT_SKIP_UNLESS_DIGITS();
  // Cells are committed a group of seeds at a time (the batched engine), so "inside a cell" is any moment between
  // two commits: times drawn uniformly over the uninterrupted run's duration land there almost always. Where each
  // landed is printed; a time after the run's end only resumes a finished run (still checked).
  const double total = fixture().seconds;
  auto gen = random_engine();
  std::uniform_real_distribution<double> when(0.05 * total, 0.7 * total);
  for (int i = 0; i < 4; ++i) {
    const auto delay = std::chrono::milliseconds(static_cast<long>(1000 * when(gen)));
    INFO("kill " << delay.count() << " ms after the start (uninterrupted run: " << total << " s)");
    const fs::path store_file = fixture().dir / ("random-" + std::to_string(i)) / "results.sqlite";
    // From the moment the store exists: start-up time (LibTorch, data) varies more than the cells do.
    kill_and_resume("random-" + std::to_string(i), [store_file](const Progress&) { return fs::exists(store_file); },
                    delay, {}, /*must_be_unfinished=*/false);
  }
}

TEST_CASE("kill -9 during memorization and metrics, then --resume, equals an uninterrupted run",
          "[durability][kill]") {
  COMPAUDIT_SKIP_UNLESS_DIGITS();
  kill_and_resume("memorization", [](const Progress& p) { return p.done == kCells; }, std::chrono::milliseconds(0));
  // The metrics phase takes milliseconds: the engine's test hook pauses before each of its 15 results, so the kill
  // lands after some are stored and before the last (compaudit-testhooks, the test twin of compaudit).
  kill_and_resume("metrics", [](const Progress& p) { return p.metrics >= 2; }, std::chrono::milliseconds(0),
                  {"--test-metric-delay-ms", "150"}, /*must_be_unfinished=*/true, COMPAUDIT_TESTHOOKS_EXE);
}

TEST_CASE("kill -9 right after the store appears, then --resume, equals an uninterrupted run", "[durability][kill]") {
  COMPAUDIT_SKIP_UNLESS_DIGITS();
  // Polls for the file itself: the moment a kill is most likely to catch the store half-created.
  const fs::path store_file = fixture().dir / "at-start" / "results.sqlite";
  kill_and_resume("at-start", [store_file](const Progress&) { return fs::exists(store_file); },
                  std::chrono::milliseconds(0));
}

TEST_CASE("kill -9 of an isolating host ends its worker, and --resume equals an uninterrupted run",
          "[durability][kill][isolation][.slow]") {
  COMPAUDIT_SKIP_UNLESS_DIGITS();
  kill_and_resume("isolated", [](const Progress& p) { return p.done >= 3 && p.running > 0; },
                  std::chrono::milliseconds(300), {"--isolate", "process"});
  // The killed worker's log was cleaned up by the resumed (isolating) host... or never existed in-process.
  for (const auto& e : fs::directory_iterator(fixture().dir / "isolated"))
    CHECK(e.path().filename().string().rfind(".worker-", 0) != 0);
  // No worker of that run is left: a worker writing into a run that --resume owns would corrupt it.
  const std::string marker = (fixture().dir / "isolated").string();
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string cmdline = read_text(e.path() / "cmdline");
    CHECK(cmdline.find(marker) == std::string::npos);
  }
}

TEST_CASE("a second run on a run directory in use is refused by the lock", "[durability][lock]") {
  COMPAUDIT_SKIP_UNLESS_DIGITS();
  const Fixture& f = fixture();
  const fs::path run_dir = f.dir / "locked";
  fs::remove_all(run_dir);
  // Isolated, so the run takes long enough (a worker per cell) for the second command to meet it running.
  const pid_t host = start({"run", f.pipeline, "-o", run_dir.string(), "-q", "--isolate", "process"},
                           f.dir / "locked.log");
  REQUIRE(wait_until(host, run_dir, [](const Progress& p) { return p.running > 0; }));
  for (const auto& args : std::vector<std::vector<std::string>>{{"run", "--resume", run_dir.string(), "-q"},
                                                                {"run", f.pipeline, "-o", run_dir.string(), "-q"}}) {
    fs::remove(f.dir / "second.log");
    const int rc = run(args, f.dir / "second.log");
    const std::string log = read_text(f.dir / "second.log");
    INFO(log);
    CHECK(rc == compaudit::host::exit_io);
    CHECK_THAT(log, Catch::Contains("run directory " + run_dir.string() + " is in use by process " +
                                    std::to_string(host)));
  }
  kill(host, SIGKILL);
  wait_exit(host);
  // The lock dies with its holder: the run resumes and completes.
  CHECK(run({"run", "--resume", run_dir.string(), "-q"}, f.dir / "locked-resume.log") == compaudit::host::exit_ok);
  CHECK(fingerprint(run_dir) == f.reference);
}
