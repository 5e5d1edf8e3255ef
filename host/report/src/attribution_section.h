// attribution_section.h — the report's view of [attribution] and [search] (docs/attribution.md): which layers of a
// compressed arm caused its damage, and the per-layer configuration the class-aware search chose. The engine stores
// one JSON blob per (arm, seed): "attribution" for each attributed arm, "search" for the searched arm
// (docs/report-json.md lists the keys). report.json carries them with an aggregate over seeds; the page and the
// terminal render that document only.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace compaudit::store {
class Store;
}

namespace compaudit::report {

/// Adds the top-level "attribution" array and "search" object to a report.json document from the store's blobs of
/// the document's arms and seeds (run.settings.seeds and the seeds of its models and failed cells). The search
/// verdict is read from doc["gates"], so call it after the gates are evaluated. Adds neither key when the run stored
/// no such blob. A blob that cannot be read or parsed is listed under the entry's "errors", never thrown.
void add_attribution_json(nlohmann::json& doc, const store::Store& store);

/// The "Attribution" section of report.html: per arm a table of its layers (mean over seeds), a bar chart of harm
/// per layer and the flipped examples of the most harmful layer (thumbnails, or ids). "" without "attribution".
std::string attribution_section(const nlohmann::json& report, const store::Store& store);

/// The "Search" section of report.html: per seed the Pareto plot and the trials table, the chosen [[arm]] TOML and
/// the searched arm's gate results on the test split. "" without "search".
std::string search_section(const nlohmann::json& report);

/// Terminal lines, not yet wrapped: "attribution <arm>: most harmful layer ..." per attributed arm (top 3 layers),
/// then "search: ..." when the run searched.
std::vector<std::string> attribution_terminal_lines(const nlohmann::json& report);

}  // namespace compaudit::report
