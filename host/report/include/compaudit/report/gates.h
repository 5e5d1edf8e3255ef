// compaudit/report/gates.h — [[gate]] bounds evaluated against a run's stored metric results (docs/gates.md).
//
// A gate bounds one statistic a metric reports for the arms its pattern matches, e.g. the upper end of a class's
// recall-drop interval or the negative-flip rate. The gates of a run are stored in its settings ("gates"), so
// `compaudit check RUN_DIR` decides from the store alone, and report.json, report.html and the terminal summary
// open with the verdict. A gate fails closed: a statistic the metric did not report, a metric that failed, an arm
// without a result — each fails the gate with the reason, so a typo or a broken cell can never pass it.
#pragma once

#include <iosfwd>
#include <nlohmann/json.hpp>
#include <string>

#define COMPAUDIT_REPORT_API __attribute__((visibility("default")))

namespace compaudit::store {
class Store;
}

namespace compaudit::report {

/// The gates of the run in `store`, evaluated now. Returns
///   {"passed": bool, "count": n, "failed": m,
///    "results": [{"gate", "arm", "metric", "statistic", "class", "value" (number or null), "min", "max",
///                 "passed", "reason"}, ...]}
/// one result per gate and matching arm, in gate order then arm order; "passed" is true when there are no gates.
/// Throws compaudit::Error for store errors. Thread: any; reads the store only.
COMPAUDIT_REPORT_API nlohmann::json evaluate_gates(const store::Store& store);

/// One gate (a settings["gates"] entry: metric, statistic, class, min, max) judged on one metric result, as
/// evaluate_gates judges each arm: {"value" (number or null), "passed", "reason"}. `error` non-empty: the metric
/// failed with it (the gate fails closed). Used by the class-aware search to judge configurations on the validation
/// split with the same rules as the test verdict. Thread: any.
COMPAUDIT_REPORT_API nlohmann::json judge_gate(const nlohmann::json& gate, const nlohmann::json& result,
                                               const std::string& error = "");

/// One line per gate result ("PASS"/"FAIL", gate, arm, statistic, value, bound, reason) and a closing verdict.
COMPAUDIT_REPORT_API std::string gates_text(const nlohmann::json& gates);

/// `compaudit check RUN_DIR`: evaluates the run's gates from its store and prints gates_text to `out`. Returns 0
/// when every gate passed (or there are none), 8 (exit_gate_failed) when one failed, 6 for a store that cannot be
/// read (message on `err`). Never throws.
COMPAUDIT_REPORT_API int check_command(const std::string& run_dir, std::ostream& out, std::ostream& err);

}  // namespace compaudit::report
