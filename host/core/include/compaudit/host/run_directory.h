// compaudit/host/run_directory.h — what may become a run directory (docs/pipelines.md#audit, docs/cli.md).
//
// A run directory is created empty or is a compaudit run (it holds results.sqlite). Anything else — a directory
// with someone's files in it, a regular file, the filesystem root — is refused before anything is written there,
// by `validate` for the pipeline's `[audit] output` and by `run` for the directory it is about to use (`-o`).
// Leftovers of a run killed while creating its store (.lock, results.sqlite.new*) count as empty.
#pragma once

#include <string>

namespace compaudit::host {

/// "" when `dir` may be used as a new run's directory (it does not exist, is empty, or holds a compaudit run), else
/// why not, as a sentence that names no path (the caller puts the path in the error's location).
std::string run_directory_problem(const std::string& dir);

/// The file name when `path` is one of the run in `run_dir`'s own files — the store and its journals
/// (results.sqlite*), the lock, a report (report.*), a worker log, the shards folder — else "". Symlinked
/// directories are resolved before comparing. `export` and `report --examples` refuse to write over these.
std::string own_run_file(const std::string& run_dir, const std::string& path);

}  // namespace compaudit::host
