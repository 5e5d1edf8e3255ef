// `compaudit report RUN_DIR --examples FILE.csv`: the per-example comparison tables that metrics stored (the flips
// metric's "examples_table": one row per example whose two predictions differ, per seed pair), as one CSV a user can
// open in a spreadsheet or pandas. Written atomically; never over the run's own files.
#include <compaudit/report/report.h>

#include <compaudit/error.h>
#include <compaudit/host/run_directory.h>
#include <compaudit/store/store.h>

#include <fmt/format.h>

#include "atomic_write.h"

#include <filesystem>
#include <ostream>

namespace compaudit::report {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string cell(const json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) {
    std::string s = v.get<std::string>();
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string q = "\"";
    for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
  }
  if (v.is_number_float()) return fmt::format("{:.9g}", v.get<double>());
  return v.dump();
}

}  // namespace

int write_examples_csv(const std::string& run_dir, const std::string& path, std::ostream& err) {
  try {
    const fs::path out = fs::absolute(path).lexically_normal();
    if (const std::string own = host::own_run_file(run_dir, path); !own.empty())
      throw Error(ErrorCode::io, fmt::format("{} is one of the run's own files ({}); write the table elsewhere",
                                             out.string(), own));
    const auto store = store::Store::open(run_dir, store::Store::Access::read_only);
    const auto data = store.data();
    const std::vector<std::string> names = data ? data->class_names : std::vector<std::string>{};
    auto class_name = [&](const json& c) {
      const auto i = c.is_number_integer() ? c.get<std::int64_t>() : -1;
      return i >= 0 && i < static_cast<std::int64_t>(names.size()) ? names[static_cast<std::size_t>(i)] : std::string();
    };
    const std::vector<std::string> columns{"seed", "id", "label", "ref_pred", "cand_pred", "ref_conf", "cand_conf",
                                           "kl", "flip"};
    std::string text = "metric,arm,reference,seed,id,label,label_name,ref_pred,cand_pred,ref_conf,cand_conf,kl,flip\n";
    std::size_t rows = 0, tables = 0;
    for (const auto& m : store.metrics()) {
      if (!m.error.empty() || !m.result.is_object() || !m.result.contains("examples_table")) continue;
      const json& t = m.result["examples_table"];
      const std::size_t n = t.contains("id") ? t["id"].size() : 0;
      ++tables;
      for (std::size_t i = 0; i < n; ++i, ++rows) {
        auto at = [&](const std::string& col) { return t.contains(col) && i < t[col].size() ? t[col][i] : json(); };
        text += fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{}\n", cell(m.metric_id), cell(m.arm),
                            cell(m.reference), cell(at("seed")), cell(at("id")), cell(at("label")),
                            cell(class_name(at("label"))), cell(at("ref_pred")), cell(at("cand_pred")),
                            cell(at("ref_conf")), cell(at("cand_conf")), cell(at("kl")), cell(at("flip")));
      }
    }
    if (tables == 0)
      throw Error(ErrorCode::runtime, "the run stores no per-example table: add [[metric]] plugin = "
                                      "\"org.compaudit.metric.flips\" to the pipeline");
    if (out.has_parent_path()) fs::create_directories(out.parent_path());
    write_atomically(out.parent_path().string(), out.filename().string(), text);
    err << fmt::format("compaudit report: {} rows from {} comparisons -> {}\n", rows, tables, out.string());
    return 0;
  } catch (const Error& e) {
    err << "compaudit report: " << e.what() << "\n";
    return e.code() == ErrorCode::io ? 6 : 5;
  } catch (const std::exception& e) {
    err << "compaudit report: " << e.what() << "\n";
    return 6;
  }
}

}  // namespace compaudit::report
