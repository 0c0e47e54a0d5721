// Model writes against a real PostgreSQL (a database of each test's own):
// the DuckDB model tests (duckdb_models_test.cpp) once more, with the
// model's SQL run by PostgreSQL; then what only this warehouse does: the
// swap of a rebuilt table, views dropped with the table they read, the
// driver's name pointing at its new batches.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "lib/warehouse/duckdb_warehouse.h"
#include "lib/warehouse/pg_warehouse.h"
#include "tests/support/duckdb_testing.h"
#include "tests/support/testing.h"

namespace landfall::warehouse {
namespace {

namespace fs = std::filesystem;
using landfall::testing::PgSession;
using landfall::testing::TempDir;
using landfall::testing::WriteParquet;

class PgModelsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LANDFALL_REQUIRE_POSTGRES();
    database_ = landfall::testing::UniqueEnvironment("models");
    PgSession admin;
    admin.Script("CREATE DATABASE " + database_);
    url_ = admin.UrlFor(database_);
    db_ = std::make_unique<PgSession>(url_);
    auto reader = NewDuckDbFooterReader();
    ASSERT_TRUE(reader) << reader.error().ToString();
    reader_ = std::move(*reader);
    auto wh = OpenPostgresWarehouse({.url = url_, .staging_schema = "staging"});
    ASSERT_TRUE(wh) << wh.error().ToString();
    wh_ = std::move(*wh);
    ASSERT_TRUE(wh_->Init());
    ASSERT_NE(models(), nullptr);
    auto init = models()->InitModels("analytics");
    ASSERT_TRUE(init) << init.error().ToString();
  }

  void TearDown() override {
    wh_.reset();
    db_.reset();
    if (!database_.empty() && !landfall::testing::PostgresUrl().empty()) {
      PgSession().Script("DROP DATABASE IF EXISTS " + database_ + " WITH (FORCE)");
    }
  }

  ModelWarehouse* models() { return wh_->Models(); }
  std::vector<std::string> Query(const std::string& sql) { return db_->Query(sql); }

  // Lands one batch of `select` (DuckDB's SQL) into staging table `table`.
  void Land(const std::string& table, const std::string& name, const std::string& select) {
    const fs::path file = dir_ / "landing" / table / name;
    WriteParquet(file, select);
    auto info = reader_->Read(file);
    ASSERT_TRUE(info) << info.error().ToString();
    BatchFile batch{.batch_id = table + "/" + name,
                    .rel_path = table + "/" + name,
                    .abs_path = file,
                    .rows = info->rows,
                    .schema = info->schema};
    auto contents = wh_->Inspect();
    ASSERT_TRUE(contents);
    auto applied = (*contents)[table].exists
                       ? wh_->Append(table, info->schema, std::span(&batch, 1))
                       : wh_->Rebuild(table, info->schema, std::span(&batch, 1));
    ASSERT_TRUE(applied) << applied.error().ToString();
  }

  ModelWrite Write(ModelWriteKind kind, std::string name, std::string sql) {
    ModelWrite write;
    write.schema = "analytics";
    write.name = std::move(name);
    write.sql = std::move(sql);
    write.kind = kind;
    write.sources = {{.schema = "staging", .name = "orders"}};
    write.driver = "orders";
    return write;
  }

  ModelWriteStats MustWrite(const ModelWrite& write) {
    auto stats = models()->WriteModel(write);
    EXPECT_TRUE(stats) << stats.error().ToString();
    return stats ? *stats : ModelWriteStats{};
  }

  TempDir dir_;
  std::string database_;
  std::string url_;
  std::unique_ptr<PgSession> db_;
  std::unique_ptr<schema::FooterReader> reader_;
  std::unique_ptr<Warehouse> wh_;
};

TEST_F(PgModelsTest, AFullRefreshRecordsEveryBatchItReadAndItsVersion) {
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

  MustWrite(Write(ModelWriteKind::kReplaceTable, "totals",
                  "SELECT sum(amount) AS total FROM staging.orders"));
  EXPECT_EQ(models()->InspectModels("analytics")->at("totals").version, 2);
}

TEST_F(PgModelsTest, ByBatchAppliesEachNewBatchExactlyOnce) {
  Land("orders", "1.parquet", "SELECT 1 AS id, 10 AS amount");
  const std::string sql =
      "SELECT o.id, o.amount * 2 AS doubled FROM staging.orders AS o WHERE o.amount > 0";
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
  EXPECT_EQ(
      models()->InspectModels("analytics")->at("doubled").consumed.at("staging.orders").size(), 2u);
}

TEST_F(PgModelsTest, ARestrictedSourceKeepsItsNameForColumnReferences) {
  Land("orders", "1.parquet", "SELECT 1 AS id, 10 AS amount");
  // Unaliased: columns are qualified by the table's own name.
  const std::string sql =
      "WITH big AS (SELECT orders.id FROM staging.orders WHERE orders.amount >= 10) SELECT id FROM "
      "big";
  MustWrite(Write(ModelWriteKind::kReplaceTable, "big", sql));
  Land("orders", "2.parquet", "SELECT 2 AS id, 5 AS amount UNION ALL SELECT 3, 50");
  auto stats = MustWrite(Write(ModelWriteKind::kAppendBatches, "big", sql));
  EXPECT_EQ(stats.inserted, 1);
  EXPECT_EQ(Query("SELECT id FROM analytics.big ORDER BY id"),
            (std::vector<std::string>{"1", "3"}));
}

TEST_F(PgModelsTest, MergeUpdatesMatchedKeysAndInsertsTheRest) {
  Land("orders", "1.parquet", "SELECT 1 AS id, 'new' AS status UNION ALL SELECT 2, 'new'");
  auto write =
      Write(ModelWriteKind::kReplaceTable, "latest", "SELECT id, status FROM staging.orders");
  write.unique_key = {"id"};
  MustWrite(write);
  Land("orders", "2.parquet", "SELECT 1 AS id, 'paid' AS status UNION ALL SELECT 3, 'new'");
  write.kind = ModelWriteKind::kMergeBatches;
  write.update_columns = {"status"};
  auto stats = MustWrite(write);
  EXPECT_EQ(stats.updated, 1);
  EXPECT_EQ(stats.inserted, 1);
  EXPECT_EQ(Query("SELECT id || ':' || status FROM analytics.latest ORDER BY id"),
            (std::vector<std::string>{"1:paid", "2:new", "3:new"}));
}

TEST_F(PgModelsTest, TwoRowsWithOneKeyFailTheMergeAndWriteNothingUnlessDeduped) {
  Land("orders", "1.parquet", "SELECT 1 AS id, 'a' AS status, 1 AS seq");
  auto write =
      Write(ModelWriteKind::kReplaceTable, "latest", "SELECT id, status, seq FROM staging.orders");
  write.unique_key = {"id"};
  MustWrite(write);
  Land("orders", "2.parquet", "SELECT 7 AS id, 'b' AS status, 2 AS seq UNION ALL SELECT 7, 'c', 3");
  write.kind = ModelWriteKind::kMergeBatches;
  write.update_columns = {"status", "seq"};
  auto failed = models()->WriteModel(write);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, kMergeDuplicateKey);
  EXPECT_NE(failed.error().message.find("id = 7"), std::string::npos) << failed.error().message;
  EXPECT_EQ(models()->InspectModels("analytics")->at("latest").consumed.at("staging.orders").size(),
            1u);

  write.dedupe_order_by = "seq";
  MustWrite(write);
  EXPECT_EQ(Query("SELECT id || ':' || status FROM analytics.latest ORDER BY id"),
            (std::vector<std::string>{"1:a", "7:c"}));
}

TEST_F(PgModelsTest, AWatermarkModelAppendsOnlyRowsPastTheTargetsMaximum) {
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
  EXPECT_EQ(Query("SELECT id FROM analytics.events ORDER BY id"),
            (std::vector<std::string>{"1", "2"}));
}

TEST_F(PgModelsTest, AViewAndAModelReadingAnotherModelRecordTheUpstreamVersion) {
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

TEST_F(PgModelsTest, TargetRowsCountsEveryTargetTableAndNoView) {
  auto empty = models()->TargetRows("analytics");
  ASSERT_TRUE(empty) << empty.error().ToString();
  EXPECT_TRUE(empty->empty());
  Land("orders", "1.parquet", "SELECT i AS id, i * 2 AS amount FROM range(3) t(i)");
  MustWrite(Write(ModelWriteKind::kReplaceTable, "base", "SELECT id, amount FROM staging.orders"));
  MustWrite(Write(ModelWriteKind::kReplaceTable, "totals",
                  "SELECT sum(amount) AS total FROM staging.orders"));
  auto view = Write(ModelWriteKind::kReplaceView, "base_view", "SELECT id FROM analytics.base");
  view.sources = {{.schema = "analytics", .name = "base", .is_model = true}};
  MustWrite(view);
  auto rows = models()->TargetRows("analytics");
  ASSERT_TRUE(rows) << rows.error().ToString();
  EXPECT_EQ(*rows, (std::map<std::string, int64_t>{{"base", 3}, {"totals", 1}}));
}

TEST_F(PgModelsTest, AFailingModelWritesNothingAndSaysWhy) {
  Land("orders", "1.parquet", "SELECT 1 AS id");
  auto failed = models()->WriteModel(
      Write(ModelWriteKind::kReplaceTable, "broken", "SELECT no_such_column FROM staging.orders"));
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, kModelSqlFailed);
  EXPECT_NE(failed.error().message.find("no_such_column"), std::string::npos)
      << failed.error().message;
  EXPECT_EQ(models()->InspectModels("analytics")->count("broken"), 0u);
}

TEST_F(PgModelsTest, ChecksObserveTheTargetAsItIsNow) {
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
  EXPECT_EQ(
      observe({.kind = Kind::kAcceptedValues, .columns = {"status"}, .values = {"new", "paid"}}),
      1.0);
  EXPECT_EQ(observe({.kind = Kind::kExpression, .expression = "amount >= 0"}), 1.0);  // NULL passes
  const auto age = observe({.kind = Kind::kFreshness, .columns = {"ts"}});
  ASSERT_TRUE(age.has_value());
  EXPECT_GE(*age, 0.0);
  EXPECT_LT(*age, 60.0);
}

TEST_F(PgModelsTest, FreshnessOfNoRowsIsNullAndABadColumnFailsTheCheck) {
  Land("orders", "1.parquet", "SELECT now() AS ts");
  MustWrite(
      Write(ModelWriteKind::kReplaceTable, "empty", "SELECT ts FROM staging.orders WHERE false"));
  auto none = models()->ObserveCheck("analytics", "empty",
                                     {.kind = TargetCheck::Kind::kFreshness, .columns = {"ts"}});
  ASSERT_TRUE(none) << none.error().ToString();
  EXPECT_EQ(*none, std::nullopt);
  auto bad = models()->ObserveCheck("analytics", "empty",
                                    {.kind = TargetCheck::Kind::kNotNull, .columns = {"nope"}});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, kCheckFailedToRun);
  EXPECT_NE(bad.error().message.find("nope"), std::string::npos) << bad.error().message;
}

TEST_F(PgModelsTest, DescribeGivesTheQuerysColumnsAndDropForgetsTheModel) {
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

TEST_F(PgModelsTest, TargetColumnsOfOneTargetMatchInspectionAndAreEmptyWhenMissing) {
  Land("orders", "1.parquet", "SELECT 1 AS id, 'x' AS name, 2.5::DECIMAL(9,2) AS amount");
  MustWrite(
      Write(ModelWriteKind::kReplaceTable, "wide", "SELECT id, name, amount FROM staging.orders"));
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

TEST_F(PgModelsTest, HashesKeptAfterAWriteChangeOnlyForTheColumnWhoseValuesChanged) {
  Land("orders", "1.parquet",
       "SELECT 1 AS id, 10 AS amount, 'x' AS note UNION ALL SELECT 2, 20, 'y'");
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
  const int64_t v4 =
      write("SELECT id, 30 - amount AS amount, upper(note) AS note FROM staging.orders");
  const TargetHashes moved = **models()->HashesAt("a", v4);
  EXPECT_EQ(moved.columns.at("amount"), after.columns.at("amount"));
  EXPECT_NE(moved.sets.at(ColumnSetKey({"id", "amount"})),
            after.sets.at(ColumnSetKey({"amount", "id"})));
  // Versions no model consumed are forgotten.
  EXPECT_FALSE(*models()->HashesAt("a", v1));
}

TEST_F(PgModelsTest, AReaderKeepsTheHashesOfTheVersionItConsumedAndASkipConsumesTheNewOne) {
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
  EXPECT_EQ(contents->at("reader").consumed.at("analytics.base"),
            std::set<std::string>{std::to_string(v2)});
  EXPECT_EQ(contents->at("reader").version, 1);  // not written
  MustWrite(base);
  EXPECT_FALSE(*models()->HashesAt("base", v1));
  EXPECT_TRUE(*models()->HashesAt("base", v2));
}

TEST_F(PgModelsTest, AWriteRemembersItsStagingInputs) {
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

// ---- What only the PostgreSQL warehouse does ----

TEST_F(PgModelsTest, AFailingRebuildKeepsTheOldTableAndItsVersion) {
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

TEST_F(PgModelsTest, ARebuildChangesColumnsAndAViewMayBecomeATable) {
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

TEST_F(PgModelsTest, RebuildingATableKeepsTheViewsReadingItThroughOtherViewsToo) {
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
  db_->Script(
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

TEST_F(PgModelsTest, TheDriverIsRestrictedWhateverItsNameIsSpelledAndNotInsideAString) {
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

TEST_F(PgModelsTest, AModelThatDoesNotNameItsDriverFailsByBatch) {
  Land("orders", "1.parquet", "SELECT 1 AS id");
  auto failed =
      models()->WriteModel(Write(ModelWriteKind::kAppendBatches, "other", "SELECT 1 AS id"));
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, kModelSqlFailed);
  EXPECT_NE(failed.error().message.find("does not read staging.orders"), std::string::npos)
      << failed.error().message;
}

TEST_F(PgModelsTest, AWatermarkWithLookbackAndAKeyMergesTheWindowAgain) {
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

TEST_F(PgModelsTest, DescribeMapsPostgresTypesToLandfallsNames) {
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

}  // namespace
}  // namespace landfall::warehouse

// ---- Time-interval models ----

namespace landfall::warehouse {
namespace {

class PgPartitionsTest : public PgModelsTest {
 protected:
  static constexpr const char* kSql =
      "SELECT CAST(ts AS DATE) AS day, count(*) AS n FROM staging.events WHERE ts >= {s} AND ts < "
      "{e} GROUP BY 1";
  static std::string Windowed(const std::string& start, const std::string& end) {
    std::string sql = kSql;
    sql.replace(sql.find("{s}"), 3, start);
    sql.replace(sql.find("{e}"), 3, end);
    return sql;
  }
  static PartitionLayout Layout() {
    return {.time_column = "day", .unit = "day", .format = "%Y-%m-%d"};
  }
  PartitionSource Events() {
    return {
        .source = {.schema = "staging", .name = "events"}, .column = "ts", .columns = {"id", "ts"}};
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
         "SELECT * FROM (VALUES (1, TIMESTAMP '2026-04-01 01:00:00'), (2, TIMESTAMP '2026-04-01 "
         "02:00:00'), "
         "(3, TIMESTAMP '2026-04-02 03:00:00')) t(id, ts)");
  }
};

TEST_F(PgPartitionsTest, APartitionReplacesItsWindowOnlyAndKeepsItsChecksums) {
  LandEvents();
  ASSERT_TRUE(models()->ResetPartitions(
      "analytics", "daily", Windowed("'2026-04-01 00:00:00'", "'2026-04-02 00:00:00'")));
  auto first = models()->WritePartitions(Day("2026-04-01", "2026-04-02"));
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_EQ(first->inserted, 1);
  EXPECT_EQ(first->partitions.at("2026-04-01").rows, 1);
  auto second = models()->WritePartitions(Day("2026-04-02", "2026-04-03"));
  ASSERT_TRUE(second) << second.error().ToString();
  auto again = models()->WritePartitions(Day("2026-04-01", "2026-04-02"));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->deleted, 1);
  EXPECT_EQ(again->partitions.at("2026-04-01").checksum,
            first->partitions.at("2026-04-01").checksum);
  EXPECT_EQ(Query("SELECT day || ':' || n FROM analytics.daily ORDER BY day"),
            (std::vector<std::string>{"2026-04-01:2", "2026-04-02:1"}));
  // Nothing changed upstream: no key's checksum differs.
  auto changed = models()->ChangedPartitions("daily", Events(), Layout(), "'2026-04-01 00:00:00'",
                                             "'2026-04-03 00:00:00'");
  ASSERT_TRUE(changed) << changed.error().ToString();
  EXPECT_TRUE(changed->empty()) << ::testing::PrintToString(*changed);
}

TEST_F(PgPartitionsTest, NewBatchesTouchTheKeysOfTheirRowsAndChecksumsFindChangedKeys) {
  LandEvents();
  ASSERT_TRUE(models()->ResetPartitions(
      "analytics", "daily", Windowed("'2026-04-01 00:00:00'", "'2026-04-02 00:00:00'")));
  ASSERT_TRUE(models()->WritePartitions(Day("2026-04-01", "2026-04-02")));
  ASSERT_TRUE(models()->WritePartitions(Day("2026-04-02", "2026-04-03")));
  Land("events", "e2.parquet", "SELECT 4 AS id, TIMESTAMP '2026-04-02 05:00:00' AS ts");
  auto touched =
      models()->TouchedPartitions(Windowed("'2026-04-01 00:00:00'", "'2026-04-09 00:00:00'"),
                                  "events", {"events/e2.parquet"}, Layout());
  ASSERT_TRUE(touched) << touched.error().ToString();
  EXPECT_EQ(*touched, std::vector<std::string>{"2026-04-02"});
  auto changed = models()->ChangedPartitions("daily", Events(), Layout(), "'2026-04-01 00:00:00'",
                                             "'2026-04-09 00:00:00'");
  ASSERT_TRUE(changed) << changed.error().ToString();
  EXPECT_EQ(*changed, std::vector<std::string>{"2026-04-02"});
}

TEST_F(PgPartitionsTest, RowsOutsideTheWindowFailThePartitionAndWriteNothing) {
  LandEvents();
  ASSERT_TRUE(models()->ResetPartitions(
      "analytics", "daily", Windowed("'2026-04-01 00:00:00'", "'2026-04-02 00:00:00'")));
  PartitionWrite write = Day("2026-04-01", "2026-04-02");
  write.sql = Windowed("'2026-04-01 00:00:00'", "'2026-04-03 00:00:00'");  // reads a day too many
  auto r = models()->WritePartitions(write);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, kPartitionRowsOutside);
  EXPECT_NE(r.error().message.find("2026-04-02"), std::string::npos) << r.error().message;
  EXPECT_EQ(Query("SELECT count(*) FROM analytics.daily"), std::vector<std::string>{"0"});
}

}  // namespace
}  // namespace landfall::warehouse
