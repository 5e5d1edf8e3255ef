#include "data/labels.h"

#include <compaudit/error.h>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <map>

namespace compaudit::engine {
namespace {

/// label -> first row (0-based) holding it.
std::map<std::int64_t, std::int64_t> first_rows(const RawData& raw) {
  std::map<std::int64_t, std::int64_t> out;
  const at::Tensor t = raw.targets.to(at::kLong).contiguous();
  const std::int64_t* y = t.data_ptr<std::int64_t>();
  for (std::int64_t r = 0, n = t.numel(); r < n; ++r) out.emplace(y[r], r);
  return out;
}

/// Where row `r` of a source is: its line for CSV, else its position among the examples.
std::string row_text(const LabelSource& s, std::int64_t r) {
  if (static_cast<std::size_t>(r) < s.raw->lines.size()) return fmt::format("line {}", s.raw->lines[r]);
  return fmt::format("row {}", r + 1);
}
SourceLocation row_location(const LabelSource& s, std::int64_t r) {
  if (static_cast<std::size_t>(r) < s.raw->lines.size()) return {s.file, static_cast<int>(s.raw->lines[r])};
  return {s.file};
}

/// "0..9, and 100000 at line 1236": the labels as ranges; those above the first missing class with their first row.
std::string present_text(const LabelSource& s, const std::map<std::int64_t, std::int64_t>& rows, std::int64_t gap) {
  std::vector<std::string> ranges, outliers;
  for (auto it = rows.begin(); it != rows.end();) {
    const std::int64_t lo = it->first;
    std::int64_t hi = lo;
    for (++it; it != rows.end() && it->first == hi + 1; ++it) hi = it->first;
    if (lo > gap) {
      for (std::int64_t l = lo; l <= hi && outliers.size() < 4; ++l)
        outliers.push_back(fmt::format("{} at {}", l, row_text(s, rows.at(l))));
    } else {
      ranges.push_back(lo == hi ? std::to_string(lo) : fmt::format("{}..{}", lo, hi));
    }
  }
  std::string text = fmt::format("{}", fmt::join(ranges, ", "));
  if (!outliers.empty()) text += fmt::format("{}{}", text.empty() ? "" : ", and ", fmt::join(outliers, ", "));
  return text;
}

}  // namespace

int check_class_set(const LabelSource& train, const LabelSource* test, int declared) {
  const auto rows = first_rows(*train.raw);
  if (rows.empty()) throw Error(ErrorCode::data, "the training file holds no labelled example", {train.file});
  const std::int64_t classes = declared > 0 ? declared : rows.rbegin()->first + 1;
  const std::string declared_text =
      declared > 0 ? fmt::format("the {} classes [data] declares (0..{})", declared, declared - 1) : "";
  for (const LabelSource* s : {&train, test}) {
    if (!s || !s->raw || !s->raw->targets.defined()) continue;
    const auto labels = s == &train ? rows : first_rows(*s->raw);
    if (labels.empty() || labels.rbegin()->first < classes) continue;
    const auto [label, row] = *labels.rbegin();
    throw Error(ErrorCode::data,
                fmt::format("label {} at {} is not one of {}", label, row_text(*s, row),
                            declared > 0 ? declared_text
                                         : fmt::format("the classes of the training data (0..{})", classes - 1)),
                row_location(*s, row));
  }
  for (std::int64_t c = 0; c < classes; ++c)
    if (!rows.count(c))
      throw Error(ErrorCode::data,
                  fmt::format("class {} has no training examples (labels present: {}){}", c,
                              present_text(train, rows, c),
                              declared > 0 ? "" : "; the classes are 0..max label, so labels must not skip a class"),
                  {train.file});
  return static_cast<int>(classes);
}

}  // namespace compaudit::engine
