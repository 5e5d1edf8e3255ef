// host/engine/api/input_digests.h — SHA-256 of every file a run's results depend on besides the pipeline text (whose
// text the store keeps): the data files (an image folder: its files), the TorchScript model or checkpoints, saved
// predictions, the library of every plugin the pipeline uses.
//
// Recorded in the run's settings ("inputs") when the run is described; `run --resume` (and a `run` that continues an
// existing run) recomputes them and refuses to mix results of old and new contents. Entries are keyed by their role
// ("data file train", "TorchScript model",
// "plugin library org.compaudit.prune.magnitude"), not by path, so a merged run checks the files of
// the machine it runs on (docs/cli.md#run-export).
#pragma once

#include <compaudit/host/pipeline.h>

#include <nlohmann/json.hpp>

namespace compaudit::host {
class Registry;
}
namespace compaudit::store {
class Store;
}

namespace compaudit::engine {

/// [{"role", "file", "sha256"}...] for `pipeline` (data and model paths are absolute once validated). A directory
/// (an image folder) is digested as the sorted list of its files' relative paths and digests.
nlohmann::json input_digests(const host::Pipeline& pipeline, const host::Registry& registry);

/// Compares `current` (input_digests now) with what the run recorded; Error(data) naming the first file whose
/// contents changed or that is gone (exit 4). A run recorded before digests existed has none: nothing to compare.
void check_input_digests(const store::Store& store, const nlohmann::json& current);

}  // namespace compaudit::engine
