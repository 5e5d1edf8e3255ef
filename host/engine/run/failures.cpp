#include "run/failures.h"

#include <compaudit/error.h>
#include <compaudit/store/store.h>

#include <fmt/format.h>

#include <new>
#include <set>
#include <utility>

namespace compaudit::engine {

store::FailureKind failure_kind(const std::exception& e) {
  if (dynamic_cast<const std::bad_alloc*>(&e)) return store::FailureKind::environment;
  if (const auto* err = dynamic_cast<const Error*>(&e); err && err->code() == ErrorCode::io)
    return store::FailureKind::environment;
  return store::classify_failure(e.what());
}

int reopen_cells(store::Store& store, bool retry_failed, bool quiet) {
  using store::CellStatus;
  using store::FailureKind;
  std::set<std::pair<std::string, std::int64_t>> reopen;
  std::vector<std::string> notes;
  // A corrupt model first: a dense cell recomputed means its dependants may be retried too.
  for (const auto& b : store.corrupt_blobs()) {
    const auto c = store.cell(b.arm, b.seed);
    if (!c || c->status != CellStatus::done) continue;
    reopen.insert({b.arm, b.seed});
    notes.push_back(fmt::format("the stored blob '{}' of {} seed {} is corrupt (CRC-32 mismatch): the cell is "
                                "computed again", b.name, b.arm, b.seed));
  }
  const auto failed = store.cells(CellStatus::failed);
  int retried = 0;
  for (const auto& c : failed)
    if (retry_failed || c.failure == FailureKind::environment) {
      reopen.insert({c.arm, c.seed});
      ++retried;
    }
  for (const auto& c : failed)  // "the dense model of seed k failed": again when dense k is computed again
    if (c.failure == FailureKind::dependency && !reopen.count({c.arm, c.seed}) && reopen.count({"dense", c.seed})) {
      reopen.insert({c.arm, c.seed});
      ++retried;
    }
  if (retried > 0)
    notes.push_back(fmt::format("{} failed cell{} computed again ({})", retried, retried == 1 ? "" : "s",
                                retry_failed ? "--retry-failed"
                                             : "failed for a reason outside the cell: I/O, disk full, memory, "
                                               "timeout or signal"));
  if (reopen.empty()) return 0;
  store.transaction([&] {
    for (const auto& [arm, seed] : reopen) store.reset_cell(arm, seed);
    for (const auto& note : notes) store.log("warning", note);
  });
  if (!quiet)
    for (const auto& note : notes) fmt::print(stderr, "compaudit run: {}\n", note);
  return static_cast<int>(reopen.size());
}

}  // namespace compaudit::engine
