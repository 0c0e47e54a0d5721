// Waiting after a transient error: the daemon's backoff policies, and the one
// retry loop that start-up (connecting to the state store, taking the writer
// lock, starting the engine) and the one-shot commands go through.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <stop_token>

#include "lib/common/result.h"

namespace landfall::daemon {

// A capped exponential backoff: attempt 1 waits `initial`, each next attempt
// twice as long, never more than `max` (exec::BackoffDelay).
struct Backoff {
  std::chrono::milliseconds initial;
  std::chrono::milliseconds max;
  std::chrono::milliseconds Delay(int attempt) const;
};

// Work that failed transiently: a table's run (the scheduler retries it), a
// full job, the engine's start (reconciliation while the warehouse is busy).
inline constexpr Backoff kRunBackoff{std::chrono::milliseconds(500), std::chrono::seconds(30)};
// Reaching PostgreSQL: opening the state store and taking the writer lock. It
// is often only starting up, and a one-shot command waits on it.
inline constexpr Backoff kConnectBackoff{std::chrono::milliseconds(200), std::chrono::seconds(5)};

// After attempt number `attempt` (from 1) failed with `error` at `now`: how
// long to wait before the next one, or nullopt to give up (the error is not
// transient, or `deadline` has passed).
std::optional<std::chrono::milliseconds> RetryDelay(const Error& error, int attempt,
                                                    const Backoff& backoff,
                                                    std::chrono::steady_clock::time_point now,
                                                    std::chrono::steady_clock::time_point deadline);

// Sleeps for `delay`, or less when `stop` is requested. True when not stopped.
bool SleepUnlessStopped(std::chrono::milliseconds delay, std::stop_token stop);

// The seams of RetryTransient: waits `delay` and says whether to go on
// (false: stopped); tells of a retry to come (logging).
using RetrySleep = std::function<bool(std::chrono::milliseconds delay)>;
using OnRetry = std::function<void(const Error& error, std::chrono::milliseconds delay)>;

// Calls `attempt` until it succeeds or RetryDelay gives up, calling
// `on_retry` and `sleep` between attempts; returns the last attempt's status
// (also when `sleep` says stop). `attempt` runs at least once.
Status RetryTransient(const std::function<Status()>& attempt, const Backoff& backoff,
                      std::chrono::steady_clock::time_point deadline, const RetrySleep& sleep,
                      const OnRetry& on_retry);

// The same, sleeping with SleepUnlessStopped(`stop`).
Status RetryTransient(const std::function<Status()>& attempt, const Backoff& backoff,
                      std::chrono::steady_clock::time_point deadline, std::stop_token stop,
                      const OnRetry& on_retry);

}  // namespace landfall::daemon
