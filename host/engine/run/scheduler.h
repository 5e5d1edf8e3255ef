// host/engine/run/scheduler.h — where the engine's units of work run: on the calling thread, or on chains.
//
// A chain is a thread of a boost::asio::thread_pool that computes with one intra-op thread and single-threaded BLAS
// (batched/threads.h explains why small stacked models want that). The pool's queue hands the next task to the first
// free chain, so a chain that finishes early takes more instead of idling. A task's bits do not depend on the chain
// it ran on, nor on how many chains there are: each runs as a --threads 1 run would.
#pragma once

#include <cstddef>
#include <functional>

namespace compaudit::engine {

/// Runs task(0) ... task(n - 1), each at most once, and returns when all that started have finished.
/// - chains <= 1: on the calling thread, in index order, with its intra-op threads.
/// - chains > 1: on min(n, chains) chains (threads of a boost::asio::thread_pool, each with one intra-op thread);
///   tasks start in index order as chains free up. Even n = 1 runs on a chain, so a task's bits never depend on n.
/// `keep_going` (when given) is called before each task starts, on the thread about to run it; false skips it and
/// the rest. When a task throws, no further task starts and the first exception is rethrown here once the running
/// tasks are done. Tasks must synchronise what they share.
void run_on_chains(std::size_t n, int chains, const std::function<void(std::size_t)>& task,
                   const std::function<bool()>& keep_going = {});

}  // namespace compaudit::engine
