// Time-interval models through the binary, real PostgreSQL, a real
// warehouse (DuckDB, or PostgreSQL as postgres_warehouse.TimeIntervalTest.*),
// checked by one oracle in SQL both accept: after landings (late files for old days
// included), reruns, partition flags, a partition whose SQL fails, kill -9
// during partition runs and an upstream rebuild, every computed partition of
// the target equals the model's SQL over that partition's window, and the
// partition states in the state store are as the README describes.
#include <gmock/gmock.h>

#include <chrono>
#include <cstdio>
#include <random>

#include "tests/cli/models_fixture.h"
#include "tests/support/duckdb_testing.h"

namespace landfall::testing {
namespace {

using ::testing::HasSubstr;

// Day `offset` of the test, counted from first_partition (10 days before today, UTC).
std::string DayKey(int offset) {
  const auto today = std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now());
  const std::chrono::year_month_day d{today - std::chrono::days{10} + std::chrono::days{offset}};
  char out[16];
  std::snprintf(out, sizeof out, "%04d-%02u-%02u", static_cast<int>(d.year()), static_cast<unsigned>(d.month()),
                static_cast<unsigned>(d.day()));
  return out;
}

constexpr int kToday = 10;  // DayKey(kToday) is today: first_partition is 10 days before

const char* const kDaily = "daily";
// A negative amount fails the partition's SQL, naming the day: the cast of
// that text to an integer fails in both warehouses, quoting the text.
const char* const kDailySql =
    "SELECT CAST(ts AS DATE) AS day, count(*) AS n, sum(CASE WHEN amount < 0 THEN CAST('negative amount "
    "on ' || CAST(ts AS DATE) AS INTEGER) ELSE amount END) AS total\n"
    "FROM staging.events WHERE ts >= @start_date AND ts < @end_date GROUP BY CAST(ts AS DATE)\n";

// The SQL of a heavier daily model: `fan_out` rows per event (generate_series
// in both warehouses), so that partitions take a while.
std::string HeavyDailySql(int fan_out, bool windowed) {
  return "SELECT CAST(ts AS DATE) AS day, count(*) AS n, sum(amount + r.n) AS total\n"
         "FROM staging.events, generate_series(1, " + std::to_string(fan_out) + ") AS r(n)" +
         (windowed ? " WHERE ts >= @start_date AND ts < @end_date" : "") + " GROUP BY CAST(ts AS DATE)\n";
}

class TimeIntervalTest : public ModelsTest {
 protected:
  void WriteDaily(const std::string& extra = "") {
    WriteModel(kDaily, kDailySql,
               "strategy: time_interval\ntime_interval:\n  time_column: day\n  granularity: day\n"
               "  first_partition: \"" + DayKey(0) + "\"\n  source_columns: {staging.events: ts}\n" + extra);
  }

  // events/<name>.parquet: `per_day` rows on each of `days` (offsets), ids from `first_id`.
  void Land(const std::string& name, const std::vector<int>& days, int per_day, int first_id = 0,
            double amount = 1.5) {
    std::string select;
    int id = first_id;
    for (int day : days) {
      if (!select.empty()) select += " UNION ALL ";
      select += "SELECT (" + std::to_string(id) + " + i)::INTEGER AS id, TIMESTAMP '" + DayKey(day) +
                " 00:00:00' + INTERVAL (i * 7) MINUTE AS ts, " + std::to_string(amount) +
                " + i AS amount FROM range(" + std::to_string(per_day) + ") t(i)";
      id += per_day;
    }
    WriteParquet(landing() / ("events/" + name + ".parquet"), select);
  }

  // The partitions of `model` in the state store: "key:status".
  Strings States(const std::string& model = kDaily) {
    return Pg("SELECT key || ':' || status FROM model_partitions WHERE environment = $1 AND model = '" + model +
              "' ORDER BY key");
  }
  Strings Computed() {
    return Pg("SELECT key FROM model_partitions WHERE environment = $1 AND model = 'daily' AND status = "
              "'computed' ORDER BY key");
  }

  // Every computed partition holds exactly what the SQL gives over its window
  // (here: the SQL over every window, restricted to that key), and the target
  // holds nothing for keys never computed.
  void ExpectOracle(const std::string& when) {
    const Strings keys = Computed();
    ASSERT_FALSE(keys.empty()) << when;
    std::string in;
    for (const auto& k : keys) in += (in.empty() ? "DATE '" : ", DATE '") + k + "'";
    std::string sql = kDailySql;
    auto replace = [&](const std::string& from, const std::string& to) {
      sql.replace(sql.find(from), from.size(), to);
    };
    replace("@start_date", "TIMESTAMP '" + DayKey(0) + " 00:00:00'");
    replace("@end_date", "TIMESTAMP '" + DayKey(kToday + 1) + " 00:00:00'");
    const std::string oracle = "SELECT * FROM (" + sql + ") AS o WHERE day IN (" + in + ")";
    const std::string target = "SELECT * FROM analytics.daily WHERE day IN (" + in + ")";
    EXPECT_EQ(Difference(target, oracle), 0)
        << when << ": " << ::testing::PrintToString(WarehouseRows("SELECT day FROM analytics.daily ORDER BY day"));
  }

  // Rows of `a` not in `b` plus rows of `b` not in `a` (EXCEPT ALL both ways).
  long long Difference(const std::string& a, const std::string& b) {
    return WarehouseInt("SELECT count(*) FROM ((" + a + " EXCEPT ALL " + b + ") UNION ALL (" + b +
                        " EXCEPT ALL " + a + ")) AS d");
  }

  static Strings Partitions(const nlohmann::json& out, const std::string& model = kDaily) {
    Strings keys;
    for (const auto& p : ModelOf(out, model).value("partitions", nlohmann::json::array())) {
      keys.push_back(p.value("key", "") + ":" + p.value("reason", ""));
    }
    return keys;
  }
};

TEST_F(TimeIntervalTest, TheFirstRunComputesEveryPartitionAndALateFileRecomputesOnlyItsDay) {
  WriteDaily();
  Land("b1", {0, 1, 2, 3, 4}, 10);
  nlohmann::json out = Run();
  EXPECT_EQ(ModelAction(out, kDaily), "rebuild") << out.dump();
  EXPECT_EQ(Partitions(out).size(), 11u) << "first_partition to today";
  EXPECT_EQ(States().size(), 11u);
  EXPECT_THAT(States(), ::testing::Each(HasSubstr(":computed")));
  ExpectOracle("after the first run");

  Land("late", {2}, 3, 1000);
  out = Run();
  EXPECT_EQ(ModelAction(out, kDaily), "run") << out.dump();
  EXPECT_EQ(Partitions(out), Strings{DayKey(2) + ":upstream_rows"}) << out.dump();
  ExpectOracle("after a late file for day 2");
  EXPECT_EQ(Pg("SELECT row_count FROM model_partitions WHERE environment = $1 AND key = '" + DayKey(2) + "'"),
            Strings{"1"})
      << "one row per day in the target";

  out = Run();
  EXPECT_EQ(ModelAction(out, kDaily), "skip") << "nothing changed";
}

TEST_F(TimeIntervalTest, FlagsChooseThePartitionsAndBadKeysExitTwo) {
  WriteDaily("  lookback: 1\n");
  Land("b1", {0, 1, 2, 3, 4}, 10);
  Run();

  auto bad = Landfall({"run", "--models", kDaily, "--partition", "2026-4-7"});
  EXPECT_EQ(bad.exit_code, 2) << bad.out << bad.err;
  EXPECT_THAT(bad.out + bad.err, HasSubstr("is not a day partition key"));
  bad = Landfall({"run", "--models", kDaily, "--from", DayKey(3)});
  EXPECT_EQ(bad.exit_code, 2) << "--from without --to";
  bad = Landfall({"run", "--models", kDaily, "--from", DayKey(3), "--to", DayKey(2)});
  EXPECT_EQ(bad.exit_code, 2) << bad.out << bad.err;
  bad = Landfall({"run", "--partition", DayKey(3)});
  EXPECT_EQ(bad.exit_code, 2) << "partition flags need --models";

  nlohmann::json out = Run({"--models", kDaily, "--partition", DayKey(3)});
  EXPECT_EQ(Partitions(out), (Strings{DayKey(2) + ":lookback", DayKey(3) + ":requested"})) << out.dump();
  out = Run({"--models", kDaily, "--from", DayKey(1), "--to", DayKey(2), "--lookback", "0"});
  EXPECT_EQ(Partitions(out), (Strings{DayKey(1) + ":requested", DayKey(2) + ":requested"}));
  out = Run({"--models", kDaily, "--latest", "--lookback", "0"});
  EXPECT_EQ(Partitions(out), Strings{DayKey(kToday) + ":requested"});

  // A gap, and plan says what --missing would do without doing it.
  Pg("DELETE FROM model_partitions WHERE environment = $1 AND key = '" + DayKey(4) + "'");
  auto plan = Landfall({"plan", "--format", "json", "--models", kDaily, "--missing", "--lookback", "0"});
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  const auto plan_json = nlohmann::json::parse(plan.out);
  EXPECT_EQ(Partitions(plan_json), Strings{DayKey(4) + ":missing"}) << plan.out;
  EXPECT_EQ(States().size(), 10u) << "plan changes nothing";
  out = Run({"--models", kDaily, "--missing", "--lookback", "0"});
  EXPECT_EQ(Partitions(out), Strings{DayKey(4) + ":missing"});
  EXPECT_EQ(States().size(), 11u);
  ExpectOracle("after flags");
}

TEST_F(TimeIntervalTest, ItsReadersSkipWhenARecomputedPartitionChangedNoValueTheyRead) {
  WriteDaily();
  WriteModel("total_n", "SELECT sum(n) AS n FROM analytics.daily");
  Land("b1", {0, 1, 2, 3}, 10);
  Run();
  // The same values again: daily keeps fingerprints of its target for total_n.
  nlohmann::json out = Run({"--models", "daily+", "--partition", DayKey(3)});
  EXPECT_EQ(ModelAction(out, kDaily), "run");
  if (on_postgres_) {
    // Lineage on PostgreSQL is unknown by design: the reader recomputes, saying why.
    EXPECT_EQ(ModelAction(out, "total_n"), "run") << out.dump();
    EXPECT_EQ(ModelOf(out, "total_n")["lineage"].value("decision", ""), "recompute") << out.dump();
    EXPECT_THAT(ModelOf(out, "total_n")["lineage"].value("detail", ""), HasSubstr("the warehouse is PostgreSQL"));
  } else {
    EXPECT_EQ(ModelAction(out, "total_n"), "skip") << out.dump();
    EXPECT_THAT(ModelReasons(out, "total_n"), ::testing::ElementsAre("columns_unaffected"));
  }
  // A late file changes day 2's n: total_n reads it.
  Land("late", {2}, 5, 1000);
  out = Run();
  EXPECT_EQ(ModelAction(out, "total_n"), "run") << out.dump();
  if (!on_postgres_) {
    EXPECT_EQ(ModelOf(out, "total_n")["lineage"]["detail"], "reads analytics.daily.{n} (changed)");
  }
  EXPECT_EQ(WarehouseInt("SELECT n FROM analytics.total_n"), 45);
}

TEST_F(TimeIntervalTest, AFailingPartitionFailsAloneAndARewrittenBatchRecomputesOnlyItsDay) {
  WriteDaily("  batch_size: 2\n");
  Land("b1", {0, 1, 2, 3, 4}, 10);
  Run();
  Land("bad", {3}, 1, 500, -100.0);  // its SQL fails on day 3 only
  Land("good", {1}, 1, 600);
  nlohmann::json out = Run({}, 1);
  EXPECT_EQ(ModelAction(out, kDaily), "fail") << out.dump();
  EXPECT_THAT(ModelOf(out, kDaily).value("error", ""), HasSubstr("negative amount on " + DayKey(3)));
  EXPECT_THAT(States(), ::testing::Contains(DayKey(3) + ":failed"));
  EXPECT_THAT(States(), ::testing::Contains(DayKey(1) + ":computed"));
  ExpectOracle("after a failed partition");

  // The bad file rewritten with a good row rebuilds staging: the checksums find day 3 alone.
  Land("bad", {3}, 1, 500, 7.0);
  out = Run();
  EXPECT_EQ(ModelAction(out, kDaily), "run") << out.dump();
  EXPECT_EQ(Partitions(out), Strings{DayKey(3) + ":checksum_changed"}) << out.dump();
  EXPECT_THAT(States(), ::testing::Each(HasSubstr(":computed")));
  ExpectOracle("after the bad file left");
}

TEST_F(TimeIntervalTest, WhenABatchOfPartitionsFailsEveryKeyInItIsFailed) {
  WriteDaily("  batch_size: 3\n");
  Land("b1", {0, 1, 2, 3, 4, 5, 6}, 10);
  Run();
  Land("bad", {4}, 1, 500, -100.0);  // day 4's SQL fails
  nlohmann::json out = Run({"--models", kDaily, "--from", DayKey(3), "--to", DayKey(5)}, 1);
  EXPECT_EQ(ModelAction(out, kDaily), "fail") << out.dump();
  const Strings states = States();
  for (int day : {3, 4, 5}) EXPECT_THAT(states, ::testing::Contains(DayKey(day) + ":failed")) << day;
  for (int day : {2, 6}) EXPECT_THAT(states, ::testing::Contains(DayKey(day) + ":computed")) << day;
  // The failed batch wrote nothing: days 3 and 5 keep the rows they had.
  ExpectOracle("after a failed batch");
  EXPECT_EQ(WarehouseInt("SELECT count(*) FROM analytics.daily WHERE day = DATE '" + DayKey(3) + "'"), 1);
}

TEST_F(TimeIntervalTest, AnUpstreamRebuildThatChangesNoValueComputesNoPartition) {
  WriteDaily();
  Land("b1", {0, 1, 2, 3, 4}, 10);
  Land("b2", {5, 6}, 10, 100);
  Run();
  auto deleted = Landfall({"state", "delete", "--table", "events"});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.err;
  nlohmann::json out = Run();
  EXPECT_EQ(Partitions(out), Strings{}) << out.dump();
  ExpectOracle("after the staging table was rebuilt");
  EXPECT_EQ(ModelAction(Run(), kDaily), "skip");
}

TEST_F(TimeIntervalTest, RowsOutsideTheirWindowFailThePartitionNamingOne) {
  WriteModel("shifted",
             "SELECT CAST(ts AS DATE) + 1 AS day, count(*) AS n FROM staging.events "
             "WHERE ts >= @start_date AND ts < @end_date GROUP BY CAST(ts AS DATE) + 1",
             "strategy: time_interval\ntime_interval: {time_column: day, granularity: day, first_partition: \"" +
                 DayKey(0) + "\"}\n");
  Land("b1", {0}, 3);
  nlohmann::json out = Run({}, 1);
  EXPECT_EQ(ModelAction(out, "shifted"), "fail");
  EXPECT_THAT(ModelOf(out, "shifted").value("error", ""), HasSubstr("outside the window"));
  EXPECT_THAT(States("shifted"), ::testing::Contains(DayKey(0) + ":failed"));
}

// The daemon's case: a late file for one old day recomputes that day alone.
TEST_F(TimeIntervalTest, ServeComputesOnlyThePartitionALateFileTouches) {
  WriteRunConfig(/*api=*/true);
  WriteDaily();
  Land("b1", {0, 1, 2}, 5);
  auto serve = StartServe();
  auto run_of = [&](int day) {
    const Strings r = Pg("SELECT run_id::text FROM model_partitions WHERE environment = $1 AND status = 'computed' "
                         "AND key = '" + DayKey(day) + "'");
    return r.empty() ? std::string() : r[0];
  };
  for (int i = 0; i < 600 && Computed().size() < 11; ++i) std::this_thread::sleep_for(100ms);
  ASSERT_EQ(Computed().size(), 11u) << serve->Log();
  const std::string day1 = run_of(1), day2 = run_of(2);
  Land("late", {1}, 2, 100);
  for (int i = 0; i < 600 && run_of(1) == day1; ++i) std::this_thread::sleep_for(100ms);
  EXPECT_NE(run_of(1), day1) << serve->Log();
  EXPECT_EQ(run_of(2), day2) << "day 2 was not touched";
  StopServe(*serve);  // the daemon holds the warehouse file
  ExpectOracle("under the daemon");
}

// kill -9 at varied instants of runs computing partitions, then a run to
// completion and --missing: every computed partition equals its SQL, and
// no partition is left in progress.
TEST_F(TimeIntervalTest, KillNineDuringPartitionRunsConvergesToTheOracle) {
  // A heavier SQL, so that the partitions take a while: PostgreSQL computes
  // a row at a time, so it gets a tenth of DuckDB's fan-out for a like time.
  const int fan_out = on_postgres_ ? 3000 : 30000;
  WriteModel(kDaily, HeavyDailySql(fan_out, /*windowed=*/true),
             "strategy: time_interval\ntime_interval:\n  time_column: day\n  granularity: day\n"
             "  first_partition: \"" + DayKey(0) + "\"\n  source_columns: {staging.events: ts}\n");
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> delay_ms(0, 900);
  int killed = 0;
  int killed_in_partitions = 0;  // a partition was in progress
  for (int i = 1; i <= 8; ++i) {
    Land("k" + std::to_string(i), {i % 10, (i * 3) % 10}, 200, i * 1000);
    ChildProcess run({LandfallBinary(), "run", "--config", config().string()}, dir_ / "run.log");
    run.WaitForLog("table events:", 60s);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
    run.Signal(SIGKILL);
    const auto code = run.WaitExit(120s);
    ASSERT_TRUE(code.has_value());
    killed += *code == 128 + SIGKILL;
    killed_in_partitions +=
        !Pg("SELECT key FROM model_partitions WHERE environment = $1 AND status = 'in_progress'").empty();
  }
  Run();
  EXPECT_THAT(States(), ::testing::Not(::testing::Contains(HasSubstr(":in_progress"))))
      << "a starting landfall marks them interrupted";
  Run({"--models", kDaily, "--missing"});
  EXPECT_THAT(States(), ::testing::Each(HasSubstr(":computed")));
  const Strings keys = Computed();
  EXPECT_EQ(keys.size(), 11u);
  EXPECT_EQ(Difference("SELECT * FROM analytics.daily", HeavyDailySql(fan_out, /*windowed=*/false)), 0);
  EXPECT_GT(killed, 0) << "no run was killed";
  std::printf("killed %d of 8 runs, %d while partitions were in progress\n", killed, killed_in_partitions);
}

}  // namespace
}  // namespace landfall::testing
