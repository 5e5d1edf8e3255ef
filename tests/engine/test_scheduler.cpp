// run/scheduler.h: every task runs once; chains are pool threads with one intra-op thread each; the first error is
// rethrown and stops new tasks; keep_going stops before the next task.
#include "run/scheduler.h"

#include <ATen/Parallel.h>
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

using compaudit::engine::run_on_chains;

TEST_CASE("run_on_chains runs each task once: on this thread for one chain, else on chains of one thread",
          "[scheduler]") {
  const int threads_here = at::get_num_threads();
  for (int chains : {1, 2, 3}) {
    CAPTURE(chains);
    std::vector<std::atomic<int>> runs(25);
    std::mutex mutex;
    std::set<std::thread::id> seen;
    std::vector<int> intra_op;
    std::vector<std::size_t> order;
    run_on_chains(runs.size(), chains, [&](std::size_t i) {
      ++runs[i];
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      std::lock_guard<std::mutex> lock(mutex);
      seen.insert(std::this_thread::get_id());
      intra_op.push_back(at::get_num_threads());
      order.push_back(i);
    });
    for (auto& r : runs) REQUIRE(r == 1);
    if (chains == 1) {
      REQUIRE(seen == std::set<std::thread::id>{std::this_thread::get_id()});
      for (std::size_t i = 0; i < order.size(); ++i) REQUIRE(order[i] == i);  // in index order
    } else {
      REQUIRE(seen.count(std::this_thread::get_id()) == 0);
      REQUIRE(seen.size() <= static_cast<std::size_t>(chains));
      for (int n : intra_op) REQUIRE(n == 1);
    }
    REQUIRE(at::get_num_threads() == threads_here);  // the caller keeps its intra-op threads
  }
}

TEST_CASE("run_on_chains: a task that throws stops new tasks and its error is rethrown", "[scheduler]") {
  for (int chains : {1, 2}) {
    CAPTURE(chains);
    std::atomic<int> started{0};
    const auto task = [&](std::size_t i) {
      ++started;
      if (i == 3) throw std::runtime_error("task 3 failed");
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    };
    REQUIRE_THROWS_WITH(run_on_chains(40, chains, task), "task 3 failed");
    if (chains == 1) REQUIRE(started == 4);
    else REQUIRE(started < 40);
  }
}

TEST_CASE("run_on_chains: keep_going false starts no further task", "[scheduler]") {
  for (int chains : {1, 2}) {
    CAPTURE(chains);
    std::atomic<int> done{0};
    run_on_chains(30, chains, [&](std::size_t) { ++done; }, [&] { return done < 5; });
    // One chain checks before each task; two may both pass the check at done == 4.
    REQUIRE(done >= 5);
    REQUIRE(done <= 4 + chains);
  }
}
