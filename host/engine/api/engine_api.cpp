// The engine library's one exported symbol, compaudit_engine_entry, and the two commands behind it: run and export.
// Everything the CLI needs from LibTorch happens here; each function prints its own errors and returns an exit code
// (compaudit/host/exit_codes.h).
#include "api/run_dir.h"
#include "api/input_digests.h"
#include "api/export_target.h"
#include "api/blas_info.h"
#include "batched/slice_gemm.h"
#include "batched/threads.h"
#include "api/scale.h"
#include "data/load.h"
#include "run/executor.h"
#include "run/plugin_check.h"
#include "run/state_io.h"
#include "run/worker.h"

#include <compaudit/error.h>
#include <compaudit/host/engine_api.h>
#include <compaudit/host/exit_codes.h>
#include <compaudit/host/pipeline.h>
#include <compaudit/host/registry.h>
#include <compaudit/host/run_directory.h>
#include <compaudit/models/models.h>
#include <compaudit/report/gates.h>
#include <compaudit/report/report.h>
#include <compaudit/store/store.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

namespace compaudit::engine {
namespace {

int report_error(const char* command, const std::exception& e) {
  fmt::print(stderr, "compaudit {}: {}\n", command, e.what());
  // A plugin that cannot be created is a plugin error whatever it threw (a parameter error, say): exit 3.
  if (dynamic_cast<const host::PluginCreationError*>(&e)) return host::exit_plugin;
  if (const auto* err = dynamic_cast<const Error*>(&e)) return host::exit_code_for(err->code());
  return host::exit_runtime;
}

// Intra-op threads: the request's, else the pipeline's, else one per hardware core. Set before any compute; the
// same count on resume keeps results bitwise identical (the order of parallel sums depends on it).
void set_threads(int threads) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(threads);
  batched::set_blas_threads(threads);  // bits must not depend on core binding (batched/threads.cpp)
}

// Everything needed to use the exported weights outside compaudit, next to them: the architecture, the input shape,
// the class names, and the normalisation the model was trained with (docs/export.md).
void write_export_card(const store::Store& store, const store::Cell& cell, models::TrainableModel& model,
                       const std::string& path) {
  const store::RunInfo info = store.run();
  const auto data = store.data();
  nlohmann::json params = nlohmann::json::array();
  for (const auto& [name, t] : model.named_parameters())
    params.push_back({{"name", name}, {"shape", t.sizes().vec()}, {"bits", model.storage_bits(name)}});
  nlohmann::json card = {{"format", "compaudit.export/1"},
                         {"run", info.name},
                         {"arm", cell.arm},
                         {"seed", cell.seed},
                         {"architecture", model.architecture()},
                         {"model", info.settings.value("model", nlohmann::json::object())},
                         {"input_shape", data ? data->input_shape : std::vector<std::int64_t>{}},
                         {"class_names", data ? data->class_names : std::vector<std::string>{}},
                         {"normalization", info.settings.value("normalization", nlohmann::json::object())},
                         {"parameters", params},
                         {"compression", cell.records},
                         {"size", cell.size}};
  std::ofstream out(path);
  out << card.dump(2) << '\n';
  if (!out) throw Error(ErrorCode::io, "cannot write the export card", {path});
}

int run(const host::RunRequest& request) {
  if (request.mpi) return run_mpi(request, &run);  // scale-out: shard across MPI ranks, merge at rank 0 (api/mpi_run.cpp)
  try {
    const host::Registry registry = host::Registry::discover(host::SearchPaths::standard(request.plugin_paths));
    if (!request.quiet) {  // a manifest that does not parse is skipped by discovery; say so before it surprises
      for (const auto& w : registry.warnings()) fmt::print(stderr, "compaudit run: warning: {}\n", w);
      for (const auto& e : registry.errors()) fmt::print(stderr, "compaudit run: warning: skipped {}\n", e.what());
    }
    RunPlan plan = plan_run(request, registry);
    const ShardPlan shard = plan_shard(request, registry, plan);  // scale-out: --shard I/N (api/shard.cpp)
    if (!plan.resuming)  // a new run: its directory is new, empty or a run, never a directory of other files
      if (const std::string why = host::run_directory_problem(plan.run_dir); !why.empty())
        throw Error(ErrorCode::io, "cannot start a run here: " + why, {plan.run_dir});
    set_threads(plan.threads);
    // Fail before work (run/plugin_check.h): every plugin is created before any data is loaded, model trained or
    // store created — in a worker process when cells run isolated, so a plugin that crashes in create() fails only
    // that worker. Exit 3 with one message when any cannot be created.
    IsolationSettings iso;
    const bool isolated = resolve_isolation(request, plan.pipeline, registry, plan.run_dir, at::get_num_threads(), iso);
    create_plugins_before_work(plan.pipeline, registry, isolated ? &iso : nullptr);
    const std::string blas = blas_description();  // provenance: the BLAS kernels in use (api/blas_info.h)
    const std::string gemm = batched::gemm_description();  // and the stacked MLPs' products (batched/slice_gemm.h)
    at::globalContext().setDeterministicAlgorithms(true, /*warn_only=*/true);
    if (!request.quiet)
      fmt::print(stderr, "compaudit run: {} {} -> {} ({} thread{}, BLAS {})\n",
                 plan.resuming ? "resuming" : "running", plan.pipeline.name, plan.run_dir, at::get_num_threads(),
                 at::get_num_threads() == 1 ? "" : "s", blas);
    // Resume must not mix results of old and new inputs (api/input_digests.h): checked before the data is loaded.
    const nlohmann::json inputs = input_digests(plan.pipeline, registry);
    if (plan.resuming) check_input_digests(store::Store::open(plan.run_dir, store::Store::Access::read_only), inputs);
    const DataSplits data = load_data(plan.pipeline.data, pipeline_dir(plan.pipeline));
    check_run_inputs(plan.pipeline, data);  // saved predictions, training data: before the store is created
    store::Store store = plan.resuming ? store::Store::open(plan.run_dir) : store::Store::create(plan.run_dir, plan.info);
    ExecuteOptions options;
    options.quiet = request.quiet;
    options.chains = request.chains;
    options.hooks = request.test_hooks;  // tests only: never set by the `compaudit` executable
    options.retry_failed = request.retry_failed;
    apply_shard(shard, options);  // scale-out: the shard's seeds only, no metrics
    options.extra_settings["blas"] = blas;   // provenance: recorded with the run's settings (docs/engine.md)
    options.extra_settings["gemm"] = gemm;
    options.extra_settings["inputs"] = inputs;  // recorded when the run is described
    if (plan.resuming) {  // a resume under other kernels mixes last bits: say so
      note_kernel_change(store, "blas", blas, plan.pipeline.memorization.enabled);
      note_kernel_change(store, "gemm", gemm, plan.pipeline.memorization.enabled);
    }
    if (isolated) enable_isolation(options, iso, store);  // cells in `compaudit worker` processes (run/worker.h)
    const ExecuteResult result = execute(plan.pipeline, registry, data, store, options);
    if (result.stopped) {
      if (!request.quiet)
        fmt::print(stderr, "compaudit run: stopped after {} cells (test hook stop_after_cells); continue with "
                           "`compaudit run --resume {}`\n", options.hooks.stop_after_cells, plan.run_dir);
      return host::exit_ok;
    }
    if (shard.active) return finish_shard(shard, plan, result, request.quiet);  // scale-out: merge reports
    const int report_rc = report::build_reports(plan.run_dir, plan.pipeline.report.formats,
                                                request.quiet ? std::cerr : std::cout);
    if (report_rc != 0) return report_rc == 2 ? host::exit_usage : host::exit_io;
    // Gates (docs/gates.md) before failed cells: a failed cell fails the gates that need it, and a CI step must
    // see "gate failed" whatever the reason.
    if (const auto gates = report::evaluate_gates(store::Store::open(plan.run_dir, store::Store::Access::read_only));
        !gates.value("passed", true)) {
      fmt::print(stderr, "compaudit run: {} of {} gate checks failed (the summary lists them; `compaudit check {}` "
                         "repeats the decision)\n", gates.value("failed", 0), gates.value("count", 0), plan.run_dir);
      return host::exit_gate_failed;
    }
    if (result.cells_failed > 0) {
      fmt::print(stderr, "compaudit run: {} of {} cells failed (see the report)\n", result.cells_failed,
                 result.cells_total);
      return host::exit_cells_failed;
    }
    return host::exit_ok;
  } catch (const std::exception& e) {
    return report_error("run", e);
  }
}

int export_model(const host::ExportRequest& request) {
  try {
    set_threads(1);
    check_export_target(request.run_dir, request.output);  // never over the run's own store, lock or reports
    const store::Store store = store::Store::open(request.run_dir, store::Store::Access::read_only);
    const auto cell = store.cell(request.arm, request.seed);
    if (!cell)
      throw Error(ErrorCode::pipeline, fmt::format("run {} has no cell {} seed {}", request.run_dir, request.arm,
                                                   request.seed));
    if (cell->status != store::CellStatus::done)
      throw Error(ErrorCode::runtime, fmt::format("cell {} seed {} is {}, not done", request.arm, request.seed,
                                                  store::to_string(cell->status)));
    const auto state = store.blob(request.arm, request.seed, "state");
    if (!state) {
      const auto saved = store.run().settings.value("saved_predictions", nlohmann::json::object());
      if (saved.contains(request.arm) || (request.arm == "dense" && store.run().settings["model"].value("arch", "") == "predictions"))
        throw Error(ErrorCode::pipeline, fmt::format("arm {} was given as saved predictions: there is no model to "
                                                     "export", request.arm));
      throw Error(ErrorCode::io, "the store holds no model state for this cell");
    }
    auto model = rebuild_model(store, request.seed);
    model->load_state(decode_state(*state));
    const std::filesystem::path out(request.output);
    if (out.has_parent_path()) std::filesystem::create_directories(out.parent_path());
    write_atomically(request.output, [&](const std::string& tmp) { model->save(tmp); });
    write_atomically(request.output + ".json",
                     [&](const std::string& tmp) { write_export_card(store, *cell, *model, tmp); });
    fmt::print(stderr, "compaudit export: {} seed {} ({}) -> {}\n", request.arm, request.seed,
               model->architecture(), request.output);
    return host::exit_ok;
  } catch (const std::exception& e) {
    return report_error("export", e);
  }
}

int merge(const host::MergeRequest& request) { return merge_runs(request, &run); }  // scale-out (api/merge_run.cpp)

// validate --load (compaudit/host/plugin_check.h): every plugin of the pipeline created in this process.
std::vector<host::PluginCreationFailure> create_plugins_now(const host::Pipeline& pipeline,
                                                            const host::Registry& registry) {
  return create_plugins(pipeline, registry);
}

const host::EngineApi kApi{host::COMPAUDIT_ENGINE_API_VERSION, &run, &export_model, &merge,
                           &run_worker,  // isolation: `compaudit worker` (run/worker_cell.cpp)
                           &create_plugins_now};

}  // namespace
}  // namespace compaudit::engine

/// The engine's entry point: a static function table (never null, lives as long as the library).
extern "C" __attribute__((visibility("default"))) const compaudit::host::EngineApi* compaudit_engine_entry() {
  return &compaudit::engine::kApi;
}
