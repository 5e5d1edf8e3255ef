// lock.h — the one-writer-per-run-directory lock, private to the store.
#pragma once

#include <string>

namespace compaudit::store::detail {

/// Takes an exclusive, non-blocking flock(2) on `<run_dir>/.lock` and writes this process's PID into it. Returns the
/// open descriptor (the lock lives as long as it stays open). Throws Error(io) "run directory X is in use by process
/// PID" when another open description holds it — another process, or another Store in this one.
int acquire_run_lock(const std::string& run_dir);
/// For Store::Access::worker_of_lock_holder: throws Error(io) unless another open description (the host that
/// started this worker) holds the lock of `run_dir` now. Takes no lock itself (a probe it wins is released at once).
void require_run_lock_held(const std::string& run_dir);
/// Releases a lock returned by acquire_run_lock (closing the descriptor drops the flock). The file stays: removing
/// it would race with a process that has just opened it.
void release_run_lock(int fd) noexcept;

}  // namespace compaudit::store::detail
