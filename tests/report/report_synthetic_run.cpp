// report_synthetic_run RUN_DIR — writes the synthetic run of synthetic_run.h into RUN_DIR (which must not hold a
// store yet) and builds its reports. Used by scripts/screenshot_report.sh to render a page without training.
#include <compaudit/report/report.h>

#include <iostream>

#include "synthetic_run.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: report_synthetic_run RUN_DIR\n";
    return 2;
  }
  try {
    compaudit::test::write_synthetic_run(argv[1]);
  } catch (const std::exception& e) {
    std::cerr << "report_synthetic_run: " << e.what() << "\n";
    return 1;
  }
  return compaudit::report::build_reports(argv[1], {}, std::cout);
}
