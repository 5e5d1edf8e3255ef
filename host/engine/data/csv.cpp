// Numeric CSV reader: one example per row, one integer label column, every other cell a feature. Handles the two
// layouts of scikit-learn's bundled files — digits.csv.gz has no header; breast_cancer.csv starts with
// "n_rows,n_features,class names..." — and any user CSV with or without a header row of names.
#include "data/readers.h"

#include <compaudit/error.h>

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace compaudit::engine {
namespace {

struct Cell {
  std::string text;
  int column;  // 1-based character column of the cell in its line
};

std::vector<Cell> split_row(const std::string& line) {
  std::vector<Cell> cells;
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = line.find(',', start);
    const std::size_t end = comma == std::string::npos ? line.size() : comma;
    std::size_t a = start, b = end;
    while (a < b && (line[a] == ' ' || line[a] == '\t')) ++a;
    while (b > a && (line[b - 1] == ' ' || line[b - 1] == '\t' || line[b - 1] == '\r')) --b;
    if (b - a >= 2 && line[a] == '"' && line[b - 1] == '"') ++a, --b;
    cells.push_back({line.substr(a, b - a), static_cast<int>(start) + 1});
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return cells;
}

bool parse_number(const std::string& text, double& out) {
  if (text.empty()) return false;
  errno = 0;
  char* end = nullptr;
  out = std::strtod(text.c_str(), &end);
  return end == text.c_str() + text.size() && errno != ERANGE && std::isfinite(out);
}

bool is_blank(const std::string& line) { return line.find_first_not_of(" \t\r") == std::string::npos; }

}  // namespace

RawData read_csv(const std::string& path, const CsvOptions& options) {
  const std::vector<std::uint8_t> bytes = read_file_bytes(path);
  std::vector<std::pair<int, std::string>> lines;  // (1-based line number, text) of non-blank lines
  {
    std::size_t start = 0;
    int number = 1;
    while (start <= bytes.size()) {
      std::size_t end = start;
      while (end < bytes.size() && bytes[end] != '\n') ++end;
      std::string line(bytes.begin() + start, bytes.begin() + end);
      if (!is_blank(line)) lines.emplace_back(number, std::move(line));
      start = end + 1;
      ++number;
    }
  }
  RawData raw;
  std::size_t first = 0;
  std::vector<Cell> header;
  if (options.header && !lines.empty()) header = split_row(lines[first++].second);
  if (first >= lines.size()) throw Error(ErrorCode::data, "CSV file has no data rows", {path});

  const std::size_t width = split_row(lines[first].second).size();
  if (width < 2)
    throw Error(ErrorCode::data, "CSV rows need at least two cells (features and a label)", {path, lines[first].first});
  std::size_t label_col = width - 1;
  if (options.label_column == "first") {
    label_col = 0;
  } else if (options.label_column != "last") {
    char* end = nullptr;
    const long v = std::strtol(options.label_column.c_str(), &end, 10);
    if (*end != '\0' || v < 0 || static_cast<std::size_t>(v) >= width)
      throw Error(ErrorCode::data, fmt::format("label_column '{}' is not \"first\", \"last\" or a column index below "
                                               "{}", options.label_column, width), {path});
    label_col = static_cast<std::size_t>(v);
  }

  const std::int64_t rows = static_cast<std::int64_t>(lines.size() - first);
  const std::int64_t features = static_cast<std::int64_t>(width) - 1;
  raw.inputs = at::empty({rows, features}, at::kFloat);
  raw.targets = at::empty({rows}, at::kLong);
  raw.lines.reserve(static_cast<std::size_t>(rows));
  for (std::int64_t r = 0; r < rows; ++r) raw.lines.push_back(lines[first + r].first);
  float* x = raw.inputs.data_ptr<float>();
  std::int64_t* y = raw.targets.data_ptr<std::int64_t>();
  for (std::int64_t r = 0; r < rows; ++r) {
    const auto& [number, text] = lines[first + r];
    const std::vector<Cell> cells = split_row(text);
    if (cells.size() != width)
      throw Error(ErrorCode::data, fmt::format("row has {} cells, expected {} like the first data row",
                                               cells.size(), width), {path, number});
    std::int64_t f = 0;
    for (std::size_t c = 0; c < width; ++c) {
      double v = 0;
      if (!parse_number(cells[c].text, v))
        throw Error(ErrorCode::data, fmt::format("cell {} ('{}') is not a number", c + 1, cells[c].text),
                    {path, number, cells[c].column});
      if (c == label_col) {
        if (v < 0 || v != std::floor(v) || v > 1e6)
          throw Error(ErrorCode::data, fmt::format("label '{}' is not a class index (a non-negative integer)",
                                                   cells[c].text), {path, number, cells[c].column});
        y[r] = static_cast<std::int64_t>(v);
      } else {
        // A double past float32's range would become inf (found by fuzz/targets/fuzz_csv.cpp).
        if (std::fabs(v) > std::numeric_limits<float>::max())
          throw Error(ErrorCode::data, fmt::format("cell {} ('{}') is out of range for a float32 feature", c + 1,
                                                   cells[c].text), {path, number, cells[c].column});
        x[r * features + f++] = static_cast<float>(v);
      }
    }
  }

  // scikit-learn's header: "n_rows,n_features,name of class 0,name of class 1,...". Check it against the data: a
  // file cut short or a wrong feature count is exactly the inconsistency it lets us catch.
  double n_rows = 0, n_features = 0;
  if (header.size() >= 2 && parse_number(header[0].text, n_rows) && parse_number(header[1].text, n_features) &&
      header.size() != width) {
    // Compared as doubles: casting a header such as "1e300" to an integer is undefined (found by fuzz_csv).
    if (n_rows != static_cast<double>(rows))
      throw Error(ErrorCode::data, fmt::format("header says {} rows, the file holds {}", header[0].text, rows),
                  {path, lines[0].first, header[0].column});
    if (n_features != static_cast<double>(features))
      throw Error(ErrorCode::data, fmt::format("header says {} features, rows hold {}", header[1].text, features),
                  {path, lines[0].first, header[1].column});
    for (std::size_t i = 2; i < header.size(); ++i) raw.class_names.push_back(header[i].text);
    const auto named = static_cast<std::int64_t>(raw.class_names.size());
    for (std::int64_t r = 0; named > 0 && r < rows; ++r)
      if (y[r] >= named)
        throw Error(ErrorCode::data, fmt::format("label {} is out of range: the header names {} classes", y[r], named),
                    {path, lines[first + r].first});
  }
  return raw;
}

}  // namespace compaudit::engine
