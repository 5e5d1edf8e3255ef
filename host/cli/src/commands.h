// commands.h — the `compaudit` subcommands. Each add_* function registers one command (or command group) on the
// app; the callback stores the exit code in Context::exit_code. Errors are compaudit::Error, caught in main().
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

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

}  // namespace compaudit::cli
