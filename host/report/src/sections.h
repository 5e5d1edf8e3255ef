// sections.h — the tables and galleries of report.html, each rendered from a report.json document.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace compaudit::store {
class Store;
}

namespace compaudit::report {

/// Arms table: top-1 with interval, PIE fraction, top-1 without PIEs, impacted classes, size ratio, cells.
std::string summary_table(const nlohmann::json& report);
/// Classes × arms: mean recall, and Welch's d and p under it, impacted classes highlighted.
std::string per_class_table(const nlohmann::json& report);
/// PIE thumbnails per arm with true, reference-modal and compressed-modal labels ("" without PIEs or images).
std::string gallery(const nlohmann::json& report, const store::Store& store);
/// Every metric's summary table per arm; errors; raw output and "examples" thumbnails of unknown metrics.
std::string metric_sections(const nlohmann::json& report, const store::Store& store);
/// Cell counts and every failed cell with its error.
std::string failed_section(const nlohmann::json& report);

}  // namespace compaudit::report
