// host/engine/analysis/search.h — class-aware search: per-layer settings of one compressor that compress most while
// gates hold on the validation split (docs/attribution.md). The host supplies the compressed options of each layer
// and the judge; the search only combines, evaluates and ranks, so it can be tested on any model.
#pragma once

#include "analysis/layer_changes.h"
#include "analysis/outcome.h"

#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <vector>

namespace compaudit::engine::analysis {

/// A configuration: for each searchable layer, the index of its value in SearchProblem::values, or values.size()
/// for "left uncompressed".
using Config = std::vector<std::size_t>;

struct SearchProblem {
  const models::TrainableModel* reference = nullptr;  ///< The dense model (not changed)
  std::vector<std::string> layers;                      ///< Searchable layers, model order
  std::vector<nlohmann::json> values;                   ///< Most compression first: numbers or strings (a precision)
  /// The changes that compressing `layer` alone at `value` makes to the reference (usually that layer only; empty
  /// when the value changes nothing). Called at most once per (layer, value); may throw (a plugin's error).
  std::function<std::vector<LayerChange>(std::size_t layer, std::size_t value)> option;
  const at::Tensor* inputs = nullptr;                   ///< The search split (validation), never the test split
  Reference reference_outcome;                          ///< The reference's predictions on it
  /// The gates judged on the candidate's probabilities on the search split: {"results": [{gate, value, passed,
  /// reason, excess}], "passed": bool}, where excess >= 0 says how far the value is outside the gate's bounds
  /// (0 when it passes; the greedy strategy relaxes toward the smallest total). Called once per judged configuration.
  std::function<nlohmann::json(const at::Tensor& probabilities)> judge;
  std::string strategy = "greedy";                      ///< "greedy" | "exhaustive"
  int max_trials = 500;
  /// Called after each trial with (trials so far, the budget): progress.
  std::function<void(int, int)> progress;
};

/// Runs the search. Returns {"trials": [...], "chosen": id or null, "passed": bool, "evaluations", "config"} with
/// trials as in the "search" record (docs/report-json.md): config (layer -> value or null), parameters, nonzeros,
/// bytes, sparse_bytes, stored_bytes (LayerChange stored_bytes summed over all layers: the size the search
/// minimises), accuracy, negative_flip_rate, critical_recall(_change), damage, gates (null when not judged),
/// passed (null when not judged), frontier, note.
///   greedy: start with every layer at values[0]; while the gates fail, judge relaxing each compressed layer by one
///     value (attribution of the gates' failure relative to the current configuration) and keep the relaxation that
///     brings the gates closest to passing (smallest total excess; ties: least damage, then fewest bytes); once they
///     pass, try compressing each layer one value more, keeping every step the gates still pass. At most L x V
///     relaxations of at most L judged probes each.
///   exhaustive: every one of (V + 1)^L configurations judged (refused beyond max_trials).
/// The chosen configuration is the judged, passing one with the fewest stored bytes (ties: less damage).
/// Throws Error(pipeline) when exhaustive would exceed max_trials; a plugin's error from `option` propagates.
nlohmann::json search(const SearchProblem& problem);

/// The Pareto frontier of `trials` (objects with stored_bytes, negative_flip_rate and critical_recall — accuracy when
/// critical_recall is null): a trial is on it when no other is at least as good in all three and better in one.
/// Returns one flag per trial. O(n^2).
std::vector<bool> pareto_frontier(const nlohmann::json& trials);

}  // namespace compaudit::engine::analysis
