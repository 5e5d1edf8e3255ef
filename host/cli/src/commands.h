// commands.h — the `compaudit` subcommands. Each add_* function registers one command (or command group) on the
// app; the callback stores the exit code in Context::exit_code. Errors are compaudit::Error, caught in main().
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>
#include <vector>

namespace compaudit::host {
struct EngineApi;
struct RunRequest;
}

namespace compaudit::cli {

struct Context {
  std::vector<std::string> plugin_paths;  ///< --plugin-path values (searched first)
  int exit_code = 0;
};

/// Adds `--plugin-path DIR` (repeatable; colon-separated lists are split) to a command.
void add_plugin_path_option(CLI::App& command, Context& context);

void add_plugins_commands(CLI::App& app, Context& context);     // plugins list | inspect
void add_validate_command(CLI::App& app, Context& context);     // validate
void add_new_plugin_command(CLI::App& app, Context& context);   // new-plugin
void add_engine_commands(CLI::App& app, Context& context);      // run | export (open libcompaudit_engine.so)
void add_report_command(CLI::App& app, Context& context);       // report
void add_check_command(CLI::App& app, Context& context);        // check (gates; cmd_report.cpp)
void add_merge_command(CLI::App& app, Context& context);        // merge (scale-out, cmd_merge.cpp)
/// scale-out (cmd_merge.cpp): adds `--shard I/N` and `--mpi` to `run`, writing into *request.
void add_scale_options(CLI::App& run_cmd, const std::shared_ptr<host::RunRequest>& request);
/// Parses "I/N" with 0 <= I < N; false with a message otherwise.
bool parse_shard(const std::string& text, int& index, int& count, std::string& error);
void add_worker_command(CLI::App& app, Context& context);       // worker (internal: one isolated cell)

/// Opens libcompaudit_engine.so beside the host library (cmd_engine.cpp); prints why not and returns null.
const host::EngineApi* open_engine();
/// This executable's path (/proc/self/exe), to start `compaudit worker` processes with (cmd_worker.cpp).
std::string self_executable();

}  // namespace compaudit::cli
