#include "charts.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "lookup.h"

namespace compaudit::report {

using nlohmann::json;

namespace {

std::vector<std::string> class_names(const json& report) {
  std::vector<std::string> names;
  if (report["data"].is_object()) names = report["data"].value("class_names", std::vector<std::string>{});
  return names;
}

std::string tip_of(const json& arm, const Value& v, bool percent) {
  std::string tip = arm.value("name", "") + ": " + svg::label_number(v.y, percent);
  if (v.lo && v.hi) tip += " [" + svg::label_number(*v.lo, percent) + ", " + svg::label_number(*v.hi, percent) + "]";
  return tip;
}

}  // namespace

std::string level_chart(const json& report, const std::string& title, const std::string& y_label, const ValueOf& value,
                        bool percent, bool from_zero, bool integer) {
  // Families: base names whose swept arms have at least two distinct levels are drawn against their level (a sweep
  // over a non-numeric parameter has level 0 throughout: those arms are drawn as lines like unswept arms).
  std::map<std::string, std::set<double>> levels;
  for (const auto& arm : report["arms"])
    if (!is_uncompressed(arm) && !arm.value("sweep", json::object()).empty())
      levels[arm["base_name"]].insert(arm.value("level", 0.0));
  std::set<std::string> swept;
  for (const auto& [base, ls] : levels)
    if (ls.size() >= 2) swept.insert(base);

  svg::XYChart chart;
  chart.title = title;
  chart.y_label = y_label;
  chart.y_percent = percent;
  chart.y_from_zero = from_zero;
  chart.y_integer = integer;
  std::map<std::string, std::size_t> family;  // base name -> series index
  std::vector<std::string> sweep_keys;
  std::size_t color = 0, any = 0;
  for (const auto& arm : report["arms"]) {
    const auto v = value(arm);
    if (!v) continue;
    ++any;
    const std::string base = arm.value("base_name", arm.value("name", ""));
    if (!is_uncompressed(arm) && swept.count(base)) {
      if (!family.count(base)) {
        family[base] = chart.series.size();
        chart.series.push_back({base, svg::palette(color++), {}, false});
      }
      chart.series[family[base]].points.push_back(
          {arm.value("level", 0.0), v->y, v->lo, v->hi, tip_of(arm, *v, percent)});
      for (const auto& [k, _] : arm["sweep"].items())
        if (std::find(sweep_keys.begin(), sweep_keys.end(), k) == sweep_keys.end()) sweep_keys.push_back(k);
    } else {
      // Uncompressed arms in gray tones, fixed (non-swept) compressed arms in the palette.
      // Bands only for the uncompressed arms: several overlapping bands turn into mud.
      const bool plain = is_uncompressed(arm);
      chart.refs.push_back({arm.value("name", ""),
                            plain ? (chart.refs.empty() ? "#333333" : "#888888") : svg::palette(color++), v->y,
                            plain ? v->lo : std::nullopt, plain ? v->hi : std::nullopt});
    }
  }
  if (!any) return "";
  if (chart.series.empty()) {
    // Nothing swept: one bar per arm (intervals are in the tooltips and the tables).
    svg::BarChart bars;
    bars.title = title;
    bars.y_label = y_label;
    bars.y_percent = percent;
    bars.series.push_back({y_label, svg::palette(0), {}});
    for (const auto& arm : report["arms"])
      if (auto v = value(arm)) {
        bars.categories.push_back(arm.value("name", ""));
        bars.series[0].values.push_back(v->y);
      }
    return svg::render(bars);
  }
  std::string x;
  for (const auto& k : sweep_keys) x += (x.empty() ? "" : " / ") + k;
  chart.x_label = x.empty() ? "level" : "level (" + x + ")";
  return svg::render(chart);
}

std::string welch_heatmap(const json& report) {
  const auto names = class_names(report);
  svg::Heatmap map;
  map.title = "Per-class normalized recall difference d (percentage points)";
  std::string alpha_text;
  for (const auto& arm : report["arms"]) {
    const json* r = metric_result(arm, kWelch);
    if (!r || !r->contains("per_class") || !is_compared(arm)) continue;
    const auto& per_class = (*r)["per_class"];
    if (map.rows.empty()) {
      for (const auto& row : per_class) {
        const int c = row.value("class", 0);
        map.rows.push_back(row.value("name", c < static_cast<int>(names.size()) ? names[c] : std::to_string(c)));
      }
      map.cells.resize(map.rows.size());
      if (auto a = number(*r, "alpha"))
        alpha_text = fmt::format(" at alpha = {} ({} correction)", *a, r->value("correction", "no"));
    }
    map.cols.push_back(arm.value("name", ""));
    for (std::size_t i = 0; i < map.rows.size(); ++i) {
      svg::HeatCell cell;
      if (i < per_class.size()) {
        const auto& row = per_class[i];
        cell.value = number(row, "d");
        cell.marked = row.value("impacted", false);
        // Round first so that -0.004 pp prints as 0.0, not -0.0.
        if (cell.value) {
          const double v = std::round(*cell.value * 1000) / 10;
          cell.text = v == 0 ? "0.0" : fmt::format("{:+.1f}", v);
        }
        auto p = number(row, "p_adjusted");
        if (!p) p = number(row, "p");
        cell.tip = fmt::format("{} / {}: d = {}, t = {}, p = {}{}", map.rows[i], arm.value("name", ""),
                               cell.value ? fmt::format("{:+.4f}", *cell.value) : "n/a",
                               number(row, "t") ? fmt::format("{:.3f}", *number(row, "t")) : "n/a",
                               p ? fmt::format("{:.4g}", *p) : "n/a", cell.marked ? " (impacted)" : "");
      }
      map.cells[i].push_back(cell);
    }
  }
  if (map.cols.empty()) return "";
  map.legend = "red: the class lost more than the average (d < 0), blue: less;* and outline: impacted" + alpha_text;
  return svg::render(map);
}

std::string pie_profile_chart(const json& report) {
  // Arms ranked by PIE count; the three with the most PIEs are drawn beside the data's distribution.
  std::vector<std::pair<double, const json*>> ranked;
  for (const auto& arm : report["arms"])
    if (const json* r = metric_result(arm, kPie))
      if (auto n = number_at(*r, {"summary", "pie_count"}); n && *n > 0 && r->contains("per_class"))
        ranked.emplace_back(*n, &arm);
  if (ranked.empty()) return "";
  std::stable_sort(ranked.begin(), ranked.end(), [](auto& a, auto& b) { return a.first > b.first; });
  ranked.resize(std::min<std::size_t>(ranked.size(), 3));

  svg::BarChart chart;
  chart.title = "Class profile of PIEs against the data";
  chart.y_label = "share of PIEs / of data";
  chart.y_percent = true;
  chart.width = 560;
  const json& first = (*metric_result(*ranked[0].second, kPie))["per_class"];
  svg::BarSeries data{"data", "#b0b0b0", {}};
  for (const auto& row : first) {
    chart.categories.push_back(row.value("name", std::to_string(row.value("class", 0))));
    data.values.push_back(number(row, "data_fraction"));
  }
  chart.series.push_back(data);
  std::size_t color = 0;
  for (const auto& [pies, arm] : ranked) {
    svg::BarSeries s{(*arm)["name"].get<std::string>(), svg::palette(color++), {}};
    for (const auto& row : (*metric_result(*arm, kPie))["per_class"]) s.values.push_back(number(row, "pie_fraction"));
    chart.series.push_back(s);
  }
  return svg::render(chart);
}

std::string memorization_chart(const json& report) {
  svg::XYChart chart;
  chart.title = "Mismatch rate against memorization (training split)";
  chart.x_label = "memorization score (bin centre)";
  chart.y_label = "mismatch rate";
  chart.y_percent = true;
  chart.y_from_zero = true;
  std::size_t color = 0;
  for (const auto& arm : report["arms"]) {
    const json* r = metric_result(arm, kMemorization);
    if (!r || !is_compared(arm) || !r->contains("bins")) continue;
    svg::Series s{arm.value("name", ""), svg::palette(color++), {}, false};
    for (const auto& bin : (*r)["bins"]) {
      auto lo = number(bin, "lo"), hi = number(bin, "hi"), rate = number(bin, "mismatch_rate");
      if (!lo || !hi || !rate) continue;
      s.points.push_back({(*lo + *hi) / 2, *rate, std::nullopt, std::nullopt,
                          fmt::format("{}: mem in [{:.2f}, {:.2f}): {:.1f}% of {} mismatched", s.label, *lo, *hi,
                                      *rate * 100, bin.value("n", 0))});
    }
    if (!s.points.empty()) chart.series.push_back(std::move(s));
  }
  return chart.series.empty() ? "" : svg::render(chart);
}

}  // namespace compaudit::report
