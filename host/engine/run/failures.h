// host/engine/run/failures.h — why a cell failed, and which failed or damaged cells `run --resume` computes again
// (docs/isolation.md#what-resume-retries).
#pragma once

#include <compaudit/store/records.h>

#include <exception>
#include <string>

namespace compaudit::store {
class Store;
}

namespace compaudit::engine {

/// The kind of a cell's failure from what was thrown: the results store's I/O errors (a full disk, ...) and
/// allocation failures are the environment's; a plugin's error (wrapped by host::guarded) is the plugin's; other
/// texts are classified by store::classify_failure.
store::FailureKind failure_kind(const std::exception& e);

/// Before the cells of a resumed run: makes pending again (store::Store::reset_cell) every failed cell whose failure
/// was the environment's — or, with `retry_failed`, every failed cell — with the cells failed only because their
/// seed's dense model failed when that one is retried; and every done cell whose stored model fails its CRC-32, so a
/// corrupt model is recomputed (bit for bit what it was: a cell's bits depend only on its seed) and never used.
/// Says what it did on stderr (unless quiet) and in the run log. Returns the number of cells made pending.
int reopen_cells(store::Store& store, bool retry_failed, bool quiet);

}  // namespace compaudit::engine
