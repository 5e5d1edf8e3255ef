// fuzz_support.h — what every target needs: a private scratch directory and a fast way to put bytes in a file.
//
// The code under test reads paths, not buffers, so each input is written to a file first. The directory lives in
// /dev/shm when there is one (a RAM file system keeps that write cheap) and is removed when the process exits.
#pragma once

#include <compaudit/error.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace fuzz {

/// A directory of this process's own, created on first use and removed at exit.
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    namespace fs = std::filesystem;
    const fs::path base = fs::is_directory("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
    std::string pattern = (base / "compaudit-fuzz-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) {
      std::perror("mkdtemp");
      std::abort();
    }
    static const fs::path made(pattern);
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(made, ec);
    });
    return made;
  }();
  return dir;
}

/// Replaces `path` with exactly `size` bytes of `data`.
inline void write_file(const std::filesystem::path& path, const std::uint8_t* data, std::size_t size) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    std::perror(path.c_str());
    std::abort();
  }
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n <= 0) {
      std::perror("write");
      std::abort();
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  ::close(fd);
}

inline void write_file(const std::filesystem::path& path, const std::string& text) {
  write_file(path, reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
}

/// The contract every target checks: a rejected input is a compaudit::Error with a message and, when it names a
/// file, the file. Anything else thrown escapes the target, and libFuzzer reports it as a crash.
/// FUZZ_VERBOSE=1 prints each rejection (useful when running a target on a few files to check the seeds).
inline void check_error(const compaudit::Error& e) {
  static const bool verbose = std::getenv("FUZZ_VERBOSE") != nullptr;
  if (verbose) std::fprintf(stderr, "rejected: %s\n", e.what());
  if (e.message().empty()) {
    std::fprintf(stderr, "compaudit::Error with an empty message: %s\n", e.what());
    std::abort();
  }
}

/// Aborts with `what` when `ok` is false: an invariant of a successfully parsed input does not hold.
inline void require(bool ok, const char* what) {
  static const bool verbose = std::getenv("FUZZ_VERBOSE") != nullptr;
  if (verbose && ok) std::fprintf(stderr, "ok: %s\n", what);
  if (!ok) {
    std::fprintf(stderr, "invariant violated: %s\n", what);
    std::abort();
  }
}

}  // namespace fuzz
