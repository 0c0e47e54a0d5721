// One writer per environment (the writer lock), and runs that a
// killed writer left "running" are marked interrupted by the next writer.
#include <unistd.h>

#include "tests/cli/operate_fixture.h"

namespace landfall::testing {
namespace {

std::string Hostname() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return host;
}

class WriterTest : public OperateTest {};

TEST_F(WriterTest, SecondDaemonOnTheSameEnvironmentIsRefusedNamingTheHolder) {
  Land("orders/part-0.parquet", 10);
  auto serve = StartServe();

  // Another daemon of the same environment, with a warehouse file of its own.
  const auto other = WriteOtherWriterConfig();
  ChildProcess second({LandfallBinary(), "serve", "--config", other.string()}, dir_ / "second.log");
  // Refused at once: it does not wait for the lock.
  EXPECT_EQ(second.WaitExit(60s), std::optional<int>(3)) << second.Log();
  const std::string holder = "landfall PID " + std::to_string(serve->pid()) + " on host " +
                             Hostname().substr(0, 10);
  EXPECT_NE(second.Log().find("already has a writer"), std::string::npos) << second.Log();
  EXPECT_NE(second.Log().find(holder), std::string::npos) << second.Log();
  EXPECT_NE(second.Log().find(", since 20"), std::string::npos) << second.Log();

  // So is a one-shot run; and nothing reached its warehouse.
  auto run = RunCommand({LandfallBinary(), "run", "--config", other.string()});
  EXPECT_EQ(run.exit_code, 3) << run.out << run.err;
  EXPECT_NE(run.err.find(holder), std::string::npos) << run.err;
  EXPECT_FALSE(std::filesystem::exists(dir_ / "other.duckdb"));

  // A plan is a read: it needs no writer lock.
  auto plan = RunCommand({LandfallBinary(), "plan", "--config", other.string()});
  EXPECT_EQ(plan.exit_code, 0) << plan.err;

  StopServe(*serve);
  // Released on exit: now the other config may write.
  EXPECT_EQ(RunCommand({LandfallBinary(), "run", "--config", other.string()}).exit_code, 0);
  EXPECT_EQ(QueryDuckDbInt(dir_ / "other.duckdb", "SELECT count(*) FROM staging.orders"), 10);
}

TEST_F(WriterTest, KillDashNineOfTheHolderFreesTheWriterLock) {
  Land("orders/part-0.parquet", 10);
  auto serve = StartServe();
  const auto other = WriteOtherWriterConfig();
  ASSERT_EQ(RunCommand({LandfallBinary(), "run", "--config", other.string()}).exit_code, 3);

  serve->Signal(SIGKILL);
  ASSERT_EQ(serve->WaitExit(10s), 128 + SIGKILL);
  // The server ends the killed process's session as soon as it sees the
  // socket closed; poll for that instead of guessing how long it takes.
  CommandResult run;
  EXPECT_TRUE(PollUntil(
      [&] {
        run = RunCommand({LandfallBinary(), "run", "--config", other.string()});
        return run.exit_code != 3;
      },
      20s))
      << run.err;
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(QueryDuckDbInt(dir_ / "other.duckdb", "SELECT count(*) FROM staging.orders"), 10);
}

TEST_F(WriterTest, ServeTakesItsWriterLockAgainWhenItsSessionEnds) {
  Land("orders/part-0.parquet", 10);
  auto serve = StartServe();
  // As if PostgreSQL had restarted: the session, and the lock with it, is gone.
  EXPECT_EQ(Pg("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
               " WHERE application_name LIKE 'landfall pid=" +
               std::to_string(serve->pid()) + " %'")[0],
            "1");
  EXPECT_TRUE(PollUntil([&] { return serve->Log().find("taken again") != std::string::npos; }, 30s))
      << serve->Log();
  EXPECT_NE(serve->Log().find("writer_lock_lost"), std::string::npos) << serve->Log();
  // Still the one writer: another is refused, and the daemon keeps staging.
  const auto other = WriteOtherWriterConfig();
  EXPECT_EQ(RunCommand({LandfallBinary(), "run", "--config", other.string()}).exit_code, 3);
  Land("orders/part-1.parquet", 5, 10);
  EXPECT_TRUE(PollUntil(
      [&] { return serve->Log().find("table orders: append 1 batches, 5 rows") != std::string::npos; },
      30s))
      << serve->Log();
  StopServe(*serve);
  EXPECT_EQ(Rows("orders"), 15);
}

TEST_F(WriterTest, ServeStopsWithExitThreeWhenAnotherWriterTookItsLock) {
  Land("orders/part-0.parquet", 10);
  auto serve = StartServe();
  // In one statement: end the daemon's lock session (waiting until it has
  // ended) and take its lock, as another writer starting at that moment would.
  PgSession other;
  EXPECT_EQ(other.Query("SELECT pg_advisory_lock(s.key) IS NOT NULL FROM (SELECT "
                        "(l.classid::bigint << 32) | l.objid::bigint AS key, "
                        "pg_terminate_backend(a.pid, 10000) AS ended FROM pg_locks l JOIN "
                        "pg_stat_activity a USING (pid) WHERE l.locktype = 'advisory' AND "
                        "a.application_name LIKE 'landfall pid=" +
                        std::to_string(serve->pid()) + " %') s WHERE s.ended"),
            std::vector<std::string>{"t"});
  EXPECT_EQ(serve->WaitExit(60s), std::optional<int>(3)) << serve->Log();
  EXPECT_NE(serve->Log().find("writer_lock_lost"), std::string::npos) << serve->Log();
  EXPECT_NE(serve->Log().find("already has a writer"), std::string::npos) << serve->Log();
}

TEST_F(WriterTest, RunKilledMidRunIsMarkedInterruptedAtTheNextWritersStart) {
  // Enough data that the run is still going when we see it recorded.
  constexpr int kTables = 8;
  constexpr long long kRows = 2'000'000;
  for (int t = 0; t < kTables; ++t) {
    WriteParquet(landing() / ("t" + std::to_string(t)) / "part-0.parquet",
                 "SELECT i AS id, i * 0.5 AS x, i % 977 AS k FROM range(" +
                     std::to_string(kRows) + ") t(i)");
  }
  WriteServeConfig(100, "  enabled: false\n");
  ChildProcess run({LandfallBinary(), "run", "--config", config().string()}, dir_ / "run.log");
  ASSERT_TRUE(PollUntil(
      [&] {
        // The run creates the state store's tables first when it is the first.
        return Pg("SELECT to_regclass('runs') IS NOT NULL")[0] == "t" &&
               !Pg("SELECT id FROM runs WHERE environment = $1 AND status = 'running'").empty();
      },
      60s))
      << run.Log();
  run.Signal(SIGKILL);
  ASSERT_EQ(run.WaitExit(10s), 128 + SIGKILL);
  const auto id = Pg("SELECT id FROM runs WHERE environment = $1")[0];
  ASSERT_EQ(Pg("SELECT status FROM runs WHERE environment = $1")[0], "running");

  // The next writer marks it, finished when it was last seen.
  auto next = Landfall({"run"});
  EXPECT_EQ(next.exit_code, 0) << next.err;
  EXPECT_NE(next.err.find("run " + id + " (cli) was left running"), std::string::npos) << next.err;
  EXPECT_EQ(Pg("SELECT status FROM runs WHERE id = " + id)[0], "interrupted");
  EXPECT_EQ(Pg("SELECT finished_at >= started_at AND finished_at <= now() FROM runs WHERE id = " +
               id)[0],
            "t");
  EXPECT_EQ(Pg("SELECT finished_at = GREATEST(started_at, (SELECT max(recorded_at) FROM "
               "table_runs WHERE run_id = " + id + ")) FROM runs WHERE id = " + id)[0],
            "t");
  EXPECT_NE(Pg("SELECT error FROM runs WHERE id = " + id)[0].find("interrupted"),
            std::string::npos);
  // The new run finished, and every table is whole.
  EXPECT_EQ(Pg("SELECT count(*) FROM runs WHERE environment = $1 AND status = 'running'")[0], "0");
  for (int t = 0; t < kTables; ++t) EXPECT_EQ(Rows("t" + std::to_string(t)), kRows);
}

}  // namespace
}  // namespace landfall::testing
