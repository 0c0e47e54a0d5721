// Scheduler::StartNow: runs an operator asks for over the API.
#include <gtest/gtest.h>

#include "lib/exec/scheduler.h"

namespace landfall::exec {
namespace {

using namespace std::chrono_literals;
using Result = Scheduler::Result;

Scheduler::TimePoint T(std::chrono::milliseconds ms) { return Scheduler::TimePoint{} + 1h + ms; }

Scheduler Make() {
  Scheduler::Options o;
  o.debounce = 200ms;
  o.max_parallel = 1;
  return Scheduler(o);
}

TEST(SchedulerStartNowTest, StartsTableJobsAtOnceWithoutTheDebounce) {
  auto s = Make();
  auto jobs = s.StartNow({"orders", "customers", "orders"}, "api");
  ASSERT_EQ(jobs.size(), 2u) << "one job per distinct table";
  for (const auto& j : jobs) EXPECT_EQ(j.trigger, "api");
  EXPECT_TRUE(s.Running("orders"));
  EXPECT_TRUE(s.Running("customers"));
  EXPECT_FALSE(s.Running("events"));
  EXPECT_EQ(s.GetStats().running, 2) << "max_parallel does not apply";
}

TEST(SchedulerStartNowTest, ARunningTableIsAConflictAndNothingStarts) {
  auto s = Make();
  s.Touch("orders", T(0ms));
  auto taken = s.TakeReady(T(200ms));
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_TRUE(s.StartNow({"customers", "orders"}, "api").empty());
  EXPECT_FALSE(s.Running("customers")) << "all or nothing";
  EXPECT_TRUE(s.StartNow({}, "api").empty()) << "a full job waits for no running job";
  s.Finished(taken[0], Result{}, T(300ms));
  EXPECT_EQ(s.StartNow({"orders"}, "api").size(), 1u);
}

TEST(SchedulerStartNowTest, AFullJobExcludesEverythingElse) {
  auto s = Make();
  auto full = s.StartNow({}, "api");
  ASSERT_EQ(full.size(), 1u);
  EXPECT_TRUE(full[0].full());
  EXPECT_TRUE(s.Running("anything"));
  EXPECT_TRUE(s.StartNow({"orders"}, "api").empty());
  s.Touch("orders", T(0ms));
  EXPECT_TRUE(s.TakeReady(T(1s)).empty());
  s.Finished(full[0], Result{}, T(1s));
  EXPECT_FALSE(s.Running("anything"));
}

TEST(SchedulerStartNowTest, TheStartedJobCoversEarlierHints) {
  auto s = Make();
  s.Touch("orders", T(0ms));
  auto jobs = s.StartNow({"orders"}, "api");
  ASSERT_EQ(jobs.size(), 1u);
  s.Finished(jobs[0], Result{}, T(50ms));
  EXPECT_TRUE(s.TakeReady(T(1s)).empty()) << "the hint before the start needs no second run";
  EXPECT_FALSE(s.NextWakeup());
}

TEST(SchedulerStartNowTest, AHintWhileRunningAsksForOneFollowUp) {
  auto s = Make();
  auto jobs = s.StartNow({"orders"}, "api");
  s.Touch("orders", T(10ms), "webhook");
  s.Finished(jobs[0], Result{}, T(50ms));
  auto next = s.TakeReady(T(300ms));
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].table, "orders");
  EXPECT_EQ(next[0].trigger, "webhook");
}

TEST(SchedulerStartNowTest, NothingStartsAfterStop) {
  auto s = Make();
  s.Stop();
  EXPECT_TRUE(s.StartNow({"orders"}, "api").empty());
  EXPECT_TRUE(s.StartNow({}, "api").empty());
}

TEST(SchedulerStartNowTest, PendingSaysARunIsWantedSoAStartNowHolderCanGiveItBack) {
  auto s = Make();
  EXPECT_FALSE(s.Pending("orders"));
  s.Touch("orders", T(0ms));
  EXPECT_TRUE(s.Pending("orders")) << "hinted, in its debounce window";
  // A job of the table (here: the daemon reserving it to delete its state)
  // takes the want with it...
  auto held = s.StartNow({"orders"}, "api");
  ASSERT_EQ(held.size(), 1u);
  EXPECT_FALSE(s.Pending("orders"));
  s.Finished(held[0], Result{}, T(10ms));
  EXPECT_TRUE(s.TakeReady(T(1000ms)).empty()) << "the want went with the job";
  // ...so the holder touches the table again, and it runs after the debounce.
  s.Touch("orders", T(1000ms));
  EXPECT_TRUE(s.Pending("orders"));
  auto jobs = s.TakeReady(T(1200ms));
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].table, "orders");
  EXPECT_FALSE(s.Pending("orders")) << "running, not pending";
}

}  // namespace
}  // namespace landfall::exec
