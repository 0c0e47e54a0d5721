// Model writes on the PostgreSQL warehouse that only it does (a database of
// each test's own): the swap of a rebuilt table, views dropped with the table
// they read, the driver's name pointing at its new batches, PostgreSQL's type
// names. What both warehouses do is tested on both in models_test.cpp.
#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <vector>

#include "lib/warehouse/pg_model_sql.h"
#include "tests/warehouse/models_fixture.h"

namespace landfall::warehouse {
namespace {

class PgModelsTest : public ModelsWarehouseTest {};

TEST_P(PgModelsTest, AFailingRebuildKeepsTheOldTableAndItsVersion) {
  Land("orders", "1.parquet", "SELECT 1 AS id, 10 AS amount");
  MustWrite(Write(ModelWriteKind::kReplaceTable, "base", "SELECT id, amount FROM staging.orders"));
  auto failed = models()->WriteModel(Write(ModelWriteKind::kReplaceTable, "base",
                                           "SELECT id, amount / 0 AS amount FROM staging.orders"));
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, kModelSqlFailed);
  EXPECT_EQ(Query("SELECT id || ':' || amount FROM analytics.base"),
            std::vector<std::string>{"1:10"});
  EXPECT_EQ(models()->InspectModels("analytics")->at("base").version, 1);
  // No build left behind under another name.
  EXPECT_EQ(Query("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                  "WHERE n.nspname = 'analytics'"),
            std::vector<std::string>{"1"});
}

TEST_P(PgModelsTest, ARebuildChangesColumnsAndAViewMayBecomeATable) {
  Land("orders", "1.parquet", "SELECT 1 AS id, 10 AS amount");
  MustWrite(Write(ModelWriteKind::kReplaceView, "m", "SELECT id FROM staging.orders"));
  MustWrite(Write(ModelWriteKind::kReplaceTable, "m",
                  "SELECT id, amount, 'x' AS note FROM staging.orders"));
  auto contents = models()->InspectModels("analytics");
  ASSERT_TRUE(contents);
  EXPECT_FALSE(contents->at("m").is_view);
  EXPECT_EQ(contents->at("m").columns.columns.size(), 3u);
  // And back, with other columns (CREATE OR REPLACE VIEW could not drop one).
  MustWrite(Write(ModelWriteKind::kReplaceView, "m", "SELECT amount FROM staging.orders"));
  EXPECT_EQ(Query("SELECT amount FROM analytics.m"), std::vector<std::string>{"10"});
  EXPECT_TRUE(models()->InspectModels("analytics")->at("m").is_view);
}

TEST_P(PgModelsTest, RebuildingATableKeepsTheViewsReadingItThroughOtherViewsToo) {
  Land("orders", "1.parquet", "SELECT 1 AS id, 10 AS amount");
  MustWrite(Write(ModelWriteKind::kReplaceTable, "base", "SELECT id, amount FROM staging.orders"));
  auto view =
      Write(ModelWriteKind::kReplaceView, "base_view", "SELECT id, amount FROM analytics.base");
  view.sources = {{.schema = "analytics", .name = "base", .is_model = true}};
  MustWrite(view);
  auto on_view =
      Write(ModelWriteKind::kReplaceView, "view_of_view", "SELECT id FROM analytics.base_view");
  on_view.sources = {{.schema = "analytics", .name = "base_view", .is_model = true}};
  MustWrite(on_view);
  // By hand, in another schema.
  Script(
      "CREATE SCHEMA mine; CREATE VIEW mine.total AS SELECT sum(amount) AS total FROM "
      "analytics.base");

  // New rows and a new column: both views bind again and see the new rows.
  Land("orders", "2.parquet", "SELECT 2 AS id, 20 AS amount");
  MustWrite(Write(ModelWriteKind::kReplaceTable, "base",
                  "SELECT id, amount, 'x' AS note FROM staging.orders"));
  EXPECT_EQ(Query("SELECT id FROM analytics.view_of_view ORDER BY id"),
            (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(Query("SELECT total FROM mine.total"), std::vector<std::string>{"30"});
  // The view model itself, rewritten: its reader is kept as well.
  MustWrite(view);
  EXPECT_EQ(Query("SELECT count(*) FROM analytics.view_of_view"), std::vector<std::string>{"2"});

  // A column a view reads is gone: that view is dropped (its model is then
  // rebuilt as target_missing), the write and the other views stand.
  MustWrite(
      Write(ModelWriteKind::kReplaceTable, "base", "SELECT id, 'x' AS note FROM staging.orders"));
  auto contents = models()->InspectModels("analytics");
  ASSERT_TRUE(contents);
  EXPECT_FALSE(contents->at("base_view").exists);
  EXPECT_FALSE(contents->at("view_of_view").exists);
  EXPECT_EQ(contents->at("base").version, 3);
  EXPECT_EQ(Query("SELECT count(*) FROM pg_views WHERE schemaname = 'mine'"),
            std::vector<std::string>{"0"});
}

TEST_P(PgModelsTest, TheDriverIsRestrictedWhateverItsNameIsSpelledAndNotInsideAString) {
  Land("orders", "1.parquet", "SELECT 1 AS id, 10 AS amount");
  const std::string sql =
      "SELECT o.id, 'staging.orders' AS label, (SELECT count(*) FROM staging.orders) AS seen "
      "FROM \"staging\".ORDERS AS o -- staging.orders in a comment\n";
  auto write = Write(ModelWriteKind::kReplaceTable, "labelled", sql);
  MustWrite(write);
  Land("orders", "2.parquet", "SELECT 2 AS id, 20 AS amount UNION ALL SELECT 3, 30");
  write.kind = ModelWriteKind::kAppendBatches;
  auto stats = MustWrite(write);
  EXPECT_EQ(stats.batches, 1);
  EXPECT_EQ(stats.inserted, 2);
  // Both references read only the new batch: its two rows.
  EXPECT_EQ(
      Query("SELECT id || ':' || label || ':' || seen FROM analytics.labelled ORDER BY id"),
      (std::vector<std::string>{"1:staging.orders:1", "2:staging.orders:2", "3:staging.orders:2"}));
}

TEST_P(PgModelsTest, AModelThatDoesNotNameItsDriverFailsByBatch) {
  Land("orders", "1.parquet", "SELECT 1 AS id");
  auto failed =
      models()->WriteModel(Write(ModelWriteKind::kAppendBatches, "other", "SELECT 1 AS id"));
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, kModelSqlFailed);
  EXPECT_NE(failed.error().message.find("does not read staging.orders"), std::string::npos)
      << failed.error().message;
}

TEST_P(PgModelsTest, AWatermarkWithLookbackAndAKeyMergesTheWindowAgain) {
  Land("orders", "1.parquet", "SELECT 1 AS id, TIMESTAMP '2026-01-01 10:00:00' AS ts, 'a' AS v");
  auto write =
      Write(ModelWriteKind::kReplaceTable, "events", "SELECT id, ts, v FROM staging.orders");
  write.timestamp_column = "ts";
  write.unique_key = {"id"};
  write.dedupe_order_by = "v";  // staging keeps both rows of id 1: the largest v wins
  MustWrite(write);
  // id 1 again, inside the two hours looked back at; id 2 new.
  Land("orders", "2.parquet",
       "SELECT 1 AS id, TIMESTAMP '2026-01-01 10:00:00' AS ts, 'b' AS v UNION ALL "
       "SELECT 2, TIMESTAMP '2026-01-01 11:00:00', 'c'");
  write.kind = ModelWriteKind::kAppendAfterWatermark;
  write.lookback = "2 hours";
  write.update_columns = {"ts", "v"};
  auto stats = MustWrite(write);
  EXPECT_EQ(stats.updated, 1);
  EXPECT_EQ(stats.inserted, 1);
  EXPECT_EQ(stats.watermark, "2026-01-01 11:00:00");
  EXPECT_EQ(Query("SELECT id || ':' || v FROM analytics.events ORDER BY id"),
            (std::vector<std::string>{"1:b", "2:c"}));
}

TEST_P(PgModelsTest, DescribeMapsPostgresTypesToLandfallsNames) {
  Land("orders", "1.parquet",
       "SELECT 1::BIGINT AS id, 2.5::DECIMAL(9,2) AS amount, TIMESTAMP '2026-01-01' AS ts");
  auto columns = models()->DescribeQuery(
      "SELECT id, amount, ts, ts::date AS day, amount::float8 AS f, true AS ok FROM "
      "staging.orders;");
  ASSERT_TRUE(columns) << columns.error().ToString();
  std::vector<std::string> types;
  for (const auto& c : columns->columns) types.push_back(c.name + " " + c.type);
  EXPECT_EQ(types, (std::vector<std::string>{"id BIGINT", "amount DECIMAL(9,2)", "ts TIMESTAMP",
                                             "day DATE", "f DOUBLE", "ok BOOLEAN"}));
  auto bad = models()->DescribeQuery("SELECT nope FROM staging.orders");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, kModelSqlFailed);
}

// IS NOT DISTINCT FROM on the key made PostgreSQL nested-loop every new row
// over the whole target (a merge of 100k rows into 1M ran for hours).
TEST_P(PgModelsTest, AMergeJoinsTheTargetOnItsKeyByHashOrSortNotByNestedLoop) {
  Script("CREATE TABLE analytics.big AS SELECT g::bigint AS id, 'x' AS v FROM "
         "generate_series(1, 20000) g; ANALYZE analytics.big");
  const std::string select = "SELECT g::int AS id, 'y' AS v FROM generate_series(19000, 21000) g";
  const std::vector<std::string> key_types = Query(pgsql::KeyTypes("analytics.big", {"id"}));
  EXPECT_EQ(key_types, std::vector<std::string>{"bigint"});
  for (const std::string& sql :
       {pgsql::MergeInto("analytics.big", select, {"id"}, key_types, {"v"}, {"id", "v"}),
        pgsql::CountMatched("analytics.big", select, {"id"}, key_types)}) {
    std::string plan;
    for (const auto& line : Query("EXPLAIN " + sql)) plan += line + "\n";
    EXPECT_EQ(plan.find("Nested Loop"), std::string::npos) << plan;
    EXPECT_TRUE(std::regex_search(plan, std::regex("(Hash|Merge)( Left| Right| Semi| Anti)? Join")))
        << plan;
  }
}

// The rows' key (an integer here) is cast to the target's (a bigint) to match.
TEST_P(PgModelsTest, AMergeMatchesKeysOfAnotherIntegerTypeAndNullKeys) {
  Land("orders", "1.parquet", "SELECT 1::BIGINT AS id, 'a' AS status UNION ALL SELECT NULL, 'n'");
  auto write = BuiltMerge("latest", "SELECT id, status FROM staging.orders", {"status"});
  Land("orders", "2.parquet", "SELECT 1::BIGINT AS id, 'b' AS status UNION ALL SELECT NULL, 'm'");
  write.sql = "SELECT id::int AS id, status FROM staging.orders";
  auto stats = MustWrite(write);
  EXPECT_EQ(stats.updated, 2);
  EXPECT_EQ(stats.inserted, 0);
  EXPECT_EQ(Query("SELECT coalesce(id::text, 'null') || ':' || status FROM analytics.latest ORDER BY id"),
            (std::vector<std::string>{"1:b", "null:m"}));
}

INSTANTIATE_TEST_SUITE_P(Postgres, PgModelsTest, ::testing::Values(WarehouseKind::kPostgres),
                         landfall::testing::WarehouseKindName);

}  // namespace
}  // namespace landfall::warehouse
