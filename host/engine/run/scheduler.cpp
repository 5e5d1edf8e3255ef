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
        batched::use_one_thread_here();  // per thread: cheap when already one
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
