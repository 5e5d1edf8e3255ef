// host/engine/api/export_target.h — where `compaudit export` may write, and writing there atomically (docs/export.md).
#pragma once

#include <functional>
#include <string>

namespace compaudit::engine {

/// Refuses (Error(pipeline), exit 4) an export output — the model file or its card, `output` + ".json" — that is one
/// of the run's own files: the store and its journals (results.sqlite, -wal, -shm, -journal), the lock, a report
/// (report.*), a worker log; or that is a directory. Symlinked directories are resolved before comparing.
void check_export_target(const std::string& run_dir, const std::string& output);

/// Writes `path` atomically: `write` gets a temporary name beside it, which is renamed over `path` once written (a
/// reader, or a crash, never sees half a file). The temporary file is removed when `write` throws.
void write_atomically(const std::string& path, const std::function<void(const std::string& temporary)>& write);

}  // namespace compaudit::engine
