#include "run/progress.h"

#include <fmt/format.h>

#include <unistd.h>

namespace compaudit::engine {

std::string cell_name(const std::string& arm, std::int64_t seed) { return fmt::format("{} seed {}", arm, seed); }


Progress::Progress(int total, int already, bool quiet)
    : total_(total), done_(already), quiet_(quiet), tty_(isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()) {}

std::string Progress::eta() const {
  if (done_here_ == 0) return "--";
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const int left = static_cast<int>(elapsed / done_here_ * (total_ - done_) + 0.5);
  return left >= 60 ? fmt::format("{}m{:02}s", left / 60, left % 60) : fmt::format("{}s", left);
}

void Progress::draw(const std::string& what) {
  constexpr int width = 30;
  const int filled = total_ > 0 ? width * done_ / total_ : width;
  fmt::print(stderr, "\r\033[K[{}{}] {}/{} cells  ETA {}  {}", std::string(filled, '#'),
             std::string(width - filled, '.'), done_, total_, eta(), what);
  std::fflush(stderr);
  bar_open_ = true;
}

void Progress::start(const std::string& what) {
  if (quiet_ || !tty_) return;
  draw(what);
}

void Progress::finish(const std::string& what, bool ok, double seconds) {
  ++done_;
  ++done_here_;
  if (!ok) ++failed_;
  if (quiet_) return;
  if (tty_) {
    if (!ok) note(fmt::format("cell {} FAILED", what));
    draw(what);
  } else {
    fmt::print(stderr, "cell {}/{} {}: {} ({:.1f} s, ETA {})\n", done_, total_, ok ? "done" : "FAILED", what, seconds,
               eta());
  }
}

void Progress::note(const std::string& text) {
  if (quiet_) return;
  if (bar_open_) fmt::print(stderr, "\r\033[K");
  fmt::print(stderr, "{}\n", text);
  bar_open_ = false;
}

void Progress::close() {
  if (bar_open_ && !quiet_) fmt::print(stderr, "\n");
  bar_open_ = false;
}

}  // namespace compaudit::engine
