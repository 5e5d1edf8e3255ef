// host/engine/analysis/attribution.h — which layers of a compressed model caused its damage (docs/attribution.md).
#pragma once

#include "data/dataset.h"

#include <compaudit/models/models.h>

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace compaudit::engine::analysis {

struct CriticalClass {
  int index = 0;
  std::string name;
};

/// Attribution of `compressed`'s damage to its layers, on `split` (examples whose targets are known), against
/// `reference` (the dense model it was made from). For each changed layer l (changed_layers): the outcome when l
/// alone is compressed ("only") and when every changed layer but l is ("all_but"), l's output error on the
/// reference's activations and its weight error, and `examples` of the examples l alone flips (largest drop of the
/// true class's probability first). harm_l = (D(only l) + D(all) - D(all but l)) / (2 D(all)), D = damage()
/// (the critical class's negative flips, else all negative flips): the mean of l's effect added alone and removed
/// alone, as a share of the whole; null when D(all) = 0. Layers are listed most harmful first.
/// 2L + 3 evaluations of the split for L changed layers (two per layer, the reference, the model with every change
/// and the arm's own model), plus one pass for the output errors; nothing is trained. Returns the "attribution" record of
/// /work/team/issue17.md without arm, seed and reference (the caller adds them). Throws Error(runtime) when a layer
/// changed shape. Thread: the calling one; models are copied, not changed.
nlohmann::json attribute(models::TrainableModel& reference, models::TrainableModel& compressed, const Dataset& split,
                         std::optional<CriticalClass> critical, int examples);

}  // namespace compaudit::engine::analysis
