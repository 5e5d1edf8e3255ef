#include <compaudit/host/run_directory.h>

#include <fmt/format.h>

#include <filesystem>
#include <set>

namespace compaudit::host {
namespace fs = std::filesystem;

std::string run_directory_problem(const std::string& dir) {
  std::error_code ec;
  const fs::path p = fs::absolute(dir, ec).lexically_normal();
  if (p == p.root_path()) return "the filesystem root cannot be a run directory";
  const fs::file_status st = fs::symlink_status(p, ec);
  if (ec || !fs::exists(st)) return "";
  if (!fs::is_directory(fs::status(p, ec)))
    return "this is not a directory; a run directory must be new, empty, or hold a compaudit run";
  if (fs::exists(p / "results.sqlite", ec)) return "";  // a run: continued, or refused if of another pipeline
  // What a run killed before its store was in place leaves behind (host/store/src/store.cpp, Store::create).
  static const std::set<std::string> leftovers{".lock", "results.sqlite.new", "results.sqlite.new-journal",
                                               "results.sqlite.new-wal", "results.sqlite.new-shm"};
  std::string first;
  int others = 0;
  for (const auto& e : fs::directory_iterator(p, ec)) {
    const std::string name = e.path().filename().string();
    if (leftovers.count(name)) continue;
    if (first.empty()) first = name;
    ++others;
  }
  if (ec) return fmt::format("the directory cannot be read ({})", ec.message());
  if (others == 0) return "";
  return fmt::format("the directory is not empty (it holds {}{}) and is not a compaudit run (no results.sqlite); a "
                     "run directory must be new, empty, or a run to continue, so that nothing of yours is "
                     "overwritten: choose another output directory",
                     first, others > 1 ? fmt::format(" and {} more", others - 1) : "");
}

std::string own_run_file(const std::string& run_dir, const std::string& path) {
  std::error_code ec;
  const fs::path dir = fs::weakly_canonical(fs::absolute(run_dir), ec);
  if (ec) return "";
  const fs::path target = fs::weakly_canonical(fs::absolute(path), ec);
  if (ec || target.parent_path() != dir) return "";
  const std::string name = target.filename().string();
  const auto starts = [&](const char* prefix) { return name.rfind(prefix, 0) == 0; };
  const bool own = starts("results.sqlite") || name == ".lock" || starts("report.") || starts(".worker-") ||
                   name == "shards";
  return own ? name : "";
}

}  // namespace compaudit::host
