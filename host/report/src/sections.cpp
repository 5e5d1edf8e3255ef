// The tables and the gallery of report.html (see html.cpp for the page around them).
#include "sections.h"

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

std::string pct(const std::optional<double>& v, int digits = 2) {
  return v ? fmt::format("{:.{}f}%", *v * 100, digits) : "–";
}
std::string num(const json& v) {
  if (v.is_number_integer()) return std::to_string(v.get<long long>());
  if (v.is_number()) return fmt::format("{:.4g}", v.get<double>());
  if (v.is_null()) return "–";
  if (v.is_string()) return esc(v.get<std::string>());
  return esc(v.dump(-1, ' ', false, json::error_handler_t::replace));
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
    const std::string inert = s.value("inert", false) ? " inert" : "";  // a training control's step
    out += (out.empty() ? "" : " → ") + esc(id) + (params.empty() ? "" : "(" + params + ")") + inert;
    full += (full.empty() ? "" : " → ") + esc(id) + "(" + all + ")" + inert;
  }
  if (arm.value("finetune_epochs", 0) > 0) out += fmt::format(" + {} ft epochs", arm["finetune_epochs"].get<int>());
  if (out.empty()) return "uncompressed";
  return "<span title=\"" + full + "\">" + out + "</span>";
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

/// The PIE fraction with its interval, the seed-noise floor beside it and the verdict at the metric's alpha.
std::string pie_cell(const json* pie) {
  if (!pie) return "–";
  std::string h = pct(number_at(*pie, {"summary", "pie_fraction"}));
  if (auto ci = pie_interval(*pie))
    h += fmt::format(" <span class=sub>[{:.2f}, {:.2f}]</span>", ci->first * 100, ci->second * 100);
  auto floor = number_at(*pie, {"summary", "pie_fraction_null_mean"});
  auto p = number_at(*pie, {"summary", "pie_p_value"});
  if (floor && p)
    h += fmt::format("<br><small>floor {} · p {:.2g} · {}</small>", pct(floor), *p,
                     flag_at(*pie, {"summary", "above_noise"}) ? "<b>above noise</b>" : "not above noise");
  return h;
}

/// Impacted classes, or "underpowered" and the K that would detect the observed effects.
std::string impacted_cell(const json* welch) {
  if (!welch) return "–";
  if (text_at(*welch, {"summary", "status"}, "") == "underpowered") {
    auto need = number_at(*welch, {"summary", "k_needed_min"});
    return "underpowered" + (need ? fmt::format("<br><small>K ≥ {:.0f} needed</small>", *need) : std::string());
  }
  auto impacted = number_at(*welch, {"summary", "impacted_classes"});
  return impacted ? fmt::format("{:.0f}", *impacted) : "–";
}

}  // namespace

std::string summary_table(const json& report) {
  std::string h =
      "<div class=scroll><table><tr><th class=l>arm</th><th>level</th>"
      "<th>top-1 mean [95% CI]</th><th>sd</th><th>PIE fraction</th><th>top-1 w/o PIEs</th>"
      "<th>impacted classes</th><th>size ratio</th><th>cells done / failed</th></tr>";
  for (const auto& arm : report["arms"]) {
    const json* pie = metric_result(arm, kPie);
    const json* welch = metric_result(arm, kWelch);
    const json* size = metric_result(arm, kSize);
    const auto& cells = arm["cells"];
    const auto sd = number(arm["top1"], "sd");
    const auto bytes = size ? number_at(*size, {"summary", "bytes_ratio"}) : std::nullopt;
    const std::string ref = arm.value("reference", "");
    h += fmt::format(
        "<tr{}><td class=steps><b>{}</b><br><small>{}{}</small></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
        "<td>{}</td><td>{}</td><td>{}</td><td{}>{} / {}</td></tr>",
        is_uncompressed(arm) ? " class=dense" : "", esc(arm.value("name", "")), steps_text(arm),
        ref.empty() ? "" : " · vs " + esc(ref),
        arm.value("sweep", json::object()).empty() ? "–" : fmt::format("{:g}", arm.value("level", 0.0)), top1_cell(arm),
        sd ? fmt::format("{:.2f}", *sd * 100) : "–", pie_cell(pie),
        pie ? pct(number_at(*pie, {"summary", "top1_cand_without_pies"})) : "–", impacted_cell(welch), bytes ? fmt::format("{:.3f}", *bytes) : "–",
        cells.value("failed", 0) ? " class=bad" : "", cells.value("done", 0), cells.value("failed", 0));
  }
  return h +
         "</table></div><p class=note>top-1 and sd in percent over the arm's finished seeds; PIE fraction, "
         "top-1 without PIEs (the arm's, on the evaluation data with its PIEs removed) and impacted classes are "
         "against the arm's reference (vs …). PIE fraction: [bootstrap 95% interval over seeds]; floor: the mean PIE "
         "fraction when reference and compressed model of each seed are swapped at random (seed noise alone); "
         "\"above noise\" only when the permutation p is below the metric's alpha. Impacted classes: "
         "\"underpowered\" when a population has too few models for Welch's test.</p>";
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
                       p                ? fmt::format(" · p {:.2g}", *p)
                       : status == "ok" ? ""
                                        : " · " + esc(status));
    }
    h += "</tr>";
  }
  return h +
         "</table></div><p class=note>Recall: mean over the arm's models. d: normalized recall difference against "
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
          it != uri.end() ? "<img alt=\"example " + std::to_string(id) + "\" src=\"" + it->second + "\">" : "", id,
          esc(class_name(report, l.value("label", -1))), esc((*arm).value("reference", "ref")),
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

std::string metric_sections(const json& report, const store::Store& store) {
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
    const bool known =
        id == kTop1 || id == kPie || id == kWelch || id == kCritical || id == kMemorization || id == kSize;
    if (!known) {
      // The conventional "examples" member (example ids singled out): thumbnails on image data.
      if (report["data"].is_object()) {
        const std::string split = report["data"].value("evaluation_split", "test");
        for (const json* a : arms) {
          const json* r = metric_entry(*a, m.value("index", -2));
          if (!r || !r->contains("examples") || !(*r)["examples"].is_array() || (*r)["examples"].empty()) continue;
          std::vector<std::int64_t> ids;
          for (const auto& id : (*r)["examples"])
            if (id.is_number_integer() && ids.size() < 24) ids.push_back(id.get<std::int64_t>());
          const auto thumbs = store.thumbnails(split, ids);
          if (thumbs.empty()) continue;
          h += fmt::format("<details><summary>examples singled out for {} ({} of {})</summary><div class=gallery>",
                           esc((*a)["name"].get<std::string>()), thumbs.size(), (*r)["examples"].size());
          for (const auto& t : thumbs)
            h += fmt::format("<div class=pie><img alt=\"example {0}\" src=\"{1}\"><div>#{0}</div></div>", t.example_id,
                             png_data_uri(t.pixels, t.width, t.height, t.channels));
          h += "</div></details>";
        }
      }
      // A metric the report has no view for: its complete output, per arm.
      h += "<details><summary>raw output</summary>";
      for (const json* a : arms)
        for (const auto& r : (*a)["metrics"])
          if (r.value("index", -1) == m.value("index", -2)) {
            std::string text = r["result"].dump(1, ' ', false, json::error_handler_t::replace);
            if (text.size() > 20000) {
              text.resize(20000);
              text += "\n… (truncated; see report.json)";
            }
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
    h += fmt::format(
        "<tr><td class=l>{}</td><td>{}</td><td class=\"l bad\" style=\"white-space:pre-wrap\">{}</td>"
        "<td class=l>{}</td></tr>",
        esc(f.value("arm", "")), f.value("seed", 0), esc(f.value("error", "")), esc(f.value("finished_at", "")));
  return h + "</table>";
}

}  // namespace compaudit::report
