#include "daemon/retry.h"

#include <condition_variable>
#include <mutex>

#include "lib/exec/scheduler.h"

namespace landfall::daemon {

std::chrono::milliseconds Backoff::Delay(int attempt) const {
  return exec::BackoffDelay(attempt, initial, max);
}

std::optional<std::chrono::milliseconds> RetryDelay(
    const Error& error, int attempt, const Backoff& backoff,
    std::chrono::steady_clock::time_point now, std::chrono::steady_clock::time_point deadline) {
  if (!error.transient || now > deadline) return std::nullopt;
  return backoff.Delay(attempt);
}

bool SleepUnlessStopped(std::chrono::milliseconds delay, std::stop_token stop) {
  std::mutex mu;
  std::condition_variable_any cv;
  std::unique_lock lock(mu);
  // Nothing notifies `cv`: it wakes on the timeout or on a stop request.
  cv.wait_for(lock, stop, delay, [] { return false; });
  return !stop.stop_requested();
}

Status RetryTransient(const std::function<Status()>& attempt, const Backoff& backoff,
                      std::chrono::steady_clock::time_point deadline, const RetrySleep& sleep,
                      const OnRetry& on_retry) {
  for (int n = 1;; ++n) {
    auto status = attempt();
    if (status) return status;
    const auto delay =
        RetryDelay(status.error(), n, backoff, std::chrono::steady_clock::now(), deadline);
    if (!delay) return status;
    on_retry(status.error(), *delay);
    if (!sleep(*delay)) return status;
  }
}

Status RetryTransient(const std::function<Status()>& attempt, const Backoff& backoff,
                      std::chrono::steady_clock::time_point deadline, std::stop_token stop,
                      const OnRetry& on_retry) {
  return RetryTransient(
      attempt, backoff, deadline,
      [stop](std::chrono::milliseconds delay) { return SleepUnlessStopped(delay, stop); },
      on_retry);
}

}  // namespace landfall::daemon
