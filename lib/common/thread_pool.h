// A fixed-size worker pool for blocking work (DuckDB, libpq, file hashing).
// Thread-safe. The destructor waits for queued tasks to finish. No exception
// escapes a task: a worker thread that let one through would end the process.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "lib/common/result.h"

namespace landfall {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Runs `task` on a worker. An exception it throws is caught and logged
  // (as an error: it is a bug) and the worker goes on with the next task.
  void Post(std::function<void()> task);

  // Posts `fn`, which returns a Result<T> or a Status, and returns a future
  // for its result. An exception thrown by `fn` becomes an "internal_error"
  // result (see CallCatching): the future never rethrows.
  template <typename Fn>
  auto Submit(Fn fn) -> std::future<decltype(fn())> {
    using R = decltype(fn());
    auto promise = std::make_shared<std::promise<R>>();
    auto future = promise->get_future();
    Post([promise, fn = std::move(fn)]() mutable {
      promise->set_value(CallCatching(fn, "worker task"));
    });
    return future;
  }

  int size() const { return static_cast<int>(threads_.size()); }

 private:
  void Loop();

  std::vector<std::thread> threads_;
  std::mutex mu_;  // guards queue_ and stopping_
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
};

}  // namespace landfall
