// The real `compaudit run` on a tiny digits pipeline (K = 2, one epoch, one hidden layer of 16, an int8 arm):
// which OpenBLAS core LibTorch's OpenBLAS loads (it prints "Core: NAME" at load with OPENBLAS_VERBOSE=2), that the
// run records the same core in its settings and report.json ("blas") and its header line, that a resume under
// another core (or another oneDNN instruction set, "gemm") is flagged, and that shards of different cores merge.
// Each run takes one to two seconds (LibTorch start-up).
#include "cli_process.h"  // tests/isolation: start / wait for the real compaudit

#include <compaudit/store/store.h>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {
namespace fs = std::filesystem;
using isolation_test::read_text;

using compaudit::test_support::kDigitsCsv;

fs::path scratch(const std::string& name) {
  const auto dir = fs::temp_directory_path() / "compaudit-blas-tests" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

fs::path write_pipeline(const fs::path& dir) {
  const fs::path path = dir / "tiny.toml";
  compaudit::test_support::DigitsAudit audit;
  audit.name = "blas-tiny";
  audit.seeds = 2;
  audit.hidden = "[16]";
  audit.epochs = 1;
  audit.arms = compaudit::test_support::kInt8Arm;
  audit.tables = "\n[report]\nformats = [\"json\"]\n";
  std::ofstream(path) << audit.toml();
  return path;
}

struct Result {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Runs `compaudit ARGS...` (or `exe`, see cli_process.h start) with this process's environment minus the variables
// the test controls, plus `extra`.
Result run_compaudit(const std::vector<std::string>& args, const std::vector<std::string>& extra, const fs::path& log,
                     const char* exe = COMPAUDIT_EXE) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    const std::string var(*e);
    if (var.rfind("OPENBLAS_CORETYPE=", 0) == 0 || var.rfind("OPENBLAS_VERBOSE=", 0) == 0) continue;
    env.push_back(var);
  }
  env.push_back("OPENBLAS_VERBOSE=2");
  env.insert(env.end(), extra.begin(), extra.end());
  const int code = isolation_test::wait_exit(isolation_test::start(args, log, env, exe));
  return {code, read_text(log)};
}

// Every "Core: NAME" line OpenBLAS printed (one per process that loaded it).
std::set<std::string> cores_loaded(const std::string& output) {
  std::set<std::string> cores;
  const std::regex line(R"((^|\n)Core: (\S+))");
  for (auto it = std::sregex_iterator(output.begin(), output.end(), line); it != std::sregex_iterator(); ++it)
    cores.insert((*it)[2]);
  return cores;
}

std::string recorded_blas(const fs::path& run_dir) {
  const auto report = nlohmann::json::parse(read_text(run_dir / "report.json"));
  return report.at("run").at("settings").value("blas", "");
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// The kernel's view of the CPU: Linux lists the AVX-512 flags only when they are usable (the OS saves ZMM state).
std::set<std::string> cpu_flags() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("flags", 0) == 0) {
      std::istringstream words(line.substr(line.find(':') + 1));
      std::set<std::string> flags;
      for (std::string w; words >> w;) flags.insert(w);
      return flags;
    }
  return {};
}

bool has_all(const std::set<std::string>& flags, std::initializer_list<const char*> names) {
  for (const char* n : names)
    if (!flags.count(n)) return false;
  return true;
}

// The explicit cores below need x86-64 with AVX2 (Haswell kernels) and Debian's OpenBLAS behind LibTorch. Elsewhere
// the test case is skipped (support/skip.h: exit 77, which ctest reports as skipped): the first statement of each.
void skip_unless_runnable_here() {
#if defined(__x86_64__)
  COMPAUDIT_SKIP_UNLESS_DIGITS();
  COMPAUDIT_SKIP_UNLESS(has_all(cpu_flags(), {"avx2", "fma"}), "this CPU has no AVX2 and FMA");
#else
  COMPAUDIT_SKIP_UNLESS(false, "not x86-64");
#endif
}

}  // namespace

TEST_CASE("compaudit run records the OpenBLAS core it computed with, whichever the environment chose",
          "[blas][run]") {
  skip_unless_runnable_here();
  const fs::path dir = scratch("run");
  const fs::path pipeline = write_pipeline(dir);
  // Two cores every AVX2 CPU can run; the recorded name must follow the one OpenBLAS says it loaded.
  for (const std::string core : {"Haswell", "Sandybridge"}) {
    INFO(core);
    const fs::path out = dir / core;
    const Result r = run_compaudit({"run", pipeline.string(), "-o", out.string()},
                                   {"OPENBLAS_CORETYPE=" + core}, dir / (core + ".log"));
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    CHECK(cores_loaded(r.output) == std::set<std::string>{core});
    const std::string blas = recorded_blas(out);
    CHECK(blas.rfind("OpenBLAS ", 0) == 0);
    CHECK(ends_with(blas, " " + core));
    CHECK(r.output.find(fmt::format("1 thread, BLAS {})", blas)) != std::string::npos);  // the header line
  }
}

TEST_CASE("A run resumed under another BLAS core says so on stderr and in the store's log", "[blas][run][resume]") {
  skip_unless_runnable_here();
  const fs::path dir = scratch("resume");
  const fs::path pipeline = write_pipeline(dir);
  const fs::path run_dir = dir / "run";
  // Stop after the first of the two cells, under the Haswell kernels...
  const Result first = run_compaudit({"run", pipeline.string(), "-o", run_dir.string(), "--test-stop-after-cells", "1"},
                                     {"OPENBLAS_CORETYPE=HASWELL"}, dir / "first.log", COMPAUDIT_TESTHOOKS_EXE);
  INFO(first.output);
  REQUIRE(first.exit_code == 0);
  // ...then resume under the Sandybridge ones (AVX, no FMA: other bits, and runnable wherever Haswell is).
  const Result again = run_compaudit({"run", "--resume", run_dir.string()}, {"OPENBLAS_CORETYPE=SANDYBRIDGE"},
                                     dir / "again.log");
  INFO(again.output);
  REQUIRE(again.exit_code == 0);
  CHECK(cores_loaded(again.output) == std::set<std::string>{"Sandybridge"});
  CHECK(again.output.find("warning: the run started with BLAS OpenBLAS") != std::string::npos);
  CHECK(ends_with(recorded_blas(run_dir), " Haswell"));  // the settings keep what the run started with
  const auto store = compaudit::store::Store::open(run_dir.string(), compaudit::store::Store::Access::read_only);
  bool logged = false;
  for (const auto& line : store.log_lines())
    logged = logged || (line.text.find("Haswell and resumes with") != std::string::npos &&
                        line.text.find("Sandybridge") != std::string::npos);
  CHECK(logged);
}

TEST_CASE("A run records the oneDNN instruction set of its stacked products, and a resume under another says so",
          "[blas][run][resume]") {
  skip_unless_runnable_here();
  const fs::path dir = scratch("gemm");
  const fs::path pipeline = write_pipeline(dir);
  const fs::path run_dir = dir / "run";
  // oneDNN generates its kernels for at most the ISA ONEDNN_MAX_CPU_ISA names: AVX2 runs wherever this test does.
  const Result first = run_compaudit({"run", pipeline.string(), "-o", run_dir.string(), "--test-stop-after-cells", "1"},
                                     {"ONEDNN_MAX_CPU_ISA=AVX2"}, dir / "first.log", COMPAUDIT_TESTHOOKS_EXE);
  INFO(first.output);
  REQUIRE(first.exit_code == 0);
  const auto gemm = [&] {
    const auto report = nlohmann::json::parse(read_text(run_dir / "report.json"));
    return report.at("run").at("settings").value("gemm", "");
  };
  const Result again = run_compaudit({"run", "--resume", run_dir.string()}, {"ONEDNN_MAX_CPU_ISA=SSE41"},
                                     dir / "again.log");
  INFO(again.output);
  REQUIRE(again.exit_code == 0);
  CHECK(again.output.find("warning: the run started with GEMM oneDNN") != std::string::npos);
  CHECK(again.output.find("cpu_isa_sse41") != std::string::npos);
  CHECK(gemm().rfind("oneDNN ", 0) == 0);
  CHECK(ends_with(gemm(), " cpu_isa_avx2"));  // the settings keep what the run started with
}

TEST_CASE("Shards computed with different BLAS cores merge, and the merged run records both", "[blas][run][merge]") {
  skip_unless_runnable_here();
  const fs::path dir = scratch("merge");
  const fs::path pipeline = write_pipeline(dir);
  for (const auto& [shard, core] : {std::pair{"0/2", "HASWELL"}, std::pair{"1/2", "SANDYBRIDGE"}}) {
    const std::string name = std::string("s") + shard[0];
    const Result r = run_compaudit({"run", pipeline.string(), "--shard", shard, "-q", "-o", (dir / name).string()},
                                   {std::string("OPENBLAS_CORETYPE=") + core}, dir / (name + ".log"));
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
  }
  const Result merged = run_compaudit({"merge", (dir / "out").string(), (dir / "s0").string(), (dir / "s1").string()},
                                      {"OPENBLAS_CORETYPE=HASWELL"}, dir / "merge.log");
  INFO(merged.output);
  REQUIRE(merged.exit_code == 0);
  std::set<std::string> shard_blas;  // what each shard recorded, in the merge's (sorted) order
  for (const char* name : {"s0", "s1"})
    shard_blas.insert(compaudit::store::Store::open((dir / name).string(), compaudit::store::Store::Access::read_only)
                          .run()
                          .settings.value("blas", ""));
  REQUIRE(shard_blas.size() == 2);
  CHECK(ends_with(*shard_blas.begin(), " Haswell"));
  CHECK(ends_with(*shard_blas.rbegin(), " Sandybridge"));
  CHECK(recorded_blas(dir / "out") == "mixed: " + *shard_blas.begin() + "; " + *shard_blas.rbegin());
  CHECK(merged.output.find("warning: the run started with BLAS") == std::string::npos);  // no model is trained
}
