// Start-up retries: which errors are retried, how long each wait is, and when
// the loop gives up. The sleep is the seam: nothing here waits.
#include "daemon/retry.h"

#include <gtest/gtest.h>

#include <vector>

namespace landfall::daemon {
namespace {

using namespace std::chrono_literals;
using TimePoint = std::chrono::steady_clock::time_point;

const Error kDown{"state_unavailable", "connection refused", /*transient=*/true};
const Error kBadUrl{"config_invalid", "bad postgres_url", /*transient=*/false};

TEST(BackoffTest, RunBackoffStartsAtHalfASecondAndIsCappedAtThirtySeconds) {
  EXPECT_EQ(kRunBackoff.Delay(1), 500ms);
  EXPECT_EQ(kRunBackoff.Delay(2), 1000ms);
  EXPECT_EQ(kRunBackoff.Delay(7), 30s);
  EXPECT_EQ(kRunBackoff.Delay(100), 30s);
}

TEST(BackoffTest, ConnectBackoffStartsAtTwoHundredMillisecondsAndIsCappedAtFiveSeconds) {
  EXPECT_EQ(kConnectBackoff.Delay(1), 200ms);
  EXPECT_EQ(kConnectBackoff.Delay(5), 3200ms);
  EXPECT_EQ(kConnectBackoff.Delay(6), 5s);
}

TEST(RetryDelayTest, TransientErrorBeforeTheDeadlineWaitsTheBackoffOfItsAttempt) {
  const TimePoint now{1h};
  EXPECT_EQ(RetryDelay(kDown, 1, kRunBackoff, now, now + 1s), 500ms);
  EXPECT_EQ(RetryDelay(kDown, 3, kRunBackoff, now, TimePoint::max()), 2000ms);
}

TEST(RetryDelayTest, PermanentErrorIsNotRetried) {
  const TimePoint now{1h};
  EXPECT_EQ(RetryDelay(kBadUrl, 1, kRunBackoff, now, TimePoint::max()), std::nullopt);
}

TEST(RetryDelayTest, TransientErrorAfterTheDeadlineIsNotRetried) {
  const TimePoint now{1h};
  EXPECT_EQ(RetryDelay(kDown, 1, kRunBackoff, now, now - 1ms), std::nullopt);
}

// Records each wait instead of waiting; `stop_after` waits, it says stop.
struct FakeSleep {
  std::vector<std::chrono::milliseconds> waits;
  size_t stop_after = SIZE_MAX;
  RetrySleep Fn() {
    return [this](std::chrono::milliseconds delay) {
      waits.push_back(delay);
      return waits.size() < stop_after;
    };
  }
};

// An attempt that fails with `errors` in turn, then succeeds.
struct Attempts {
  std::vector<Error> errors;
  int calls = 0;
  std::function<Status()> Fn() {
    return [this]() -> Status {
      const auto n = static_cast<size_t>(calls++);
      if (n < errors.size()) return Fail(errors[n]);
      return Ok();
    };
  }
};

const OnRetry kQuiet = [](const Error&, std::chrono::milliseconds) {};

TEST(RetryTransientTest, TransientFailuresAreRetriedWithGrowingWaitsUntilSuccess) {
  Attempts attempts{{kDown, kDown, kDown}};
  FakeSleep sleep;
  std::vector<std::string> told;
  auto status =
      RetryTransient(attempts.Fn(), kRunBackoff, TimePoint::max(), sleep.Fn(),
                     [&](const Error& e, std::chrono::milliseconds) { told.push_back(e.code); });
  EXPECT_TRUE(status);
  EXPECT_EQ(attempts.calls, 4);
  EXPECT_EQ(sleep.waits, (std::vector<std::chrono::milliseconds>{500ms, 1000ms, 2000ms}));
  EXPECT_EQ(told.size(), 3u);
}

TEST(RetryTransientTest, PermanentFailureIsReturnedAtOnce) {
  Attempts attempts{{kDown, kBadUrl}};
  FakeSleep sleep;
  auto status =
      RetryTransient(attempts.Fn(), kConnectBackoff, TimePoint::max(), sleep.Fn(), kQuiet);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code, "config_invalid");
  EXPECT_EQ(attempts.calls, 2);
  EXPECT_EQ(sleep.waits, (std::vector<std::chrono::milliseconds>{200ms}));
}

TEST(RetryTransientTest, StopDuringAWaitReturnsTheLastErrorWithoutAnotherAttempt) {
  Attempts attempts{{kDown, kDown, kDown}};
  FakeSleep sleep{.stop_after = 2};
  auto status = RetryTransient(attempts.Fn(), kRunBackoff, TimePoint::max(), sleep.Fn(), kQuiet);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code, "state_unavailable");
  EXPECT_EQ(attempts.calls, 2);
}

TEST(RetryTransientTest, PassedDeadlineMeansOneAttemptOnly) {
  Attempts attempts{{kDown}};
  FakeSleep sleep;
  auto status = RetryTransient(attempts.Fn(), kRunBackoff, std::chrono::steady_clock::now() - 1s,
                               sleep.Fn(), kQuiet);
  EXPECT_FALSE(status);
  EXPECT_EQ(attempts.calls, 1);
  EXPECT_TRUE(sleep.waits.empty());
}

TEST(SleepUnlessStoppedTest, AStopRequestedBeforehandEndsTheSleepAndSaysStopped) {
  std::stop_source stop;
  stop.request_stop();
  // An hour, were the stop not honoured: the test would hang, not pass.
  EXPECT_FALSE(SleepUnlessStopped(std::chrono::hours(1), stop.get_token()));
}

TEST(SleepUnlessStoppedTest, WithoutAStopItSleepsAndSaysGoOn) {
  EXPECT_TRUE(SleepUnlessStopped(1ms, std::stop_token{}));
}

}  // namespace
}  // namespace landfall::daemon
