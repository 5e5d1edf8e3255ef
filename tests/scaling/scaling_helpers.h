// Helpers of the scaling tests: digits pipelines, running the real `compaudit` executable (as a user or a Slurm job
// would), and comparing runs with timing fields removed.
#pragma once

#include "support/digits_audit.h"

#include <compaudit/store/store.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace scaling_test {

namespace fs = std::filesystem;
using nlohmann::json;

/// A fresh scratch directory (removed at the start, kept afterwards for inspection).
inline fs::path scratch_dir(const std::string& name) {
  const auto dir = fs::temp_directory_path() / "compaudit-scaling-tests" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

struct Shape {
  int seeds = 3;
  bool memorization = true;  ///< [memorization] (2 models) and the memorization metric
  bool pruning = true;       ///< prune@{0.5,0.9} with fine-tuning (so a dense+ft control exists)
  int epochs = 2;
  std::string lr = "0.05";
};

/// Digits, two-epoch MLPs, threads = 1 (bitwise reproducible). With every option: 5 arms x 3 seeds = 15 cells.
inline std::string digits_pipeline(const std::string& name, const Shape& shape = {}) {
  compaudit::test_support::DigitsAudit audit;
  audit.name = name;
  audit.seeds = shape.seeds;
  audit.epochs = shape.epochs;
  audit.lr = shape.lr;
  audit.arms = shape.pruning ? compaudit::test_support::kPruneArms + compaudit::test_support::kInt8Arm
                             : compaudit::test_support::kInt8Arm;
  audit.metrics = {"top1", "pie", "recall_welch"};
  if (shape.memorization) {
    audit.metrics.push_back("memorization");
    audit.tables = "\n[memorization]\nmodels = 2\nfraction = 0.5\nepochs = 1\n";
  }
  audit.tables += "\n[report]\nformats = [\"json\"]\n";
  return audit.toml();
}

inline std::string write_pipeline(const fs::path& dir, const std::string& text, const std::string& file = "p.toml") {
  const fs::path p = dir / file;
  std::ofstream(p) << text;
  return p.string();
}

struct Result {
  int code = -1;
  std::string output;  ///< stdout and stderr
};

/// Runs a shell command; returns its exit code and combined output.
inline Result sh(const std::string& command) {
  Result r;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (!p) throw std::runtime_error("popen failed");
  std::array<char, 4096> buf{};
  while (fgets(buf.data(), buf.size(), p)) r.output += buf.data();
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

/// `compaudit ARGS` with the test plugins on the search path.
inline Result cli(const std::string& args) {
  return sh(fmt::format("'{}' {} --plugin-path '{}'", COMPAUDIT_CLI, args, COMPAUDIT_TEST_PLUGIN_DIR));
}

/// report.json without what depends on the clock (generated_at, created_at, cell times, log times).
inline json report_without_timings(const fs::path& run_dir) {
  std::ifstream in(run_dir / "report.json");
  if (!in) throw std::runtime_error("no report.json in " + run_dir.string());
  json r = json::parse(in);
  r.erase("generated_at");
  r["run"].erase("created_at");
  for (auto& arm : r["arms"])
    for (auto& m : arm["models"]) m.erase("train_seconds"), m.erase("eval_seconds");
  for (auto& f : r["failed_cells"]) f.erase("started_at"), f.erase("finished_at");
  for (auto& l : r["log"]) l.erase("time");
  return r;
}

/// Every cell's status and compression records, and its predictions on every split, bit for bit; memorization
/// scores; metric results. What two runs must share to be "the same results".
inline std::string fingerprint(const fs::path& run_dir) {
  using namespace compaudit;
  const store::Store s = store::Store::open(run_dir.string(), store::Store::Access::read_only);
  std::ostringstream out;
  for (const auto& c : s.cells()) {
    out << c.arm << '/' << c.seed << ' ' << store::to_string(c.status) << ' ' << c.records.dump() << ' '
        << c.size.dump() << '\n';
    for (const char* split : {"test", "train"})
      if (auto p = s.predictions(c.arm, c.seed, split, true)) {
        out << split << ':';
        for (auto v : p->labels) out << v << ',';
        for (auto v : p->true_prob) out << v << ',';
        for (auto v : p->probs) out << v << ',';
        out << '\n';
      }
    if (auto b = s.blob(c.arm, c.seed, "state")) {  // the model state, as an FNV-1a hash of its bytes
      std::uint64_t h = 1469598103934665603ull;
      for (auto byte : *b) h = (h ^ byte) * 1099511628211ull;
      out << "state " << b->size() << ' ' << h << '\n';
    }
  }
  if (auto m = s.memorization("train"))
    for (float v : *m) out << v << ',';
  out << '\n';
  for (const auto& m : s.metrics())
    out << m.metric_index << ' ' << m.arm << ' ' << m.reference << ' ' << m.result.dump() << ' ' << m.error << '\n';
  return out.str();
}

}  // namespace scaling_test
