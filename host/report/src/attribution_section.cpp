// The attribution and search sections of report.html and their terminal lines (attribution_section.h), rendered
// from report.json's "attribution" and "search" keys (attribution_json.cpp).
#include "attribution_section.h"

#include <compaudit/store/store.h>
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "lookup.h"
#include "png.h"
#include "svg.h"

namespace compaudit::report {

using nlohmann::json;
using svg::esc;

namespace {

constexpr std::size_t kMaxThumbs = 24;    // flipped examples shown for the most harmful layer
constexpr std::size_t kMaxRows = 300;     // trials listed per seed (frontier and chosen trials always are)
constexpr std::size_t kMaxPoints = 2000;  // trials plotted per seed (likewise)

/// A count that is a mean over seeds: "95", or "95.5" when the seeds disagree.
std::string count_text(const std::optional<double>& v) {
  if (!v) return "–";
  return std::abs(*v - std::round(*v)) < 0.05 ? fmt::format("{:.0f}", *v) : fmt::format("{:.1f}", *v);
}
std::string points_text(const std::optional<double>& v) { return v ? fmt::format("{:+.1f} pts", *v * 100) : "–"; }
std::string fixed(const std::optional<double>& v, int digits) { return v ? fmt::format("{:.{}f}", *v, digits) : "–"; }
std::string pct(const std::optional<double>& v, int digits = 2) {
  return v ? fmt::format("{:.{}f}%", *v * 100, digits) : "–";
}

/// The critical class's name of a record ({"index", "name"} or null); "" without one.
std::string critical_name(const json& entry) {
  const json& c = entry.contains("critical_class") ? entry["critical_class"] : json();
  if (!c.is_object()) return "";
  if (c.contains("name") && c["name"].is_string()) return c["name"].get<std::string>();
  return c.contains("index") ? c["index"].dump() : "";
}

/// A trial's configuration as text: "fc1 0.95 · fc2 0.9 · fc3 –" (– : left uncompressed).
std::string config_text(const json& trial) {
  std::string out;
  if (trial.contains("config") && trial["config"].is_object())
    for (const auto& [layer, v] : trial["config"].items())
      out += (out.empty() ? "" : " · ") + layer + " " + (v.is_number()   ? fmt::format("{:g}", v.get<double>())
                                                                   : v.is_string() ? v.get<std::string>() : "–");
  return out;
}

/// The size a trial is plotted at: stored_bytes (what the search minimises), else sparse_bytes, else bytes.
std::optional<double> trial_size(const json& trial) {
  if (auto s = number(trial, "stored_bytes")) return s;
  if (auto s = number(trial, "sparse_bytes")) return s;
  return number(trial, "bytes");
}

/// The names of the gates a trial failed, comma-separated.
std::string failed_gates(const json& trial) {
  std::string out;
  for (const auto& g : trial.value("gates", json::array()))
    if (g.is_object() && !g.value("passed", false))
      out += (out.empty() ? "" : ", ") + g.value("gate", std::string("?"));
  return out;
}

/// The flipped examples of the most harmful layer: thumbnails with their true label, or their ids.
std::string flipped_gallery(const json& report, const json& entry, const json& layer, const store::Store& store) {
  const auto& all = layer.value("flipped_examples", json::array());
  if (all.empty()) return "";
  std::string split = entry.value("split", "");
  if (split.empty() && report["data"].is_object()) split = report["data"].value("evaluation_split", "test");
  std::vector<std::int64_t> ids;
  for (const auto& id : all)
    if (ids.size() < kMaxThumbs) ids.push_back(id.get<std::int64_t>());
  const std::string head =
      fmt::format("Examples of the {} split that {} alone flips from right to wrong ({} of {}, over the seeds)",
                  esc(split), esc(layer.value("layer", "")), ids.size(), all.size());
  const auto thumbs = store.thumbnails(split, ids);
  if (thumbs.empty()) {
    std::string list;
    for (auto id : ids) list += (list.empty() ? "" : ", ") + std::to_string(id);
    return "<p class=note>" + head + ": " + list + "</p>";
  }
  std::vector<std::int16_t> targets;
  if (const auto data = store.data())
    for (const auto& sp : data->splits)
      if (sp.name == split) targets = sp.targets;
  std::string h = "<details open><summary>" + head + "</summary><div class=gallery>";
  for (const auto& t : thumbs) {
    const auto i = static_cast<std::size_t>(t.example_id);
    h += fmt::format("<div class=pie><img alt=\"example {0}\" src=\"{1}\"><div>#{0}</div>{2}</div>", t.example_id,
                     png_data_uri(t.pixels, t.width, t.height, t.channels),
                     i < targets.size() ? "<div class=t>true: " + esc(class_name(report, targets[i])) + "</div>" : "");
  }
  return h + "</div></details>";
}

std::string layer_table(const json& entry) {
  const std::string crit = critical_name(entry);
  const std::string recall = crit.empty() ? "critical recall change" : esc(crit) + " recall change";
  const std::string on = crit.empty() ? "critical class" : esc(crit);
  std::string h = fmt::format(
      "<div class=scroll><table><tr><th class=l rowspan=2>layer</th><th class=l rowspan=2>type</th>"
      "<th rowspan=2>harm</th><th colspan=2>only this layer compressed</th><th colspan=2>all but this layer "
      "compressed</th><th colspan=2>output error</th><th colspan=2>output error on {0}</th>"
      "<th rowspan=2>weight rel. L2</th></tr><tr><th>negative flips</th><th>{1}</th><th>negative flips</th>"
      "<th>{1}</th><th>rel. L2</th><th>SQNR dB</th><th>rel. L2</th><th>SQNR dB</th></tr>",
      on, recall);
  bool first = true;
  for (const auto& l : entry["aggregate"]["layers"]) {
    const json& only = l.contains("only") ? l["only"] : json();
    const json& but = l.contains("all_but") ? l["all_but"] : json();
    const json& out = l.contains("output_error") ? l["output_error"] : json();
    const json& w = l.contains("weight_error") ? l["weight_error"] : json();
    h += fmt::format(
        "<tr{}><td class=l>{}</td><td class=l>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
        "<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        first ? " class=imp" : "", esc(l.value("layer", "")), esc(l.value("type", "")), fixed(number(l, "harm"), 2),
        count_text(number(only, "negative_flips")), points_text(number(only, "critical_recall_change")),
        count_text(number(but, "negative_flips")), points_text(number(but, "critical_recall_change")),
        fixed(number(out, "relative_l2"), 3), fixed(number(out, "sqnr_db"), 1),
        fixed(number(out, "relative_l2_critical"), 3), fixed(number(out, "sqnr_db_critical"), 1),
        fixed(number(w, "relative_l2"), 3));
    first = false;
  }
  return h + "</table></div>";
}

std::string harm_chart(const json& entry) {
  svg::HBarChart chart;
  chart.title = "Harm per layer: " + entry.value("arm", "");
  chart.x_label = "harm (share of the arm's damage the layer explains)";
  chart.color = "#b3261e";
  for (const auto& l : entry["aggregate"]["layers"]) {
    chart.categories.push_back(l.value("layer", ""));
    chart.values.push_back(number(l, "harm"));
  }
  return chart.categories.empty() ? "" : svg::render(chart);
}

/// Errors of blobs that could not be read, as a list.
std::string errors_list(const json& entry) {
  if (!entry.contains("errors") || entry["errors"].empty()) return "";
  std::string h = "<ul class=bad>";
  for (const auto& e : entry["errors"])
    h += fmt::format("<li>seed {}: {}</li>", e.value("seed", 0), esc(e.value("error", "")));
  return h + "</ul>";
}

/// The Pareto plot of one seed's trials: size against the negative flip rate, passed and failed trials coloured,
/// the frontier joined, the chosen trial ringed.
std::string pareto_chart(const json& record, const std::string& critical) {
  svg::XYChart chart;
  chart.title =
      fmt::format("Seed {}: trials on the {} split", record.value("seed", 0), record.value("split", "validation"));
  chart.y_label = "negative flip rate";
  chart.y_percent = true;
  chart.y_from_zero = true;
  chart.width = 640;
  svg::Series frontier{"Pareto frontier", "#555555", {}, true, true, 2.5};
  svg::Series failed{"failed gates", "#b3261e", {}, false, false};
  svg::Series passed{"passed gates", "#2e7d32", {}, false, false};
  svg::Series chosen{"chosen", "#111111", {}, false, false, 8, true};
  bool sparse = false;
  const json chosen_id = record.value("chosen", json());
  std::size_t plotted = 0;
  for (const auto& t : record.value("trials", json::array())) {
    const auto x = trial_size(t);
    const auto y = number(t, "negative_flip_rate");
    if (!x || !y) continue;
    sparse |= (t.contains("sparse_bytes") && t["sparse_bytes"].is_number()) ||
              (t.contains("stored_bytes") && t["stored_bytes"].is_number());
    const bool on_frontier = t.value("frontier", false);
    const bool is_chosen = chosen_id.is_number() && t.value("id", json()) == chosen_id;
    if (plotted++ >= kMaxPoints && !on_frontier && !is_chosen) continue;
    const auto recall = number(t, "critical_recall");
    const std::string crit = critical.empty() ? "critical" : critical;
    svg::Point p{*x, *y, std::nullopt, std::nullopt,
                 fmt::format("trial {}: {} · {:.0f} bytes · negative flips {}{} · {}", t.value("id", 0),
                             config_text(t), *x, pct(y),
                             recall ? " · " + crit + " recall " + pct(recall, 1) : std::string(),
                             t.value("passed", false) ? "passed" : "failed " + failed_gates(t))};
    (t.value("passed", false) ? passed : failed).points.push_back(p);
    if (on_frontier) frontier.points.push_back(p);
    if (is_chosen) chosen.points.push_back(p);
  }
  chart.x_label = sparse ? "stored bytes (each layer dense, sparse or factored, whichever is smallest)" : "bytes";
  for (auto* s : {&frontier, &failed, &passed, &chosen})
    if (!s->points.empty()) chart.series.push_back(*s);
  return chart.series.empty() ? "" : svg::render(chart);
}

std::string trials_table(const json& record, const std::string& critical) {
  const auto& trials = record.value("trials", json::array());
  const json chosen_id = record.value("chosen", json());
  std::string rows;
  std::size_t shown = 0, listed = 0;
  for (const auto& t : trials) {
    const bool on_frontier = t.value("frontier", false);
    const bool is_chosen = chosen_id.is_number() && t.value("id", json()) == chosen_id;
    if (listed++ >= kMaxRows && !on_frontier && !is_chosen) continue;
    ++shown;
    const std::string failed = failed_gates(t);
    rows += fmt::format(
        "<tr{}><td>{}</td><td class=l>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class={}>{}</td>"
        "<td>{}</td><td class=l>{}</td></tr>",
        is_chosen ? " class=up" : "", t.value("id", 0), esc(config_text(t)), count_text(trial_size(t)),
        pct(number(t, "negative_flip_rate")), pct(number(t, "critical_recall"), 1),
        points_text(number(t, "critical_recall_change")), t.value("passed", false) ? "ok" : "bad",
        t.value("passed", false) ? "yes" : "no" + (failed.empty() ? "" : ": " + esc(failed)),
        t.value("frontier", false) ? "●" : "", esc(t.value("note", "")));
  }
  const std::string crit = critical.empty() ? "critical" : esc(critical);
  return fmt::format(
      "<details{}><summary>{} trials{}</summary><div class=scroll><table><tr><th>trial</th><th class=l>configuration"
      "</th><th>size (bytes)</th><th>negative flip rate</th><th>{} recall</th><th>{} recall change</th>"
      "<th>validation gates passed</th><th>frontier</th><th class=l>note</th></tr>{}</table></div></details>",
      chosen_id.is_number() ? " open" : "", trials.size(),
      shown < trials.size() ? fmt::format(" ({} listed; all in report.json)", shown) : "", crit, crit, rows);
}

/// "trial 7 of 40" for the chosen trial of the search object, and "seed 0" when several seeds searched ("" else).
std::pair<std::string, std::string> chosen_text(const json& search) {
  const json& c = search["chosen"];
  return {fmt::format("trial {} of {}", c["trial"].value("id", 0), c.value("trials", 0)),
          search["seeds"].size() > 1 ? fmt::format("seed {}", c.value("seed", 0)) : ""};
}

}  // namespace

std::string attribution_section(const json& report, const store::Store& store) {
  if (!report.contains("attribution") || report["attribution"].empty()) return "";
  std::string h =
      "<h2 id=attribution>Attribution: which layers caused the damage</h2><p class=note>For each compressed layer "
      "of an arm: the damage when only this layer is compressed (the rest as the reference) and when every layer but "
      "this one is compressed, against the arm's reference model of the same seed; its output error on the "
      "reference's activations and its weight error. Harm: the share of the arm's damage D the layer explains, "
      "(D(only it) + D(all) &minus; D(all but it)) / 2 D(all), where D is the critical class's negative flips when the "
      "audit names one, else all negative flips; interactions between layers can put it below 0 or above 1 "
      "(docs/attribution.md). Means over the seeds; most harmful layer first.</p>";
  for (const auto& entry : report["attribution"]) {
    const auto& agg = entry["aggregate"];
    const json& totals = agg.contains("arm_totals") ? agg["arm_totals"] : json();
    const std::string crit = critical_name(entry);
    h += fmt::format("<h3>{}</h3><p class=sub>against {} · {} split · {} seed{} · whole arm: {} negative flips "
                     "({}), accuracy {}{}{}</p>",
                     esc(entry.value("arm", "")), esc(entry.value("reference", "")), esc(entry.value("split", "")),
                     agg["seeds"].size(), agg["seeds"].size() == 1 ? "" : "s",
                     count_text(number(totals, "negative_flips")), pct(number(totals, "negative_flip_rate")),
                     points_text(number(totals, "accuracy_change")),
                     crit.empty() ? ""
                                  : ", " + esc(crit) + " recall " +
                                        points_text(number(totals, "critical_recall_change")),
                     crit.empty() ? "" : fmt::format(" · harm shares {}'s {} negative flips", esc(crit),
                                                     count_text(number(totals, "critical_negative_flips"))));
    h += errors_list(entry);
    if (agg["layers"].empty()) continue;
    h += layer_table(entry) + "<div class=charts>" + harm_chart(entry) + "</div>";
    h += flipped_gallery(report, entry, agg["layers"][0], store);
  }
  return h;
}

std::string search_section(const json& report) {
  if (!report.contains("search") || !report["search"].is_object()) return "";
  const auto& s = report["search"];
  const auto& records = s["seeds"];
  const json first = records.empty() ? json::object() : records[0];
  const std::string crit = critical_name(first);
  std::string h = fmt::format(
      "<h2 id=search>Search: a per-layer configuration for {}</h2><p class=note><b>Searched on the validation split; "
      "judged on the test split.</b> Plugin {}, parameter {} per layer from {}, {} strategy; a configuration passes "
      "when every search gate holds on the validation split. The frontier: trials no other trial beats on size, "
      "negative flip rate and {} at once.</p>",
      esc(s.value("arm", "")), esc(first.value("plugin", "?")), esc(first.value("parameter", "?")),
      esc(first.value("values", json::array()).dump()), esc(first.value("strategy", "?")),
      crit.empty() ? "accuracy" : esc(crit) + " recall");
  h += errors_list(s);
  if (s["chosen"].is_object()) {
    const auto frac = number(s["chosen"], "size_fraction");
    const auto [trial, seed] = chosen_text(s);
    h += fmt::format("<p>Chosen: {}{} — validation gates passed{}.</p>", trial, seed.empty() ? "" : " (" + seed + ")",
                     frac ? fmt::format("; {:.0f}% of the reference's bytes", *frac * 100) : "");
  } else {
    std::size_t tried = 0;
    for (const auto& r : records) tried += r.value("trials", json::array()).size();
    h += fmt::format("<p class=bad>No configuration passed the validation gates ({} tried).</p>", tried);
  }
  // The verdict: the searched arm's ordinary gates on the test split.
  const auto& v = s["verdict"];
  if (v.value("count", 0) == 0) {
    h += "<h3>Test-split verdict</h3><p class=note>No gate judged " + esc(s.value("arm", "")) + ".</p>";
  } else {
    const bool ok = v.value("passed", false);
    h += fmt::format("<h3 class={}>Test-split verdict: gates {} ({} of {} failed)</h3><table><tr><th class=l>gate</th>"
                     "<th>statistic</th><th>value</th><th>min</th><th>max</th><th class=l>verdict</th></tr>",
                     ok ? "ok" : "bad", ok ? "passed" : "FAILED", v.value("failed", 0), v.value("count", 0));
    for (const auto& r : v["results"]) {
      const std::string cls = r.value("class", "");
      h += fmt::format("<tr><td class=l>{}</td><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td>"
                       "<td class=\"l {}\">{}</td></tr>",
                       esc(r.value("gate", "")), esc(r.value("statistic", "")),
                       cls.empty() ? "" : " [" + esc(cls) + "]",
                       fixed(number(r, "value"), 4), fixed(number(r, "min"), 4), fixed(number(r, "max"), 4),
                       r.value("passed", false) ? "ok" : "bad",
                       r.value("passed", false) ? "pass" : "FAIL: " + esc(r.value("reason", "")));
    }
    h += "</table>";
  }
  if (s["arm_toml"].is_string())
    h += "<h3>The chosen configuration as an [[arm]]</h3><pre>" + esc(s["arm_toml"].get<std::string>()) + "</pre>";
  for (const auto& r : records)
    h += fmt::format("<h3>Seed {}</h3><div class=charts>{}</div>{}", r.value("seed", 0), pareto_chart(r, crit),
                     trials_table(r, crit));
  return h;
}

std::vector<std::string> attribution_terminal_lines(const json& report) {
  std::vector<std::string> lines;
  for (const auto& entry : report.value("attribution", json::array())) {
    const auto& layers = entry["aggregate"]["layers"];
    if (layers.empty()) continue;
    const std::string crit = critical_name(entry);
    // Harm is a share of this many flips, on one test set, without an interval: say so beside the ranking.
    const json& totals = entry["aggregate"].contains("arm_totals") ? entry["aggregate"]["arm_totals"] : json();
    std::string line = fmt::format(
        "attribution {} (harm shares its {} {}negative flips; descriptive, no interval): most harmful layer ",
        entry.value("arm", ""), count_text(number(totals, crit.empty() ? "negative_flips" : "critical_negative_flips")),
        crit.empty() ? "" : crit + " ");
    for (std::size_t i = 0; i < layers.size() && i < 3; ++i) {
      const auto& l = layers[i];
      const json& only = l.contains("only") ? l["only"] : json();
      const auto change = number(only, crit.empty() ? "accuracy_change" : "critical_recall_change");
      line += fmt::format("{}{} (harm {}; alone: {} negative flips, {} {})", i ? "; " : "", l.value("layer", ""),
                          fixed(number(l, "harm"), 2), count_text(number(only, "negative_flips")),
                          crit.empty() ? "accuracy" : crit + " recall", points_text(change));
    }
    lines.push_back(line);
  }
  if (report.contains("search") && report["search"].is_object()) {
    const auto& s = report["search"];
    const auto& v = s["verdict"];
    const std::string verdict =
        v.value("count", 0) == 0 ? "no gate judged " + s.value("arm", "")
        : v.value("passed", false)
            ? "gates passed"
            : fmt::format("gates FAILED ({} of {})", v.value("failed", 0), v.value("count", 0));
    if (s["chosen"].is_object()) {
      const auto frac = number(s["chosen"], "size_fraction");
      const auto [trial, seed] = chosen_text(s);
      lines.push_back(fmt::format("search: chose {} ({}validation gates passed){}; test verdict: {}", trial,
                                  seed.empty() ? "" : seed + "; ",
                                  frac ? fmt::format(": {:.0f}% of bytes", *frac * 100) : "",
                                  verdict));
    } else {
      std::size_t tried = 0;
      for (const auto& r : s["seeds"]) tried += r.value("trials", json::array()).size();
      lines.push_back(fmt::format("search: no configuration passed the validation gates ({} tried)", tried));
    }
  }
  return lines;
}

}  // namespace compaudit::report
