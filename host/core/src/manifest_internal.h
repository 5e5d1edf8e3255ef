// manifest_internal.h (internal) — parse_manifest with a hint from discovery.
#pragma once

#include <compaudit/host/manifest.h>

#include <string>
#include <unordered_set>

namespace compaudit::host::detail {

/// parse_manifest(), where `regular_files` (may be null) lists paths that a directory walk has just seen as regular
/// files (not symlinks): a library among them needs no stat of its own. Discovery of a large plugin directory is
/// dominated by system calls, so this saves one in five per manifest. `library_must_exist` false: see
/// parse_manifest_before_build().
Manifest parse_manifest(const std::string& path, const std::unordered_set<std::string>* regular_files,
                        bool library_must_exist = true);

}  // namespace compaudit::host::detail
