// Models on the PostgreSQL warehouse, through the binary, where it differs
// from DuckDB (the model suites themselves run on both warehouses as
// postgres_warehouse.ModelsRunTest.* and TimeIntervalTest.*): models in
// PostgreSQL's own SQL, checked by an oracle computed in PostgreSQL; lineage
// is unknown with its reason in the plan and `landfall lineage`; a month
// time_interval model recomputes the partitions late rows touch.
#include <gmock/gmock.h>

#include "tests/cli/models_fixture.h"

namespace landfall::testing {
namespace {

using ::testing::HasSubstr;

class PgModelsCliTest : public ModelsTest {
 protected:
  PgModelsCliTest() { on_postgres_ = true; }

  // PostgreSQL's SQL (DISTINCT ON, ::numeric casts, string_agg) and models
  // reading models: by batch, full refresh, merge, watermark and a view.
  void WriteStandardModels() {
    WriteModel("orders_inc", "SELECT id, cust, amount * 2 AS amount2, ts FROM staging.orders;\n",
               "strategy: incremental\nincremental: {by: batch}\n");
    WriteModel(
        "cust_totals",
        "SELECT cust, count(*) AS n, sum(amount2)::numeric(18,2) AS total, "
        "string_agg(id::text, ',' ORDER BY id) AS ids FROM analytics.orders_inc GROUP BY cust");
    WriteModel("orders_current", "SELECT id, cust, amount, ts FROM staging.orders",
               "strategy: merge\nmerge: {unique_key: [id], dedupe: latest, order_by: ts}\n"
               "checks:\n  - unique: [id]\n  - not_null: [cust]\n");
    WriteModel("orders_wm", "SELECT id, ts FROM staging.orders",
               "strategy: incremental\nincremental: {by: watermark, timestamp_column: ts}\n");
    WriteModel("big_customers", "SELECT cust, total FROM analytics.cust_totals WHERE total > 10",
               "strategy: view\n");
  }

  // orders/<name>.parquet: `rows` rows with ids from `first`, ts increasing with `minute`.
  void LandOrders(const std::string& name, int first, int rows, int minute, double amount = 1.5) {
    WriteParquet(landing() / ("orders/" + name + ".parquet"),
                 "SELECT (" + std::to_string(first) +
                     " + i)::INTEGER AS id, (i % 3)::INTEGER AS cust, (" + std::to_string(amount) +
                     " * (i + 1))::DECIMAL(9,2) AS amount, TIMESTAMP '2026-01-01' + "
                     "INTERVAL (" +
                     std::to_string(minute) + " + i) MINUTE AS ts FROM range(" +
                     std::to_string(rows) + ") t(i)");
  }

  // Rows of the target not in `sql`, plus rows of `sql` not in the target (EXCEPT ALL both ways).
  long long Difference(const std::string& model, const std::string& sql) {
    const std::string target = "analytics." + Quote(model);
    return WarehouseInt("SELECT count(*) FROM ((SELECT * FROM " + target + " EXCEPT ALL (" + sql +
                        ")) UNION ALL ((" + sql + ") EXCEPT ALL SELECT * FROM " + target +
                        ")) AS d");
  }

  void ExpectOracles(const std::string& when) {
    const std::map<std::string, std::string> oracles = {
        {"orders_inc", "SELECT id, cust, amount * 2 AS amount2, ts FROM staging.orders"},
        {"cust_totals",
         "SELECT cust, count(*), sum(amount * 2)::numeric(18,2), string_agg(id::text, ',' ORDER BY "
         "id) FROM "
         "staging.orders GROUP BY cust"},
        {"orders_current",
         "SELECT DISTINCT ON (id) id, cust, amount, ts FROM staging.orders ORDER BY id, ts DESC"},
        {"orders_wm", "SELECT id, ts FROM staging.orders"},
        {"big_customers",
         "SELECT cust, sum(amount * 2)::numeric(18,2) FROM staging.orders GROUP BY cust HAVING "
         "sum(amount * 2) > 10"},
    };
    for (const auto& [model, sql] : oracles) {
      EXPECT_EQ(Difference(model, sql), 0) << model << " differs from its oracle " << when;
      EXPECT_GT(WarehouseInt("SELECT count(*) FROM analytics." + Quote(model)), 0)
          << model << " " << when;
    }
  }
};

TEST_F(PgModelsCliTest, ThePlanSaysLineageIsUnknownOnPostgresAndRecomputes) {
  WriteStandardModels();
  LandOrders("b1", 1, 10, 0);
  Run();
  LandOrders("b2", 100, 5, 100);
  const nlohmann::json plan = Plan();
  const nlohmann::json step = ModelOf(plan, "cust_totals");
  ASSERT_TRUE(step.contains("lineage")) << step.dump();
  EXPECT_EQ(step["lineage"].value("decision", ""), "recompute") << step.dump();
  EXPECT_THAT(step["lineage"].value("detail", ""), HasSubstr("the warehouse is PostgreSQL"))
      << step.dump();
  Run();
  ExpectOracles("after the planned run");
  // `landfall lineage` says the same.
  const auto lineage = Landfall({"lineage", "cust_totals"});
  EXPECT_EQ(lineage.exit_code, 0) << lineage.err;
  EXPECT_THAT(lineage.out,
              HasSubstr("analytics.cust_totals: lineage unknown: the warehouse is PostgreSQL"));
}

TEST_F(PgModelsCliTest, ATimeIntervalModelEqualsItsOracleAfterLateRowsForAnOldMonth) {
  WriteModel("monthly",
             "SELECT date_trunc('month', ts) AS month, count(*) AS n, sum(amount) AS total FROM "
             "staging.orders "
             "WHERE ts >= @start_date AND ts < @end_date GROUP BY 1",
             "strategy: time_interval\ntime_interval: {time_column: month, granularity: month, "
             "first_partition: "
             "\"2026-01\"}\n");
  const std::string oracle =
      "SELECT date_trunc('month', ts), count(*), sum(amount) FROM staging.orders GROUP BY 1";
  LandOrders("jan", 1, 10, 0);  // 2026-01-01 00:00 onwards
  auto first = Run();
  EXPECT_NE(ModelAction(first, "monthly"), "fail") << first.dump();
  EXPECT_EQ(Difference("monthly", oracle), 0);
  // Late rows for January, and March (minute 86400 * 60 is two months on).
  LandOrders("late_jan", 500, 3, 60);
  LandOrders("mar", 600, 4, 86400);
  auto second = Run();
  EXPECT_EQ(ModelAction(second, "monthly"), "run") << second.dump();
  EXPECT_EQ(Difference("monthly", oracle), 0);
  EXPECT_EQ(WarehouseInt("SELECT n FROM analytics.monthly WHERE month = TIMESTAMP '2026-01-01'"),
            13);
  EXPECT_EQ(WarehouseInt("SELECT n FROM analytics.monthly WHERE month = TIMESTAMP '2026-03-01'"),
            4);
}

}  // namespace
}  // namespace landfall::testing
