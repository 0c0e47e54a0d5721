// The daemon's Scheduler, a pure function of hints, results and a time the
// test moves by hand: debounce windows that a stream of hints cannot
// postpone (and a debounce changed live), one follow-up run for a running
// table, parallelism up to max_parallel, retries with capped exponential
// backoff, deferred tables looked at again a bounded number of times, full
// jobs that wait for and block table runs, and stopping.
#include "lib/exec/scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace landfall::exec {
namespace {

using namespace std::chrono_literals;
using Job = Scheduler::Job;
using Result = Scheduler::Result;

// Time is a number the test moves by hand; nothing here reads a clock.
class SchedulerTest : public ::testing::Test {
 protected:
  Scheduler::TimePoint T(std::chrono::milliseconds ms) const {
    return Scheduler::TimePoint{} + 1h + ms;
  }

  static Scheduler::Options Defaults() {
    Scheduler::Options o;
    o.debounce = 200ms;
    o.max_parallel = 2;
    o.backoff_initial = 500ms;
    o.backoff_max = 4000ms;
    o.deferred_retry = 1000ms;
    o.max_deferred_retries = 3;
    return o;
  }

  static std::vector<std::string> Tables(const std::vector<Job>& jobs) {
    std::vector<std::string> out;
    for (const auto& j : jobs) out.push_back(j.full() ? "(all)" : j.table);
    std::sort(out.begin(), out.end());
    return out;
  }

  Scheduler s_{Defaults()};
};

TEST_F(SchedulerTest, HintsWithinTheDebounceCoalesceIntoOneRun) {
  s_.Touch("orders", T(0ms));
  s_.Touch("orders", T(50ms));
  s_.Touch("orders", T(150ms));
  EXPECT_TRUE(s_.TakeReady(T(199ms)).empty());
  auto jobs = s_.TakeReady(T(200ms));
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].table, "orders");
  EXPECT_EQ(jobs[0].trigger, "watcher");
  s_.Finished(jobs[0], {}, T(250ms));
  EXPECT_TRUE(s_.TakeReady(T(10s)).empty()) << "three hints, one run";
  EXPECT_FALSE(s_.NextWakeup().has_value());
}

TEST_F(SchedulerTest, AStreamOfHintsCannotPostponeTheRun) {
  for (int ms = 0; ms < 1000; ms += 50) s_.Touch("orders", T(std::chrono::milliseconds(ms)));
  EXPECT_EQ(s_.NextWakeup(), T(200ms));
  EXPECT_EQ(Tables(s_.TakeReady(T(200ms))), std::vector<std::string>{"orders"});
}

TEST_F(SchedulerTest, HintsForARunningTableGiveExactlyOneFollowUpRun) {
  s_.Touch("orders", T(0ms));
  auto first = s_.TakeReady(T(200ms));
  ASSERT_EQ(first.size(), 1u);
  for (int i = 0; i < 10; ++i) s_.Touch("orders", T(300ms + i * 10ms));
  EXPECT_TRUE(s_.TakeReady(T(5s)).empty()) << "at most one job per table";
  EXPECT_FALSE(s_.NextWakeup().has_value());

  s_.Finished(first[0], {}, T(6s));
  // The follow-up's debounce window has long passed: it is due at once.
  EXPECT_EQ(s_.NextWakeup(), T(6s));
  auto second = s_.TakeReady(T(6s));
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].table, "orders");
  s_.Finished(second[0], {}, T(7s));
  EXPECT_TRUE(s_.TakeReady(T(60s)).empty()) << "one follow-up, not a queue";
}

TEST_F(SchedulerTest, FollowUpWaitsForItsOwnDebounceWindow) {
  s_.Touch("orders", T(0ms));
  auto first = s_.TakeReady(T(200ms));
  s_.Touch("orders", T(250ms));
  s_.Finished(first[0], {}, T(300ms));
  EXPECT_EQ(s_.NextWakeup(), T(450ms));
  EXPECT_TRUE(s_.TakeReady(T(449ms)).empty());
  EXPECT_EQ(s_.TakeReady(T(450ms)).size(), 1u);
}

TEST_F(SchedulerTest, DifferentTablesRunInParallelUpToMaxParallel) {
  s_.Touch("a", T(0ms));
  s_.Touch("b", T(10ms));
  s_.Touch("c", T(20ms));
  auto jobs = s_.TakeReady(T(1s));
  EXPECT_EQ(Tables(jobs), (std::vector<std::string>{"a", "b"})) << "longest waiting first";
  EXPECT_FALSE(s_.NextWakeup().has_value()) << "no capacity until a job finishes";
  EXPECT_EQ(s_.GetStats().running, 2);
  EXPECT_EQ(s_.GetStats().waiting, 1);

  s_.Finished(jobs[1], {}, T(2s));
  EXPECT_EQ(Tables(s_.TakeReady(T(2s))), std::vector<std::string>{"c"});
}

TEST_F(SchedulerTest, AFailingTableDoesNotDelayTheOthers) {
  s_.Touch("bad", T(0ms));
  s_.Touch("good", T(0ms));
  auto jobs = s_.TakeReady(T(200ms));
  ASSERT_EQ(jobs.size(), 2u);
  for (const auto& j : jobs) {
    Result r;
    if (j.table == "bad") r.status = Result::kError;
    s_.Finished(j, r, T(300ms));
  }
  s_.Touch("good", T(400ms));
  EXPECT_EQ(Tables(s_.TakeReady(T(600ms))), std::vector<std::string>{"good"});
}

TEST_F(SchedulerTest, NonTransientFailureIsRetriedOnlyOnTheNextHint) {
  s_.Touch("orders", T(0ms));
  auto jobs = s_.TakeReady(T(200ms));
  Result failed;
  failed.status = Result::kError;
  s_.Finished(jobs[0], failed, T(300ms));
  EXPECT_FALSE(s_.NextWakeup().has_value());
  EXPECT_TRUE(s_.TakeReady(T(1h)).empty());
  s_.Touch("orders", T(1h));
  EXPECT_EQ(s_.TakeReady(T(1h) + 200ms).size(), 1u);
}

TEST_F(SchedulerTest, TransientFailuresRetryWithCappedExponentialBackoff) {
  s_.Touch("orders", T(0ms));
  auto now = T(200ms);
  auto jobs = s_.TakeReady(now);
  Result transient;
  transient.status = Result::kTransientError;
  std::vector<std::chrono::milliseconds> delays;
  for (int i = 0; i < 6; ++i) {
    s_.Finished(jobs.at(0), transient, now);
    auto next = s_.NextWakeup();
    ASSERT_TRUE(next.has_value());
    delays.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(*next - now));
    EXPECT_TRUE(s_.TakeReady(*next - 1ms).empty());
    EXPECT_EQ(s_.GetStats().retrying, 1);
    now = *next;
    jobs = s_.TakeReady(now);
    ASSERT_EQ(jobs.size(), 1u);
    EXPECT_EQ(jobs[0].trigger, "retry");
  }
  EXPECT_EQ(delays, (std::vector<std::chrono::milliseconds>{500ms, 1000ms, 2000ms, 4000ms, 4000ms,
                                                            4000ms}));
  s_.Finished(jobs[0], {}, now);
  EXPECT_EQ(s_.GetStats().retrying, 0);
  // Success resets the backoff.
  s_.Touch("orders", now);
  EXPECT_EQ(s_.NextWakeup(), now + 200ms);
}

TEST_F(SchedulerTest, HintsDoNotShortenABackoff) {
  s_.Touch("orders", T(0ms));
  auto jobs = s_.TakeReady(T(200ms));
  Result r;
  r.retry_tables = {"orders"};  // the table's run failed transiently (e.g. warehouse busy)
  s_.Finished(jobs[0], r, T(300ms));
  s_.Touch("orders", T(310ms));
  EXPECT_EQ(s_.NextWakeup(), T(800ms));
  EXPECT_TRUE(s_.TakeReady(T(799ms)).empty());
  EXPECT_EQ(s_.TakeReady(T(800ms)).size(), 1u);
}

TEST_F(SchedulerTest, DeferredTableIsLookedAtAgainABoundedNumberOfTimes) {
  s_.Touch("orders", T(0ms));
  auto now = T(200ms);
  auto jobs = s_.TakeReady(now);
  Result deferred;
  deferred.deferred_tables = {"orders"};
  int runs = 1;
  for (;;) {
    s_.Finished(jobs.at(0), deferred, now);
    auto next = s_.NextWakeup();
    if (!next) break;
    EXPECT_EQ(*next, now + 1000ms);
    now = *next;
    jobs = s_.TakeReady(now);
    ASSERT_EQ(jobs.size(), 1u);
    EXPECT_EQ(jobs[0].trigger, "deferred");
    ++runs;
    ASSERT_LT(runs, 100);
  }
  EXPECT_EQ(runs, 1 + 3);
  // A new hint still works, and a clean run resets the count.
  s_.Touch("orders", now);
  jobs = s_.TakeReady(now + 200ms);
  ASSERT_EQ(jobs.size(), 1u);
  s_.Finished(jobs[0], {}, now + 300ms);
  s_.Touch("orders", now + 400ms);
  jobs = s_.TakeReady(now + 600ms);
  s_.Finished(jobs.at(0), deferred, now + 700ms);
  EXPECT_EQ(s_.NextWakeup(), now + 1700ms);
}

TEST_F(SchedulerTest, FullJobWaitsForRunningTablesAndBlocksNewOnes) {
  s_.Touch("a", T(0ms));
  auto a = s_.TakeReady(T(200ms));
  ASSERT_EQ(a.size(), 1u);
  s_.TouchAll(T(300ms));
  s_.Touch("b", T(300ms));
  EXPECT_TRUE(s_.TakeReady(T(600ms)).empty()) << "the due full job waits for 'a' and blocks 'b'";
  EXPECT_FALSE(s_.NextWakeup().has_value());

  s_.Finished(a[0], {}, T(1s));
  auto full = s_.TakeReady(T(1s));
  ASSERT_EQ(full.size(), 1u);
  EXPECT_TRUE(full[0].full());
  EXPECT_EQ(full[0].trigger, "scan");
  s_.Touch("c", T(1100ms));
  EXPECT_TRUE(s_.TakeReady(T(5s)).empty()) << "nothing runs beside a full job";
  s_.Finished(full[0], {}, T(6s));
  // 'b' was covered by the full job; 'c' arrived during it.
  EXPECT_EQ(Tables(s_.TakeReady(T(6s))), std::vector<std::string>{"c"});
}

TEST_F(SchedulerTest, TableDueBeforeAPendingFullJobStillStarts) {
  s_.Touch("a", T(0ms));
  s_.TouchAll(T(100ms));
  EXPECT_EQ(s_.NextWakeup(), T(200ms));
  auto a = s_.TakeReady(T(200ms));
  ASSERT_EQ(Tables(a), std::vector<std::string>{"a"});
  EXPECT_FALSE(s_.NextWakeup().has_value()) << "the full job is due next, after 'a'";
  s_.Finished(a[0], {}, T(250ms));
  EXPECT_EQ(s_.NextWakeup(), T(300ms));
  EXPECT_TRUE(s_.TakeReady(T(300ms)).at(0).full());
}

TEST_F(SchedulerTest, FullJobResultsGoToTheirTables) {
  s_.TouchAll(T(0ms), "startup");
  auto full = s_.TakeReady(T(200ms));
  ASSERT_EQ(full.size(), 1u);
  EXPECT_EQ(full[0].trigger, "startup");
  Result r;
  r.retry_tables = {"busy"};
  r.deferred_tables = {"half"};
  s_.Finished(full[0], r, T(300ms));
  EXPECT_EQ(Tables(s_.TakeReady(T(800ms))), std::vector<std::string>{"busy"});
  EXPECT_EQ(Tables(s_.TakeReady(T(1300ms))), std::vector<std::string>{"half"});
}

TEST_F(SchedulerTest, TransientFailureOfAFullJobRetriesTheFullJob) {
  s_.TouchAll(T(0ms), "startup");
  auto full = s_.TakeReady(T(200ms));
  Result r;
  r.status = Result::kTransientError;
  s_.Finished(full[0], r, T(300ms));
  EXPECT_EQ(s_.NextWakeup(), T(800ms));
  auto again = s_.TakeReady(T(800ms));
  ASSERT_EQ(again.size(), 1u);
  EXPECT_TRUE(again[0].full());
  EXPECT_EQ(again[0].trigger, "retry");
}

TEST_F(SchedulerTest, StopHandsOutNothingButRunningJobsStillFinish) {
  s_.Touch("a", T(0ms));
  s_.Touch("b", T(0ms));
  auto jobs = s_.TakeReady(T(200ms));
  ASSERT_EQ(jobs.size(), 2u);
  s_.Stop();
  s_.Touch("c", T(300ms));
  EXPECT_TRUE(s_.TakeReady(T(1h)).empty());
  EXPECT_FALSE(s_.NextWakeup().has_value());
  EXPECT_FALSE(s_.Idle());
  for (const auto& j : jobs) s_.Finished(j, {}, T(400ms));
  EXPECT_TRUE(s_.Idle());
  EXPECT_TRUE(s_.TakeReady(T(1h)).empty());
}

TEST_F(SchedulerTest, DebounceCanChangeLive) {
  s_.set_debounce(1000ms);
  s_.Touch("a", T(0ms));
  EXPECT_EQ(s_.NextWakeup(), T(1000ms));
}

TEST(BackoffDelayTest, DoublesFromInitialAndIsCapped) {
  EXPECT_EQ(BackoffDelay(1, 200ms, 5000ms), 200ms);
  EXPECT_EQ(BackoffDelay(2, 200ms, 5000ms), 400ms);
  EXPECT_EQ(BackoffDelay(5, 200ms, 5000ms), 3200ms);
  EXPECT_EQ(BackoffDelay(6, 200ms, 5000ms), 5000ms);
  EXPECT_EQ(BackoffDelay(1000, 200ms, 5000ms), 5000ms);
}

}  // namespace
}  // namespace landfall::exec
