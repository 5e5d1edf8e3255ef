// build_reports: open the store read-only, build report.json once, render the requested formats from it.
#include <compaudit/error.h>
#include <compaudit/report/report.h>
#include <compaudit/store/store.h>

#include "atomic_write.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <ostream>
#include <sstream>

namespace compaudit::report {

namespace fs = std::filesystem;

void write_atomically(const std::string& dir, const std::string& name, const std::string& text) {
  const fs::path final_path = fs::path(dir) / name;
  const fs::path tmp = fs::path(dir) / ("." + name + ".tmp");
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    if (!out) throw Error(ErrorCode::io, "cannot write " + name, {tmp.string(), 0, 0});
  }
  std::error_code ec;
  fs::rename(tmp, final_path, ec);
  if (ec) throw Error(ErrorCode::io, "cannot write " + name + " (" + ec.message() + ")", {final_path.string(), 0, 0});
}

int build_reports(const std::string& run_dir, const std::vector<std::string>& formats, std::ostream& terminal) {
  std::vector<std::string> wanted = formats.empty() ? std::vector<std::string>{"json", "html", "terminal"} : formats;
  for (const auto& f : wanted)
    if (f != "json" && f != "html" && f != "terminal") {
      terminal << "compaudit report: unknown report format \"" << f << "\" (expected json, html or terminal)\n";
      return 2;  // exit_usage
    }
  auto want = [&](const char* f) { return std::find(wanted.begin(), wanted.end(), f) != wanted.end(); };
  try {
    const auto store = store::Store::open(run_dir, store::Store::Access::read_only);
    const nlohmann::json doc = report_json(store);
    if (want("json"))
      write_atomically(run_dir, "report.json",
                       doc.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
    if (want("html")) write_atomically(run_dir, "report.html", report_html(doc, store));
    if (want("terminal")) terminal << terminal_summary(doc, 100);
    return 0;
  } catch (const Error& e) {
    terminal << "compaudit report: " << e.what() << "\n";
    return e.code() == ErrorCode::io ? 6 : 5;  // exit_io, exit_runtime
  } catch (const std::exception& e) {
    terminal << "compaudit report: " << e.what() << "\n";
    return 5;
  }
}

int report_command(const std::string& run_dir) {
  // Errors go to stderr, the summary to stdout: capture, then route by the outcome.
  std::ostringstream out;
  const int rc = build_reports(run_dir, {}, out);
  (rc == 0 ? std::cout : std::cerr) << out.str();
  return rc;
}

}  // namespace compaudit::report
