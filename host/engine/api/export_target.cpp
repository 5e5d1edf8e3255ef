#include "api/export_target.h"

#include <compaudit/error.h>

#include <fmt/format.h>

#include <unistd.h>

#include <filesystem>

namespace compaudit::engine {
namespace fs = std::filesystem;
namespace {

bool is_run_file(const std::string& name) {
  const auto starts = [&](const char* prefix) { return name.rfind(prefix, 0) == 0; };
  return starts("results.sqlite") || name == ".lock" || starts("report.") || starts(".worker-") || name == "shards";
}

void check_one(const fs::path& run_dir, const std::string& file) {
  std::error_code ec;
  const fs::path target = fs::weakly_canonical(fs::absolute(file), ec);
  if (ec) return;  // cannot be resolved: writing will say why
  if (fs::is_directory(target, ec))
    throw Error(ErrorCode::pipeline, "the export output is a directory; give a file name, e.g. model.pt", {file});
  if (target.parent_path() == run_dir && is_run_file(target.filename().string()))
    throw Error(ErrorCode::pipeline,
                fmt::format("refusing to export over the run's own file {}: it would destroy the run; write the model "
                            "outside the run directory or under another name", target.filename().string()),
                {file});
}

}  // namespace

void check_export_target(const std::string& run_dir, const std::string& output) {
  std::error_code ec;
  const fs::path dir = fs::weakly_canonical(fs::absolute(run_dir), ec);
  if (ec) return;
  check_one(dir, output);
  check_one(dir, output + ".json");  // the card written beside the model
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
