#include "lock.h"

#include <compaudit/error.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace compaudit::store::detail {
namespace {

// The lock file is opened without following a symlink (O_NOFOLLOW: `ln -s victim RUN/.lock` must not let a run
// overwrite the victim with its PID) and without blocking on a fifo (O_NONBLOCK); anything but a regular file is
// refused, naming the path. Returns the open descriptor; throws Error(io).
int open_lock_file(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0644);
  if (fd < 0 && errno == ELOOP)
    throw Error(ErrorCode::io, "the run lock is a symbolic link; refusing to follow it (remove it if no run is "
                               "using this directory)", {path, 0, 0});
  if (fd < 0) return fd;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(ErrorCode::io, "the run lock is not a regular file; refusing to use it (remove it if no run is "
                               "using this directory)", {path, 0, 0});
  }
  return fd;
}

}  // namespace

int acquire_run_lock(const std::string& run_dir) {
  const std::string path = run_dir + "/.lock";
  int fd = open_lock_file(path, O_RDWR | O_CREAT);
  if (fd < 0)
    throw Error(ErrorCode::io, fmt::format("cannot create the run lock: {}", std::strerror(errno)), {path, 0, 0});
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    // Whoever holds the lock wrote its PID into the file; read it for the message.
    char buf[32] = {0};
    ssize_t got = ::pread(fd, buf, sizeof buf - 1, 0);
    ::close(fd);
    std::string pid = got > 0 ? std::string(buf, static_cast<std::size_t>(got)) : std::string("unknown");
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    if (err == EWOULDBLOCK)
      throw Error(ErrorCode::io, fmt::format("run directory {} is in use by process {}", run_dir, pid));
    throw Error(ErrorCode::io, fmt::format("cannot lock the run directory: {}", std::strerror(err)), {path, 0, 0});
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    // The lock itself is held; only the informative PID is missing. Not worth failing the run for.
  }
  return fd;
}

void require_run_lock_held(const std::string& run_dir) {
  const std::string path = run_dir + "/.lock";
  int fd = open_lock_file(path, O_RDONLY);
  if (fd < 0)
    throw Error(ErrorCode::io, fmt::format("a worker needs the run lock held by its host, but there is no lock "
                                           "file: {}", std::strerror(errno)), {path, 0, 0});
  // Probe with a shared lock: it fails only while someone holds the exclusive writer lock.
  const bool held = ::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  ::close(fd);  // drops the probe's lock if we got it
  if (!held)
    throw Error(ErrorCode::io, fmt::format("run directory {} is not locked by a running host; a worker only writes "
                                           "for the host that holds the lock and waits for it", run_dir));
}

void release_run_lock(int fd) noexcept {
  if (fd >= 0) ::close(fd);
}

}  // namespace compaudit::store::detail
