// tests/support/skip.h — a test that cannot run here reports *skipped* to ctest, never *passed*.
//
// Catch2 2.x has no SKIP, but every Catch test case is its own ctest test (catch_discover_tests runs the executable
// once per test case), and every test is registered with SKIP_RETURN_CODE 77. So a test case that lacks what it needs
// (a data file, an interpreter, a CPU feature) prints why and ends its process with exit code 77: ctest shows
// "***Skipped" and lists it under "The following tests did not run:", and .ci/run fails on that list.
//
// Use COMPAUDIT_SKIP_UNLESS only as the first statements of a TEST_CASE, before any SECTION, assertion or file it
// writes: the exit ends the whole process, so run by hand without a test name, the executable stops at the first skip
// (with the same exit code 77, so that is not silent either).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

namespace compaudit::test_support {

/// The exit code that ctest's SKIP_RETURN_CODE (set on every registered test) reads as "skipped".
inline constexpr int kSkipExitCode = 77;

[[noreturn]] inline void skip_test(const std::string& why, const char* file, int line) {
  std::printf("SKIPPED: %s (%s:%d)\n", why.c_str(), file, line);
  std::fflush(nullptr);
  // _Exit, not exit: no static destructors (LibTorch, Catch's session) run halfway through a test case.
  std::_Exit(kSkipExitCode);
}

}  // namespace compaudit::test_support

/// Skips the current test case (exit 77) unless `condition` holds; `why` (a string) says what is missing.
#define COMPAUDIT_SKIP_UNLESS(condition, why)                                     \
  do {                                                                            \
    if (!(condition)) ::compaudit::test_support::skip_test((why), __FILE__, __LINE__); \
  } while (false)
