// Everything a finished run computed, as one string, so two runs can be compared bit for bit: each cell's status
// and compression records, its test predictions (labels and fp16 probabilities) and every metric result. Timings
// are left out: they differ between any two runs.
#pragma once

#include <compaudit/store/store.h>

#include <sstream>
#include <string>

namespace engine_test {

inline std::string fingerprint(const std::string& run_dir) {
  using compaudit::store::Store;
  const Store s = Store::open(run_dir, Store::Access::read_only);
  std::ostringstream out;
  for (const auto& c : s.cells()) {
    out << c.arm << '/' << c.seed << ' ' << compaudit::store::to_string(c.status) << ' ' << c.records.dump() << '\n';
    if (auto p = s.predictions(c.arm, c.seed, "test", true)) {
      for (auto v : p->labels) out << v << ',';
      for (auto v : p->probs) out << v << ',';
      out << '\n';
    }
  }
  for (const auto& m : s.metrics())
    out << m.metric_id << ' ' << m.arm << ' ' << m.reference << ' ' << m.result.dump() << '\n';
  return out.str();
}

/// The run's log (the store's log table), one line per entry: which cells trained alone and why, warnings.
inline std::string log_text(const std::string& run_dir) {
  using compaudit::store::Store;
  const Store s = Store::open(run_dir, Store::Access::read_only);
  std::string out;
  for (const auto& line : s.log_lines()) out += line.text + '\n';
  return out;
}

}  // namespace engine_test
