// `landfall run` with warehouse.type postgres, through the binary: staging
// tables and the ledger in a PostgreSQL database of the test's own (the state
// store in another), drift, a quiet run, and kill -9 at random points.
#include <gtest/gtest.h>

#include <random>

#include "tests/cli/cli_fixture.h"

namespace landfall::testing {
namespace {

class PgWarehouseCliTest : public CliTest {
 protected:
  PgWarehouseCliTest() { on_postgres_ = true; }

  std::string One(const std::string& sql) {
    auto rows = WarehouseRows(sql);
    return rows.empty() ? "<no rows>" : rows[0];
  }
};

TEST_F(PgWarehouseCliTest, StagesAppendsRebuildsAndThenHasNothingToDo) {
  Land("orders/1.parquet", 100);
  Land("orders/2.parquet", 50, 100);
  Land("users/1.parquet", 10);
  Run();
  EXPECT_EQ(One("SELECT count(*) FROM staging.orders"), "150");
  EXPECT_EQ(One("SELECT count(*) FROM staging.users"), "10");
  EXPECT_EQ(One("SELECT count(*) FROM _landfall.ledger"), "3");

  // A new batch with a new column: appended with the column added in place.
  Land("orders/3.parquet", 5, 150, ", 'x' AS note");
  Run();
  EXPECT_EQ(One("SELECT count(*) || ' ' || count(note) FROM staging.orders"), "155 5");

  // id as text in a new batch: no common type with INTEGER but text, so the
  // column is widened or the table rebuilt; every row is still there.
  WriteParquet(landing() / "users/2.parquet",
               "SELECT 'u-' || i AS id, 'n' AS name, 1.0 AS amount FROM range(3) t(i)");
  Run();
  EXPECT_EQ(One("SELECT count(*) FROM staging.users"), "13");
  EXPECT_EQ(One("SELECT count(*) FROM _landfall.ledger WHERE table_name = 'users'"), "2");

  // Nothing new: nothing changes.
  const std::string before =
      One("SELECT string_agg(batch_id || rows, ',' ORDER BY batch_id) FROM _landfall.ledger");
  auto quiet = Run();
  EXPECT_EQ(One("SELECT string_agg(batch_id || rows, ',' ORDER BY batch_id) FROM _landfall.ledger"),
            before);
  for (const auto& t : quiet["tables"]) EXPECT_EQ(t["action"], "nothing") << t.dump();

  auto query = Landfall({"query", "SELECT 1"});
  EXPECT_EQ(query.exit_code, 2) << query.err;
  EXPECT_NE(query.err.find("query_unsupported"), std::string::npos) << query.err;
}

// TIMESTAMP_NS has no PostgreSQL type: the plan says the nanoseconds go.
TEST_F(PgWarehouseCliTest, NanosecondTimestampsArePlannedWithTheirLossAndKeepMicroseconds) {
  WriteParquet(landing() / "events/1.parquet",
               "SELECT 1::INTEGER AS id, TIMESTAMP_NS '2026-01-01 00:00:00.123456789' AS at");
  auto plan = Landfall({"plan", "--format", "json"});
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  auto table = nlohmann::json::parse(plan.out)["tables"][0];
  std::string detail;
  for (const auto& r : table["reasons"]) {
    if (r["code"] == "precision_lost") detail = r["detail"];
  }
  EXPECT_EQ(detail,
            "column at: TIMESTAMP_NS is stored as PostgreSQL timestamp: nanoseconds are cut to "
            "microseconds")
      << table.dump();
  Run();
  EXPECT_EQ(One("SELECT at::text FROM staging.events"), "2026-01-01 00:00:00.123456");
}

TEST_F(PgWarehouseCliTest, KilledAtRandomPointsItStagesEveryBatchExactlyOnce) {
  std::mt19937 random(std::random_device{}());
  int expected_rows = 0;
  int files = 0;
  for (int round = 0; round < 8; ++round) {
    for (const std::string table : {"a", "b", "c"}) {
      const int rows = 1000 + round * 10;
      Land(table + "/" + std::to_string(round) + ".parquet", rows, round * 100000);
      expected_rows += rows;
      ++files;
    }
    std::vector<std::string> args = {LandfallBinary(), "run", "--config", config().string()};
    ChildProcess run(args, "/dev/null");
    std::this_thread::sleep_for(std::chrono::milliseconds(random() % 700));
  }  // each run killed with SIGKILL
  Run();
  EXPECT_EQ(One("SELECT sum(n)::text FROM (SELECT count(*) AS n FROM staging.a UNION ALL SELECT "
                "count(*) FROM staging.b UNION ALL SELECT count(*) FROM staging.c) t"),
            std::to_string(expected_rows));
  EXPECT_EQ(One("SELECT count(*) FROM _landfall.ledger"), std::to_string(files));
  EXPECT_EQ(One("SELECT count(*) FROM (SELECT _landfall_batch FROM staging.a GROUP BY 1 UNION ALL "
                "SELECT _landfall_batch FROM staging.b GROUP BY 1 UNION ALL SELECT _landfall_batch "
                "FROM staging.c GROUP BY 1) t"),
            std::to_string(files))
      << "each batch's rows under one batch id";
}

}  // namespace
}  // namespace landfall::testing
