// compaudit/report/report.h — the reports of a run, built from its results store (no LibTorch).
//
// Everything is read from `<run_dir>/results.sqlite` (opened read-only, so a report can be built while a run holds
// the writer lock), so `compaudit report RUN_DIR` rebuilds exactly what the end of `compaudit run` wrote:
//   report.json    machine-readable results; schema in docs/report-json.md ("schema": "compaudit.report/1")
//   report.html    one self-contained page (inline SVG plots, inline PNG thumbnails, no script, no network)
//   terminal       a summary table of the arms, at most 100 columns wide
// Files are written atomically (temporary file, then rename), so a reader never sees half a report.
//
// Example:
//     std::ostringstream out;
//     int rc = compaudit::report::build_reports("runs/pie-digits", {"json", "html", "terminal"}, std::cout);
#pragma once

#include <iosfwd>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#define COMPAUDIT_REPORT_API __attribute__((visibility("default")))

namespace compaudit::store {
class Store;
}

namespace compaudit::report {

/// Builds the requested reports of the run in `run_dir`. `formats` holds any of "json", "html", "terminal" (empty:
/// all three); the terminal summary goes to `terminal`, the files into run_dir. Returns 0 on success. Errors (no
/// store, a corrupt store, an unknown format, an unwritable directory) are printed to `terminal` as
/// "compaudit report: <message>" and return the CLI's exit codes (docs/cli.md): 2 for an unknown format, 6 for a
/// store or file error, 5 for anything else. Never throws.
COMPAUDIT_REPORT_API int build_reports(const std::string& run_dir, const std::vector<std::string>& formats,
                                       std::ostream& terminal);

/// `compaudit report RUN_DIR`: all three formats, the summary on stdout, errors on stderr; returns build_reports'
/// exit code.
COMPAUDIT_REPORT_API int report_command(const std::string& run_dir);

/// `compaudit report RUN_DIR --examples FILE.csv`: every per-example comparison table the run's metrics stored (the
/// flips metric's "examples_table") as one CSV — metric, arm, reference, seed, id (index in the evaluated split),
/// label, label_name, ref_pred, cand_pred, ref_conf, cand_conf, kl, flip. Written atomically; refuses the run's own
/// files. Returns 0, 5 when no metric stored a table, 6 for I/O errors (message on `err`). Never throws.
COMPAUDIT_REPORT_API int write_examples_csv(const std::string& run_dir, const std::string& path, std::ostream& err);

/// The report.json document of a store (what build_reports writes). Throws compaudit::Error on store errors.
COMPAUDIT_REPORT_API nlohmann::json report_json(const store::Store& store);

/// The report.html page for a report.json document; thumbnails for the PIE gallery come from `store`.
COMPAUDIT_REPORT_API std::string report_html(const nlohmann::json& report, const store::Store& store);

/// The terminal summary for a report.json document, at most `width` columns wide.
COMPAUDIT_REPORT_API std::string terminal_summary(const nlohmann::json& report, int width = 100);

}  // namespace compaudit::report
