// compaudit — the command-line front end. It links the LibTorch-free host library only, so listing, inspecting and
// validating start in milliseconds; run and export open the LibTorch engine library on demand (cmd_engine.cpp).
#include "commands.h"

#include <compaudit/host/exit_codes.h>

#include <iostream>
#include <string>

namespace {

// The first word on the command line that names no command of `app` (nor, below a group such as `plugins`, of
// that group), or "". CLI11 alone reports `compaudit frobnicate` as "A subcommand is required".
std::string unknown_command(CLI::App& app, int argc, char** argv) {
  CLI::App* group = &app;
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    if (word.empty() || word[0] == '-') continue;  // the top level and groups have flags only, no option values
    CLI::App* found = nullptr;
    for (CLI::App* sub : group->get_subcommands([](CLI::App*) { return true; }))
      if (sub->check_name(word)) found = sub;
    if (!found) return word;
    if (found->get_subcommands([](CLI::App*) { return true; }).empty()) return "";  // a command: its own args follow
    group = found;
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  using namespace compaudit;
  CLI::App app{"compaudit — compress neural networks and audit what the compression made them forget.\n"
               "Exit codes: 0 ok, 1 some cells failed, 2 usage, 3 plugin error, 4 invalid pipeline/parameters/data,\n"
               "5 runtime error, 6 I/O error, 7 engine unavailable, 8 a gate failed (see docs/cli.md).",
               "compaudit"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("compaudit ") + COMPAUDIT_SDK_VERSION_STRING + " (SDK ABI " +
                                        std::to_string(COMPAUDIT_SDK_ABI_VERSION) + "." +
                                        std::to_string(COMPAUDIT_SDK_ABI_MINOR) + ")");
  cli::Context context;
  cli::add_plugins_commands(app, context);
  cli::add_validate_command(app, context);
  cli::add_new_plugin_command(app, context);
  cli::add_engine_commands(app, context);
  cli::add_report_command(app, context);
  cli::add_check_command(app, context);
  cli::add_merge_command(app, context);   // scale-out: join shard stores (cmd_merge.cpp)
  cli::add_worker_command(app, context);  // hidden: started by `run` in isolation mode
  if (const std::string word = unknown_command(app, argc, argv); !word.empty()) {
    std::cerr << "compaudit: unknown command '" << word << "' (see compaudit --help)\n";
    return host::exit_usage;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);  // prints help, version or the usage error
    return code == 0 ? host::exit_ok : host::exit_usage;
  } catch (const Error& e) {
    std::cerr << "compaudit: " << e.what() << '\n';
    return host::exit_code_for(e.code());
  } catch (const std::exception& e) {
    std::cerr << "compaudit: error: " << e.what() << '\n';
    return host::exit_runtime;
  }
  return context.exit_code;
}
