// findings.h — sentences stating what an audit's numbers show and what they cannot show at its size.
#pragma once

#include <nlohmann/json.hpp>

namespace compaudit::report {

/// Findings for a report.json document (without "findings"): [{"kind", "subject", "text"}, ...]. Kinds: "top1"
/// (difference to the reference and whether the intervals separate), "pie_trend" (along a swept family: "rises" /
/// "falls" only when the within-seed permutation test of Spearman's rho rejects; with "shown" and "p_value"),
/// "impacted_trend" (the counts per level, not a trend), "pie_noise" (PIE fraction beside its seed-noise floor,
/// "above noise" / "not above noise"; with "shown"), "power" (Welch underpowered, or the K that would detect the
/// observed effects), "pie_removal", "memorization", "failed_cells".
nlohmann::json findings(const nlohmann::json& report);

}  // namespace compaudit::report
