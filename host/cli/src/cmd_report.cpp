// `compaudit report RUN_DIR` — rebuilds report.json / report.html / the terminal summary from a run's store;
// `compaudit check RUN_DIR` — evaluates the run's [[gate]]s from its store (docs/gates.md).
#include "commands.h"

#include <compaudit/host/exit_codes.h>

#include <iostream>

#if __has_include(<compaudit/report/report.h>)
#include <compaudit/report/gates.h>
#include <compaudit/report/report.h>
#define COMPAUDIT_CLI_HAS_REPORT 1
#endif

namespace compaudit::cli {

void add_report_command(CLI::App& app, Context& context) {
  CLI::App* cmd = app.add_subcommand("report", "Rebuild report.json, report.html and the terminal summary of a run");
  auto run_dir = std::make_shared<std::string>();
  auto formats = std::make_shared<std::vector<std::string>>();
  cmd->add_option("RUN_DIR", *run_dir, "Run directory")->required()->check(CLI::ExistingDirectory);
  cmd->add_option("--format", *formats, "Only these: json, html, terminal (repeatable; default: all three)")
      ->check(CLI::IsMember({"json", "html", "terminal"}))
      ->allow_extra_args(false);
  auto examples = std::make_shared<std::string>();
  cmd->add_option("--examples", *examples, "Also write the per-example comparison table (flips metric) as CSV");
  cmd->callback([&context, run_dir, formats, examples] {
#ifdef COMPAUDIT_CLI_HAS_REPORT
    context.exit_code = formats->empty() ? compaudit::report::report_command(*run_dir)
                                         : compaudit::report::build_reports(*run_dir, *formats, std::cout);
    if (context.exit_code == 0 && !examples->empty())
      context.exit_code = compaudit::report::write_examples_csv(*run_dir, *examples, std::cerr);
#else
    // TODO(report): link compaudit_report and call its entry point once host/report provides it.
    std::cerr << "compaudit: report is not available in this build\n";
    context.exit_code = host::exit_runtime;
#endif
  });
}

void add_check_command(CLI::App& app, Context& context) {
  CLI::App* cmd = app.add_subcommand("check", "Evaluate a run's [[gate]]s from its store: exit 0 when all pass, 8 "
                                              "when one fails (docs/gates.md)");
  auto run_dir = std::make_shared<std::string>();
  cmd->add_option("RUN_DIR", *run_dir, "Run directory")->required()->check(CLI::ExistingDirectory);
  cmd->callback([&context, run_dir] {
#ifdef COMPAUDIT_CLI_HAS_REPORT
    context.exit_code = compaudit::report::check_command(*run_dir, std::cout, std::cerr);
#else
    std::cerr << "compaudit: check is not available in this build\n";
    context.exit_code = host::exit_runtime;
#endif
  });
}

}  // namespace compaudit::cli
