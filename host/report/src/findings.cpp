// Findings: plain sentences about what the numbers do and do not show, so that a small, noisy audit says so
// instead of hiding it (science.md §6). Each finding is {"kind", "arm" (or family), "text"}; report.json carries
// them and report.html lists them at the top.
#include "findings.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "lookup.h"

namespace compaudit::report {

using nlohmann::json;

namespace {

const json* arm_named(const json& report, const std::string& name) {
  for (const auto& a : report["arms"])
    if (a.value("name", "") == name) return &a;
  return nullptr;
}

std::string pp(double v) { return fmt::format("{:+.2f} pp", v * 100); }
std::string pc(double v) { return fmt::format("{:.2f}%", v * 100); }

/// "rises", "falls" or "is not monotonic" over values in level order.
std::string trend(const std::vector<double>& v) {
  bool up = true, down = true;
  for (std::size_t i = 1; i < v.size(); ++i) up &= v[i] >= v[i - 1], down &= v[i] <= v[i - 1];
  return up ? "rises" : down ? "falls" : "is not monotonic";
}

}  // namespace

json findings(const json& report) {
  json out = json::array();
  auto add = [&](const std::string& kind, const std::string& subject, const std::string& text) {
    out.push_back({{"kind", kind}, {"subject", subject}, {"text", text}});
  };

  // Top-1 against the reference: is the difference larger than the intervals?
  for (const auto& arm : report["arms"]) {
    if (!is_compared(arm)) continue;
    const json* ref = arm_named(report, arm["reference"]);
    auto m = number(arm["top1"], "mean");
    auto rm = ref ? number((*ref)["top1"], "mean") : std::nullopt;
    if (!m || !rm) continue;
    const auto& ci = arm["top1"]["ci95"];
    const auto& rci = (*ref)["top1"]["ci95"];
    const std::string name = arm["name"];
    if (!ci.is_array() || !rci.is_array()) {
      add("top1", name,
          fmt::format("top-1 {} ({} against {}); too few models for an interval.", pc(*m), pp(*m - *rm),
                      ref->value("name", "")));
      continue;
    }
    const bool overlap = ci[0].get<double>() <= rci[1].get<double>() && rci[0].get<double>() <= ci[1].get<double>();
    add("top1", name,
        fmt::format("top-1 {} ({} against {}): {}", pc(*m), pp(*m - *rm), ref->value("name", ""),
                    overlap ? fmt::format("the 95% intervals overlap, not distinguishable with {} models",
                                          arm["top1"].value("n", 0))
                            : "the 95% intervals do not overlap"));
  }

  // Along each swept family: PIE fraction and impacted classes against level.
  std::map<std::string, std::vector<const json*>> families;
  for (const auto& arm : report["arms"])
    if (!is_uncompressed(arm) && !arm.value("sweep", json::object()).empty())
      families[arm["base_name"]].push_back(&arm);
  for (auto& [family, arms] : families) {
    std::set<double> levels;
    for (const json* a : arms) levels.insert(a->value("level", 0.0));
    if (levels.size() < 2) continue;  // a sweep over a non-numeric parameter has no order
    std::stable_sort(arms.begin(), arms.end(),
                     [](const json* a, const json* b) { return a->value("level", 0.0) < b->value("level", 0.0); });
    std::vector<double> pies, impacted;
    std::string pie_text, imp_text;
    for (const json* a : arms) {
      const json* p = metric_result(*a, kPie);
      const json* w = metric_result(*a, kWelch);
      if (auto f = p ? number_at(*p, {"summary", "pie_fraction"}) : std::nullopt) {
        pies.push_back(*f);
        pie_text += (pie_text.empty() ? "" : " → ") + pc(*f);
      }
      if (auto n = w ? number_at(*w, {"summary", "impacted_classes"}) : std::nullopt) {
        impacted.push_back(*n);
        imp_text += (imp_text.empty() ? "" : " → ") + fmt::format("{:.0f}", *n);
      }
    }
    if (pies.size() == arms.size())
      add("pie_trend", family, fmt::format("PIE fraction {} with level: {}", trend(pies), pie_text));
    if (impacted.size() == arms.size())
      add("impacted_trend", family,
          fmt::format("the number of impacted classes {} with level: {}", trend(impacted), imp_text));
  }

  // Removing PIEs: does top-1 rise for both populations (Hooker et al.)?
  int rises = 0, total = 0;
  for (const auto& arm : report["arms"]) {
    const json* p = is_compared(arm) ? metric_result(arm, kPie) : nullptr;
    if (!p || number_at(*p, {"summary", "pie_count"}).value_or(0) == 0) continue;
    auto r = number_at(*p, {"summary", "top1_ref"}), rw = number_at(*p, {"summary", "top1_ref_without_pies"});
    auto c = number_at(*p, {"summary", "top1_cand"}), cw = number_at(*p, {"summary", "top1_cand_without_pies"});
    if (!r || !rw || !c || !cw) continue;
    ++total;
    rises += *rw > *r && *cw > *c;
  }
  if (total)
    add("pie_removal", "",
        fmt::format("removing the PIEs raises top-1 of both populations for {} of {} arms", rises, total));

  // Memorization: mismatch rate from the lowest to the highest non-empty bin.
  for (const auto& arm : report["arms"]) {
    const json* r = is_compared(arm) ? metric_result(arm, kMemorization) : nullptr;
    if (!r || !r->contains("bins")) continue;
    std::vector<double> rates;
    for (const auto& b : (*r)["bins"])
      if (auto v = number(b, "mismatch_rate")) rates.push_back(*v);
    if (rates.size() < 2) continue;
    add("memorization", arm["name"],
        fmt::format("mismatch rate {} with memorization ({} in the lowest bin, {} in the highest){}", trend(rates),
                    pc(rates.front()), pc(rates.back()),
                    number_at(*r, {"summary", "spearman"})
                        ? fmt::format("; Spearman {:.3f}", *number_at(*r, {"summary", "spearman"}))
                        : ""));
  }

  const auto failed = report["failed_cells"].size();
  if (failed)
    add("failed_cells", "",
        fmt::format("{} cell{} failed; the statistics above use the remaining seeds", failed, failed == 1 ? "" : "s"));
  return out;
}

}  // namespace compaudit::report
