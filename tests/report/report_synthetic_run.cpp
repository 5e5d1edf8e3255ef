// report_synthetic_run RUN_DIR — writes the synthetic run of synthetic_run.h into RUN_DIR (which must not hold a
// store yet) and builds its reports. Used by scripts/screenshot_report.sh to render a page without training.
// report_synthetic_run --rebuild RUN_DIR — only rebuilds the reports of an existing run (any run), as
// `compaudit report RUN_DIR` does, without the CLI.
#include <compaudit/report/report.h>

#include <cstring>
#include <iostream>

#include "synthetic_run.h"

int main(int argc, char** argv) {
  const bool rebuild = argc == 3 && std::strcmp(argv[1], "--rebuild") == 0;
  if (argc != 2 && !rebuild) {
    std::cerr << "usage: report_synthetic_run [--rebuild] RUN_DIR\n";
    return 2;
  }
  const char* run_dir = argv[argc - 1];
  if (!rebuild) try {
      compaudit::test::write_synthetic_run(run_dir);
    } catch (const std::exception& e) {
      std::cerr << "report_synthetic_run: " << e.what() << "\n";
      return 1;
    }
  return compaudit::report::build_reports(run_dir, {}, std::cout);
}
