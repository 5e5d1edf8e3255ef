// host/engine/run/progress.h — cells done / total with an ETA: a redrawn bar on a terminal, one plain line per
// finished cell otherwise (logs, CI). Writes to stderr so stdout stays clean for the report summary.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace compaudit::engine {

/// "<arm> seed <k>", how progress lines and logs name a cell.
std::string cell_name(const std::string& arm, std::int64_t seed);

class Progress {
 public:
  /// `total` cells to do in this process, `already` done before (resume). quiet: print nothing.
  Progress(int total, int already, bool quiet);
  /// A cell is starting (the bar shows what is being worked on).
  void start(const std::string& what);
  /// A cell finished (ok = done, else failed).
  void finish(const std::string& what, bool ok, double seconds);
  /// A line of text that must not be overwritten by the bar.
  void note(const std::string& text);
  /// Ends the bar's line.
  void close();

 private:
  void draw(const std::string& what);
  std::string eta() const;
  int total_, done_, done_here_ = 0, failed_ = 0;
  bool quiet_, tty_, bar_open_ = false;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace compaudit::engine
