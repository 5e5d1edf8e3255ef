// Worker side of crash isolation (`compaudit worker`, docs/isolation.md): one cell of a run whose host holds the
// run lock and waits. The pipeline, data and thread count are those of the run, exactly as `--resume` sees them,
// and the cell is computed by Executor::run_cell, so its bits equal an in-process run's.
#include "run/worker.h"

#include "api/run_dir.h"
#include "batched/threads.h"
#include "data/load.h"
#include "run/executor_impl.h"
#include "run/plugin_check.h"

#include <compaudit/error.h>
#include <compaudit/host/exit_codes.h>
#include <compaudit/host/registry.h>
#include <compaudit/store/store.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <fmt/format.h>

#include <thread>

namespace compaudit::engine {

bool Executor::run_in_worker(const std::string& arm_name, std::int64_t seed) {
  const auto arm = std::find_if(pipeline_.arms.begin(), pipeline_.arms.end(),
                                [&](const host::ArmSpec& a) { return a.name == arm_name; });
  if (arm == pipeline_.arms.end())
    throw Error(ErrorCode::pipeline, fmt::format("the run has no arm '{}'", arm_name), {pipeline_.path});
  if (std::find(pipeline_.seeds.begin(), pipeline_.seeds.end(), seed) == pipeline_.seeds.end())
    throw Error(ErrorCode::pipeline, fmt::format("the run has no seed {}", seed), {pipeline_.path});
  const auto existing = store_.cell(arm_name, seed);
  if (existing && (existing->status == store::CellStatus::done || existing->status == store::CellStatus::failed))
    return existing->status == store::CellStatus::done;  // committed already: never recomputed
  progress_ = std::make_unique<Progress>(1, 0, /*quiet=*/true);
  options_.isolate_cell = nullptr;  // this process is the worker: compute here
  plugins_.open_libraries(*arm);  // a load failure exits 3, uncommitted: the host stops the run with exit 3
  return run_cell(*arm, seed);
}

int run_worker(const host::WorkerRequest& request) {
  try {
    if (!request.check_plugins.empty()) return check_plugins_here(request);  // fail before work (run/plugin_check.h)
    const host::Registry registry = host::Registry::discover(host::SearchPaths::standard(request.plugin_paths));
    host::RunRequest as_resume;  // the run as `--resume` sees it: stored pipeline (text checked), stored threads
    as_resume.resume = true;
    as_resume.run_dir = request.run_dir;
    as_resume.plugin_paths = request.plugin_paths;
    as_resume.threads = request.threads;
    const RunPlan plan = plan_run(as_resume, registry);
    at::set_num_threads(plan.threads > 0 ? plan.threads
                                         : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
    at::globalContext().setDeterministicAlgorithms(true, /*warn_only=*/true);
    // As the host's run() does for one chain: OpenBLAS ignores at::set_num_threads, and another BLAS thread count
    // changes the order of sums, so the worker's bits would differ from an in-process run's (batched/threads.h).
    batched::set_blas_threads(at::get_num_threads());
    const DataSplits data = load_data(plan.pipeline.data, pipeline_dir(plan.pipeline));
    store::Store store = store::Store::open(plan.run_dir, store::Store::Access::worker_of_lock_holder);
    ExecuteOptions options;
    options.quiet = true;
    Executor executor(plan.pipeline, registry, data, store, options);
    executor.run_in_worker(request.arm, request.seed);
    return host::exit_ok;  // committed, done or failed: the host reads which from the store
  } catch (const std::exception& e) {
    fmt::print(stderr, "compaudit worker: {}\n", e.what());
    if (const auto* err = dynamic_cast<const Error*>(&e)) return host::exit_code_for(err->code());
    return host::exit_runtime;
  }
}

}  // namespace compaudit::engine
