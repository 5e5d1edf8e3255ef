// atomic_write.h (internal) — the report library's one way to write a file: a temporary file beside it, then a
// rename, so a reader never sees half a report or table. Throws compaudit::Error(io) naming the file.
#pragma once

#include <string>

namespace compaudit::report {

/// Writes `text` to dir/name atomically.
void write_atomically(const std::string& dir, const std::string& name, const std::string& text);

}  // namespace compaudit::report
