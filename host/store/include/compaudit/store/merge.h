// compaudit/store/merge.h — scale-out at the store level (no LibTorch): joining the stores of a sharded run, and
// moving a store between machines as bytes. The engine computes what needs every cell afterwards (metrics, and
// memorization when no shard has it); see docs/scaling.md.
//
// A shard store is an ordinary results store whose settings carry {"shard": {"index": I, "count": N, "seeds": [...]}}
// and whose cells table holds only the shard's cells (every arm of the shard's seeds). merge_stores() checks that the
// stores describe the same run — pipeline text, settings (paths aside), arms, data and splits — and that together
// they hold every cell of the run exactly once, each done or failed; then it creates a new store with everything the
// shards computed (cells, predictions, model states, memorization, log) and no metrics.
#pragma once

#include <compaudit/store/records.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace compaudit::store {

struct MergeSummary {
  int stores = 0;             ///< shard stores joined
  int cells = 0;              ///< cells in the merged store (= every cell of the run)
  int done = 0, failed = 0;
  bool memorization = false;  ///< a shard had the memorization scores (copied)
};

/// Joins the stores in `shard_dirs` into a new store in `out_dir` (created; an existing store there is refused).
/// Every shard store is locked (as a writer would) while it is read, so a shard still running is refused.
/// Throws compaudit::Error naming the offending store:
///   io        — a store is missing or unreadable, is in use, or out_dir already holds a store;
///   pipeline  — the stores are of different runs (pipeline text, settings, arms, data), a shard is not finished
///               (pending or running cells), two stores hold the same cell, or cells of the run are in no store.
/// Built in out_dir/.merging and renamed into place when complete: on failure, or if killed, no store is left in
/// out_dir.
COMPAUDIT_STORE_API MergeSummary merge_stores(const std::string& out_dir, const std::vector<std::string>& shard_dirs);

/// The run settings without what is specific to one shard or one machine ("shard", "pipeline_dir", "model.path",
/// "blas"): what two stores of the same run must agree on.
COMPAUDIT_STORE_API nlohmann::json comparable_settings(nlohmann::json settings);

/// The store of `run_dir` as the bytes of one self-contained SQLite file (its write-ahead log folded in), e.g. to
/// send it to another machine. The store must not be open for writing elsewhere (Error(io) otherwise).
COMPAUDIT_STORE_API std::vector<std::uint8_t> store_snapshot(const std::string& run_dir);

/// Writes snapshot bytes as `<run_dir>/results.sqlite` (creating run_dir, replacing a store there) and checks that
/// the result opens as a compaudit store. Throws Error(io).
COMPAUDIT_STORE_API void write_store_snapshot(const std::string& run_dir, const std::vector<std::uint8_t>& bytes);

}  // namespace compaudit::store
