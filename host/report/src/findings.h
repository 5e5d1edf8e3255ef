// findings.h — sentences stating what an audit's numbers show and what they cannot show at its size.
#pragma once

#include <nlohmann/json.hpp>

namespace compaudit::report {

/// Findings for a report.json document (without "findings"): [{"kind", "subject", "text"}, ...]. Kinds: "top1"
/// (difference to the reference and whether the intervals separate), "pie_trend" and "impacted_trend" (along a swept
/// family), "pie_removal", "memorization", "failed_cells".
nlohmann::json findings(const nlohmann::json& report);

}  // namespace compaudit::report
