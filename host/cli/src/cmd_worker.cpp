// `compaudit worker` — internal, hidden: computes one cell of a run for the host that started it, or creates every
// plugin of a pipeline before an isolated run starts (--check-plugins; docs/isolation.md).
//
// The host (`compaudit run` in isolation mode) starts this as a new process with posix_spawn and waits; it holds the
// run lock, so the engine opens the store with Access::worker_of_lock_holder. Everything that must hold for the
// whole life of the worker is set here, before the engine — LibTorch and the plugins — is loaded:
//   * the memory limit (RLIMIT_AS, soft and hard, so a plugin cannot raise it). posix_spawn has no hook between
//     fork and exec, and this front end does not link LibTorch, so this is the same moment in the process's life;
//   * a new-handler that ends the process with COMPAUDIT_WORKER_EXIT_OUT_OF_MEMORY when operator new fails under
//     the limit (unwinding out of an exhausted heap helps nobody; the host records "out of memory");
//   * PR_SET_PDEATHSIG: when the host dies (kill -9), the worker is killed too, so it never writes into a run that
//     a later `--resume` owns.
#include "commands.h"

#include <compaudit/host/engine_api.h>
#include <compaudit/host/exit_codes.h>

#include <fmt/format.h>

#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <new>

namespace compaudit::cli {
namespace {

[[noreturn]] void out_of_memory() {
  static const char message[] = "compaudit worker: out of memory (operator new failed under the worker's limit)\n";
  (void)!::write(2, message, sizeof message - 1);
  ::_exit(host::COMPAUDIT_WORKER_EXIT_OUT_OF_MEMORY);
}

struct WorkerArgs {
  host::WorkerRequest request;
  std::int64_t memory_mb = 0;
  long parent_pid = 0;
};

int worker(const Context& context, WorkerArgs args) {
  // Die with the host. The check after the prctl closes the window in which the host died before it was set.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (args.parent_pid > 0 && ::getppid() != args.parent_pid) {
    std::fputs("compaudit worker: the host that started this worker is gone\n", stderr);
    return host::exit_runtime;
  }
  if (args.memory_mb > 0) {
    const rlim_t bytes = static_cast<rlim_t>(args.memory_mb) * 1024 * 1024;
    const rlimit limit{bytes, bytes};
    if (::setrlimit(RLIMIT_AS, &limit) != 0) std::perror("compaudit worker: setrlimit(RLIMIT_AS)");
  }
  std::set_new_handler(&out_of_memory);
  args.request.plugin_paths = context.plugin_paths;
  const host::EngineApi* api = open_engine();
  if (!api) return host::exit_engine;
  if (!api->worker) {
    std::fputs("compaudit worker: this engine has no worker entry\n", stderr);
    return host::exit_engine;
  }
  return api->worker(args.request);
}

}  // namespace

std::string self_executable() {
  std::error_code ec;
  const auto path = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : path.string();
}

void add_worker_command(CLI::App& app, Context& context) {
  CLI::App* cmd = app.add_subcommand("worker", "Internal: compute one cell for the host that started this process");
  cmd->group("");  // hidden from --help: users never start it
  auto args = std::make_shared<WorkerArgs>();
  // A cell (--run-dir, --arm, --seed), or the plugin check that precedes every isolated run (--check-plugins).
  cmd->add_option("--run-dir", args->request.run_dir, "Run directory (its host holds the lock)");
  cmd->add_option("--arm", args->request.arm, "Arm of the cell");
  cmd->add_option("--seed", args->request.seed, "Seed of the cell");
  cmd->add_option("--check-plugins", args->request.check_plugins,
                  "Instead of a cell: create every plugin of this pipeline, exit 3 when one cannot be created");
  cmd->add_option("--threads", args->request.threads, "LibTorch threads (the host's count)")
      ->check(CLI::Range(0, 1024));
  cmd->add_option("--memory-mb", args->memory_mb, "Address-space limit in MiB (0: none)")
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{1} << 30));  // MiB -> bytes must not overflow
  cmd->add_option("--parent-pid", args->parent_pid, "PID of the host; the worker refuses to run without it");
  add_plugin_path_option(*cmd, context);
  cmd->callback([&context, args] {
    if (args->request.check_plugins.empty() && (args->request.run_dir.empty() || args->request.arm.empty()))
      throw CLI::RequiredError("--run-dir, --arm and --seed (or --check-plugins PIPELINE)");
    const int rc = worker(context, *args);
    // Skip static destructors: LibTorch's and the plugins' teardown can only fail a cell that is already committed.
    std::fflush(stdout);
    std::fflush(stderr);
    ::_exit(rc);
  });
}

}  // namespace compaudit::cli
