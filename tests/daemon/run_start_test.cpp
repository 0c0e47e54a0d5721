// Starting a run, from the scheduler's hints or from POST /v1/runs: the jobs
// the real scheduler hands out or refuses, the engine request they make, and
// what the scheduler is told when the run ends.
#include "daemon/run_start.h"

#include <gtest/gtest.h>

namespace landfall::daemon {
namespace {

using namespace std::chrono_literals;
using exec::Scheduler;

class RunStartTest : public ::testing::Test {
 protected:
  static Scheduler::Options Options() {
    Scheduler::Options o;
    o.debounce = 200ms;
    o.max_parallel = 4;
    return o;
  }
  // Time only moves when a test moves it.
  Scheduler::TimePoint T(std::chrono::milliseconds ms) const {
    return Scheduler::TimePoint{} + 1h + ms;
  }
  // Makes `table` run as the watcher would have it: hinted, then due.
  Scheduler::Job RunFromWatcher(const std::string& table) {
    scheduler_.Touch(table, T(0ms), "watcher");
    auto jobs = scheduler_.TakeReady(T(1000ms));
    EXPECT_EQ(jobs.size(), 1u);
    return jobs.front();
  }

  Scheduler scheduler_{Options()};
};

TEST_F(RunStartTest, ApiRunOfIdleTablesTakesOneRunningJobPerTable) {
  auto jobs = StartApiJobs(scheduler_, Phase::kServing, {"orders", "users"});
  ASSERT_TRUE(jobs) << jobs.error().message;
  ASSERT_EQ(jobs->size(), 2u);
  EXPECT_EQ((*jobs)[0].trigger, "api");
  EXPECT_TRUE(scheduler_.Running("orders"));
  EXPECT_TRUE(scheduler_.Running("users"));
}

TEST_F(RunStartTest, ApiRunOfATableTheWatcherIsRunningIsARunConflict) {
  RunFromWatcher("orders");
  auto jobs = StartApiJobs(scheduler_, Phase::kServing, {"users", "orders"});
  ASSERT_FALSE(jobs);
  EXPECT_EQ(jobs.error().code, "run_conflict");
  EXPECT_FALSE(jobs.error().transient);
  EXPECT_EQ(jobs.error().message, "a run covering these tables is in progress");
  // All or nothing: the free table was not taken either.
  EXPECT_FALSE(scheduler_.Running("users"));
}

TEST_F(RunStartTest, ApiRunOfEveryTableWhileAnyTableRunsIsARunConflict) {
  RunFromWatcher("orders");
  auto jobs = StartApiJobs(scheduler_, Phase::kServing, {});
  ASSERT_FALSE(jobs);
  EXPECT_EQ(jobs.error().code, "run_conflict");
  EXPECT_EQ(jobs.error().message, "a run is in progress; a run of every table waits for none");
}

TEST_F(RunStartTest, SecondApiRunOfTheSameTableConflictsUntilTheFirstIsFinished) {
  auto first = StartApiJobs(scheduler_, Phase::kServing, {"orders"});
  ASSERT_TRUE(first);
  EXPECT_FALSE(StartApiJobs(scheduler_, Phase::kServing, {"orders"}));
  scheduler_.Finished(first->front(), {}, T(0ms));
  EXPECT_TRUE(StartApiJobs(scheduler_, Phase::kServing, {"orders"}));
}

TEST_F(RunStartTest, ApiRunWhileStartingOrStoppingIsUnavailableAndTakesNothing) {
  auto starting = StartApiJobs(scheduler_, Phase::kStarting, {"orders"});
  ASSERT_FALSE(starting);
  EXPECT_EQ(starting.error().code, "daemon_unavailable");
  EXPECT_EQ(starting.error().message, "landfall is starting");
  EXPECT_TRUE(starting.error().transient);
  auto stopping = StartApiJobs(scheduler_, Phase::kStopping, {});
  ASSERT_FALSE(stopping);
  EXPECT_EQ(stopping.error().message, "landfall is stopping");
  EXPECT_TRUE(scheduler_.Idle());
}

TEST_F(RunStartTest, HoldOfARunningTableIsATableConflict) {
  RunFromWatcher("orders");
  auto hold = HoldTable(scheduler_, Phase::kServing, "orders");
  ASSERT_FALSE(hold);
  EXPECT_EQ(hold.error().code, "table_conflict");
  EXPECT_EQ(hold.error().message, "table 'orders' is running; delete its state when the run ends");
}

TEST_F(RunStartTest, HoldOfAnIdleTableKeepsTheWatchersRunOfItWaiting) {
  auto hold = HoldTable(scheduler_, Phase::kServing, "orders");
  ASSERT_TRUE(hold) << hold.error().message;
  EXPECT_EQ(hold->table, "orders");
  scheduler_.Touch("orders", T(0ms), "watcher");
  EXPECT_TRUE(scheduler_.TakeReady(T(1000ms)).empty());
}

TEST_F(RunStartTest, HoldWhileStartingIsUnavailable) {
  auto hold = HoldTable(scheduler_, Phase::kStarting, "orders");
  ASSERT_FALSE(hold);
  EXPECT_EQ(hold.error().code, "daemon_unavailable");
  EXPECT_FALSE(scheduler_.Running("orders"));
}

TEST_F(RunStartTest, RequestOfTableJobsNamesTheirTablesWithTheGrace) {
  auto jobs = StartApiJobs(scheduler_, Phase::kServing, {"orders", "users"});
  ASSERT_TRUE(jobs);
  const auto request = RequestFor(*jobs, "api");
  EXPECT_EQ(request.tables, (std::vector<std::string>{"orders", "users"}));
  EXPECT_EQ(request.trigger, "api");
  EXPECT_EQ(request.truncated_grace, kTruncatedGrace);
  EXPECT_FALSE(request.full_refresh);
}

TEST_F(RunStartTest, RequestOfAFullJobCoversEveryTable) {
  scheduler_.TouchAll(T(0ms), "startup");
  auto jobs = scheduler_.TakeReady(T(1000ms));
  ASSERT_EQ(jobs.size(), 1u);
  ASSERT_TRUE(jobs.front().full());
  const auto request = RequestFor(jobs, jobs.front().trigger);
  EXPECT_TRUE(request.tables.empty());
  EXPECT_EQ(request.trigger, "startup");
}

TEST(SummarizeTest, TransientRunErrorIsRetriedAndPermanentOneIsNot) {
  Result<exec::RunOutcome> down = Fail("state_unavailable", "down", true);
  EXPECT_EQ(Summarize(down).result.status, Scheduler::Result::kTransientError);
  ASSERT_TRUE(Summarize(down).error);
  Result<exec::RunOutcome> broken = Fail("internal_error", "api run: boom");
  EXPECT_EQ(Summarize(broken).result.status, Scheduler::Result::kError);
}

TEST(SummarizeTest, TablesAreSplitBySuccessAndOnlyTransientFailuresAreRetried) {
  exec::RunOutcome outcome;
  outcome.tables = {{.table = "a", .status = state::TableRunStatus::kSucceeded},
                    {.table = "b", .status = state::TableRunStatus::kFailed, .transient = true},
                    {.table = "c", .status = state::TableRunStatus::kFailed, .transient = false}};
  outcome.catalog.deferred_tables = {"d"};
  const auto out = Summarize(outcome);
  EXPECT_EQ(out.result.status, Scheduler::Result::kDone);
  EXPECT_FALSE(out.error);
  EXPECT_EQ(out.succeeded, std::vector<std::string>{"a"});
  EXPECT_EQ(out.failed, (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(out.result.retry_tables, std::vector<std::string>{"b"});
  EXPECT_EQ(out.result.deferred_tables, std::vector<std::string>{"d"});
  EXPECT_EQ(out.changed, 3);
}

TEST(EndsStartUpTest, AFullScanEndsStartUpUnlessItFailedTransiently) {
  const Scheduler::Job full{.id = 1, .trigger = "startup"};
  EXPECT_TRUE(EndsStartUp(full, JobOutcome{}));
  EXPECT_TRUE(EndsStartUp(full, Summarize(Fail("internal_error", "start: boom"))));
  EXPECT_FALSE(EndsStartUp(full, Summarize(Fail("state_unavailable", "down", true))));
}

TEST(EndsStartUpTest, ATableJobNeverEndsStartUp) {
  EXPECT_FALSE(EndsStartUp({.id = 1, .table = "orders", .trigger = "api"}, JobOutcome{}));
}

TEST(ScopeTest, NamesTheTableOrTheFullScan) {
  EXPECT_EQ(Scope({.id = 1, .table = "orders"}), "table orders");
  EXPECT_EQ(Scope({.id = 2}), "full scan");
}

}  // namespace
}  // namespace landfall::daemon
