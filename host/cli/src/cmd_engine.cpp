// `compaudit run` and `compaudit export` — the only commands that need LibTorch. They open
// <host_library_dir()>/libcompaudit_engine.so with Boost.DLL, check its API version and call through EngineApi
// (compaudit/host/engine_api.h). The engine is never unloaded: LibTorch does not support being unloaded.
#include "commands.h"

#include <compaudit/host/engine_api.h>
#include <compaudit/host/exit_codes.h>
#include <compaudit/host/pipeline.h>
#include <compaudit/host/registry.h>

#include <boost/dll/shared_library.hpp>
#include <fmt/format.h>

#include <dlfcn.h>

#include <iostream>

namespace compaudit::cli {
using EngineEntry = const host::EngineApi*();

// Opens the engine or prints why not; null on failure. (Not in the anonymous namespace: cmd_worker.cpp uses it.)
const host::EngineApi* open_engine() {
  const std::string path = host::host_library_dir() + "/libcompaudit_engine.so";
  static boost::dll::shared_library engine;  // kept loaded until exit
  boost::dll::fs::error_code ec;
  ::dlerror();
  engine.load(boost::dll::fs::path(path), boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local, ec);
  if (ec || !engine.is_loaded()) {
    const char* why = ::dlerror();
    std::cerr << fmt::format("compaudit: cannot open the engine {}: {}\n", path, why ? why : ec.message());
    return nullptr;
  }
  if (!engine.has(COMPAUDIT_ENGINE_ENTRY_NAME)) {
    std::cerr << fmt::format("compaudit: {} has no entry point {}\n", path, COMPAUDIT_ENGINE_ENTRY_NAME);
    return nullptr;
  }
  const host::EngineApi* api = engine.get<EngineEntry>(COMPAUDIT_ENGINE_ENTRY_NAME)();
  if (!api || api->version != host::COMPAUDIT_ENGINE_API_VERSION) {
    std::cerr << fmt::format("compaudit: engine {} has API version {}, this front end needs {}\n", path,
                             api ? api->version : -1, host::COMPAUDIT_ENGINE_API_VERSION);
    return nullptr;
  }
  return api;
}

namespace {

int run(const Context& context, host::RunRequest request) {
  request.plugin_paths = context.plugin_paths;
  request.worker_executable = self_executable();  // isolation: workers are new processes of this executable
  if (!request.resume) {
    // Validate before paying for LibTorch's start-up: a typo fails in milliseconds.
    const host::Registry registry = host::Registry::discover(host::SearchPaths::standard(context.plugin_paths));
    host::load_pipeline(request.pipeline_path, registry);
  }
  const host::EngineApi* api = open_engine();
  if (!api) return host::exit_engine;
  return api->run(request);
}

// A cell timeout or memory limit can only be enforced on a worker process (docs/isolation.md), so asking for one
// asks for isolation: without --isolate (or with auto) cells run in workers; with --isolate none it is a usage error
// rather than a limit silently not applied.
void require_isolation_for_limits(host::RunRequest& r) {
  const char* limit = r.cell_timeout > 0 ? "--cell-timeout" : r.cell_memory_mb > 0 ? "--cell-memory" : nullptr;
  if (!limit) return;
  if (r.isolation == "none")
    throw CLI::ValidationError(limit, "a cell limit is enforced only in worker processes; it cannot be combined "
                                      "with --isolate none (docs/isolation.md)");
  if (r.isolation != "process" && !r.quiet)
    std::cerr << fmt::format("compaudit run: {} runs every cell in a worker process (isolation process), where the "
                             "limit is enforced\n", limit);
  r.isolation = "process";
}

int export_model(const Context& context, host::ExportRequest request) {
  request.plugin_paths = context.plugin_paths;
  const host::EngineApi* api = open_engine();
  if (!api) return host::exit_engine;
  return api->export_model(request);
}
}  // namespace

void add_engine_commands(CLI::App& app, Context& context) {
  CLI::App* run_cmd = app.add_subcommand("run", "Run an audit pipeline (or --resume an interrupted run)");
  auto request = std::make_shared<host::RunRequest>();
  auto resume_dir = std::make_shared<std::string>();
  run_cmd->add_option("PIPELINE", request->pipeline_path, "Pipeline file (TOML); not needed with --resume");
  run_cmd->add_option("--resume", *resume_dir, "Continue the run in RUN_DIR; finished cells are not recomputed");
  run_cmd->add_option("-o,--output", request->run_dir, "Run directory (default: the pipeline's [audit] output)");
  run_cmd->add_option("--threads", request->threads,
                      "Cores to use: chains of cells in parallel for batchable MLPs, else LibTorch threads "
                      "(0: the pipeline's setting; at most 1024, as the pipeline's key; docs/performance.md)")
      ->check(CLI::Range(0, 1024));
  run_cmd->add_option("--chains", request->chains,
                      "Chains of cells computed in parallel where cells batch (built-in MLP / CNN, in process); "
                      "0: one per thread; 1: every thread inside one chain. Changes no result (docs/performance.md)")
      ->check(CLI::Range(0, 1024));
  run_cmd->add_flag("-q,--quiet", request->quiet, "No progress output");
  run_cmd->add_flag("--retry-failed", request->retry_failed,
                    "With --resume: compute failed cells again, also those a plugin failed (docs/isolation.md)");
  add_scale_options(*run_cmd, request);  // scale-out: --shard I/N, --mpi (cmd_merge.cpp, docs/scaling.md)
  // isolation (docs/isolation.md): each overrides the pipeline's [run] key of the same meaning
  run_cmd->add_option("--isolate", request->isolation,
                      "Run each cell in a worker process: process|none|auto (default: the pipeline's [run] "
                      "isolation, else auto = when a plugin is not built in)")
      ->check(CLI::IsMember({"process", "none", "auto"}));
  // The same bounds as the pipeline's [run] keys (pipeline_run.cpp); 2^30 MiB keeps MiB -> bytes far from overflow.
  run_cmd->add_option("--cell-timeout", request->cell_timeout,
                      "Seconds a worker may take for one cell, start-up included (0: no limit; at most 86400). "
                      "Runs cells in worker processes: a limit is enforced only there")
      ->check(CLI::Range(0.0, 86400.0));
  run_cmd->add_option("--cell-memory", request->cell_memory_mb,
                      "Address-space limit of a worker in MiB (0: the machine's memory; else 1024 to 1073741824). "
                      "Runs cells in worker processes: a limit is enforced only there")
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{1} << 30));
  add_plugin_path_option(*run_cmd, context);
#ifdef COMPAUDIT_TEST_HOOKS
  // Only in the test build's `compaudit-testhooks` (host/cli/CMakeLists.txt), never in `compaudit`: the engine's
  // test hooks (host::TestHooks) for tests that drive the CLI as a process. Hidden from --help.
  run_cmd->add_option("--test-stop-after-cells", request->test_hooks.stop_after_cells,
                      "Stop as if killed after N cells computed")->group("");
  run_cmd->add_option("--test-metric-delay-ms", request->test_hooks.metric_delay_ms,
                      "Pause before each metric result is stored")->group("")->check(CLI::NonNegativeNumber);
#endif
  run_cmd->callback([&context, request, resume_dir] {
    host::RunRequest r = *request;
    if (!resume_dir->empty()) {
      r.resume = true;
      r.run_dir = *resume_dir;
    } else if (r.pipeline_path.empty()) {
      throw CLI::RequiredError("PIPELINE (or --resume RUN_DIR)");
    }
    require_isolation_for_limits(r);
    context.exit_code = run(context, r);
  });

  CLI::App* export_cmd = app.add_subcommand("export", "Write one compressed model of a run in a form PyTorch loads");
  auto ex = std::make_shared<host::ExportRequest>();
  export_cmd->add_option("RUN_DIR", ex->run_dir, "Run directory")->required();
  export_cmd->add_option("--arm", ex->arm, "Arm name, e.g. prune@sparsity=0.9")->required();
  export_cmd->add_option("--seed", ex->seed, "Seed of the model in the population")->required();
  export_cmd->add_option("-o,--output", ex->output, "Output file")->required();
  add_plugin_path_option(*export_cmd, context);
  export_cmd->callback([&context, ex] { context.exit_code = export_model(context, *ex); });
}

}  // namespace compaudit::cli
