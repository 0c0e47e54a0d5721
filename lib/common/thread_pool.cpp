#include "lib/common/thread_pool.h"

#include <spdlog/spdlog.h>

#include <exception>

namespace landfall {

ThreadPool::ThreadPool(int threads) {
  if (threads < 1) threads = 1;
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Loop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void ThreadPool::Post(std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(task));
  }
  cv_.notify_one();
}

void ThreadPool::Loop() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      // Drain the queue before stopping so no posted work is silently lost.
      if (queue_.empty()) return;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    // The last line of defence: tasks report errors as values, so this is a
    // bug; it is logged, and the pool (and the process) goes on.
    try {
      task();
    } catch (const std::exception& e) {
      spdlog::error("worker pool: a task threw: {}", e.what());
    } catch (...) {
      spdlog::error("worker pool: a task threw an exception of unknown type");
    }
  }
}

}  // namespace landfall
