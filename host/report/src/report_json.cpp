// report.json: one document with everything the HTML page and the terminal table show (docs/report-json.md).
// The HTML and terminal renderers read only this document (plus thumbnails), so the three never disagree.
#include <compaudit/report/gates.h>
#include <compaudit/report/report.h>
#include <compaudit/store/store.h>

#include <boost/math/distributions/students_t.hpp>
#include <cmath>
#include <map>
#include <set>

#include "attribution_section.h"
#include "findings.h"

namespace compaudit::report {

using nlohmann::json;
using store::CellStatus;

namespace {

/// Mean, sample standard deviation and two-sided 95% Student-t interval of the mean. With one value the sd and the
/// interval do not exist: null, never NaN.
json describe(const std::vector<double>& v) {
  json out = {{"n", v.size()}, {"mean", nullptr}, {"sd", nullptr}, {"ci95", nullptr}};
  if (v.empty()) return out;
  double mean = 0;
  for (double x : v) mean += x;
  mean /= static_cast<double>(v.size());
  out["mean"] = mean;
  if (v.size() < 2) return out;
  double ss = 0;
  for (double x : v) ss += (x - mean) * (x - mean);
  const double sd = std::sqrt(ss / static_cast<double>(v.size() - 1));
  const boost::math::students_t dist(static_cast<double>(v.size() - 1));
  const double half = boost::math::quantile(boost::math::complement(dist, 0.025)) * sd / std::sqrt(double(v.size()));
  out["sd"] = sd;
  out["ci95"] = {mean - half, mean + half};
  return out;
}

json cell_counts(const std::vector<store::Cell>& cells, const std::string& arm) {
  json c = {{"total", 0}, {"done", 0}, {"failed", 0}, {"pending", 0}, {"running", 0}};
  for (const auto& cell : cells) {
    if (!arm.empty() && cell.arm != arm) continue;
    c["total"] = c["total"].get<int>() + 1;
    c[to_string(cell.status)] = c[to_string(cell.status)].get<int>() + 1;
  }
  return c;
}

/// Arms from the arms table; a store written without one (or with cells of unlisted arms) still reports them all.
std::vector<store::ArmInfo> all_arms(const store::Store& s, const std::vector<store::Cell>& cells) {
  auto arms = s.arms();
  std::set<std::string> known;
  for (const auto& a : arms) known.insert(a.name);
  for (const auto& c : cells)
    if (known.insert(c.arm).second) {
      store::ArmInfo a;
      a.name = a.base_name = c.arm;
      a.reference = c.arm == "dense" ? "" : "dense";
      arms.push_back(a);
    }
  return arms;
}

}  // namespace

json report_json(const store::Store& s) {
  const store::RunInfo run = s.run();
  const auto data = s.data();
  const auto cells = s.cells();
  const auto arms = all_arms(s, cells);
  const auto metric_results = s.metrics();
  const std::string eval_split = run.settings.value("evaluation_split", std::string("test"));

  // alpha and correction are the metrics' own parameters (each result carries the ones it used); a run-level copy,
  // as older engines recorded from [report], would claim a setting no test read.
  json settings = run.settings;
  if (settings.is_object()) settings.erase("alpha"), settings.erase("correction");

  json doc;
  doc["schema"] = "compaudit.report/1";
  doc["generated_at"] = store::now_utc();
  doc["run"] = {{"name", run.name},
                {"pipeline_path", run.pipeline_path},
                {"pipeline_toml", run.pipeline_toml},
                {"created_at", run.created_at},
                {"compaudit_version", run.compaudit_version},
                {"store_schema_version", run.schema_version},
                {"settings", settings},
                {"cells", cell_counts(cells, "")}};

  // Data: class names and counts per split. Targets of the evaluation split are kept for top-1 below.
  std::vector<std::int16_t> eval_targets;
  int num_classes = 0;
  if (data) {
    num_classes = data->num_classes;
    json splits = json::array();
    for (const auto& sp : data->splits) {
      std::vector<std::int64_t> counts(static_cast<std::size_t>(std::max(num_classes, 0)), 0);
      for (auto t : sp.targets)
        if (t >= 0 && t < num_classes) ++counts[static_cast<std::size_t>(t)];
      splits.push_back({{"name", sp.name}, {"n", sp.n}, {"class_counts", counts}});
      if (sp.name == eval_split) eval_targets = sp.targets;
    }
    doc["data"] = {{"kind", data->kind},
                   {"num_classes", num_classes},
                   {"class_names", data->class_names},
                   {"input_shape", data->input_shape},
                   {"splits", splits},
                   {"evaluation_split", eval_split}};
  } else {
    doc["data"] = nullptr;
  }

  // Metrics in pipeline order (index, id), and per arm below.
  std::map<int, std::string> metric_ids;
  for (const auto& r : metric_results) metric_ids[r.metric_index] = r.metric_id;
  json metric_list = json::array();
  for (const auto& [index, id] : metric_ids) metric_list.push_back({{"index", index}, {"id", id}});
  doc["metrics"] = metric_list;

  json arms_json = json::array();
  for (const auto& arm : arms) {
    json a = {{"name", arm.name},           {"base_name", arm.base_name},
              {"level", arm.level},         {"sweep", arm.sweep},
              {"steps", arm.steps},         {"finetune_epochs", arm.finetune_epochs},
              {"reference", arm.reference}, {"cells", cell_counts(cells, arm.name)}};
    // Top-1 and per-class recall straight from the stored predictions of the done cells: the report needs no metric
    // plugin for its headline numbers.
    std::vector<double> top1;
    json per_seed = json::array();
    std::vector<std::vector<double>> recalls(static_cast<std::size_t>(std::max(num_classes, 0)));
    for (const auto& c : cells) {
      if (c.arm != arm.name || c.status != CellStatus::done) continue;
      auto p = s.predictions(arm.name, c.seed, eval_split, false);
      if (!p || eval_targets.empty() || p->labels.size() != eval_targets.size()) continue;
      std::vector<std::int64_t> hit(recalls.size(), 0), total(recalls.size(), 0);
      std::int64_t correct = 0;
      for (std::size_t i = 0; i < eval_targets.size(); ++i) {
        const bool ok = p->labels[i] == eval_targets[i];
        correct += ok;
        const auto t = eval_targets[i];
        if (t >= 0 && t < num_classes) {
          ++total[static_cast<std::size_t>(t)];
          hit[static_cast<std::size_t>(t)] += ok;
        }
      }
      const double acc = static_cast<double>(correct) / static_cast<double>(eval_targets.size());
      top1.push_back(acc);
      per_seed.push_back({{"seed", c.seed},
                          {"top1", acc},
                          {"train_seconds", c.train_seconds},
                          {"eval_seconds", c.eval_seconds},
                          {"size", c.size}});
      for (std::size_t k = 0; k < recalls.size(); ++k)
        if (total[k]) recalls[k].push_back(static_cast<double>(hit[k]) / static_cast<double>(total[k]));
    }
    a["top1"] = describe(top1);
    a["models"] = per_seed;
    json recall = json::array();
    for (const auto& r : recalls) recall.push_back(describe(r)["mean"]);
    a["class_recall"] = recall;
    json ms = json::array();
    for (const auto& r : metric_results)
      if (r.arm == arm.name)
        ms.push_back({{"index", r.metric_index},
                      {"id", r.metric_id},
                      {"reference", r.reference},
                      {"result", r.result},
                      {"error", r.error}});
    a["metrics"] = ms;
    arms_json.push_back(std::move(a));
  }
  doc["arms"] = arms_json;

  json failed = json::array();
  for (const auto& c : cells)
    if (c.status == CellStatus::failed)
      failed.push_back({{"arm", c.arm},
                        {"seed", c.seed},
                        {"error", c.error},
                        {"failure", to_string(c.failure)},  // environment: retried by `run --resume`
                        {"started_at", c.started_at},
                        {"finished_at", c.finished_at}});
  doc["failed_cells"] = failed;

  // The run log's notable lines (not "debug"/"info"), for the page's diagnostics section.
  json log = json::array();
  for (const auto& l : s.log_lines())
    if (l.level != "debug" && l.level != "info")
      log.push_back({{"time", l.time}, {"level", l.level}, {"text", l.text}});
  doc["log"] = log;
  try {
    doc["findings"] = findings(doc);
  } catch (const std::exception& e) {  // a metric output of an unexpected shape must not cost the whole report
    doc["findings"] = json::array({{{"kind", "error"}, {"subject", ""}, {"text", e.what()}}});
  }
  doc["gates"] = evaluate_gates(s);  // docs/gates.md: the verdict the report opens with
  add_attribution_json(doc, s);       // [attribution] and [search] records; the search verdict reads the gates
  return doc;
}

}  // namespace compaudit::report
