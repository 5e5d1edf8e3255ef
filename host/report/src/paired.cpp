// The paired tests in the terminal summary and in report.html (paired.h).
#include "paired.h"

#include "lookup.h"
#include "png.h"
#include "svg.h"

#include <compaudit/store/store.h>

#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace compaudit::report {
namespace {

using nlohmann::json;

struct Row {
  std::string arm, reference;
  std::optional<double> delta, lo, hi, negative, changed, impacted, drop_upper, kl99;
  std::string correction;
};

std::vector<Row> rows(const json& report) {
  std::vector<Row> out;
  for (const auto& arm : report["arms"]) {
    if (!is_compared(arm)) continue;
    const json* flips = metric_result(arm, kFlips);
    const json* mc = metric_result(arm, kMcNemar);
    const json* boot = metric_result(arm, kBootstrap);
    const json* kl = metric_result(arm, kKl);
    if (!flips && !mc && !boot && !kl) continue;
    Row r;
    r.arm = arm.value("name", "");
    r.reference = arm.value("reference", "");
    if (boot) {
      r.delta = number_at(*boot, {"summary", "accuracy_change"});
      if ((*boot)["intervals"].contains("accuracy_change")) {
        r.lo = (*boot)["intervals"]["accuracy_change"][0].get<double>();
        r.hi = (*boot)["intervals"]["accuracy_change"][1].get<double>();
      }
      r.drop_upper = number_at(*boot, {"summary", "max_recall_drop_upper"});
    } else if (flips) {
      r.delta = number_at(*flips, {"summary", "accuracy_change"});
    }
    if (flips) {
      r.negative = number_at(*flips, {"summary", "negative_flip_rate"});
      r.changed = number_at(*flips, {"summary", "changed_answers"});
    }
    if (mc) {
      r.impacted = number_at(*mc, {"summary", "impacted_classes"});
      r.correction = mc->value("correction", "");
    }
    if (kl) r.kl99 = number_at(*kl, {"summary", "kl_p99"});
    out.push_back(std::move(r));
  }
  return out;
}

std::string pct(const std::optional<double>& v, int digits = 2) {
  return v ? fmt::format("{:.{}f}%", *v * 100, digits) : "-";
}

std::string delta_text(const Row& r) {
  if (!r.delta) return "-";
  std::string s = fmt::format("{:+.2f}", *r.delta * 100);
  if (r.lo && r.hi) s += fmt::format(" [{:+.2f}, {:+.2f}]", *r.lo * 100, *r.hi * 100);
  return s;
}


}  // namespace

std::string paired_terminal(const json& report, int width) {
  const auto all = rows(report);
  if (all.empty()) return "";
  std::size_t name_w = 6;
  for (const auto& r : all) name_w = std::max(name_w, r.arm.size());
  name_w = std::min<std::size_t>(name_w, static_cast<std::size_t>(std::max(width - 78, 8)));
  std::string out = "\npaired tests against the reference (accuracy change in points, 95% bootstrap interval):\n";
  auto line = [&](const std::string& a, const std::string& b, const std::string& c, const std::string& d,
                  const std::string& e, const std::string& f, const std::string& g) {
    out += fmt::format("{:<{}}  {:>22}  {:>8}  {:>8}  {:>9}  {:>9}  {:>7}\n", a.substr(0, name_w), name_w, b, c, d,
                       e, f, g);
  };
  line("arm", "Δ accuracy [95% CI]", "neg.flip", "changed", "worse cls", "drop UB", "KL p99");
  out += std::string(name_w + 80, '-') + "\n";
  for (const auto& r : all)
    line(r.arm, delta_text(r), pct(r.negative), pct(r.changed),
         r.impacted ? fmt::format("{:g}", *r.impacted) : "-", pct(r.drop_upper, 1),
         r.kl99 ? fmt::format("{:.4f}", *r.kl99) : "-");
  out += "  neg.flip: right before, wrong after; changed: any different answer; worse cls: classes McNemar finds "
         "worse (exact, corrected; mean over seed pairs); drop UB: largest upper bound of a class's recall drop\n";
  // Each class found worse, with its evidence from the pair that tested it: the discordant pairs, the exact p and
  // the corrected p. With K seed pairs each pair is tested alone (means of b, c or p over pairs are no test).
  for (const auto& arm : report["arms"]) {
    const json* mc = is_compared(arm) ? metric_result(arm, kMcNemar) : nullptr;
    if (!mc) continue;
    json pairs = mc->value("per_seed", json::array());
    if (pairs.empty() || !pairs[0].contains("per_class"))  // one pair, or an older result: the top level is it
      pairs = json::array({{{"seed", nullptr}, {"per_class", mc->value("per_class", json::array())}}});
    for (const auto& pair : pairs)
      for (const auto& c : pair["per_class"])
        if (c.value("impacted", false))
          out += fmt::format("  {}{}: class {} is worse: {} right→wrong vs {} wrong→right, exact McNemar p = {:.2g} "
                             "({} {:.2g}, alpha {})\n",
                             arm.value("name", ""),
                             pairs.size() > 1 ? fmt::format(" seed {}", pair["seed"].dump()) : std::string(),
                             c.value("name", ""), c.value("b", 0), c.value("c", 0), c.value("p_value", 1.0),
                             mc->value("correction", ""), c.value("p_adjusted", 1.0), mc->value("alpha", 0.05));
  }
  return out;
}

std::string paired_section(const json& report, const store::Store& store) {
  const auto all = rows(report);
  if (all.empty()) return "";
  using svg::esc;
  std::string h = "<h2 id=paired>Paired tests: each model against its compressed twin</h2>"
                  "<p class=note>Every test example answered by both models. Flips (Dutta et al. 2024): answers that "
                  "changed correctness; exact McNemar per class on the discordant pairs; intervals from a stratified "
                  "paired bootstrap over examples. These say how sure we are about these models on data like the "
                  "test set, not about other training seeds.</p><table><tr><th>arm</th><th>reference</th>"
                  "<th>Δ accuracy [95% CI]</th><th>negative flips</th><th>changed answers</th>"
                  "<th>classes worse (McNemar)</th><th>largest recall-drop upper bound</th><th>KL p99</th></tr>";
  for (const auto& r : all)
    h += fmt::format("<tr><td class=l>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td{}>{}</td><td>{}</td>"
                     "<td>{}</td></tr>",
                     esc(r.arm), esc(r.reference), esc(delta_text(r)), pct(r.negative), pct(r.changed),
                     r.impacted && *r.impacted > 0 ? " class=imp" : "",
                     r.impacted ? fmt::format("{:g} ({})", *r.impacted, esc(r.correction)) : "-",
                     pct(r.drop_upper, 1), r.kl99 ? fmt::format("{:.4f}", *r.kl99) : "-");
  h += "</table>";

  // Flips by type, one bar group per arm.
  svg::BarChart bars;
  bars.title = "Changed answers by type (fraction of the test set)";
  bars.y_label = "fraction";
  bars.y_percent = true;
  svg::BarSeries neg{"right → wrong", "#b3261e", {}}, pos{"wrong → right", "#2e7d32", {}},
      other{"wrong → other wrong", "#8d6e63", {}};
  for (const auto& arm : report["arms"]) {
    const json* f = is_compared(arm) ? metric_result(arm, kFlips) : nullptr;
    if (!f) continue;
    bars.categories.push_back(arm.value("name", ""));
    neg.values.push_back(number_at(*f, {"summary", "negative_flip_rate"}));
    pos.values.push_back(number_at(*f, {"summary", "positive_flip_rate"}));
    other.values.push_back(number_at(*f, {"summary", "wrong_to_other_rate"}));
  }
  h += "<div class=charts>";
  if (!bars.categories.empty()) {
    bars.series = {neg, pos, other};
    h += svg::render(bars);
  }
  // Forest plot: per-class recall change with its bootstrap interval, one series per arm.
  svg::XYChart forest;
  forest.title = "Recall change per class, with 95% paired-bootstrap intervals";
  forest.x_label = "class";
  forest.y_label = "recall change";
  forest.y_percent = true;
  std::size_t colour = 0;
  for (const auto& arm : report["arms"]) {
    const json* b = is_compared(arm) ? metric_result(arm, kBootstrap) : nullptr;
    if (!b) continue;
    svg::Series s{arm.value("name", ""), svg::palette(colour++), {}, false};
    for (const auto& c : (*b)["per_class"]) {
      auto y = number(c, "recall_change");
      if (!y) continue;
      const auto k = c.value("class", 0);
      s.points.push_back({static_cast<double>(k) + 0.08 * static_cast<double>(colour - 1), *y,
                          number(c, "recall_change_low"), number(c, "recall_change_high"),
                          fmt::format("{} — {}: {:+.2f} points", s.label, class_name(report, k), *y * 100)});
    }
    forest.series.push_back(std::move(s));
  }
  if (!forest.series.empty()) {
    forest.refs.push_back({"no change", "#999", 0.0, std::nullopt, std::nullopt});
    h += svg::render(forest);
  }
  h += "</div>";

  // The critical class's negative flips (or every class's, without one): what the compressed model now gets wrong.
  std::int64_t critical = -1;
  for (const auto& arm : report["arms"])
    if (const json* b = metric_result(arm, kBootstrap)) critical = b->value("critical_class", std::int64_t{-1});
  const std::string split = report["data"].is_object() ? report["data"].value("evaluation_split", "test") : "test";
  constexpr std::size_t kMax = 40;
  std::string gallery;
  for (const auto& arm : report["arms"]) {
    const json* f = is_compared(arm) ? metric_result(arm, kFlips) : nullptr;
    if (!f || !f->contains("examples_table")) continue;
    const json& t = (*f)["examples_table"];
    std::vector<std::int64_t> ids;
    std::vector<std::pair<std::int64_t, std::int64_t>> labels;  // label, candidate prediction
    for (std::size_t i = 0; i < t["id"].size() && ids.size() < kMax; ++i) {
      if (t["flip"][i] != "negative" || (critical >= 0 && t["label"][i] != critical)) continue;
      ids.push_back(t["id"][i].get<std::int64_t>());
      labels.emplace_back(t["label"][i].get<std::int64_t>(), t["cand_pred"][i].get<std::int64_t>());
    }
    if (ids.empty()) continue;
    std::map<std::int64_t, std::string> uri;
    for (const auto& th : store.thumbnails(split, ids)) uri[th.example_id] = png_data_uri(th.pixels, th.width, th.height, th.channels);
    if (uri.empty()) continue;  // tabular data: the rows are in `compaudit report --examples`
    gallery += fmt::format("<details><summary>{} — negative flips{}</summary><div class=gallery>", esc(arm.value("name", "")),
                           critical >= 0 ? " of " + esc(class_name(report, critical)) : "");
    for (std::size_t i = 0; i < ids.size(); ++i) {
      auto it = uri.find(ids[i]);
      gallery += fmt::format("<div class=pie>{}<div>#{}</div><div class=t>true: {}</div><div class=c>now: {}</div></div>",
                             it != uri.end() ? "<img alt=\"example " + std::to_string(ids[i]) + "\" src=\"" + it->second + "\">" : "",
                             ids[i], esc(class_name(report, labels[i].first)), esc(class_name(report, labels[i].second)));
    }
    gallery += "</div></details>";
  }
  if (!gallery.empty())
    h += "<h3>Right before, wrong after" + (critical >= 0 ? " (" + esc(class_name(report, critical)) + ")" : std::string()) +
         "</h3>" + gallery;
  return h;
}

}  // namespace compaudit::report
