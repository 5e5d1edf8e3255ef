// host/engine/api/run_dir.h — what a RunRequest means: which pipeline, which run directory, new run or resume.
#pragma once

#include <compaudit/host/engine_api.h>
#include <compaudit/host/pipeline.h>
#include <compaudit/models/models.h>
#include <compaudit/store/store.h>

#include <memory>
#include <string>

namespace compaudit::host {
class Registry;
}

namespace compaudit::engine {

struct RunPlan {
  host::Pipeline pipeline;
  std::string run_dir;    ///< absolute
  bool resuming = false;  ///< open the existing store instead of creating one
  int threads = 0;        ///< intra-op threads to use (0: hardware cores)
  store::RunInfo info;    ///< for a new store
};

/// Resolves a request:
///  * `--resume RUN_DIR`: the pipeline is the one the run was started with (its path is in the store); its text must
///    be unchanged, since a done cell is never recomputed and must stay comparable with the new ones.
///  * a pipeline whose run directory already holds a run of the same pipeline text continues that run (nothing is
///    recomputed); a different pipeline there is refused (Error(io)) rather than mixed into it.
///  * threads: the request's, else the stored run's (resume), else the pipeline's training.threads.
RunPlan plan_run(const host::RunRequest& request, const host::Registry& registry);

/// A fresh model of the stored run's architecture (model settings and data shape come from the store) for `seed`.
std::unique_ptr<models::TrainableModel> rebuild_model(const store::Store& store, std::int64_t seed);

}  // namespace compaudit::engine
