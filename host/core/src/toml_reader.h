// toml_reader.h (internal) — strict, located reading of TOML tables for manifests and pipelines.
//
// Both file formats treat a misspelt key as an error rather than silently ignoring it, and every error names the
// file, line and column of the offending key or value. TableReader remembers which keys were read; finish() reports
// the first key nobody asked for.
#pragma once

#include <compaudit/error.h>
#include <compaudit/params.h>

#include <toml++/toml.h>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace compaudit::host::detail {

/// Location of a node (or key) in `file`.
SourceLocation location(const toml::source_region& region, const std::string& file);

/// The most read_small_file() reads: far above any real manifest or pipeline (a few KiB).
inline constexpr std::size_t kMaxTextFileBytes = std::size_t(4) << 20;

/// The whole file (open, read, close). Throws Error(code) naming the file, also for anything but a regular file
/// (device, fifo, directory) and for a file over kMaxTextFileBytes.
std::string read_small_file(const std::string& path, ErrorCode code);

/// Parses a TOML file, turning syntax errors into Error(code) at the parser's line and column.
toml::table parse_toml_file(const std::string& path, ErrorCode code);

/// Converts a TOML value to a parameter value: bool, integer, float, string, or a homogeneous array of those
/// (integers and floats mixed give a float list; an empty array gives an empty int list, which any list accepts).
/// nullopt for tables, dates and mixed arrays.
std::optional<ParamValue> to_param_value(const toml::node& node);

/// TOML type name for messages: "string", "integer", "table", ...
std::string type_name(const toml::node& node);

class TableReader {
 public:
  /// `what` names the table in messages, e.g. "manifest" or "[data]".
  TableReader(const toml::table& table, std::string file, std::string what, ErrorCode code);

  const toml::table& table() const { return table_; }
  const std::string& file() const { return file_; }
  bool has(const std::string& key) const { return table_.contains(key); }
  /// Marks a key as known without reading it (it is read elsewhere).
  void allow(const std::string& key) { used_.insert(key); }

  std::optional<std::string> string(const std::string& key);
  std::optional<std::int64_t> integer(const std::string& key);
  std::optional<double> number(const std::string& key);  ///< float or integer
  std::optional<bool> boolean(const std::string& key);
  std::optional<std::vector<std::string>> strings(const std::string& key);
  std::optional<std::vector<std::int64_t>> integers(const std::string& key);
  const toml::node* node(const std::string& key);  ///< Any value, or null.

  std::string required_string(const std::string& key);
  std::int64_t required_integer(const std::string& key);

  /// Location of the key `key` (falls back to the table's).
  SourceLocation where(const std::string& key) const;
  /// Location of the whole table.
  SourceLocation where() const { return location(table_.source(), file_); }
  [[noreturn]] void fail(const std::string& key, const std::string& message) const;
  [[noreturn]] void fail_value(const toml::node& value, const std::string& message) const;

  /// Throws for the first key that was never read or allowed; `known` lists the accepted keys for the message.
  void finish() const;

 private:
  [[noreturn]] void wrong_type(const std::string& key, const toml::node& value, const char* expected) const;
  const toml::table& table_;
  std::string file_;
  std::string what_;
  ErrorCode code_;
  std::set<std::string> used_;
};

}  // namespace compaudit::host::detail
