// Gate evaluation (compaudit/report/gates.h): settings["gates"] against the metrics table.
#include <compaudit/report/gates.h>

#include <compaudit/error.h>
#include <compaudit/store/store.h>

#include <fmt/format.h>

#include <fnmatch.h>

#include <cmath>
#include <optional>
#include <ostream>

namespace compaudit::report {
namespace {

using nlohmann::json;

struct Lookup {
  std::optional<double> value;
  std::string reason;  // why there is no value
};

std::optional<double> number(const json& j) {
  if (j.is_number()) return j.get<double>();
  if (j.is_boolean()) return j.get<bool>() ? 1.0 : 0.0;
  return std::nullopt;
}

std::string keys_of(const json& object) {
  std::string out;
  if (object.is_object())
    for (const auto& [k, v] : object.items())
      if (number(v)) out += (out.empty() ? "" : ", ") + k;
  return out.empty() ? "none" : out;
}

// "name", or "name.low" / "name.high" for an end of intervals[name].
Lookup summary_value(const json& result, const std::string& statistic) {
  const json summary = result.value("summary", json::object());
  if (summary.contains(statistic))
    if (auto v = number(summary[statistic])) return {v, ""};
  for (const auto& [suffix, end] : {std::pair<std::string, int>{".low", 0}, {".high", 1}}) {
    if (statistic.size() <= suffix.size() || statistic.compare(statistic.size() - suffix.size(), suffix.size(), suffix))
      continue;
    const std::string base = statistic.substr(0, statistic.size() - suffix.size());
    const json intervals = result.value("intervals", json::object());
    if (intervals.contains(base) && intervals[base].is_array() && intervals[base].size() == 2)
      if (auto v = number(intervals[base][end])) return {v, ""};
  }
  return {std::nullopt, fmt::format("the metric reports no '{}' (its summary has: {})", statistic, keys_of(summary))};
}

Lookup class_value(const json& result, const std::string& statistic, const std::string& cls) {
  const json per_class = result.value("per_class", json::array());
  for (const auto& entry : per_class) {
    const bool by_name = entry.contains("name") && entry["name"].is_string() && entry["name"] == cls;
    const bool by_index = entry.contains("class") && entry["class"].is_number_integer() &&
                          std::to_string(entry["class"].get<std::int64_t>()) == cls;
    if (!by_name && !by_index) continue;
    if (entry.contains(statistic))
      if (auto v = number(entry[statistic])) return {v, ""};
    return {std::nullopt, fmt::format("class '{}' has no '{}' (it has: {})", cls, statistic, keys_of(entry))};
  }
  return {std::nullopt, fmt::format("the metric reports no class '{}'", cls)};
}

}  // namespace

json judge_gate(const json& g, const json& result, const std::string& error) {
  const std::string statistic = g.value("statistic", "");
  const std::string cls = g.value("class", "");
  const std::optional<double> lo = g.contains("min") && g["min"].is_number() ? std::optional(g["min"].get<double>()) : std::nullopt;
  const std::optional<double> hi = g.contains("max") && g["max"].is_number() ? std::optional(g["max"].get<double>()) : std::nullopt;
  Lookup look;
  if (!error.empty()) look.reason = "the metric failed: " + error;
  else look = cls.empty() ? summary_value(result, statistic) : class_value(result, statistic, cls);
  bool passed = false;
  if (look.value) {
    const double v = *look.value;
    passed = std::isfinite(v) && (!lo || v >= *lo) && (!hi || v <= *hi);
    if (!std::isfinite(v)) look.reason = "the value is not a finite number";
    else if (!passed)
      look.reason = hi && v > *hi ? fmt::format("{:.6g} > max {:.6g}", v, *hi) : fmt::format("{:.6g} < min {:.6g}", v, *lo);
  }
  return {{"value", look.value ? json(*look.value) : json(nullptr)}, {"passed", passed}, {"reason", look.reason}};
}

json evaluate_gates(const store::Store& store) {
  const json gates = store.run().settings.value("gates", json::array());
  const auto arms = store.arms();
  const auto metrics = store.metrics();
  json results = json::array();
  int failed = 0;
  for (const auto& g : gates) {
    const std::string pattern = g.value("arm", "*");
    const std::string metric = g.value("metric", "");
    const std::string statistic = g.value("statistic", "");
    const std::string cls = g.value("class", "");
    const std::optional<double> lo = g.contains("min") && g["min"].is_number() ? std::optional(g["min"].get<double>()) : std::nullopt;
    const std::optional<double> hi = g.contains("max") && g["max"].is_number() ? std::optional(g["max"].get<double>()) : std::nullopt;
    for (const auto& arm : arms) {
      // Reference arms are not candidates: dense, the dense+ft controls, the training controls (steps run inert).
      const bool training_control = !arm.steps.empty() && arm.steps.front().value("inert", false);
      if (arm.reference.empty() || arm.name.rfind("dense+ft", 0) == 0 || training_control) continue;
      if (fnmatch(pattern.c_str(), arm.name.c_str(), 0) != 0) continue;
      // The first [[metric]] with this id (a metric used twice is gated on its first use).
      const store::MetricResult* found = nullptr;
      for (const auto& m : metrics)
        if (m.metric_id == metric && m.arm == arm.name && (!found || m.metric_index < found->metric_index)) found = &m;
      const json judged = !found ? json{{"value", nullptr}, {"passed", false},
                                        {"reason", "no result of this metric for the arm (its cells failed or the run "
                                                   "is incomplete)"}}
                                 : judge_gate(g, found->result, found->error);
      const bool passed = judged["passed"].get<bool>();
      if (!passed) ++failed;
      results.push_back({{"gate", g.value("name", statistic)}, {"arm", arm.name}, {"metric", metric},
                         {"statistic", statistic}, {"class", cls},
                         {"value", judged["value"]},
                         {"min", lo ? json(*lo) : json(nullptr)}, {"max", hi ? json(*hi) : json(nullptr)},
                         {"passed", passed}, {"reason", judged["reason"]}});
    }
  }
  return {{"passed", failed == 0}, {"count", results.size()}, {"failed", failed}, {"results", results}};
}

std::string gates_text(const json& gates) {
  if (gates.value("count", 0) == 0) return "gates: none\n";
  std::string out;
  for (const auto& r : gates["results"]) {
    std::string bound;
    if (!r["min"].is_null()) bound += fmt::format(">= {:.6g}", r["min"].get<double>());
    if (!r["max"].is_null()) bound += fmt::format("{}<= {:.6g}", bound.empty() ? "" : ", ", r["max"].get<double>());
    const std::string value = r["value"].is_null() ? "n/a" : fmt::format("{:.6g}", r["value"].get<double>());
    out += fmt::format("{} {}  arm {}  {}{} = {} (bound {}){}\n", r["passed"].get<bool>() ? "PASS" : "FAIL",
                       r["gate"].get<std::string>(), r["arm"].get<std::string>(), r["statistic"].get<std::string>(),
                       r["class"].get<std::string>().empty() ? "" : "[" + r["class"].get<std::string>() + "]", value,
                       bound, r["passed"].get<bool>() ? "" : ": " + r["reason"].get<std::string>());
  }
  out += gates["passed"].get<bool>()
             ? fmt::format("gates: passed ({} of {})\n", gates["count"].get<int>(), gates["count"].get<int>())
             : fmt::format("gates: FAILED ({} of {} failed)\n", gates["failed"].get<int>(), gates["count"].get<int>());
  return out;
}

int check_command(const std::string& run_dir, std::ostream& out, std::ostream& err) {
  try {
    const auto store = store::Store::open(run_dir, store::Store::Access::read_only);
    const json gates = evaluate_gates(store);
    out << gates_text(gates);
    return gates["passed"].get<bool>() ? 0 : 8;  // exit_ok, exit_gate_failed
  } catch (const std::exception& e) {
    err << "compaudit check: " << e.what() << "\n";
    return 6;  // exit_io
  }
}

}  // namespace compaudit::report
