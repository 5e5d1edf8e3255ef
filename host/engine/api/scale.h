// host/engine/api/scale.h — scale-out (docs/scaling.md): `run --shard I/N`, `merge`, `run --mpi`.
//
// Sharding rule: the seeds of the population are dealt round-robin by their position p in the pipeline's seed list:
// shard I computes every cell (all arms) of the seeds with p % N == I. A non-dense cell needs only the dense model of
// its own seed, so no shard needs another's output. Shard 0 also computes the memorization phase (when configured);
// no shard computes metrics, which need every cell: `compaudit merge` does (as `run --resume` does once all cells are
// done). With N > number of seeds, shards I >= number of seeds have no cells: they only describe the run, and merge
// accepts their (empty) stores.
#pragma once

#include "api/run_dir.h"
#include "run/executor.h"

#include <compaudit/host/engine_api.h>

#include <cstdint>
#include <vector>

namespace compaudit::host {
class Registry;
}

namespace compaudit::engine {

struct ShardPlan {
  bool active = false;
  int index = 0, count = 0;
  std::vector<std::int64_t> seeds;  ///< this shard's seeds, in pipeline order
};

/// The seeds of shard index/count: positions p with p % count == index.
std::vector<std::int64_t> shard_seeds(const std::vector<std::int64_t>& seeds, int index, int count);

/// Checks 0 <= index < count; throws Error(pipeline) "--shard I/N: ..." otherwise.
void check_shard(int index, int count);

/// Resolves the shard of a planned run. `run --shard I/N` without -o computes into <run_dir>/shards/I-of-N (so plan
/// is re-resolved for that directory); with -o, -o is the shard's own run directory. A run directory that holds a
/// shard store stays that shard (resume needs no --shard); a different --shard for it is refused. Records the
/// shard in plan.info.settings so a shard killed at any point resumes as the same shard.
ShardPlan plan_shard(const host::RunRequest& request, const host::Registry& registry, RunPlan& plan);

/// Restricts execution to the shard: its seeds, memorization only on shard 0, no metrics.
void apply_shard(const ShardPlan& shard, ExecuteOptions& options);

/// The end of a shard run (no report: a shard has no metrics): a summary line, exit 0 or 1 (some cells failed).
int finish_shard(const ShardPlan& shard, const RunPlan& plan, const ExecuteResult& result, bool quiet);

using RunFn = int (*)(const host::RunRequest&);

/// `compaudit merge`: store-level merge (compaudit/store/merge.h), then `run` resumed on the merged store, which
/// computes what needs every cell (memorization if no shard has it, metrics) and writes the reports.
int merge_runs(const host::MergeRequest& request, RunFn run);

/// `compaudit run --mpi`: rank r of N runs shard r/N, ranks send their store's bytes to rank 0, which merges them
/// into the run directory and writes the report. Opens libcompaudit_mpi.so (dlopen) first.
int run_mpi(const host::RunRequest& request, RunFn run);

}  // namespace compaudit::engine
