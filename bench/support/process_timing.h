// bench/support/process_timing.h — timing a whole child process, shared by the host benchmarks.
#pragma once

#include <fmt/format.h>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

namespace bench {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

struct Times {
  double wall = 0, cpu = 0;  // seconds; cpu = user + system time of the child
};

/// Runs argv with stdout and stderr to /dev/null; returns its wall and CPU time, or throws on a non-zero exit.
/// CPU time is reported beside wall time because on a shared, loaded machine the wall time includes waiting for a
/// core.
inline Times time_process(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const auto start = Clock::now();
  const pid_t pid = ::fork();
  if (pid == 0) {
    std::freopen("/dev/null", "w", stdout);
    std::freopen("/dev/null", "w", stderr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  struct rusage usage {};
  ::wait4(pid, &status, 0, &usage);
  const double wall = seconds_since(start);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    throw std::runtime_error(fmt::format("{} {} failed (status {})", args[0], args.size() > 1 ? args[1] : "", status));
  auto secs = [](const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) * 1e-6; };
  return {wall, secs(usage.ru_utime) + secs(usage.ru_stime)};
}

}  // namespace bench
