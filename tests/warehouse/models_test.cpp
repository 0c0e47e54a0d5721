// Model writes against a real warehouse, each test once on DuckDB and once
// on PostgreSQL (a database of its own): each strategy's statement, what a
// model consumed recorded in the same transaction as its rows, new batches
// applied exactly once, merge keys, watermarks, checks, column hashes,
// time-interval partitions, and a failing model writing nothing. The model
// SQL is SQL both warehouses run; what only PostgreSQL does is in
// pg_models_test.cpp.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "tests/warehouse/models_fixture.h"

namespace landfall::warehouse {
namespace {

TEST_P(ModelsWarehouseTest, AFullRefreshRecordsEveryBatchItReadAndItsVersion) {
  Land("orders", "1.parquet", "SELECT 1 AS id, 10 AS amount");
  Land("orders", "2.parquet", "SELECT 2 AS id, 20 AS amount");
  auto stats = MustWrite(Write(ModelWriteKind::kReplaceTable, "totals",
                               "SELECT sum(amount) AS total FROM staging.orders"));
  EXPECT_EQ(stats.inserted, 1);
  EXPECT_EQ(Query("SELECT total FROM analytics.totals"), std::vector<std::string>{"30"});

  auto contents = models()->InspectModels("analytics");
  ASSERT_TRUE(contents) << contents.error().ToString();
  const ModelContents& totals = contents->at("totals");
  EXPECT_TRUE(totals.exists);
  EXPECT_FALSE(totals.is_view);
  EXPECT_EQ(totals.version, 1);
  ASSERT_EQ(totals.columns.columns.size(), 1u);
  EXPECT_EQ(totals.columns.columns[0].name, "total");
  EXPECT_EQ(totals.consumed.at("staging.orders"),
            (std::set<std::string>{"orders/1.parquet", "orders/2.parquet"}));

  MustWrite(Write(ModelWriteKind::kReplaceTable, "totals", "SELECT sum(amount) AS total FROM staging.orders"));
  EXPECT_EQ(models()->InspectModels("analytics")->at("totals").version, 2);
}

TEST_P(ModelsWarehouseTest, ByBatchAppliesEachNewBatchExactlyOnce) {
  Land("orders", "1.parquet", "SELECT 1 AS id, 10 AS amount");
  const std::string sql = "SELECT o.id, o.amount * 2 AS doubled FROM staging.orders AS o WHERE o.amount > 0";
  MustWrite(Write(ModelWriteKind::kReplaceTable, "doubled", sql));
  Land("orders", "2.parquet", "SELECT 2 AS id, 20 AS amount UNION ALL SELECT 3, 30");

  auto stats = MustWrite(Write(ModelWriteKind::kAppendBatches, "doubled", sql));
  EXPECT_EQ(stats.batches, 1);
  EXPECT_EQ(stats.inserted, 2);
  // Nothing new: a second run applies nothing.
  stats = MustWrite(Write(ModelWriteKind::kAppendBatches, "doubled", sql));
  EXPECT_EQ(stats.batches, 0);
  EXPECT_EQ(stats.inserted, 0);
  EXPECT_EQ(Query("SELECT id || ':' || doubled FROM analytics.doubled ORDER BY id"),
            (std::vector<std::string>{"1:20", "2:40", "3:60"}));
  EXPECT_EQ(models()->InspectModels("analytics")->at("doubled").consumed.at("staging.orders").size(), 2u);
}

TEST_P(ModelsWarehouseTest, ARestrictedSourceKeepsItsNameForColumnReferences) {
  Land("orders", "1.parquet", "SELECT 1 AS id, 10 AS amount");
  // Unaliased: columns are qualified by the table's own name.
  const std::string sql =
      "WITH big AS (SELECT orders.id FROM staging.orders WHERE orders.amount >= 10) SELECT id FROM big";
  MustWrite(Write(ModelWriteKind::kReplaceTable, "big", sql));
  Land("orders", "2.parquet", "SELECT 2 AS id, 5 AS amount UNION ALL SELECT 3, 50");
  auto stats = MustWrite(Write(ModelWriteKind::kAppendBatches, "big", sql));
  EXPECT_EQ(stats.inserted, 1);
  EXPECT_EQ(Query("SELECT id FROM analytics.big ORDER BY id"), (std::vector<std::string>{"1", "3"}));
}

TEST_P(ModelsWarehouseTest, MergeUpdatesMatchedKeysAndInsertsTheRest) {
  Land("orders", "1.parquet", "SELECT 1 AS id, 'new' AS status UNION ALL SELECT 2, 'new'");
  const ModelWrite write = BuiltMerge("latest", "SELECT id, status FROM staging.orders", {"status"});
  Land("orders", "2.parquet", "SELECT 1 AS id, 'paid' AS status UNION ALL SELECT 3, 'new'");
  auto stats = MustWrite(write);
  EXPECT_EQ(stats.updated, 1);
  EXPECT_EQ(stats.inserted, 1);
  EXPECT_EQ(Query("SELECT id || ':' || status FROM analytics.latest ORDER BY id"),
            (std::vector<std::string>{"1:paid", "2:new", "3:new"}));
}

TEST_P(ModelsWarehouseTest, TwoRowsWithOneKeyFailTheMergeAndWriteNothingUnlessDeduped) {
  Land("orders", "1.parquet", "SELECT 1 AS id, 'a' AS status, 1 AS seq");
  auto write = BuiltMerge("latest", "SELECT id, status, seq FROM staging.orders", {"status", "seq"});
  Land("orders", "2.parquet", "SELECT 7 AS id, 'b' AS status, 2 AS seq UNION ALL SELECT 7, 'c', 3");
  auto failed = models()->WriteModel(write);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, kMergeDuplicateKey);
  EXPECT_NE(failed.error().message.find("id = 7"), std::string::npos) << failed.error().message;
  EXPECT_EQ(models()->InspectModels("analytics")->at("latest").consumed.at("staging.orders").size(), 1u);

  write.dedupe_order_by = "seq";
  MustWrite(write);
  EXPECT_EQ(Query("SELECT id || ':' || status FROM analytics.latest ORDER BY id"),
            (std::vector<std::string>{"1:a", "7:c"}));
}

TEST_P(ModelsWarehouseTest, AWatermarkModelAppendsOnlyRowsPastTheTargetsMaximum) {
  Land("orders", "1.parquet", "SELECT 1 AS id, 10 AS ts");
  auto write = Write(ModelWriteKind::kReplaceTable, "events", "SELECT id, ts FROM staging.orders");
  write.timestamp_column = "ts";
  MustWrite(write);
  // A late row (ts 5) is behind the watermark: the documented semantics drop it.
  Land("orders", "2.parquet", "SELECT 2 AS id, 20 AS ts UNION ALL SELECT 3, 5");
  write.kind = ModelWriteKind::kAppendAfterWatermark;
  auto stats = MustWrite(write);
  EXPECT_EQ(stats.inserted, 1);
  EXPECT_EQ(stats.watermark, "20");
  EXPECT_EQ(Query("SELECT id FROM analytics.events ORDER BY id"), (std::vector<std::string>{"1", "2"}));
}

TEST_P(ModelsWarehouseTest, AViewAndAModelReadingAnotherModelRecordTheUpstreamVersion) {
  Land("orders", "1.parquet", "SELECT 1 AS id, 10 AS amount");
  MustWrite(Write(ModelWriteKind::kReplaceTable, "base", "SELECT id, amount FROM staging.orders"));
  auto view = Write(ModelWriteKind::kReplaceView, "base_view", "SELECT id FROM analytics.base");
  view.sources = {{.schema = "analytics", .name = "base", .is_model = true}};
  MustWrite(view);
  auto contents = models()->InspectModels("analytics");
  ASSERT_TRUE(contents);
  EXPECT_TRUE(contents->at("base_view").is_view);
  EXPECT_EQ(contents->at("base_view").consumed.at("analytics.base"), std::set<std::string>{"1"});
}

TEST_P(ModelsWarehouseTest, TargetRowsCountsEveryTargetTableAndNoView) {
  auto empty = models()->TargetRows("analytics");
  ASSERT_TRUE(empty) << empty.error().ToString();
  EXPECT_TRUE(empty->empty());
  Land("orders", "1.parquet", "SELECT i AS id, i * 2 AS amount FROM range(3) t(i)");
  MustWrite(Write(ModelWriteKind::kReplaceTable, "base", "SELECT id, amount FROM staging.orders"));
  MustWrite(Write(ModelWriteKind::kReplaceTable, "totals", "SELECT sum(amount) AS total FROM staging.orders"));
  auto view = Write(ModelWriteKind::kReplaceView, "base_view", "SELECT id FROM analytics.base");
  view.sources = {{.schema = "analytics", .name = "base", .is_model = true}};
  MustWrite(view);
  auto rows = models()->TargetRows("analytics");
  ASSERT_TRUE(rows) << rows.error().ToString();
  EXPECT_EQ(*rows, (std::map<std::string, int64_t>{{"base", 3}, {"totals", 1}}));
}

TEST_P(ModelsWarehouseTest, AFailingModelWritesNothingAndSaysWhy) {
  Land("orders", "1.parquet", "SELECT 1 AS id");
  auto failed = models()->WriteModel(
      Write(ModelWriteKind::kReplaceTable, "broken", "SELECT no_such_column FROM staging.orders"));
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, kModelSqlFailed);
  EXPECT_NE(failed.error().message.find("no_such_column"), std::string::npos) << failed.error().message;
  EXPECT_EQ(models()->InspectModels("analytics")->count("broken"), 0u);
}

TEST_P(ModelsWarehouseTest, ChecksObserveTheTargetAsItIsNow) {
  Land("orders", "1.parquet",
       "SELECT * FROM (VALUES (1, 'new', 5, now() - INTERVAL 1 HOUR), (1, 'paid', NULL, now()), "
       "(2, 'lost', -1, now())) t(id, status, amount, ts)");
  MustWrite(Write(ModelWriteKind::kReplaceTable, "o", "SELECT * FROM staging.orders"));
  auto observe = [&](TargetCheck check) -> std::optional<double> {
    auto observed = models()->ObserveCheck("analytics", "o", check);
    EXPECT_TRUE(observed) << observed.error().ToString();
    return observed ? *observed : std::optional<double>(-1);
  };
  using Kind = TargetCheck::Kind;
  EXPECT_EQ(observe({.kind = Kind::kRowCount}), 3.0);
  EXPECT_EQ(observe({.kind = Kind::kNotNull, .columns = {"amount"}}), 1.0);
  EXPECT_EQ(observe({.kind = Kind::kUnique, .columns = {"id"}}), 2.0);
  EXPECT_EQ(observe({.kind = Kind::kUnique, .columns = {"id", "status"}}), 0.0);
  EXPECT_EQ(observe({.kind = Kind::kAcceptedValues, .columns = {"status"}, .values = {"new", "paid"}}), 1.0);
  EXPECT_EQ(observe({.kind = Kind::kExpression, .expression = "amount >= 0"}), 1.0);  // NULL passes
  const auto age = observe({.kind = Kind::kFreshness, .columns = {"ts"}});
  ASSERT_TRUE(age.has_value());
  EXPECT_GE(*age, 0.0);
  EXPECT_LT(*age, 60.0);
}

TEST_P(ModelsWarehouseTest, FreshnessOfNoRowsIsNullAndABadColumnFailsTheCheck) {
  Land("orders", "1.parquet", "SELECT now() AS ts");
  MustWrite(Write(ModelWriteKind::kReplaceTable, "empty", "SELECT ts FROM staging.orders WHERE false"));
  auto none = models()->ObserveCheck("analytics", "empty", {.kind = TargetCheck::Kind::kFreshness, .columns = {"ts"}});
  ASSERT_TRUE(none) << none.error().ToString();
  EXPECT_EQ(*none, std::nullopt);
  auto bad = models()->ObserveCheck("analytics", "empty", {.kind = TargetCheck::Kind::kNotNull, .columns = {"nope"}});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, kCheckFailedToRun);
  EXPECT_NE(bad.error().message.find("nope"), std::string::npos) << bad.error().message;
}

TEST_P(ModelsWarehouseTest, DescribeGivesTheQuerysColumnsAndDropForgetsTheModel) {
  Land("orders", "1.parquet", "SELECT 1 AS id, 'x' AS name");
  auto columns = models()->DescribeQuery("SELECT id, upper(name) AS up FROM staging.orders");
  ASSERT_TRUE(columns) << columns.error().ToString();
  ASSERT_EQ(columns->columns.size(), 2u);
  EXPECT_EQ(columns->columns[1].name, "up");
  EXPECT_EQ(columns->columns[1].type, "VARCHAR");

  MustWrite(Write(ModelWriteKind::kReplaceTable, "gone", "SELECT id FROM staging.orders"));
  ASSERT_TRUE(models()->DropModel("analytics", "gone"));
  ASSERT_TRUE(models()->DropModel("analytics", "gone"));
  EXPECT_EQ(models()->InspectModels("analytics")->count("gone"), 0u);
}

TEST_P(ModelsWarehouseTest, TargetColumnsOfOneTargetMatchInspectionAndAreEmptyWhenMissing) {
  Land("orders", "1.parquet", "SELECT 1 AS id, 'x' AS name, 2.5::DECIMAL(9,2) AS amount");
  MustWrite(Write(ModelWriteKind::kReplaceTable, "wide", "SELECT id, name, amount FROM staging.orders"));
  MustWrite(Write(ModelWriteKind::kReplaceView, "live", "SELECT name, id FROM staging.orders"));
  auto inspected = models()->InspectModels("analytics");
  ASSERT_TRUE(inspected) << inspected.error().ToString();
  for (const std::string name : {"wide", "live"}) {
    auto columns = models()->TargetColumns("analytics", name);
    ASSERT_TRUE(columns) << columns.error().ToString();
    const auto& expected = inspected->at(name).columns.columns;
    ASSERT_EQ(columns->columns.size(), expected.size()) << name;
    for (size_t i = 0; i < expected.size(); ++i) {
      EXPECT_EQ(columns->columns[i].name, expected[i].name) << name;
      EXPECT_EQ(columns->columns[i].type, expected[i].type) << name;
      EXPECT_EQ(columns->columns[i].nullable, expected[i].nullable) << name;
    }
  }
  EXPECT_EQ(models()->TargetColumns("analytics", "wide")->columns[2].type, "DECIMAL(9,2)");
  auto missing = models()->TargetColumns("analytics", "nope");
  ASSERT_TRUE(missing) << missing.error().ToString();
  EXPECT_TRUE(missing->columns.empty());
}

TEST_P(ModelsWarehouseTest, HashesKeptAfterAWriteChangeOnlyForTheColumnWhoseValuesChanged) {
  Land("orders", "1.parquet", "SELECT 1 AS id, 10 AS amount, 'x' AS note UNION ALL SELECT 2, 20, 'y'");
  auto write = [&](const std::string& sql) {
    auto w = Write(ModelWriteKind::kReplaceTable, "a", sql);
    w.hash_sets = std::vector<std::vector<std::string>>{{"id", "Amount"}, {}};
    w.expressions = {{"", "rest"}, {"id", "e1"}};
    return MustWrite(w).version;
  };
  const int64_t v1 = write("SELECT id, amount, note FROM staging.orders");
  auto before = models()->HashesAt("a", v1);
  ASSERT_TRUE(before) << before.error().ToString();
  ASSERT_TRUE(*before);
  EXPECT_EQ((*before)->rows, 2);
  ASSERT_EQ((*before)->columns.size(), 3u);
  EXPECT_EQ((*before)->columns.at("amount").first, "INTEGER");
  EXPECT_EQ((*before)->sets.size(), 2u);
  EXPECT_EQ((*before)->sets.at(""), "2");  // a reader of the rows alone: their count
  EXPECT_EQ((*before)->expressions.at("id"), "e1");

  // The same rows in another order: the same hashes.
  const int64_t v2 = write("SELECT id, amount, note FROM staging.orders ORDER BY id DESC");
  EXPECT_EQ((*models()->HashesAt("a", v2))->columns, (*before)->columns);
  // Another note: only note's hash moves.
  const int64_t v3 = write("SELECT id, amount, upper(note) AS note FROM staging.orders");
  const TargetHashes after = **models()->HashesAt("a", v3);
  EXPECT_EQ(after.columns.at("id"), (*before)->columns.at("id"));
  EXPECT_EQ(after.columns.at("amount"), (*before)->columns.at("amount"));
  EXPECT_NE(after.columns.at("note"), (*before)->columns.at("note"));
  // Amounts moved between ids: each column the same, the pair not.
  const int64_t v4 = write("SELECT id, 30 - amount AS amount, upper(note) AS note FROM staging.orders");
  const TargetHashes moved = **models()->HashesAt("a", v4);
  EXPECT_EQ(moved.columns.at("amount"), after.columns.at("amount"));
  EXPECT_NE(moved.sets.at(ColumnSetKey({"id", "amount"})), after.sets.at(ColumnSetKey({"amount", "id"})));
  // Versions no model consumed are forgotten.
  EXPECT_FALSE(*models()->HashesAt("a", v1));
}

TEST_P(ModelsWarehouseTest, AReaderKeepsTheHashesOfTheVersionItConsumedAndASkipConsumesTheNewOne) {
  Land("orders", "1.parquet", "SELECT 1 AS id, 10 AS amount");
  auto base = Write(ModelWriteKind::kReplaceTable, "base", "SELECT id, amount FROM staging.orders");
  base.hash_sets = std::vector<std::vector<std::string>>{{"id"}};
  const int64_t v1 = MustWrite(base).version;
  auto reader = Write(ModelWriteKind::kReplaceTable, "reader", "SELECT id FROM analytics.base");
  reader.sources = {{.schema = "analytics", .name = "base", .is_model = true}};
  MustWrite(reader);
  const int64_t v2 = MustWrite(base).version;
  EXPECT_TRUE(*models()->HashesAt("base", v1));  // reader consumed v1
  ASSERT_TRUE(models()->ConsumeUnchanged("reader", reader.sources));
  auto contents = models()->InspectModels("analytics");
  ASSERT_TRUE(contents);
  EXPECT_EQ(contents->at("reader").consumed.at("analytics.base"), std::set<std::string>{std::to_string(v2)});
  EXPECT_EQ(contents->at("reader").version, 1);  // not written
  MustWrite(base);
  EXPECT_FALSE(*models()->HashesAt("base", v1));
  EXPECT_TRUE(*models()->HashesAt("base", v2));
}

TEST_P(ModelsWarehouseTest, AWriteRemembersItsStagingInputs) {
  Land("orders", "1.parquet", "SELECT 1 AS id, 10 AS amount");
  auto write = Write(ModelWriteKind::kReplaceTable, "a", "SELECT id FROM staging.orders");
  write.inputs["staging.orders"] = {.columns_json = "[cols]", .loaded_at_us = 42};
  MustWrite(write);
  auto contents = models()->InspectModels("analytics");
  ASSERT_TRUE(contents);
  EXPECT_EQ(contents->at("a").inputs.at("staging.orders"), (StagingInput{"[cols]", 42}));
  ASSERT_TRUE(models()->DropModel("analytics", "a"));
  EXPECT_FALSE(models()->InspectModels("analytics")->contains("a"));
}

INSTANTIATE_TEST_SUITE_P(BothWarehouses, ModelsWarehouseTest,
                         ::testing::Values(WarehouseKind::kDuckDb, WarehouseKind::kPostgres),
                         landfall::testing::WarehouseKindName);

}  // namespace
}  // namespace landfall::warehouse

// ---- Time-interval models ----

namespace landfall::warehouse {
namespace {

class PartitionsWarehouseTest : public ModelsWarehouseTest {
 protected:
  static constexpr const char* kSql =
      "SELECT CAST(ts AS DATE) AS day, count(*) AS n FROM staging.events WHERE ts >= {s} AND ts < {e} GROUP BY CAST(ts AS DATE)";
  static std::string Windowed(const std::string& start, const std::string& end) {
    std::string sql = kSql;
    sql.replace(sql.find("{s}"), 3, start);
    sql.replace(sql.find("{e}"), 3, end);
    return sql;
  }
  static PartitionLayout Layout() { return {.time_column = "day", .unit = "day", .format = "%Y-%m-%d"}; }
  PartitionSource Events() {
    return {.source = {.schema = "staging", .name = "events"}, .column = "ts", .columns = {"id", "ts"}};
  }
  PartitionWrite Day(const std::string& day, const std::string& next) {
    const std::string start = "'" + day + " 00:00:00'", end = "'" + next + " 00:00:00'";
    return {.schema = "analytics",
            .name = "daily",
            .sql = Windowed(start, end),
            .layout = Layout(),
            .start = start,
            .end = end,
            .keys = {day},
            .columns = {"day", "n"},
            .sources = {Events()}};
  }
  // Two events on 04-01, one on 04-02.
  void LandEvents() {
    Land("events", "e1.parquet",
         "SELECT * FROM (VALUES (1, TIMESTAMP '2026-04-01 01:00:00'), (2, TIMESTAMP '2026-04-01 02:00:00'), "
         "(3, TIMESTAMP '2026-04-02 03:00:00')) t(id, ts)");
  }
};

TEST_P(PartitionsWarehouseTest, APartitionReplacesItsWindowOnlyAndKeepsItsChecksums) {
  LandEvents();
  ASSERT_TRUE(models()->ResetPartitions("analytics", "daily", Windowed("'2026-04-01 00:00:00'", "'2026-04-02 00:00:00'")));
  auto first = models()->WritePartitions(Day("2026-04-01", "2026-04-02"));
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_EQ(first->inserted, 1);
  EXPECT_EQ(first->partitions.at("2026-04-01").rows, 1);
  auto second = models()->WritePartitions(Day("2026-04-02", "2026-04-03"));
  ASSERT_TRUE(second) << second.error().ToString();
  auto again = models()->WritePartitions(Day("2026-04-01", "2026-04-02"));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->deleted, 1);
  EXPECT_EQ(again->partitions.at("2026-04-01").checksum, first->partitions.at("2026-04-01").checksum);
  EXPECT_EQ(Query("SELECT day || ':' || n FROM analytics.daily ORDER BY day"),
            (std::vector<std::string>{"2026-04-01:2", "2026-04-02:1"}));
  // Nothing changed upstream: no key's checksum differs.
  auto changed = models()->ChangedPartitions("daily", Events(), Layout(), "'2026-04-01 00:00:00'", "'2026-04-03 00:00:00'");
  ASSERT_TRUE(changed) << changed.error().ToString();
  EXPECT_TRUE(changed->empty()) << ::testing::PrintToString(*changed);
}

TEST_P(PartitionsWarehouseTest, NewBatchesTouchTheKeysOfTheirRowsAndChecksumsFindChangedKeys) {
  LandEvents();
  ASSERT_TRUE(models()->ResetPartitions("analytics", "daily", Windowed("'2026-04-01 00:00:00'", "'2026-04-02 00:00:00'")));
  ASSERT_TRUE(models()->WritePartitions(Day("2026-04-01", "2026-04-02")));
  ASSERT_TRUE(models()->WritePartitions(Day("2026-04-02", "2026-04-03")));
  Land("events", "e2.parquet", "SELECT 4 AS id, TIMESTAMP '2026-04-02 05:00:00' AS ts");
  auto touched = models()->TouchedPartitions(Windowed("'2026-04-01 00:00:00'", "'2026-04-09 00:00:00'"), "events",
                                             {"events/e2.parquet"}, Layout());
  ASSERT_TRUE(touched) << touched.error().ToString();
  EXPECT_EQ(*touched, std::vector<std::string>{"2026-04-02"});
  auto changed = models()->ChangedPartitions("daily", Events(), Layout(), "'2026-04-01 00:00:00'", "'2026-04-09 00:00:00'");
  ASSERT_TRUE(changed) << changed.error().ToString();
  EXPECT_EQ(*changed, std::vector<std::string>{"2026-04-02"});
}

TEST_P(PartitionsWarehouseTest, RowsOutsideTheWindowFailThePartitionAndWriteNothing) {
  LandEvents();
  ASSERT_TRUE(models()->ResetPartitions("analytics", "daily", Windowed("'2026-04-01 00:00:00'", "'2026-04-02 00:00:00'")));
  PartitionWrite write = Day("2026-04-01", "2026-04-02");
  write.sql = Windowed("'2026-04-01 00:00:00'", "'2026-04-03 00:00:00'");  // reads a day too many
  auto r = models()->WritePartitions(write);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, kPartitionRowsOutside);
  EXPECT_NE(r.error().message.find("2026-04-02"), std::string::npos) << r.error().message;
  EXPECT_EQ(Query("SELECT count(*) FROM analytics.daily"), std::vector<std::string>{"0"});
}

INSTANTIATE_TEST_SUITE_P(BothWarehouses, PartitionsWarehouseTest,
                         ::testing::Values(WarehouseKind::kDuckDb, WarehouseKind::kPostgres),
                         landfall::testing::WarehouseKindName);

}  // namespace
}  // namespace landfall::warehouse
