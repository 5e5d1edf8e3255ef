// Host side of crash isolation: start a `compaudit worker` per cell, wait with a timeout, record how it ended.
// See worker.h and docs/isolation.md.
#include "run/worker.h"

#include "run/executor_impl.h"
#include "run/plugin_check.h"

#include <compaudit/error.h>
#include <compaudit/host/exit_codes.h>
#include <compaudit/host/plugin_check.h>
#include <compaudit/host/registry.h>
#include <compaudit/store/store.h>

#include <fmt/format.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

extern char** environ;

namespace compaudit::engine {
namespace fs = std::filesystem;

namespace {

// The machine's physical memory in MiB: the default worker limit. A runaway plugin then fails its cell instead of
// pushing the machine into swap or waking the kernel's OOM killer, which may pick the host.
std::int64_t physical_memory_mb() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return 16384;
  return static_cast<std::int64_t>(pages) * page / (1024 * 1024);
}

bool is_executable(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec) && ::access(p.c_str(), X_OK) == 0;
}

// The compaudit executable to start workers with: the request's (the CLI passes /proc/self/exe), else this process
// if it is compaudit, else the one installed beside the host library (<prefix>/lib[/<triplet>] -> <prefix>/bin).
std::string find_executable(const host::RunRequest& request) {
  if (!request.worker_executable.empty()) return request.worker_executable;
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec && self.filename() == "compaudit") return self.string();
  const fs::path lib = host::host_library_dir();
  for (const fs::path& p : {lib / ".." / "bin" / "compaudit", lib / ".." / ".." / "bin" / "compaudit"})
    if (is_executable(p)) return fs::canonical(p, ec).string();
  return {};
}

bool in_dir(const std::string& file, const std::string& dir) {
  std::error_code ec1, ec2;
  const fs::path a = fs::canonical(fs::path(file).parent_path(), ec1), b = fs::canonical(dir, ec2);
  return !ec1 && !ec2 && a == b;
}

// The first plugin a cell runs that is not built in (its library is not in the built-in plugin directory), or "".
// Metrics run in the host after the cells, so only compressors and the augmentation policy count.
std::string first_foreign_plugin(const host::Pipeline& pipeline, const host::Registry& registry) {
  const std::string builtin = host::builtin_plugin_dir();
  std::vector<std::string> ids;
  for (const auto& arm : pipeline.arms)
    for (const auto& step : arm.steps) ids.push_back(step.plugin);
  if (pipeline.search.enabled) ids.push_back(pipeline.search.plugin);  // the [search] arm's compressor
  if (pipeline.augmentation) ids.push_back(pipeline.augmentation->plugin);
  for (const auto& id : ids) {
    const host::Manifest* m = registry.find(id);
    if (!m || !in_dir(m->library, builtin)) return id;
  }
  return {};
}

std::string tail_of(const std::string& path, std::size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (text.size() > max_bytes) text = "..." + text.substr(text.size() - max_bytes);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// The last non-empty line of a worker's output, to say more than the signal did (an abort's message, ...).
std::string last_line(const std::string& text) {
  const auto nl = text.rfind('\n');
  return nl == std::string::npos ? text : text.substr(nl + 1);
}

bool looks_like_out_of_memory(const std::string& error) {
  for (const char* sign : {"bad_alloc", "not enough memory", "can't allocate memory", "Cannot allocate memory"})
    if (error.find(sign) != std::string::npos) return true;
  return false;
}

std::string seconds_text(double s) { return fmt::format("{:g} s", s); }

// posix_spawn of the worker: a fresh process image, in its own process group (a timeout kills the whole group,
// whatever the plugin started), with default signal handling and an empty signal mask, stdin from /dev/null and
// stdout+stderr into `log_fd`.
pid_t spawn_worker(const std::vector<std::string>& args, int log_fd) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t files;
  posix_spawnattr_t attr;
  ::posix_spawn_file_actions_init(&files);
  ::posix_spawn_file_actions_addopen(&files, 0, "/dev/null", O_RDONLY, 0);
  ::posix_spawn_file_actions_adddup2(&files, log_fd, 1);
  ::posix_spawn_file_actions_adddup2(&files, log_fd, 2);
  ::posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  ::posix_spawnattr_setsigmask(&attr, &none);
  ::posix_spawnattr_setsigdefault(&attr, &all);
  ::posix_spawnattr_setpgroup(&attr, 0);
  ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, argv[0], &files, &attr, argv.data(), environ);
  ::posix_spawn_file_actions_destroy(&files);
  ::posix_spawnattr_destroy(&attr);
  if (rc != 0)
    throw Error(ErrorCode::runtime, fmt::format("cannot start the worker {}: {}", args[0], std::strerror(rc)));
  return pid;
}

struct Ending {
  int status = 0;
  bool timed_out = false;
};

// Waits for the worker, killing its process group when the timeout passes. Polls (a few ms) rather than blocking,
// so the timeout needs no signal handler or extra thread in a process full of LibTorch threads.
Ending wait_for(pid_t pid, double timeout_seconds) {
  Ending end;
  const auto t0 = std::chrono::steady_clock::now();
  auto pause = std::chrono::milliseconds(2);
  for (;;) {
    const pid_t r = ::waitpid(pid, &end.status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR)
      throw Error(ErrorCode::runtime, fmt::format("waiting for worker {} failed: {}", pid, std::strerror(errno)));
    if (timeout_seconds > 0 &&
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() >= timeout_seconds) {
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, &end.status, 0) < 0 && errno == EINTR) {
      }
      end.timed_out = true;
      break;
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(50));
  }
  ::kill(-pid, SIGKILL);  // anything the worker started and left behind goes with it (ESRCH when nothing)
  return end;
}

struct Finished {
  Ending end;
  std::string output;  ///< the last bytes it printed (stdout and stderr)
};

// Starts `compaudit worker WHAT... --threads --memory-mb --parent-pid --plugin-path...` and waits for it with the
// timeout. Its output goes to a new file made from `log_path` (ends in "XXXXXX.log"), read back (the last `keep`
// bytes) and removed: a pipe would need a reader thread, and a worker that fills it would block and look hung.
Finished run_worker_process(const IsolationSettings& settings, const std::vector<std::string>& what,
                            std::string log_path, std::size_t keep) {
  std::vector<std::string> args{settings.executable, "worker"};
  args.insert(args.end(), what.begin(), what.end());
  for (const std::string& a : {std::string("--threads"), std::to_string(settings.threads), std::string("--memory-mb"),
                               std::to_string(settings.memory_mb), std::string("--parent-pid"),
                               std::to_string(::getpid())})
    args.push_back(a);
  for (const auto& p : settings.plugin_paths) {
    args.push_back("--plugin-path");
    args.push_back(p);
  }
  const int log_fd = ::mkostemps(log_path.data(), 4, O_CLOEXEC);
  if (log_fd < 0)
    throw Error(ErrorCode::io, fmt::format("cannot create a worker log: {}", std::strerror(errno)), {log_path});
  Finished done;
  try {
    const pid_t pid = spawn_worker(args, log_fd);
    ::close(log_fd);
    done.end = wait_for(pid, settings.timeout_seconds);
  } catch (...) {
    ::close(log_fd);
    ::unlink(log_path.c_str());
    throw;
  }
  done.output = tail_of(log_path, keep);
  ::unlink(log_path.c_str());
  return done;
}

// How a worker that did not finish its job ended: "timed out after 30 s", "killed by signal 11 (SIGSEGV)", "out of
// memory (limit N MiB)", else `otherwise` (given its exit code).
std::string how_it_ended(const Ending& end, const IsolationSettings& settings, const char* otherwise) {
  if (end.timed_out) return "timed out after " + seconds_text(settings.timeout_seconds);
  if (WIFSIGNALED(end.status)) return describe_signal(WTERMSIG(end.status));
  if (WIFEXITED(end.status) && WEXITSTATUS(end.status) == host::COMPAUDIT_WORKER_EXIT_OUT_OF_MEMORY)
    return fmt::format("out of memory (limit {} MiB)", settings.memory_mb);
  return fmt::format(fmt::runtime(otherwise), WIFEXITED(end.status) ? WEXITSTATUS(end.status) : -1);
}

}  // namespace

std::string describe_signal(int signal) {
  static const std::pair<int, const char*> names[] = {
      {SIGHUP, "SIGHUP"},   {SIGINT, "SIGINT"},   {SIGQUIT, "SIGQUIT"}, {SIGILL, "SIGILL"},   {SIGTRAP, "SIGTRAP"},
      {SIGABRT, "SIGABRT"}, {SIGBUS, "SIGBUS"},   {SIGFPE, "SIGFPE"},   {SIGKILL, "SIGKILL"}, {SIGUSR1, "SIGUSR1"},
      {SIGSEGV, "SIGSEGV"}, {SIGUSR2, "SIGUSR2"}, {SIGPIPE, "SIGPIPE"}, {SIGALRM, "SIGALRM"}, {SIGTERM, "SIGTERM"},
      {SIGXCPU, "SIGXCPU"}, {SIGXFSZ, "SIGXFSZ"}, {SIGSYS, "SIGSYS"}};
  for (const auto& [n, name] : names)
    if (n == signal) return fmt::format("killed by signal {} ({})", signal, name);
  return fmt::format("killed by signal {}", signal);
}

bool resolve_isolation(const host::RunRequest& request, const host::Pipeline& pipeline,
                       const host::Registry& registry, const std::string& run_dir, int threads,
                       IsolationSettings& settings) {
  const std::string mode = !request.isolation.empty() ? request.isolation : pipeline.run.isolation;
  if (mode != "process" && mode != "none" && mode != "auto")
    throw Error(ErrorCode::pipeline,
                fmt::format("isolation \"{}\" is not one of \"process\", \"none\", \"auto\"", mode));
  if (mode == "none") return false;
  const std::string executable = find_executable(request);
  if (mode == "auto") {
    const std::string foreign = first_foreign_plugin(pipeline, registry);
    if (foreign.empty()) return false;  // built-in plugins are tested here; a worker per cell costs ~0.6 s
    if (executable.empty()) return false;  // driven as a library (tests): nothing to start
  }
  if (executable.empty())
    throw Error(ErrorCode::pipeline, "isolation = \"process\" needs the compaudit executable, which was not found "
                                     "beside the host library; run through `compaudit run`");
  settings.executable = executable;
  settings.run_dir = run_dir;
  settings.plugin_paths = request.plugin_paths;
  settings.threads = threads;
  settings.timeout_seconds = request.cell_timeout >= 0 ? request.cell_timeout : pipeline.run.cell_timeout;
  const std::int64_t memory = request.cell_memory_mb >= 0 ? request.cell_memory_mb : pipeline.run.cell_memory_mb;
  if (memory > 0 && memory < 1024)
    throw Error(ErrorCode::pipeline, fmt::format("a cell memory limit of {} MiB is below 1024 MiB: a worker maps "
                                                 "LibTorch before it computes anything", memory));
  settings.memory_mb = memory > 0 ? memory : physical_memory_mb();
  settings.quiet = request.quiet;
  if (!request.quiet)
    fmt::print(stderr, "compaudit run: cells run in worker processes (isolation {}{}; timeout {}, memory limit {} MiB)\n",
               mode, mode == "auto" ? ", plugin " + first_foreign_plugin(pipeline, registry) + " is not built in" : "",
               settings.timeout_seconds > 0 ? seconds_text(settings.timeout_seconds) : "none", settings.memory_mb);
  return true;
}

void enable_isolation(ExecuteOptions& options, const IsolationSettings& settings, store::Store& store) {
  // Logs of workers whose host was killed (kill -9) before it could remove them. This host holds the run lock, so
  // no live worker of this run is writing any of them.
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(settings.run_dir, ec))
    if (e.path().filename().string().rfind(".worker-", 0) == 0) fs::remove(e.path(), ec);
  options.isolate_cell = [settings, &store](const std::string& arm, std::int64_t seed) {
    return run_cell_in_worker(settings, store, arm, seed);
  };
}

void check_plugins_in_worker(const IsolationSettings& settings, const host::Pipeline& pipeline) {
  // The log is not in the run directory: nothing of the run may exist before its plugins are known to work.
  const auto [end, output] =
      run_worker_process(settings, {"--check-plugins", pipeline.path},
                         (fs::temp_directory_path() / "compaudit-plugin-check-XXXXXX.log").string(), 1 << 16);
  if (!end.timed_out && WIFEXITED(end.status) && WEXITSTATUS(end.status) == host::exit_ok) return;
  // The worker announced each plugin before creating it (run/plugin_check.h); the rest is what it printed.
  std::string creating, printed;
  for (std::size_t at = 0; at < output.size();) {
    const std::size_t nl = std::min(output.find('\n', at), output.size());
    const std::string line = output.substr(at, nl - at);
    if (line.rfind(kCreatingPrefix, 0) == 0) creating = line.substr(std::strlen(kCreatingPrefix));
    else if (!line.empty()) printed += (printed.empty() ? "" : "\n") + line;
    at = nl + 1;
  }
  if (!end.timed_out && WIFEXITED(end.status) && WEXITSTATUS(end.status) == host::exit_plugin)
    throw host::PluginCreationError(printed);  // the worker's own creation_failures_text
  const std::string how = how_it_ended(end, settings, "exited with code {}");
  std::vector<std::string> fields;  // plugin, manifest, use, line, column
  for (std::size_t at = 0; at <= creating.size() && !creating.empty();) {
    const std::size_t tab = std::min(creating.find('\t', at), creating.size());
    fields.push_back(creating.substr(at, tab - at));
    at = tab + 1;
  }
  if (fields.size() != 5)  // it never got to a plugin: not a plugin's failure
    throw Error(ErrorCode::runtime,
                fmt::format("the plugin check in a worker process {}: {}", how, last_line(printed)));
  host::PluginCreationFailure failure{fields[0], fields[1],
                                      how + " in its worker process while being created" +
                                          (printed.empty() ? "" : "; last output: " + last_line(printed)),
                                      {fields[2]},
                                      {pipeline.path, std::atoi(fields[3].c_str()), std::atoi(fields[4].c_str())}};
  throw host::PluginCreationError(host::creation_failures_text({failure}));
}

std::optional<std::string> run_cell_in_worker(const IsolationSettings& settings, store::Store& store,
                                              const std::string& arm, std::int64_t seed) {
  const auto [end, output] = run_worker_process(
      settings, {"--run-dir", settings.run_dir, "--arm", arm, "--seed", std::to_string(seed)},
      settings.run_dir + "/.worker-XXXXXX.log", 4000);

  // The store says what the worker committed; the wait status only explains a cell it did not commit.
  const auto cell = store.cell(arm, seed);
  const std::string what = cell_name(arm, seed);
  if (cell && cell->status == store::CellStatus::done) {
    if (!WIFEXITED(end.status) || WEXITSTATUS(end.status) != 0)
      store.log("warning", what + ": the worker ended badly after committing the cell: " + last_line(output));
    return std::nullopt;
  }
  if (cell && cell->status == store::CellStatus::failed) {  // its plugin threw, as it would have in-process
    if (looks_like_out_of_memory(cell->error)) {
      // LibTorch's allocator error carries a backtrace; its first line says what was asked for.
      const std::string first = cell->error.substr(0, cell->error.find('\n'));
      const std::string error = fmt::format("out of memory (limit {} MiB): {}", settings.memory_mb, first);
      store.fail_cell(arm, seed, error, store::FailureKind::environment);
      return error;
    }
    return cell->error;
  }
  // A plugin library that cannot be loaded (run_in_worker opens them first) would fail every cell alike: the run's
  // plugin error, exit 3 (docs/cli.md), with the worker's message.
  if (!end.timed_out && WIFEXITED(end.status) && WEXITSTATUS(end.status) == host::exit_plugin)
    throw Error(ErrorCode::library, fmt::format("{}: a plugin could not be loaded in the worker process: {}", what,
                                                last_line(output)));
  std::string error = how_it_ended(end, settings, "the worker exited with code {} without committing the cell");
  error += " in its worker process";
  if (const std::string line = last_line(output); !line.empty() && !end.timed_out) error += "; last output: " + line;
  // Killed, timed out, out of memory or gone without committing: nothing the cell's code reported; retried on resume.
  store.fail_cell(arm, seed, error, store::FailureKind::environment);
  store.log("error", what + ": " + error);
  return error;
}

}  // namespace compaudit::engine
