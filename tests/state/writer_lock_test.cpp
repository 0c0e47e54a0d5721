// The writer lock and MarkRunsInterrupted against a real PostgreSQL
// (tests/with-postgres.sh); the kill -9 cases are in tests/cli/writer_test.cpp.
#include "lib/state/writer_lock.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "lib/state/state_store.h"
#include "tests/support/testing.h"

namespace landfall::state {
namespace {

using ::landfall::testing::PostgresUrl;
using ::landfall::testing::UniqueEnvironment;

TEST(WriterLockTest, ASecondWriterIsRefusedNamingTheFirstUntilItLetsGo) {
  LANDFALL_REQUIRE_POSTGRES();
  const std::string env = UniqueEnvironment("lock");
  auto first = WriterLock::Acquire({PostgresUrl(), env});
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_TRUE((*first)->identity().starts_with("landfall pid=" + std::to_string(getpid()) +
                                               " since=20"))
      << (*first)->identity();

  auto second = WriterLock::Acquire({PostgresUrl(), env});
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, "writer_conflict");
  EXPECT_FALSE(second.error().transient) << "the holder is alive";
  EXPECT_NE(second.error().message.find("landfall PID " + std::to_string(getpid())),
            std::string::npos)
      << second.error().message;

  // Another environment has a lock of its own.
  EXPECT_TRUE(WriterLock::Acquire({PostgresUrl(), UniqueEnvironment("lock")}));

  first->reset();
  EXPECT_TRUE(WriterLock::Acquire({PostgresUrl(), env})) << "released with its connection";
}

TEST(WriterLockTest, KeysDifferPerEnvironmentAndNeverChange) {
  EXPECT_NE(WriterLockKey("prod"), WriterLockKey("dev"));
  EXPECT_EQ(WriterLockKey("prod"), WriterLockKey("prod"));
}

TEST(MarkRunsInterruptedTest, RunsLeftRunningAreMarkedFinishedWhenLastSeen) {
  LANDFALL_REQUIRE_POSTGRES();
  const std::string env = UniqueEnvironment("interrupted");
  auto opened = OpenPostgres({PostgresUrl(), env});
  ASSERT_TRUE(opened) << opened.error().ToString();
  auto& store = **opened;
  ASSERT_TRUE(store.Migrate());
  auto done = store.StartRun("cli", "");
  ASSERT_TRUE(done);
  ASSERT_TRUE(store.FinishRun(*done, "succeeded", ""));
  auto quiet = store.StartRun("watcher", "");  // no table record: last seen at its start
  auto busy = store.StartRun("api", "");       // one table record
  ASSERT_TRUE(quiet && busy);
  TableRunRecord record;
  record.table = "orders";
  record.action = "append";
  record.status = TableRunStatus::kSucceeded;
  ASSERT_TRUE(store.RecordTableRun(*busy, record));

  auto marked = store.MarkRunsInterrupted();
  ASSERT_TRUE(marked) << marked.error().ToString();
  ASSERT_EQ(marked->size(), 2u);
  EXPECT_EQ((*marked)[0].id, *quiet);
  EXPECT_EQ((*marked)[1].id, *busy);
  for (const auto& run : *marked) {
    EXPECT_EQ(run.status, "interrupted");
    EXPECT_NE(run.error.find("interrupted"), std::string::npos);
  }
  EXPECT_EQ((*marked)[0].finished_at_us, (*marked)[0].started_at_us);
  auto records = store.TableRuns(*busy);
  ASSERT_TRUE(records && records->size() == 1u);
  EXPECT_EQ((*marked)[1].finished_at_us, (*records)[0].recorded_at_us);

  auto finished = store.GetRun(*done);
  ASSERT_TRUE(finished && *finished);
  EXPECT_EQ((*finished)->status, "succeeded") << "finished runs are left alone";
  auto again = store.MarkRunsInterrupted();
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->empty());
  auto listed = store.FindRuns(0, "interrupted");
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed->size(), 2u);
}

}  // namespace
}  // namespace landfall::state
