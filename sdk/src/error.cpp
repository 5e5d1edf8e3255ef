#include <compaudit/error.h>

#include <fmt/format.h>

COMPAUDIT_NAMESPACE_BEGIN

const char* to_string(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::manifest: return "manifest";
    case ErrorCode::library: return "library";
    case ErrorCode::symbol: return "symbol";
    case ErrorCode::version: return "version";
    case ErrorCode::identity: return "identity";
    case ErrorCode::parameters: return "parameters";
    case ErrorCode::pipeline: return "pipeline";
    case ErrorCode::data: return "data";
    case ErrorCode::runtime: return "runtime";
    case ErrorCode::io: return "io";
  }
  return "unknown";
}

namespace {
// "file:line:column: category error: message" — the form compilers use, so editors can jump to it.
std::string render(ErrorCode code, const std::string& message, const SourceLocation& where) {
  std::string prefix;
  if (!where.file.empty()) {
    prefix = where.file;
    if (where.line > 0) prefix += fmt::format(":{}", where.line);
    if (where.column > 0) prefix += fmt::format(":{}", where.column);
    prefix += ": ";
  }
  return fmt::format("{}{} error: {}", prefix, to_string(code), message);
}
}  // namespace

Error::Error(ErrorCode code, std::string message, SourceLocation where)
    : std::runtime_error(render(code, message, where)),
      code_(code),
      message_(std::move(message)),
      where_(std::move(where)) {}

COMPAUDIT_NAMESPACE_END
