// Helpers of the isolation and durability tests: start the real `compaudit` executable (no LibTorch in this test
// process, so plain posix_spawn), wait for it or kill it, and read what a run computed from its store.
#pragma once

#include "support/digits_audit.h"

#include <compaudit/store/store.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace isolation_test {
namespace fs = std::filesystem;

using compaudit::test_support::kDigitsCsv;

inline fs::path scratch_dir(const std::string& name) {
  const auto dir = fs::temp_directory_path() / "compaudit-isolation-tests" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

inline void write_text(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

inline std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// Starts `compaudit ARGS...` with stdout and stderr appended to `log`, in this process's environment or, when `env`
/// is given, in exactly that one ("NAME=value" strings). Returns its pid. `exe`: COMPAUDIT_EXE, the real `compaudit`,
/// or COMPAUDIT_TESTHOOKS_EXE, its test twin whose hidden `run --test-...` options set the engine's test hooks
/// (host::TestHooks; host/cli/CMakeLists.txt).
inline pid_t start(const std::vector<std::string>& args, const fs::path& log,
                   std::optional<std::vector<std::string>> env = std::nullopt, const char* exe = COMPAUDIT_EXE) {
  std::vector<std::string> all{exe};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv, envp;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  if (env) {
    for (auto& e : *env) envp.push_back(e.data());
    envp.push_back(nullptr);
  }
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&files, 1, 2);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0], &files, nullptr, argv.data(), env ? envp.data() : environ);
  posix_spawn_file_actions_destroy(&files);
  if (rc != 0) throw std::runtime_error("cannot start compaudit");
  return pid;
}

/// Waits for a process; its exit code, or 128 + signal.
inline int wait_exit(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/// Runs `compaudit ARGS...` (or `exe ARGS...`, see start) to the end; its exit code.
inline int run(const std::vector<std::string>& args, const fs::path& log, const char* exe = COMPAUDIT_EXE) {
  return wait_exit(start(args, log, std::nullopt, exe));
}

/// Opens a run's store read-only, or nullopt while it does not exist yet (or is being created).
inline std::optional<compaudit::store::Store> try_open(const fs::path& run_dir) {
  try {
    if (!compaudit::store::Store::exists(run_dir.string())) return std::nullopt;
    return compaudit::store::Store::open(run_dir.string(), compaudit::store::Store::Access::read_only);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

/// Everything a run computed, as one string, bit for bit: cell statuses and errors, compression records, test and
/// train predictions (labels, probabilities), memorization, metric results. No timings.
inline std::string fingerprint(const fs::path& run_dir) {
  const auto s = compaudit::store::Store::open(run_dir.string(), compaudit::store::Store::Access::read_only);
  std::ostringstream out;
  for (const auto& c : s.cells()) {
    out << c.arm << '/' << c.seed << ' ' << compaudit::store::to_string(c.status) << ' ' << c.error << ' '
        << c.records.dump() << ' ' << c.size.dump() << '\n';
    for (const char* split : {"test", "train"})
      if (auto p = s.predictions(c.arm, c.seed, split, true)) {
        for (auto v : p->labels) out << v << ',';
        for (auto v : p->true_prob) out << v << ',';
        for (auto v : p->probs) out << v << ',';
        out << '\n';
      }
    if (auto b = s.blob(c.arm, c.seed, "state")) out << "state " << b->size() << ' ' << std::hash<std::string>{}(std::string(b->begin(), b->end())) << '\n';
  }
  if (auto m = s.memorization("train"))
    for (float v : *m) out << v << ',';
  for (const auto& m : s.metrics())
    out << m.metric_id << ' ' << m.arm << ' ' << m.reference << ' ' << m.result.dump() << ' ' << m.error << '\n';
  return out.str();
}

/// report.json without what legitimately differs between two runs of the same pipeline (times, paths).
inline nlohmann::json report_without_timings(const fs::path& run_dir) {
  nlohmann::json doc = nlohmann::json::parse(read_text(run_dir / "report.json"));
  // Recursively drop keys that hold times or durations, and the run directory.
  std::function<void(nlohmann::json&)> strip = [&](nlohmann::json& j) {
    if (j.is_object()) {
      for (auto it = j.begin(); it != j.end();) {
        const std::string& k = it.key();
        if (k.find("seconds") != std::string::npos || k.find("_at") != std::string::npos || k == "run_dir" ||
            k == "generated" || k == "path" || k == "output" || k.find("time") != std::string::npos)
          it = j.erase(it);
        else
          strip(*it++);
      }
    } else if (j.is_array()) {
      for (auto& e : j) strip(e);
    }
  };
  strip(doc);
  return doc;
}

}  // namespace isolation_test
