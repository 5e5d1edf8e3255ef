// paired.h — the report's view of the paired tests (docs/science.md §8): one reference model against its
// compressed twin on the same examples (flips, exact McNemar, paired bootstrap, KL). Rendered from report.json; ""
// when the run computed none of these metrics.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace compaudit::store {
class Store;
}

namespace compaudit::report {

inline constexpr const char* kFlips = "org.compaudit.metric.flips";
inline constexpr const char* kMcNemar = "org.compaudit.metric.mcnemar";
inline constexpr const char* kBootstrap = "org.compaudit.metric.paired_bootstrap";
inline constexpr const char* kKl = "org.compaudit.metric.kl_shift";

/// The terminal table: per compared arm, accuracy change with its bootstrap interval, negative flips, changed
/// answers, classes McNemar finds worse, the largest upper bound of a class's recall drop, KL p99.
std::string paired_terminal(const nlohmann::json& report, int width);

/// The HTML section: the same table; flips split by type (bars); per-class recall change with bootstrap intervals
/// (a forest plot, one series per arm); thumbnails of the critical class's negative flips (image data).
std::string paired_section(const nlohmann::json& report, const store::Store& store);

}  // namespace compaudit::report
