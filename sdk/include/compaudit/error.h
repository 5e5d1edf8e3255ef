// compaudit/error.h — the one exception type that crosses the host/plugin boundary.
//
// Errors fall in a small set of categories so that the CLI can map them to exit codes and tests can assert on them.
// Where an error comes from a file (a manifest, a pipeline, a data file) it carries the path, and for TOML the line
// and column, so the message can be printed as `file:line:column: category: text`.
#pragma once

#include <compaudit/export.h>
#include <compaudit/version.h>

#include <stdexcept>
#include <string>

COMPAUDIT_NAMESPACE_BEGIN

/// What kind of thing went wrong. Stable: values are recorded in results stores and mapped to exit codes.
enum class ErrorCode : int {
  manifest = 1,    ///< A manifest is unreadable, malformed, or has a missing / wrong field.
  library = 2,     ///< A plugin library could not be opened (missing file, not an ELF, unresolved symbol, sha256).
  symbol = 3,      ///< The library opened but has no valid compaudit entry point.
  version = 4,     ///< SDK ABI, LibTorch or C++ ABI of the plugin differs from the host's.
  identity = 5,    ///< The library's descriptor disagrees with its manifest (id or kind).
  parameters = 6,  ///< A parameter is missing, of the wrong type, out of range or not one of its choices.
  pipeline = 7,    ///< A pipeline file is malformed or refers to something that does not exist.
  data = 8,        ///< A data file is missing, corrupt or inconsistent.
  runtime = 9,     ///< A plugin or the engine failed while doing its work.
  io = 10,         ///< Reading or writing a file or the results store failed.
};

/// Lower-case name of a category, e.g. "manifest". Never null.
COMPAUDIT_SDK_API const char* to_string(ErrorCode code) noexcept;

/// Where in a file an error was found. line and column are 1-based; 0 means unknown.
struct SourceLocation {
  std::string file;
  int line = 0;
  int column = 0;
};

/// The exception thrown by the SDK, the host and (ideally) plugins. Plugins may throw any std::exception; the host
/// wraps it in an Error of category `runtime` attached to the plugin that threw it.
class COMPAUDIT_SDK_API Error : public std::runtime_error {
 public:
  Error(ErrorCode code, std::string message, SourceLocation where = {});

  ErrorCode code() const noexcept { return code_; }
  /// The message without the location prefix.
  const std::string& message() const noexcept { return message_; }
  const SourceLocation& where() const noexcept { return where_; }

 private:
  ErrorCode code_;
  std::string message_;
  SourceLocation where_;
};

COMPAUDIT_NAMESPACE_END
