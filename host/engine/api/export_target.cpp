#include "api/export_target.h"

#include <compaudit/error.h>
#include <compaudit/host/run_directory.h>

#include <fmt/format.h>

#include <unistd.h>

#include <filesystem>

namespace compaudit::engine {
namespace fs = std::filesystem;
namespace {

void check_one(const std::string& run_dir, const std::string& file) {
  std::error_code ec;
  if (fs::is_directory(fs::weakly_canonical(fs::absolute(file), ec), ec))
    throw Error(ErrorCode::pipeline, "the export output is a directory; give a file name, e.g. model.pt", {file});
  if (const std::string own = host::own_run_file(run_dir, file); !own.empty())
    throw Error(ErrorCode::pipeline,
                fmt::format("refusing to export over the run's own file {}: it would destroy the run; write the model "
                            "outside the run directory or under another name", own),
                {file});
}

}  // namespace

void check_export_target(const std::string& run_dir, const std::string& output) {
  check_one(run_dir, output);
  check_one(run_dir, output + ".json");  // the card written beside the model
}

void write_atomically(const std::string& path, const std::function<void(const std::string& temporary)>& write) {
  const fs::path target(path);
  const std::string temporary =
      (target.parent_path() / fmt::format(".{}.partial-{}", target.filename().string(), ::getpid())).string();
  std::error_code ec;
  try {
    write(temporary);
    fs::rename(temporary, target, ec);
    if (ec) throw Error(ErrorCode::io, "cannot move the export into place (" + ec.message() + ")", {path});
  } catch (...) {
    fs::remove(temporary, ec);
    throw;
  }
}

}  // namespace compaudit::engine
