// `compaudit merge OUT_DIR SHARD_DIR...`: the store-level merge (compaudit/store/merge.h, no LibTorch), then the
// phases that need every cell, through the ordinary resume path — so the merged run's metrics and report are computed
// by the same code, with the same thread count, as a single-machine run's.
#include "api/scale.h"

#include <compaudit/error.h>
#include <compaudit/host/exit_codes.h>
#include <compaudit/store/merge.h>

#include <fmt/format.h>

namespace compaudit::engine {

int merge_runs(const host::MergeRequest& request, RunFn run) {
  try {
    if (request.out_dir.empty()) throw Error(ErrorCode::pipeline, "merge needs an output directory");
    const store::MergeSummary summary = store::merge_stores(request.out_dir, request.shard_dirs);
    if (!request.quiet)
      fmt::print(stderr, "compaudit merge: {} stores -> {}: {} cells ({} done, {} failed){}; computing the metrics\n",
                 summary.stores, request.out_dir, summary.cells, summary.done, summary.failed,
                 summary.memorization ? ", memorization scores" : "");
  } catch (const std::exception& e) {
    fmt::print(stderr, "compaudit merge: {}\n", e.what());
    if (const auto* err = dynamic_cast<const Error*>(&e)) return host::exit_code_for(err->code());
    return host::exit_runtime;
  }
  // Every cell is done or failed: resuming computes memorization (if no shard had it), metrics and the reports.
  host::RunRequest finish;
  finish.resume = true;
  finish.run_dir = request.out_dir;
  finish.pipeline_path = request.pipeline_path;
  finish.plugin_paths = request.plugin_paths;
  finish.threads = request.threads;
  finish.quiet = request.quiet;
  const int rc = run(finish);
  if (rc != host::exit_ok && rc != host::exit_cells_failed)
    fmt::print(stderr, "compaudit merge: the shards are merged in {}; finish it with `compaudit run --resume {}`\n",
               request.out_dir, request.out_dir);
  return rc;
}

}  // namespace compaudit::engine
