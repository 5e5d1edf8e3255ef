// lookup.h — reading report.json documents: metric results of an arm and numbers that may be missing.
#pragma once

#include <nlohmann/json.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace compaudit::report {

// Metric plugin ids the report knows how to draw (docs/report-json.md lists the keys it reads from each).
inline constexpr const char* kTop1 = "org.compaudit.metric.top1";
inline constexpr const char* kPie = "org.compaudit.metric.pie";
inline constexpr const char* kWelch = "org.compaudit.metric.recall_welch";
inline constexpr const char* kCritical = "org.compaudit.metric.critical_class";
inline constexpr const char* kMemorization = "org.compaudit.metric.memorization";
inline constexpr const char* kSize = "org.compaudit.metric.size";

/// The result of metric `id` for an arm of report.json, against the arm's own reference when there are several;
/// nullptr when the metric was not computed for this arm or failed.
inline const nlohmann::json* metric_result(const nlohmann::json& arm, const std::string& id) {
  const nlohmann::json* first = nullptr;
  for (const auto& m : arm.at("metrics")) {
    if (m.value("id", "") != id || !m.value("error", "").empty() || m["result"].is_null()) continue;
    if (m.value("reference", "") == arm.value("reference", "")) return &m["result"];
    if (!first) first = &m["result"];
  }
  return first;
}

/// A number at `j[key]`, or nullopt when missing, null or not a number.
inline std::optional<double> number(const nlohmann::json& j, const std::string& key) {
  if (!j.is_object()) return std::nullopt;
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

/// A number at a path of object keys, e.g. number_at(r, {"summary", "pie_fraction"}).
inline std::optional<double> number_at(const nlohmann::json& j, std::initializer_list<const char*> path) {
  const nlohmann::json* cur = &j;
  for (const char* key : path) {
    if (!cur->is_object() || !cur->contains(key)) return std::nullopt;
    cur = &(*cur)[key];
  }
  return cur->is_number() ? std::optional<double>(cur->get<double>()) : std::nullopt;
}

/// A string at a path of object keys, or `fallback` when missing or not a string.
inline std::string text_at(const nlohmann::json& j, std::initializer_list<const char*> path, const std::string& fallback) {
  const nlohmann::json* cur = &j;
  for (const char* key : path) {
    if (!cur->is_object() || !cur->contains(key)) return fallback;
    cur = &(*cur)[key];
  }
  return cur->is_string() ? cur->get<std::string>() : fallback;
}

/// A bool at a path of object keys; false when missing or not a bool.
inline bool flag_at(const nlohmann::json& j, std::initializer_list<const char*> path) {
  const nlohmann::json* cur = &j;
  for (const char* key : path) {
    if (!cur->is_object() || !cur->contains(key)) return false;
    cur = &(*cur)[key];
  }
  return cur->is_boolean() && cur->get<bool>();
}

/// The PIE metric's bootstrap interval intervals.pie_fraction_ci as (lo, hi), or nullopt when absent or malformed.
inline std::optional<std::pair<double, double>> pie_interval(const nlohmann::json& pie) {
  if (!pie.is_object() || !pie.contains("intervals") || !pie["intervals"].is_object()) return std::nullopt;
  const auto it = pie["intervals"].find("pie_fraction_ci");
  if (it == pie["intervals"].end() || !it->is_array() || it->size() != 2 || !(*it)[0].is_number() ||
      !(*it)[1].is_number())
    return std::nullopt;
  return std::pair<double, double>((*it)[0].get<double>(), (*it)[1].get<double>());
}

/// The name of class `c` in report.json's data, or its index as text.
inline std::string class_name(const nlohmann::json& report, std::int64_t c) {
  if (report.contains("data") && report["data"].is_object()) {
    const auto& names = report["data"]["class_names"];
    if (names.is_array() && c >= 0 && c < static_cast<std::int64_t>(names.size()) && names[c].is_string())
      return names[c].get<std::string>();
  }
  return std::to_string(c);
}

/// True for arms that compress nothing: dense, the dense+ft controls (no steps) and the training controls (every step
/// marked "inert": run with compression made inert, docs/pipelines.md "Controls"). Drawn as reference lines.
inline bool is_uncompressed(const nlohmann::json& arm) {
  for (const auto& step : arm.value("steps", nlohmann::json::array()))
    if (!step.is_object() || !step.value("inert", false)) return false;
  return true;
}

/// True for arms compared against another population (compressed arms, and the dense+ft control against dense):
/// the arms whose per-class differences and mismatches mean something.
inline bool is_compared(const nlohmann::json& arm) {
  const std::string ref = arm.value("reference", "");
  return !ref.empty() && ref != arm.value("name", "");
}

}  // namespace compaudit::report
