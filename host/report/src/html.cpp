// report.html: one self-contained page. Sections follow the questions of an audit: how accurate is each arm, how
// many examples and classes did compression change, which ones, and what did the run do. No script and no URL: it
// opens offline, and a test greps it for "http".
#include "charts.h"
#include "lookup.h"
#include "png.h"

#include <compaudit/report/report.h>
#include <compaudit/store/store.h>

#include <fmt/format.h>

#include <map>
#include <set>

namespace compaudit::report {

using nlohmann::json;
using svg::esc;

namespace {

constexpr const char* kStyle = R"css(
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#222;margin:0;background:#f6f7f9}
main{max-width:1180px;margin:0 auto;padding:18px 28px 60px;background:#fff}
h1{font-size:24px;margin:6px 0 2px}h2{font-size:19px;margin:30px 0 8px;border-bottom:2px solid #e3e6ea;padding-bottom:4px}
h3{font-size:15px;margin:18px 0 6px}.sub{color:#666;margin:0 0 10px}.note{color:#555;font-size:13px;max-width:900px}
table{border-collapse:collapse;margin:8px 0;font-size:13px}th,td{border:1px solid #dde1e6;padding:3px 8px;text-align:right;white-space:nowrap}
th{background:#f0f2f5}td.l,th.l{text-align:left}tr.dense td{background:#fafafa}
.scroll{overflow-x:auto}.bad{color:#b3261e;font-weight:600}.imp{background:#fde2df;font-weight:600}
.up{background:#dfeafd;font-weight:600}.ok{color:#2e7d32}
svg.chart{max-width:100%;height:auto;margin:6px 0;border:1px solid #eceef1}
.charts{display:flex;flex-wrap:wrap;gap:10px 14px;align-items:flex-start}
td small{color:#555;font-size:11px}td.steps{white-space:normal;text-align:left;max-width:360px}
svg text{font-family:system-ui,"DejaVu Sans",sans-serif}.ctitle{font-size:14px;font-weight:600}.tick{font-size:11px;fill:#444}
.alabel{font-size:12px;fill:#333}.legend{font-size:12px;fill:#333}.grid{stroke:#eceef1}.axis{stroke:#888}
.hcell{font-size:11px;fill:#222}.hcell.marked{font-weight:700}
pre{background:#f4f5f7;border:1px solid #e1e4e8;padding:10px;overflow-x:auto;font-size:12px;max-height:520px}
details{margin:6px 0}summary{cursor:pointer;font-weight:600}
.gallery{display:flex;flex-wrap:wrap;gap:8px;margin:8px 0}.pie{width:96px;font-size:11px;text-align:center;border:1px solid #e3e6ea;padding:4px;border-radius:4px}
.pie img{width:84px;height:84px;image-rendering:pixelated;display:block;margin:0 auto 3px;background:#000}
.findings li{margin:2px 0}.pie .t{color:#2e7d32}.pie .r{color:#1f6fb4}.pie .c{color:#b3261e}.kv td{text-align:left}
)css";

std::string pct(const std::optional<double>& v, int digits = 2) {
  return v ? fmt::format("{:.{}f}%", *v * 100, digits) : "–";
}
std::string num(const json& v) {
  if (v.is_number_integer()) return std::to_string(v.get<long long>());
  if (v.is_number()) return fmt::format("{:.4g}", v.get<double>());
  if (v.is_null()) return "–";
  if (v.is_string()) return esc(v.get<std::string>());
  return esc(v.dump());
}

std::string class_name(const json& report, int c) {
  if (report["data"].is_object()) {
    const auto& names = report["data"]["class_names"];
    if (c >= 0 && c < static_cast<int>(names.size())) return names[c].get<std::string>();
  }
  return std::to_string(c);
}

std::string top1_cell(const json& arm) {
  const auto& t = arm["top1"];
  if (!t["mean"].is_number()) return "–";
  std::string s = pct(number(t, "mean"));
  if (t["ci95"].is_array())
    s += fmt::format(" <span class=sub>[{:.2f}, {:.2f}]</span>", t["ci95"][0].get<double>() * 100,
                     t["ci95"][1].get<double>() * 100);
  return s;
}

/// The compression chain as text. Scalar parameters only (lists such as layer patterns are long and rarely the
/// point); the full chain, lists included, goes in the hover text.
std::string steps_text(const json& arm) {
  std::string out, full;
  for (const auto& s : arm.value("steps", json::array())) {
    std::string id = s.value("plugin", "?");
    if (auto dot = id.rfind('.'); dot != std::string::npos) id = id.substr(dot + 1);
    std::string params, all;
    if (s.contains("params") && s["params"].is_object())
      for (const auto& [k, v] : s["params"].items()) {
        all += (all.empty() ? "" : ", ") + k + "=" + num(v);
        if (!v.is_array() && !v.is_object()) params += (params.empty() ? "" : ", ") + k + "=" + num(v);
      }
    out += (out.empty() ? "" : " → ") + esc(id) + (params.empty() ? "" : "(" + params + ")");
    full += (full.empty() ? "" : " → ") + esc(id) + "(" + all + ")";
  }
  if (arm.value("finetune_epochs", 0) > 0) out += fmt::format(" + {} ft epochs", arm["finetune_epochs"].get<int>());
  if (out.empty()) return "uncompressed";
  return "<span title=\"" + full + "\">" + out + "</span>";
}

std::string summary_table(const json& report) {
  std::string h = "<div class=scroll><table><tr><th class=l>arm</th><th>level</th>"
                  "<th>top-1 mean [95% CI]</th><th>sd</th><th>PIE fraction</th><th>top-1 w/o PIEs</th>"
                  "<th>impacted classes</th><th>size ratio</th><th>cells done / failed</th></tr>";
  for (const auto& arm : report["arms"]) {
    const json* pie = metric_result(arm, kPie);
    const json* welch = metric_result(arm, kWelch);
    const json* size = metric_result(arm, kSize);
    const auto& cells = arm["cells"];
    const auto sd = number(arm["top1"], "sd");
    const auto impacted = welch ? number_at(*welch, {"summary", "impacted_classes"}) : std::nullopt;
    const auto bytes = size ? number_at(*size, {"summary", "bytes_ratio"}) : std::nullopt;
    const std::string ref = arm.value("reference", "");
    h += fmt::format(
        "<tr{}><td class=steps><b>{}</b><br><small>{}{}</small></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
        "<td>{}</td><td>{}</td><td>{}</td><td{}>{} / {}</td></tr>",
        is_uncompressed(arm) ? " class=dense" : "", esc(arm.value("name", "")), steps_text(arm),
        ref.empty() ? "" : " · vs " + esc(ref),
        arm.value("sweep", json::object()).empty() ? "–" : fmt::format("{:g}", arm.value("level", 0.0)),
        top1_cell(arm), sd ? fmt::format("{:.2f}", *sd * 100) : "–",
        pie ? pct(number_at(*pie, {"summary", "pie_fraction"})) : "–",
        pie ? pct(number_at(*pie, {"summary", "top1_cand_without_pies"})) : "–",
        impacted ? fmt::format("{:.0f}", *impacted) : "–", bytes ? fmt::format("{:.3f}", *bytes) : "–",
        cells.value("failed", 0) ? " class=bad" : "", cells.value("done", 0), cells.value("failed", 0));
  }
  return h + "</table></div><p class=note>top-1 and sd in percent over the arm's finished seeds; PIE fraction, "
             "top-1 without PIEs (the arm's, on the evaluation data with its PIEs removed) and impacted classes are "
             "against the arm's reference (vs …).</p>";
}

/// Per-class table: one row per class, one column per arm: the arm's mean recall and, for compressed arms with a
/// Welch result, d and p under it, highlighted when the class is impacted.
std::string per_class_table(const json& report) {
  if (!report["data"].is_object()) return "";
  const int C = report["data"].value("num_classes", 0);
  std::vector<std::int64_t> counts(static_cast<std::size_t>(C), 0);
  for (const auto& sp : report["data"]["splits"])
    if (sp["name"] == report["data"]["evaluation_split"]) counts = sp["class_counts"].get<std::vector<std::int64_t>>();
  std::string h = "<div class=scroll><table><tr><th class=l>class</th><th>n (eval)</th>";
  for (const auto& arm : report["arms"]) h += "<th>" + esc(arm.value("name", "")) + "</th>";
  h += "</tr>";
  for (int c = 0; c < C; ++c) {
    h += fmt::format("<tr><td class=l>{}</td><td>{}</td>", esc(class_name(report, c)),
                     c < static_cast<int>(counts.size()) ? counts[c] : 0);
    for (const auto& arm : report["arms"]) {
      const auto& r = arm["class_recall"];
      std::string recall = c < static_cast<int>(r.size()) && r[c].is_number() ? pct(r[c].get<double>(), 1) : "–";
      const json* welch = is_compared(arm) ? metric_result(arm, kWelch) : nullptr;
      const json* row = nullptr;
      if (welch && welch->contains("per_class"))
        for (const auto& x : (*welch)["per_class"])
          if (x.value("class", -1) == c) row = &x;
      if (!row) {
        h += "<td>" + recall + "</td>";
        continue;
      }
      auto d = number(*row, "d");
      auto p = number(*row, "p_adjusted");
      if (!p) p = number(*row, "p");
      const bool impacted = row->value("impacted", false);
      const bool down = row->value("direction", "") == "down";
      const std::string status = row->value("status", "ok");
      h += fmt::format("<td{}>{}<br><small>d {}{}</small></td>", impacted ? (down ? " class=imp" : " class=up") : "",
                       recall, d ? fmt::format("{:+.2f}", *d * 100) : "–",
                       p ? fmt::format(" · p {:.2g}", *p) : status == "ok" ? "" : " · " + esc(status));
    }
    h += "</tr>";
  }
  return h + "</table></div><p class=note>Recall: mean over the arm's models. d: normalized recall difference against "
             "the arm's reference, in percentage points (negative: the class lost more than the average accuracy); "
             "p from Welch's t-test (adjusted when a correction is configured). Highlighted: impacted classes (red: "
             "lost, blue: gained).</p>";
}

std::string gallery(const json& report, const store::Store& store) {
  if (!report["data"].is_object()) return "";
  const auto& data = report["data"];
  const std::string split = data.value("evaluation_split", "test");
  std::vector<std::pair<double, const json*>> arms;
  for (const auto& arm : report["arms"])
    if (const json* r = metric_result(arm, kPie); r && r->contains("pie_labels") && !(*r)["pie_labels"].empty())
      arms.emplace_back((*r)["pie_labels"].size(), &arm);
  if (arms.empty()) return "";
  double most = 0;
  for (auto& a : arms) most = std::max(most, a.first);
  constexpr std::size_t kMaxPerArm = 60;
  std::map<std::int64_t, std::string> uri;  // example id -> data URI (an example is a PIE of several arms)
  std::string h;
  bool opened = false, any_thumb = false;
  for (const auto& [count, arm] : arms) {
    const auto& labels = (*metric_result(*arm, kPie))["pie_labels"];
    std::vector<std::int64_t> ids;
    for (const auto& l : labels) {
      if (ids.size() >= kMaxPerArm) break;
      ids.push_back(l.value("id", std::int64_t{0}));
    }
    std::vector<std::int64_t> missing;
    for (auto id : ids)
      if (!uri.count(id)) missing.push_back(id);
    for (const auto& t : store.thumbnails(split, missing))
      uri[t.example_id] = png_data_uri(t.pixels, t.width, t.height, t.channels);
    const bool open = !opened && count == most;
    opened |= open;
    h += fmt::format("<details{}><summary>{} — {:.0f} PIEs{}</summary><div class=gallery>", open ? " open" : "",
                     esc((*arm)["name"].get<std::string>()), count,
                     labels.size() > kMaxPerArm ? fmt::format(" (first {} shown)", kMaxPerArm) : "");
    std::size_t shown = 0;
    for (const auto& l : labels) {
      if (shown++ >= kMaxPerArm) break;
      const auto id = l.value("id", std::int64_t{0});
      auto it = uri.find(id);
      any_thumb |= it != uri.end();
      h += fmt::format(
          "<div class=pie>{}<div>#{}</div><div class=t>true: {}</div><div class=r>{}: {}</div><div class=c>"
          "comp: {}</div></div>",
          it != uri.end() ? "<img alt=\"example " + std::to_string(id) + "\" src=\"" + it->second + "\">" : "",
          id, esc(class_name(report, l.value("label", -1))), esc((*arm).value("reference", "ref")),
          esc(class_name(report, l.value("reference", -1))), esc(class_name(report, l.value("candidate", -1))));
    }
    h += "</div></details>";
  }
  if (!any_thumb && data.value("kind", "") != "image") return "";  // tabular data: the ids are in report.json
  return "<h2 id=gallery>Pruning Identified Exemplars</h2><p class=note>Examples whose modal label over the "
         "compressed models differs from the modal label over the reference models: the true label, the "
         "reference's modal label and the compressed arm's modal label.</p>" +
         h;
}

/// The result of the metric at pipeline position `index` for an arm, preferring the arm's own reference.
const json* metric_entry(const json& arm, int index) {
  const json* first = nullptr;
  for (const auto& r : arm["metrics"]) {
    if (r.value("index", -1) != index || r["result"].is_null()) continue;
    if (r.value("reference", "") == arm.value("reference", "")) return &r["result"];
    if (!first) first = &r["result"];
  }
  return first;
}

std::string metric_sections(const json& report) {
  std::string h;
  for (const auto& m : report["metrics"]) {
    const std::string id = m.value("id", "");
    // Summary keys over all arms, in first-seen order, as rows; arms as columns.
    std::vector<std::string> keys;
    std::vector<const json*> arms;
    for (const auto& arm : report["arms"]) {
      bool has = false;
      for (const auto& r : arm["metrics"])
        if (r.value("index", -1) == m.value("index", -2)) has = true;
      if (!has) continue;
      arms.push_back(&arm);
      for (const auto& r : arm["metrics"])
        if (r.value("index", -1) == m.value("index", -2) && r["result"].contains("summary"))
          for (const auto& [k, v] : r["result"]["summary"].items())
            if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
    }
    h += fmt::format("<h3>{}</h3><div class=scroll><table><tr><th class=l>summary</th>", esc(id));
    for (const json* a : arms) h += "<th>" + esc((*a)["name"].get<std::string>()) + "</th>";
    h += "</tr>";
    std::string errors;
    for (const auto& k : keys) {
      h += "<tr><td class=l>" + esc(k) + "</td>";
      for (const json* a : arms) {
        std::string cell = "–";
        if (const json* r = metric_entry(*a, m.value("index", -2)))
          if (r->contains("summary") && (*r)["summary"].contains(k)) cell = num((*r)["summary"][k]);
        h += "<td>" + cell + "</td>";
      }
      h += "</tr>";
    }
    h += "</table></div>";
    for (const json* a : arms)
      for (const auto& r : (*a)["metrics"])
        if (r.value("index", -1) == m.value("index", -2) && !r.value("error", "").empty())
          errors += fmt::format("<li><b>{}</b> (against {}): {}</li>", esc((*a)["name"].get<std::string>()),
                                esc(r.value("reference", "")), esc(r["error"].get<std::string>()));
    if (!errors.empty()) h += "<p class=bad>This metric failed for:</p><ul>" + errors + "</ul>";
    const bool known = id == kTop1 || id == kPie || id == kWelch || id == kCritical || id == kMemorization || id == kSize;
    if (!known) {
      // A metric the report has no view for: its complete output, per arm.
      h += "<details><summary>raw output</summary>";
      for (const json* a : arms)
        for (const auto& r : (*a)["metrics"])
          if (r.value("index", -1) == m.value("index", -2)) {
            std::string text = r["result"].dump(1);
            if (text.size() > 20000) text = text.substr(0, 20000) + "\n… (truncated; see report.json)";
            h += fmt::format("<h4>{} (against {})</h4><pre>{}</pre>", esc((*a)["name"].get<std::string>()),
                             esc(r.value("reference", "")), esc(text));
          }
      h += "</details>";
    }
  }
  return h.empty() ? "" : "<h2 id=metrics>Metric results</h2>" + h;
}

std::string failed_section(const json& report) {
  const auto& failed = report["failed_cells"];
  const auto& cells = report["run"]["cells"];
  std::string h = "<h2 id=cells>Cells</h2>";
  h += fmt::format("<p>{} cells: {} done, {} failed, {} pending, {} running.</p>", cells.value("total", 0),
                   cells.value("done", 0), cells.value("failed", 0), cells.value("pending", 0),
                   cells.value("running", 0));
  if (failed.empty()) return h + "<p class=ok>No cell failed.</p>";
  h += "<table><tr><th class=l>arm</th><th>seed</th><th class=l>error</th><th class=l>finished</th></tr>";
  for (const auto& f : failed)
    h += fmt::format("<tr><td class=l>{}</td><td>{}</td><td class=\"l bad\" style=\"white-space:pre-wrap\">{}</td>"
                     "<td class=l>{}</td></tr>",
                     esc(f.value("arm", "")), f.value("seed", 0), esc(f.value("error", "")),
                     esc(f.value("finished_at", "")));
  return h + "</table>";
}

}  // namespace

std::string report_html(const json& report, const store::Store& store) {
  const auto& run = report["run"];
  std::string h = "<!DOCTYPE html><html lang=en><head><meta charset=utf-8><meta name=viewport "
                  "content=\"width=device-width,initial-scale=1\"><title>compaudit report — " +
                  esc(run.value("name", "")) + "</title><style>" + kStyle + "</style></head><body><main>";
  h += "<h1>compaudit report: " + esc(run.value("name", "")) + "</h1>";
  std::string data_line;
  if (report["data"].is_object()) {
    const auto& d = report["data"];
    for (const auto& sp : d["splits"]) data_line += fmt::format("{} {} · ", esc(sp.value("name", "")), sp.value("n", 0));
    data_line += fmt::format("{} classes · evaluated on {}", d.value("num_classes", 0),
                             esc(d.value("evaluation_split", "")));
  }
  const auto seeds = run["settings"].value("seeds", json::array());
  h += fmt::format("<p class=sub>run {} · compaudit {} · {} · {} arms × {} seeds · {}</p>",
                   esc(run.value("created_at", "")), esc(run.value("compaudit_version", "")), data_line,
                   report["arms"].size(), seeds.empty() ? std::string("?") : std::to_string(seeds.size()),
                   report["failed_cells"].empty() ? "<span class=ok>no failed cells</span>"
                                                  : fmt::format("<span class=bad>{} failed cells</span>",
                                                                report["failed_cells"].size()));

  h += "<h2 id=summary>Summary</h2>" + summary_table(report);
  if (report.contains("findings") && !report["findings"].empty()) {
    h += "<h3 id=findings>What the numbers show</h3><ul class=findings>";
    for (const auto& f : report["findings"]) {
      const std::string subject = f.value("subject", "");
      h += "<li>" + (subject.empty() ? "" : "<b>" + esc(subject) + "</b>: ") + esc(f.value("text", "")) + "</li>";
    }
    h += "</ul>";
  }

  h += "<h2 id=accuracy>Accuracy and forgetting against compression level</h2><div class=charts>";
  h += level_chart(report, "Top-1 accuracy (mean and 95% interval over seeds)", "top-1",
                   [](const json& arm) -> std::optional<Value> {
                     auto m = number(arm["top1"], "mean");
                     if (!m) return std::nullopt;
                     Value v{*m};
                     if (arm["top1"]["ci95"].is_array()) v.lo = arm["top1"]["ci95"][0], v.hi = arm["top1"]["ci95"][1];
                     return v;
                   },
                   true, false);
  h += level_chart(report, "PIE fraction (against each arm's reference)", "PIE fraction",
                   [](const json& arm) -> std::optional<Value> {
                     const json* r = metric_result(arm, kPie);
                     auto f = r ? number_at(*r, {"summary", "pie_fraction"}) : std::nullopt;
                     return f ? std::optional<Value>(Value{*f}) : std::nullopt;
                   },
                   true, true);
  h += level_chart(report, "Impacted classes (Welch's t-test)", "classes",
                   [](const json& arm) -> std::optional<Value> {
                     const json* r = metric_result(arm, kWelch);
                     auto f = r ? number_at(*r, {"summary", "impacted_classes"}) : std::nullopt;
                     return f ? std::optional<Value>(Value{*f}) : std::nullopt;
                   },
                   false, true, true);
  std::string critical = "Critical class";
  for (const auto& arm : report["arms"])
    if (const json* r = metric_result(arm, kCritical); r && (*r).contains("positive_name")) {
      critical += " (" + (*r)["positive_name"].get<std::string>() + ")";
      break;
    }
  h += level_chart(report, critical + ": false-negative rate (mean and 95% interval)", "FNR",
                   [](const json& arm) -> std::optional<Value> {
                     const json* r = metric_result(arm, kCritical);
                     auto f = r ? number_at(*r, {"summary", "fnr_cand_mean"}) : std::nullopt;
                     if (!f) return std::nullopt;
                     Value v{*f};
                     if (r->contains("intervals") && (*r)["intervals"]["fnr_cand_mean"].is_array())
                       v.lo = (*r)["intervals"]["fnr_cand_mean"][0], v.hi = (*r)["intervals"]["fnr_cand_mean"][1];
                     return v;
                   },
                   true, true);
  h += "</div>";

  h += "<h2 id=classes>Per-class results</h2><div class=charts>" + welch_heatmap(report) + pie_profile_chart(report) +
       "</div>";
  h += per_class_table(report);
  if (auto mem = memorization_chart(report); !mem.empty())
    h += "<h2 id=memorization>Memorization</h2>" + mem +
         "<p class=note>A training example mismatches when its modal label over the compressed models differs from "
         "its modal label over the reference models.</p>";
  h += gallery(report, store);
  h += metric_sections(report);
  h += failed_section(report);
  if (!report["log"].empty()) {
    h += "<h2 id=log>Warnings and errors</h2><pre>";
    for (const auto& l : report["log"])
      h += esc(l.value("time", "") + " " + l.value("level", "") + ": " + l.value("text", "")) + "\n";
    h += "</pre>";
  }
  h += "<h2 id=pipeline>Pipeline</h2><p class=sub>" + esc(run.value("pipeline_path", "")) + "</p><pre>" +
       esc(run.value("pipeline_toml", "")) + "</pre>";
  h += "<p class=sub>Generated " + esc(report.value("generated_at", "")) +
       " by compaudit report from results.sqlite; the same numbers are in report.json.</p>";
  return h + "</main></body></html>\n";
}

}  // namespace compaudit::report
