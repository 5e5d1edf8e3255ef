// The terminal summary: one row per arm, fitted to a width (100 columns by default) by shortening arm names.
#include <compaudit/report/gates.h>
#include <compaudit/report/report.h>
#include <fmt/format.h>

#include <algorithm>

#include "lookup.h"
#include "paired.h"

namespace compaudit::report {

using nlohmann::json;

namespace {
/// Cuts `s` to at most n bytes, marking the cut with '~' and never splitting a UTF-8 sequence.
std::string shorten(const std::string& s, std::size_t n) {
  if (s.size() <= n) return s;
  std::size_t keep = n <= 1 ? n : n - 1;
  while (keep > 0 && (static_cast<unsigned char>(s[keep]) & 0xC0) == 0x80) --keep;
  return s.substr(0, keep) + (n <= 1 ? "" : "~");
}
}  // namespace

std::string terminal_summary(const json& report, int width) {
  // Fixed columns: level 7, top-1 21, PIE 8, impacted 8, cells 11, plus separators. The arm name gets the rest.
  constexpr int kFixed = 7 + 21 + 8 + 8 + 11 + 5 * 2;
  std::size_t name_w = 6;
  for (const auto& arm : report["arms"]) name_w = std::max(name_w, arm.value("name", "").size());
  name_w = std::min<std::size_t>(name_w, static_cast<std::size_t>(std::max(width - kFixed - 2, 8)));

  std::string out;
  const auto& run = report["run"];
  out += shorten(fmt::format("compaudit report: {} ({} cells: {} done, {} failed)", run.value("name", ""),
                             run["cells"].value("total", 0), run["cells"].value("done", 0),
                             run["cells"].value("failed", 0)),
                 static_cast<std::size_t>(std::max(width, 40))) +
         "\n";
  // The verdict first: a CI log shows whether the compressed model may ship before any table.
  if (report.contains("gates") && report["gates"].value("count", 0) > 0) out += gates_text(report["gates"]);
  auto row = [&](const std::string& a, const std::string& b, const std::string& c, const std::string& d,
                 const std::string& e, const std::string& f) {
    out += fmt::format("{:<{}}  {:>7}  {:>21}  {:>8}  {:>8}  {:>11}\n", shorten(a, name_w), name_w, b, c, d, e, f);
  };
  row("arm", "level", "top-1 mean ± 95% CI", "PIEs", "impacted", "done/failed");
  out += std::string(name_w + kFixed, '-') + "\n";
  for (const auto& arm : report["arms"]) {
    const auto& t = arm["top1"];
    std::string top1 = "-";
    if (auto m = number(t, "mean")) {
      top1 = fmt::format("{:.2f}%", *m * 100);
      if (t["ci95"].is_array()) top1 += fmt::format(" ± {:.2f}", (t["ci95"][1].get<double>() - *m) * 100);
    }
    const json* pie = metric_result(arm, kPie);
    const json* welch = metric_result(arm, kWelch);
    auto pf = pie ? number_at(*pie, {"summary", "pie_fraction"}) : std::nullopt;
    auto imp = welch ? number_at(*welch, {"summary", "impacted_classes"}) : std::nullopt;
    row(arm.value("name", ""),
        arm.value("sweep", json::object()).empty() ? "-" : fmt::format("{:g}", arm.value("level", 0.0)), top1,
        pf ? fmt::format("{:.2f}%", *pf * 100) : "-", imp ? fmt::format("{:.0f}", *imp) : "-",
        fmt::format("{}/{}", arm["cells"].value("done", 0), arm["cells"].value("failed", 0)));
  }
  out += paired_terminal(report, width);  // one model against its compressed twin (paired.h)
  for (const auto& f : report["failed_cells"]) {
    std::string err = f.value("error", "");
    std::replace(err.begin(), err.end(), '\n', ' ');
    std::string head = fmt::format("failed: {} seed {}: ", f.value("arm", ""), f.value("seed", 0));
    const std::size_t room = static_cast<std::size_t>(std::max(width, 40)) > head.size()
                                 ? static_cast<std::size_t>(std::max(width, 40)) - head.size()
                                 : 10;
    out += head + shorten(err, room) + "\n";
  }
  return out;
}

}  // namespace compaudit::report
