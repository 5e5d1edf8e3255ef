#include "run/scheduler.h"

#include "batched/threads.h"

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>

namespace compaudit::engine {

void run_on_chains(std::size_t n, int chains, const std::function<void(std::size_t)>& task,
                   const std::function<bool()>& keep_going) {
  if (chains <= 1) {
    for (std::size_t i = 0; i < n && (!keep_going || keep_going()); ++i) task(i);
    return;
  }
  std::atomic<bool> failed{false};
  std::exception_ptr first_error;
  std::mutex error_mutex;
  boost::asio::thread_pool pool(std::min(n, static_cast<std::size_t>(chains)));
  for (std::size_t i = 0; i < n; ++i)
    boost::asio::post(pool, [&, i] {
      if (failed || (keep_going && !keep_going())) return;
      try {
        // Once per chain: at::set_num_threads reconfigures LibTorch's thread pools, which is not free per task.
        thread_local bool one_thread = false;
        if (!one_thread) {
          batched::use_one_thread_here();
          one_thread = true;
        }
        task(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!first_error) first_error = std::current_exception();
        failed = true;
      }
    });
  pool.join();
  if (first_error) std::rethrow_exception(first_error);
}

}  // namespace compaudit::engine
