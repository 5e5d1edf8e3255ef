// charts.h — the report's charts, built from a report.json document (see docs/report-json.md for the keys read).
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "svg.h"

namespace compaudit::report {

/// A value of an arm with its optional interval.
struct Value {
  double y = 0;
  std::optional<double> lo, hi;
};
using ValueOf = std::function<std::optional<Value>(const nlohmann::json& arm)>;

/// A chart of `value` against arm level: one line per swept arm family (base_name), horizontal reference lines for
/// the uncompressed arms and for compressed arms without a sweep. Falls back to bars per arm when nothing is swept.
/// Returns "" when no arm has a value.
std::string level_chart(const nlohmann::json& report, const std::string& title, const std::string& y_label,
                        const ValueOf& value, bool percent, bool from_zero, bool integer = false);

/// Per-class normalized recall difference d (Welch metric) as a classes × arms heatmap, impacted classes marked.
std::string welch_heatmap(const nlohmann::json& report);

/// PIE class profile against the evaluation data's class distribution, for the arms with the most PIEs.
std::string pie_profile_chart(const nlohmann::json& report);

/// Mismatch rate per memorization bin, one line per arm.
std::string memorization_chart(const nlohmann::json& report);

}  // namespace compaudit::report
