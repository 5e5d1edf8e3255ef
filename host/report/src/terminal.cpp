// The terminal summary: one row per arm, fitted to a width (100 columns by default) by shortening arm names.
#include <compaudit/report/gates.h>
#include <compaudit/report/report.h>
#include <fmt/format.h>

#include <algorithm>
#include <iterator>

#include "attribution_section.h"
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

/// Cuts an arm name to at most n bytes in the middle ("lottery@s~0.8 control"): sweep levels and the " control"
/// suffix sit at the end, and two rows that differ only there must still be told apart.
std::string shorten_middle(const std::string& s, std::size_t n) {
  if (s.size() <= n || n < 5) return shorten(s, n);
  std::size_t head = (n - 1) / 2, tail = s.size() - (n - 1 - head);
  while (head > 0 && (static_cast<unsigned char>(s[head]) & 0xC0) == 0x80) --head;
  while (tail < s.size() && (static_cast<unsigned char>(s[tail]) & 0xC0) == 0x80) ++tail;
  return s.substr(0, head) + "~" + s.substr(tail);
}

/// `text` broken at spaces into lines of at most `width` bytes (so at most `width` columns: the findings carry a few
/// multi-byte symbols such as →), continuation lines indented by two spaces. A word longer than a line is shortened,
/// unless `whole_words` (then it overflows its line: a path or id cut in the middle is worse than a long line).
std::string wrap(const std::string& text, std::size_t width, bool whole_words = false) {
  std::string out, line;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find(' ', start);
    if (end == std::string::npos) end = text.size();
    const std::string word = text.substr(start, end - start);
    if (!line.empty() && line.size() + 1 + word.size() > width) {
      out += line + "\n";
      line = "  ";
    }
    line += (line.empty() || line == "  " ? "" : " ") + word;
    if (!whole_words) line = shorten(line, width);
    start = end + 1;
  }
  return out + line + "\n";
}
}  // namespace

std::string terminal_summary(const json& report, int width) {
  // Fixed columns: level 7, top-1 21, PIE 14, impacted 12, cells 11, plus separators. The arm name gets the rest.
  constexpr int kFixed = 7 + 21 + 14 + 12 + 11 + 5 * 2;
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
    out += fmt::format("{:<{}}  {:>7}  {:>21}  {:>14}  {:>12}  {:>11}\n", shorten_middle(a, name_w), name_w, b, c, d, e, f);
  };
  row("arm", "level", "top-1 mean ± 95% CI", "PIE % (floor)", "impacted", "done/failed");
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
    auto floor = pie ? number_at(*pie, {"summary", "pie_fraction_null_mean"}) : std::nullopt;
    auto imp = welch ? number_at(*welch, {"summary", "impacted_classes"}) : std::nullopt;
    const bool underpowered = welch && text_at(*welch, {"summary", "status"}, "") == "underpowered";
    // "*": above the seed-noise floor (permutation p < the metric's alpha); the findings below say it in words.
    std::string pie_cell = "-";
    if (pf) pie_cell = fmt::format("{:.2f}", *pf * 100);
    if (pf && floor)
      pie_cell += fmt::format(" ({:.2f}){}", *floor * 100, flag_at(*pie, {"summary", "above_noise"}) ? "*" : " ");
    row(arm.value("name", ""),
        arm.value("sweep", json::object()).empty() ? "-" : fmt::format("{:g}", arm.value("level", 0.0)), top1,
        pie_cell, imp ? fmt::format("{:.0f}", *imp) : underpowered ? "underpowered" : "-",
        fmt::format("{}/{}", arm["cells"].value("done", 0), arm["cells"].value("failed", 0)));
  }
  // Which reference each arm's PIEs, impacted classes and paired tests are against: its matched control.
  std::vector<std::pair<std::string, std::vector<std::string>>> against;
  for (const auto& arm : report["arms"]) {
    const std::string ref = arm.value("reference", ""), name = arm.value("name", "");
    if (ref.empty() || ref == name) continue;
    auto it = std::find_if(against.begin(), against.end(), [&](const auto& g) { return g.first == ref; });
    if (it == against.end()) {
      against.emplace_back(ref, std::vector<std::string>{});
      it = std::prev(against.end());
    }
    it->second.push_back(name);
  }
  if (!against.empty()) {
    std::string line = "compared with:";
    for (const auto& [ref, arms] : against) line += fmt::format(" {} <- {};", ref, fmt::join(arms, ", "));
    line.pop_back();
    out += wrap(line, static_cast<std::size_t>(std::max(width, 40)));
  }
  // The verdicts behind the table: PIEs against their noise floor, trends, power (findings.cpp).
  for (const auto& f : report.value("findings", json::array())) {
    const std::string kind = f.value("kind", "");
    if (kind != "pie_noise" && kind != "pie_trend" && kind != "power") continue;
    const std::string subject = f.value("subject", "");
    out += wrap((subject.empty() ? "" : subject + ": ") + f.value("text", ""),
                static_cast<std::size_t>(std::max(width, 40)));
  }
  out += paired_terminal(report, width);  // one model against its compressed twin (paired.h)
  for (const auto& line : attribution_terminal_lines(report))  // [attribution] and [search] (attribution_section.h)
    out += wrap(line, static_cast<std::size_t>(std::max(width, 40)));
  bool first_failure = true;
  for (const auto& f : report["failed_cells"]) {
    std::string err = f.value("error", "");
    std::replace(err.begin(), err.end(), '\n', ' ');
    std::string head = fmt::format("failed: {} seed {}: ", f.value("arm", ""), f.value("seed", 0));
    if (first_failure) {  // the first failure in full, wrapped: its cause is what the user reads first
      out += wrap(head + err, static_cast<std::size_t>(std::max(width, 40)), /*whole_words=*/true);
      first_failure = false;
      continue;
    }
    const std::size_t room = static_cast<std::size_t>(std::max(width, 40)) > head.size()
                                 ? static_cast<std::size_t>(std::max(width, 40)) - head.size()
                                 : 10;
    out += head + shorten(err, room) + "\n";
  }
  return out;
}

}  // namespace compaudit::report
