// host/engine/run/analysis_phase.h — attribution and search (docs/attribution.md) as a phase of a run: which models,
// which split, which plugins, and where the results go (store blobs "attribution" and "search"). The analysis
// itself (host/engine/analysis/) knows nothing of runs.
#pragma once

#include "analysis/attribution.h"
#include "run/progress.h"
#include "run/run_parts.h"

#include <compaudit/models/models.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace compaudit::engine {

class AnalysisPhase {
 public:
  /// `seed_filter` (a shard's seeds, ExecuteOptions) may be empty: every seed. `parts` must outlive this.
  AnalysisPhase(const RunParts& parts, std::function<bool(std::int64_t)> seed_filter);

  /// The (arm, seed) pairs [attribution] has left to do: those whose cells are done, or, `planned`, not failed (what
  /// the progress total counts before the cells run). Empty without [attribution].
  std::vector<std::pair<std::string, std::int64_t>> attribution_work(bool planned) const;
  /// [attribution] after the cells: each pair of attribution_work(false), seed by seed, into the blob "attribution";
  /// a failure is recorded there and the run goes on. Throws only what the store throws.
  void attribute(Progress& progress);

  /// A [search] arm's model for `seed`, owned by the caller: the search on the validation split (its record in the
  /// blob "search"), then the chosen per-layer steps applied to a copy of the dense model, their compression records
  /// appended to `records` — exactly what the record's [[arm]] TOML gives when pasted into a pipeline. Throws when no
  /// configuration passes the gates (the cell fails) or a plugin throws.
  std::unique_ptr<models::TrainableModel> searched_model(const host::ArmSpec& arm, std::int64_t seed,
                                                         nlohmann::json& records, Progress& progress);
  /// The `[search] uniform` arm's model for `seed`: the search's plugin on every searched layer with the one value
  /// whose stored bytes come closest to the searched arm's.
  std::unique_ptr<models::TrainableModel> uniform_model(const host::ArmSpec& arm, std::int64_t seed,
                                                        nlohmann::json& records, Progress& progress);

 private:
  /// The search's record for `seed`, computed once (also for the uniform arm) and stored in the blob "search" of the
  /// searched arm: read back from there on resume.
  const nlohmann::json& search_record(std::int64_t seed, Progress& progress);
  /// One step of the search's plugin on `layers` of `model` at `value`; its record appended to `records` if given.
  void compress_layers(models::TrainableModel& model, const std::string& arm, std::int64_t seed,
                       const std::vector<std::string>& layers, const ParamValue& value, nlohmann::json* records);
  /// critical_class: a class name of the data or a 0-based index; nullopt when empty.
  std::optional<analysis::CriticalClass> critical_class(const std::string& text) const;

  RunParts parts_;
  std::function<bool(std::int64_t)> seed_filter_;
  std::map<std::int64_t, nlohmann::json> search_records_;  // by seed
};

}  // namespace compaudit::engine
