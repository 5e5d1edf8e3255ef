// compaudit/host/sha256.h — SHA-256 (FIPS 180-4) for manifest pins; small and self-contained, checked against
// `sha256sum` in tests/core.
#pragma once

#include <compaudit/export.h>

#include <string>
#include <string_view>

namespace compaudit::host {

/// Lower-case hex digest of `data`.
COMPAUDIT_EXPORT std::string sha256_hex(std::string_view data);
/// Lower-case hex digest of a file's contents. Throws Error(io) when it cannot be read.
COMPAUDIT_EXPORT std::string sha256_file(const std::string& path);

}  // namespace compaudit::host
