// report.html: one self-contained page. Sections follow the questions of an audit: how accurate is each arm, how
// many examples and classes did compression change, which ones, and what did the run do. No script and no URL: it
// opens offline, and a test greps it for "http".
#include <compaudit/report/report.h>
#include <compaudit/store/store.h>
#include <fmt/format.h>

#include "attribution_section.h"
#include "charts.h"
#include "lookup.h"
#include "paired.h"
#include "sections.h"

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

/// Renders one part of the page; a metric output of an unexpected shape (a third-party plugin, an older version)
/// costs that part only, shown as an error in its place, never the whole report.
template <class F>
std::string guarded(const char* part, F&& render) {
  try {
    return render();
  } catch (const std::exception& e) {
    return fmt::format("<p class=bad>Could not draw the {}: {}</p>", part, esc(e.what()));
  }
}

}  // namespace

std::string report_html(const json& report, const store::Store& store) {
  const auto& run = report["run"];
  std::string h =
      "<!DOCTYPE html><html lang=en><head><meta charset=utf-8><meta name=viewport "
      "content=\"width=device-width,initial-scale=1\"><title>compaudit report — " +
      esc(run.value("name", "")) + "</title><style>" + kStyle + "</style></head><body><main>";
  h += "<h1>compaudit report: " + esc(run.value("name", "")) + "</h1>";
  std::string data_line;
  if (report["data"].is_object()) {
    const auto& d = report["data"];
    for (const auto& sp : d["splits"])
      data_line += fmt::format("{} {} · ", esc(sp.value("name", "")), sp.value("n", 0));
    data_line +=
        fmt::format("{} classes · evaluated on {}", d.value("num_classes", 0), esc(d.value("evaluation_split", "")));
  }
  const auto seeds = run["settings"].value("seeds", json::array());
  h += fmt::format("<p class=sub>run {} · compaudit {} · {} · {} arms × {} seeds · {}</p>",
                   esc(run.value("created_at", "")), esc(run.value("compaudit_version", "")), data_line,
                   report["arms"].size(), seeds.empty() ? std::string("?") : std::to_string(seeds.size()),
                   report["failed_cells"].empty()
                       ? "<span class=ok>no failed cells</span>"
                       : fmt::format("<span class=bad>{} failed cells</span>", report["failed_cells"].size()));

  if (report.contains("gates") && report["gates"].value("count", 0) > 0) {  // the verdict opens the report
    const auto& g = report["gates"];
    h += g.value("passed", false)
             ? fmt::format("<h2 id=gates class=ok>Gates passed ({} of {})</h2>", g.value("count", 0), g.value("count", 0))
             : fmt::format("<h2 id=gates class=bad>Gates FAILED ({} of {})</h2>", g.value("failed", 0), g.value("count", 0));
    h += "<table><tr><th>gate</th><th>arm</th><th>statistic</th><th>value</th><th>min</th><th>max</th><th>verdict</th></tr>";
    for (const auto& r : g["results"]) {
      auto num = [](const json& v) { return v.is_number() ? fmt::format("{:.6g}", v.get<double>()) : std::string("–"); };
      const std::string cls = r.value("class", "");
      h += fmt::format("<tr><td>{}</td><td>{}</td><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td><td class={}>{}</td></tr>",
                       esc(r.value("gate", "")), esc(r.value("arm", "")), esc(r.value("statistic", "")),
                       cls.empty() ? "" : "[" + esc(cls) + "]", num(r["value"]), num(r["min"]), num(r["max"]),
                       r.value("passed", false) ? "ok" : "bad",
                       r.value("passed", false) ? "pass" : "FAIL: " + esc(r.value("reason", "")));
    }
    h += "</table>";
  }
  h += "<h2 id=summary>Summary</h2>" + guarded("summary table", [&] { return summary_table(report); });
  if (report.contains("findings") && !report["findings"].empty()) {
    h += "<h3 id=findings>What the numbers show</h3><ul class=findings>";
    for (const auto& f : report["findings"]) {
      const std::string subject = f.value("subject", "");
      h += "<li>" + (subject.empty() ? "" : "<b>" + esc(subject) + "</b>: ") + esc(f.value("text", "")) + "</li>";
    }
    h += "</ul>";
  }

  h += guarded("paired tests", [&] { return paired_section(report, store); });
  h += guarded("attribution", [&] { return attribution_section(report, store); });
  h += guarded("search", [&] { return search_section(report); });
  h += "<h2 id=accuracy>Accuracy and forgetting against compression level</h2><div class=charts>";
  h += guarded("top-1 chart", [&] {
    return level_chart(
        report, "Top-1 accuracy (mean and 95% interval over seeds)", "top-1",
        [](const json& arm) -> std::optional<Value> {
          auto m = number(arm["top1"], "mean");
          if (!m) return std::nullopt;
          Value v{*m};
          if (arm["top1"]["ci95"].is_array()) v.lo = arm["top1"]["ci95"][0], v.hi = arm["top1"]["ci95"][1];
          return v;
        },
        true, false);
  });
  h += guarded("PIE chart", [&] {
    return level_chart(
        report, "PIE fraction (against each arm's reference)", "PIE fraction",
        [](const json& arm) -> std::optional<Value> {
          const json* r = metric_result(arm, kPie);
          auto f = r ? number_at(*r, {"summary", "pie_fraction"}) : std::nullopt;
          return f ? std::optional<Value>(Value{*f}) : std::nullopt;
        },
        true, true);
  });
  h += guarded("impacted classes chart", [&] {
    return level_chart(
        report, "Impacted classes (Welch's t-test)", "classes",
        [](const json& arm) -> std::optional<Value> {
          const json* r = metric_result(arm, kWelch);
          auto f = r ? number_at(*r, {"summary", "impacted_classes"}) : std::nullopt;
          return f ? std::optional<Value>(Value{*f}) : std::nullopt;
        },
        false, true, true);
  });
  std::string critical = "Critical class";
  for (const auto& arm : report["arms"])
    if (const json* r = metric_result(arm, kCritical); r && (*r).contains("positive_name")) {
      if ((*r)["positive_name"].is_string()) critical += " (" + (*r)["positive_name"].get<std::string>() + ")";
      break;
    }
  h += guarded("critical-class chart", [&] {
    return level_chart(
        report, critical + ": false-negative rate (mean and 95% interval)", "FNR",
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
  });
  h += "</div>";

  h += "<h2 id=classes>Per-class results</h2><div class=charts>" +
       guarded("per-class heatmap", [&] { return welch_heatmap(report); }) +
       guarded("PIE class profile", [&] { return pie_profile_chart(report); }) + "</div>";
  h += guarded("per-class table", [&] { return per_class_table(report); });
  if (auto mem = guarded("memorization chart", [&] { return memorization_chart(report); }); !mem.empty())
    h += "<h2 id=memorization>Memorization</h2>" + mem +
         "<p class=note>A training example mismatches when its modal label over the compressed models differs from "
         "its modal label over the reference models.</p>";
  h += guarded("PIE gallery", [&] { return gallery(report, store); });
  h += guarded("metric tables", [&] { return metric_sections(report, store); });
  h += guarded("cells", [&] { return failed_section(report); });
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
