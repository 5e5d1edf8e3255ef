// compaudit/host/exit_codes.h — process exit codes of `compaudit` (documented in docs/cli.md).
//
// The CLI and the engine library both return these, so a script can tell "the pipeline is wrong" from "a plugin
// broke" without parsing messages. Stable: scripts depend on them.
#pragma once

#include <compaudit/error.h>

namespace compaudit::host {

enum ExitCode : int {
  exit_ok = 0,
  exit_cells_failed = 1,   ///< The command finished but some cells failed.
  exit_usage = 2,          ///< Bad command line.
  exit_plugin = 3,         ///< manifest, library, symbol, version, identity errors; unknown plugin id.
  exit_input = 4,          ///< pipeline, parameters, data errors.
  exit_runtime = 5,        ///< runtime errors outside a cell.
  exit_io = 6,             ///< io errors.
  exit_engine = 7,         ///< The engine library is missing, unloadable or of another API version.
  exit_gate_failed = 8,    ///< The run (or `compaudit check`) finished and a [[gate]] failed (docs/gates.md).
};

/// The exit code for an error category.
inline int exit_code_for(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::manifest:
    case ErrorCode::library:
    case ErrorCode::symbol:
    case ErrorCode::version:
    case ErrorCode::identity: return exit_plugin;
    case ErrorCode::parameters:
    case ErrorCode::pipeline:
    case ErrorCode::data: return exit_input;
    case ErrorCode::runtime: return exit_runtime;
    case ErrorCode::io: return exit_io;
  }
  return exit_runtime;
}

}  // namespace compaudit::host
