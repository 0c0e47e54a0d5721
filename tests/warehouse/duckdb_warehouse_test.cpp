// The DuckDB warehouse against real DuckDB files: staging tables, the ledger,
// idempotence, atomicity, JSON for nested types, quoting, concurrency.
#include "lib/warehouse/duckdb_warehouse.h"

#include <duckdb.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/duckdb_testing.h"
#include "tests/support/testing.h"
#include "tests/support/warehouse_testing.h"

namespace landfall::warehouse {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using landfall::testing::QueryDuckDb;
using landfall::testing::QueryDuckDbInt;
using landfall::testing::TempDir;
using landfall::testing::WriteParquet;

// Double-quoted SQL identifier, for the test's own queries.
std::string Id(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    out += c;
    if (c == '"') out += '"';
  }
  return out + "\"";
}

// Runs a statement read-write on a closed database file (to set up states the
// warehouse interface cannot produce).
void ExecOnFile(const fs::path& db_file, const std::string& sql) {
  duckdb_database db;
  duckdb_connection con;
  ASSERT_EQ(duckdb_open(db_file.c_str(), &db), DuckDBSuccess);
  ASSERT_EQ(duckdb_connect(db, &con), DuckDBSuccess);
  duckdb_result result;
  EXPECT_EQ(duckdb_query(con, sql.c_str(), &result), DuckDBSuccess) << duckdb_result_error(&result);
  duckdb_destroy_result(&result);
  duckdb_disconnect(&con);
  duckdb_close(&db);
}

class DuckDbWarehouseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto reader = NewDuckDbFooterReader();
    ASSERT_TRUE(reader) << reader.error().ToString();
    reader_ = std::move(*reader);
    Open();
    auto init = wh_->Init();
    ASSERT_TRUE(init) << init.error().ToString();
  }

  void Open() {
    auto wh = OpenDuckDb({.path = db_file_, .staging_schema = "staging"});
    ASSERT_TRUE(wh) << wh.error().ToString();
    wh_ = std::move(*wh);
  }

  // The warehouse holds the database open; tests look at the data through a
  // separate read-only instance, so close it around the query.
  std::vector<std::string> Query(const std::string& sql) {
    wh_.reset();
    auto rows = QueryDuckDb(db_file_, sql);
    Open();
    return rows;
  }
  long long QueryInt(const std::string& sql) {
    wh_.reset();
    long long value = QueryDuckDbInt(db_file_, sql);
    Open();
    return value;
  }

  BatchFile Batch(const std::string& rel_path, const std::string& select) {
    return landfall::testing::WriteBatch(*reader_, landing_, rel_path, select);
  }
  static schema::Schema Target(std::vector<std::pair<std::string, std::string>> columns) {
    return landfall::testing::TargetOf(std::move(columns));
  }

  TempDir dir_;
  fs::path db_file_ = dir_ / "warehouse.duckdb";
  fs::path landing_ = dir_ / "landing";
  std::unique_ptr<schema::FooterReader> reader_;
  std::unique_ptr<Warehouse> wh_;
};

TEST_F(DuckDbWarehouseTest, InitCreatesSchemasAndLedgerAndIsIdempotent) {
  ASSERT_TRUE(wh_->Init());
  ASSERT_TRUE(wh_->Init());
  EXPECT_EQ(Query("SELECT schema_name FROM duckdb_schemas() WHERE schema_name IN "
                  "('staging', '_landfall') ORDER BY 1"),
            (std::vector<std::string>{"_landfall", "staging"}));
  EXPECT_EQ(Query("SELECT column_name || ' ' || data_type FROM duckdb_columns() WHERE "
                  "schema_name = '_landfall' AND table_name = 'ledger' ORDER BY column_index"),
            (std::vector<std::string>{"table_name VARCHAR", "batch_id VARCHAR", "path VARCHAR",
                                      "rows BIGINT", "loaded_at TIMESTAMP"}));
}

TEST_F(DuckDbWarehouseTest, TheLedgerHoldsOneRowPerBatchOfATable) {
  EXPECT_EQ(Query("SELECT constraint_type || ' ' || array_to_string(constraint_column_names, ',') "
                  "FROM duckdb_constraints() WHERE schema_name = '_landfall' AND "
                  "table_name = 'ledger' AND constraint_type = 'PRIMARY KEY'"),
            (std::vector<std::string>{"PRIMARY KEY table_name,batch_id"}));
  // A rebuild deletes a table's ledger rows and writes them again in one
  // transaction; the key must allow that, also once the rows are on disk.
  auto target = Target({{"id", "BIGINT"}});
  std::vector<BatchFile> batches = {Batch("k/1.parquet", "SELECT 1 AS id"),
                                    Batch("k/2.parquet", "SELECT 2 AS id")};
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(wh_->Rebuild("k", target, batches));
    wh_.reset();
    ExecOnFile(db_file_, "CHECKPOINT");
    Open();
  }
  EXPECT_EQ(QueryInt("SELECT count(*) FROM _landfall.ledger WHERE table_name = 'k'"), 2);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM staging.k"), 2);
  // A second row for a staged batch is refused by the database itself.
  wh_.reset();
  duckdb_database db;
  duckdb_connection con;
  ASSERT_EQ(duckdb_open(db_file_.c_str(), &db), DuckDBSuccess);
  ASSERT_EQ(duckdb_connect(db, &con), DuckDBSuccess);
  duckdb_result result;
  EXPECT_EQ(duckdb_query(con,
                         "INSERT INTO _landfall.ledger VALUES ('k', 'fp-k/1.parquet', 'k/1.parquet', "
                         "1, NULL)",
                         &result),
            DuckDBError);
  EXPECT_EQ(duckdb_result_error_type(&result), DUCKDB_ERROR_CONSTRAINT);
  duckdb_destroy_result(&result);
  duckdb_disconnect(&con);
  duckdb_close(&db);
  Open();
}

TEST_F(DuckDbWarehouseTest, AnOlderLedgerWithoutItsKeyGetsItAtStartUp) {
  // The ledger as warehouses created before it had a key, with two rows for
  // one batch (nothing stopped that then) and one without a load time.
  wh_.reset();
  ExecOnFile(db_file_,
             "DROP TABLE _landfall.ledger; "
             "CREATE TABLE _landfall.ledger (table_name VARCHAR NOT NULL, batch_id VARCHAR NOT "
             "NULL, path VARCHAR, rows BIGINT, loaded_at TIMESTAMP); "
             "INSERT INTO _landfall.ledger VALUES "
             "('t', 'b1', 't/old.parquet', 1, TIMESTAMP '2026-01-01 00:00:00'), "
             "('t', 'b1', 't/new.parquet', 1, TIMESTAMP '2026-02-01 00:00:00'), "
             "('t', 'b2', 't/2.parquet', 2, NULL), ('u', 'b1', 'u/1.parquet', 3, NULL)");
  Open();
  auto init = wh_->Init();
  ASSERT_TRUE(init) << init.error().ToString();
  EXPECT_EQ(Query("SELECT table_name || ' ' || batch_id || ' ' || path FROM _landfall.ledger "
                  "ORDER BY ALL"),
            (std::vector<std::string>{"t b1 t/new.parquet", "t b2 t/2.parquet",
                                      "u b1 u/1.parquet"}));
  EXPECT_EQ(QueryInt("SELECT count(*) FROM duckdb_constraints() WHERE schema_name = '_landfall' "
                     "AND table_name = 'ledger' AND constraint_type = 'PRIMARY KEY'"),
            1);
  ASSERT_TRUE(wh_->Init()) << "a second start finds the key and changes nothing";
  EXPECT_EQ(QueryInt("SELECT count(*) FROM _landfall.ledger"), 3);
}

TEST_F(DuckDbWarehouseTest, RebuildCreatesTableWithMetadataColumns) {
  auto target = Target({{"id", "BIGINT"}, {"name", "VARCHAR"}});
  std::vector<BatchFile> batches = {
      Batch("orders/a.parquet", "SELECT i AS id, 'n' || i AS name FROM range(3) t(i)")};
  auto stats = wh_->Rebuild("orders", target, batches);
  ASSERT_TRUE(stats) << stats.error().ToString();
  EXPECT_EQ(stats->rows, 3);
  EXPECT_EQ(stats->batches, 1);
  EXPECT_EQ(Query("SELECT column_name || ' ' || data_type FROM duckdb_columns() WHERE "
                  "schema_name = 'staging' AND table_name = 'orders' ORDER BY column_index"),
            (std::vector<std::string>{"id BIGINT", "name VARCHAR", "_landfall_batch VARCHAR",
                                      "_landfall_loaded_at TIMESTAMP"}));
  EXPECT_EQ(Query("SELECT id || ':' || name || ':' || _landfall_batch FROM staging.orders "
                  "ORDER BY id"),
            (std::vector<std::string>{"0:n0:fp-orders/a.parquet", "1:n1:fp-orders/a.parquet",
                                      "2:n2:fp-orders/a.parquet"}));
  // Loaded just now, within a minute of the test's clock.
  EXPECT_LT(QueryInt("SELECT abs(epoch(now()::TIMESTAMP) - epoch(max(_landfall_loaded_at))) "
                     "FROM staging.orders"),
            60);
}

TEST_F(DuckDbWarehouseTest, WeirdTableAndColumnNamesAreJustNames) {
  const std::vector<std::string> tables = {"a\"b; drop table x", "with space", "ünïcødé 表",
                                           "semi;colon'quote", "Mixed.Case"};
  for (const auto& table : tables) {
    auto target = Target({{"co\"l; x", "BIGINT"}, {"Ünï 列", "VARCHAR"}});
    std::vector<BatchFile> first = {Batch(
        table + "/1.parquet", "SELECT i AS \"co\"\"l; x\", 'v' AS \"Ünï 列\" FROM range(2) t(i)")};
    auto rebuilt = wh_->Rebuild(table, target, first);
    ASSERT_TRUE(rebuilt) << table << ": " << rebuilt.error().ToString();
    std::vector<BatchFile> second = {
        Batch(table + "/it's 2.parquet", "SELECT 7 AS \"co\"\"l; x\" FROM range(3)")};
    auto appended = wh_->Append(table, target, second);
    ASSERT_TRUE(appended) << table << ": " << appended.error().ToString();
    EXPECT_EQ(appended->rows, 3);
    auto count = wh_->RowCount(table);
    ASSERT_TRUE(count) << count.error().ToString();
    EXPECT_EQ(*count, 5) << table;
  }
  auto contents = wh_->Inspect();
  ASSERT_TRUE(contents) << contents.error().ToString();
  for (const auto& table : tables) {
    ASSERT_TRUE(contents->contains(table)) << table;
    const auto& t = contents->at(table);
    EXPECT_TRUE(t.exists);
    ASSERT_EQ(t.columns.columns.size(), 2u);
    EXPECT_EQ(t.columns.columns[0].name, "co\"l; x");
    EXPECT_EQ(t.columns.columns[1].name, "Ünï 列");
    EXPECT_EQ(t.ledger.size(), 2u);
    EXPECT_EQ(t.ledger.at("fp-" + table + "/it's 2.parquet").rel_path, table + "/it's 2.parquet");
  }
  // Nothing was dropped or injected: exactly these tables exist, with their data.
  EXPECT_EQ(QueryInt("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'staging'"),
            static_cast<long long>(tables.size()));
  EXPECT_EQ(QueryInt("SELECT sum(" + Id("co\"l; x") + ") FROM staging." + Id("a\"b; drop table x")),
            0 + 1 + 7 * 3);
  EXPECT_EQ(Query("SELECT DISTINCT " + Id("Ünï 列") + " FROM staging." + Id("ünïcødé 表") +
                  " WHERE " + Id("Ünï 列") + " IS NOT NULL"),
            (std::vector<std::string>{"v"}));
}

TEST_F(DuckDbWarehouseTest, AppendingTheSameBatchesTwiceStagesThemOnce) {
  auto target = Target({{"id", "BIGINT"}});
  ASSERT_TRUE(wh_->Rebuild("events", target, {}));
  std::vector<BatchFile> batches = {Batch("events/1.parquet", "SELECT range AS id FROM range(10)"),
                                    Batch("events/2.parquet", "SELECT range AS id FROM range(5)")};
  auto first = wh_->Append("events", target, batches);
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_EQ(first->rows, 15);
  EXPECT_EQ(first->batches, 2);

  auto again = wh_->Append("events", target, batches);
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_EQ(again->rows, 0);
  EXPECT_EQ(again->batches, 0);

  // One new batch among old ones: only it is applied.
  batches.push_back(Batch("events/3.parquet", "SELECT range AS id FROM range(1)"));
  auto third = wh_->Append("events", target, batches);
  ASSERT_TRUE(third) << third.error().ToString();
  EXPECT_EQ(third->rows, 1);
  EXPECT_EQ(third->batches, 1);

  EXPECT_EQ(*wh_->RowCount("events"), 16);
  EXPECT_EQ(Query("SELECT path || ':' || rows FROM _landfall.ledger WHERE table_name = 'events' "
                  "ORDER BY path"),
            (std::vector<std::string>{"events/1.parquet:10", "events/2.parquet:5",
                                      "events/3.parquet:1"}));
}

TEST_F(DuckDbWarehouseTest, SameBatchIdListedTwiceLoadsOnce) {
  auto target = Target({{"id", "BIGINT"}});
  BatchFile batch = Batch("dup/1.parquet", "SELECT range AS id FROM range(4)");
  BatchFile copy = batch;
  copy.rel_path = "dup/copy-of-1.parquet";
  std::vector<BatchFile> batches = {batch, copy};
  auto stats = wh_->Rebuild("dup", target, batches);
  ASSERT_TRUE(stats) << stats.error().ToString();
  EXPECT_EQ(stats->rows, 4);
  EXPECT_EQ(stats->batches, 1);
  EXPECT_EQ(*wh_->RowCount("dup"), 4);
}

TEST_F(DuckDbWarehouseTest, AppendToMissingTableFails) {
  std::vector<BatchFile> batches = {Batch("nope/1.parquet", "SELECT 1 AS id")};
  auto stats = wh_->Append("nope", Target({{"id", "INTEGER"}}), batches);
  ASSERT_FALSE(stats);
  EXPECT_EQ(stats.error().code, "warehouse_table_missing");
  EXPECT_EQ(QueryInt("SELECT count(*) FROM _landfall.ledger"), 0);
}

TEST_F(DuckDbWarehouseTest, BatchMissingAColumnGetsNullsThere) {
  auto target = Target({{"id", "BIGINT"}, {"note", "VARCHAR"}, {"score", "DOUBLE"}});
  std::vector<BatchFile> batches = {
      Batch("t/full.parquet", "SELECT 1 AS id, 'a' AS note, 0.5::DOUBLE AS score"),
      Batch("t/partial.parquet", "SELECT 2 AS id")};
  auto stats = wh_->Rebuild("t", target, batches);
  ASSERT_TRUE(stats) << stats.error().ToString();
  EXPECT_EQ(Query("SELECT id || ':' || coalesce(note, 'NULL') || ':' || "
                  "coalesce(score::VARCHAR, 'NULL') FROM staging.t ORDER BY id"),
            (std::vector<std::string>{"1:a:0.5", "2:NULL:NULL"}));
}

TEST_F(DuckDbWarehouseTest, ColumnsMatchCaseInsensitivelyAndCastToTheTargetType) {
  // The target says BIGINT (widened) and spells the name differently.
  auto target = Target({{"Amount", "BIGINT"}, {"id", "INTEGER"}});
  std::vector<BatchFile> batches = {
      Batch("w/1.parquet", "SELECT 2147483647::INTEGER AS amount, 1::SMALLINT AS ID"),
      Batch("w/2.parquet", "SELECT 9000000000::BIGINT AS AMOUNT, 2::TINYINT AS id")};
  auto stats = wh_->Rebuild("w", target, batches);
  ASSERT_TRUE(stats) << stats.error().ToString();
  EXPECT_EQ(Query("SELECT \"Amount\" || ':' || typeof(\"Amount\") || ':' || typeof(id) "
                  "FROM staging.w ORDER BY id"),
            (std::vector<std::string>{"2147483647:BIGINT:INTEGER", "9000000000:BIGINT:INTEGER"}));
}

TEST_F(DuckDbWarehouseTest, AppendAddsColumnsAndWidensTypesInPlace) {
  auto before = Target({{"id", "INTEGER"}, {"name", "VARCHAR"}});
  ASSERT_TRUE(wh_->Rebuild(
      "e", before,
      std::vector<BatchFile>{Batch("e/1.parquet", "SELECT 1::INTEGER AS id, 'a' AS name")}));
  // Evolve: id widened to BIGINT, a new column; name is absent from the new batch.
  auto after = Target({{"id", "BIGINT"}, {"name", "VARCHAR"}, {"score", "DOUBLE"}});
  auto stats = wh_->Append("e", after,
                           std::vector<BatchFile>{Batch(
                               "e/2.parquet", "SELECT 9000000000 AS id, 0.5::DOUBLE AS score")});
  ASSERT_TRUE(stats) << stats.error().ToString();
  EXPECT_EQ(stats->rows, 1);
  auto contents = wh_->Inspect();
  ASSERT_TRUE(contents);
  const auto& columns = contents->at("e").columns;
  EXPECT_TRUE(columns.SameStagingColumns(after));
  ASSERT_EQ(columns.columns.size(), 3u);
  EXPECT_EQ(columns.columns[2].name, "score");  // after the old columns, metadata hidden
  EXPECT_EQ(Query("SELECT id || ':' || coalesce(name, 'NULL') || ':' || "
                  "coalesce(score::VARCHAR, 'NULL') FROM staging.e ORDER BY id"),
            (std::vector<std::string>{"1:a:NULL", "9000000000:NULL:0.5"}));
}

// Two columns swapping names by field_id: renamed one after the other, the
// first rename would meet the second's name still taken.
TEST_F(DuckDbWarehouseTest, ColumnsSwappingNamesAreRenamedInPlace) {
  schema::Schema before = Target({{"a", "INTEGER"}, {"b", "VARCHAR"}});
  before.columns[0].field_id = 1;
  before.columns[1].field_id = 2;
  ASSERT_TRUE(wh_->Rebuild(
      "s", before, std::vector<BatchFile>{Batch("s/0.parquet", "SELECT 1 AS a, 'x' AS b")}));
  // The new batch calls field 1 "b" and field 2 "a".
  BatchFile swapped = Batch("s/1.parquet", "SELECT 2 AS b, 'y' AS a");
  swapped.schema.columns[0].field_id = 1;
  swapped.schema.columns[1].field_id = 2;
  schema::Schema after = Target({{"b", "INTEGER"}, {"a", "VARCHAR"}});
  after.columns[0].field_id = 1;
  after.columns[1].field_id = 2;
  const std::vector<ColumnRename> renames = {{"a", "b"}, {"b", "a"}};
  auto stats = wh_->Evolve("s", after, renames, std::vector<BatchFile>{swapped});
  ASSERT_TRUE(stats) << stats.error().ToString();
  EXPECT_EQ(stats->rows, 1);
  EXPECT_EQ(Query("SELECT column_name FROM duckdb_columns() WHERE table_name = 's' "
                  "AND column_name NOT LIKE '\\_landfall\\_%' ESCAPE '\\' ORDER BY column_index"),
            (std::vector<std::string>{"b", "a"}));
  // Old rows keep their values under the new names; the new batch lands by field_id.
  EXPECT_EQ(Query("SELECT b::VARCHAR || ':' || a FROM staging.s ORDER BY b"),
            (std::vector<std::string>{"1:x", "2:y"}));
}

TEST_F(DuckDbWarehouseTest, TypeChangeTheDataCannotTakeRollsBackTheAppend) {
  auto before = Target({{"code", "VARCHAR"}});
  ASSERT_TRUE(wh_->Rebuild("v", before,
                           std::vector<BatchFile>{Batch("v/1.parquet", "SELECT 'abc' AS code")}));
  auto stats = wh_->Append("v", Target({{"code", "INTEGER"}, {"more", "INTEGER"}}),
                           std::vector<BatchFile>{Batch("v/2.parquet", "SELECT 1 AS code")});
  ASSERT_FALSE(stats);
  EXPECT_EQ(stats.error().code, "warehouse_error");
  auto contents = wh_->Inspect();
  ASSERT_TRUE(contents);
  EXPECT_TRUE(contents->at("v").columns.SameStagingColumns(before));
  EXPECT_EQ(contents->at("v").ledger.size(), 1u);
  EXPECT_EQ(*wh_->RowCount("v"), 1);
}

TEST_F(DuckDbWarehouseTest, NestedColumnsAreStoredAsQueryableJson) {
  BatchFile batch = Batch("n/1.parquet",
                          "SELECT 1 AS id, {'city': 'Oslo', 'zip': [1, 2]} AS addr, "
                          "[10, 20, 30] AS tags, MAP {'k': 'v'} AS attrs");
  ASSERT_EQ(batch.schema.columns.size(), 4u);
  // The target is what the planner derives from footers: nested -> JSON.
  auto stats = wh_->Rebuild("n", batch.schema, std::vector<BatchFile>{batch});
  ASSERT_TRUE(stats) << stats.error().ToString();
  EXPECT_EQ(Query("SELECT typeof(addr) || ',' || typeof(tags) || ',' || typeof(attrs) "
                  "FROM staging.n"),
            (std::vector<std::string>{"JSON,JSON,JSON"}));
  EXPECT_EQ(Query("SELECT addr->>'city' || ':' || (addr->'zip'->>1) || ':' || "
                  "json_array_length(tags) || ':' || (tags->>2) || ':' || (attrs->>'k') "
                  "FROM staging.n"),
            (std::vector<std::string>{"Oslo:2:3:30:v"}));
  EXPECT_EQ(Query("SELECT addr::VARCHAR FROM staging.n"),
            (std::vector<std::string>{"{\"city\":\"Oslo\",\"zip\":[1,2]}"}));
}

TEST_F(DuckDbWarehouseTest, RebuildReplacesContentsAndLedger) {
  auto old_target = Target({{"id", "INTEGER"}});
  std::vector<BatchFile> old_batches = {Batch("r/1.parquet", "SELECT 1 AS id"),
                                        Batch("r/2.parquet", "SELECT 2 AS id")};
  ASSERT_TRUE(wh_->Rebuild("r", old_target, old_batches));

  // Incompatible change: the table is rebuilt with a different type and batches.
  auto new_target = Target({{"id", "VARCHAR"}, {"extra", "DOUBLE"}});
  std::vector<BatchFile> new_batches = {
      Batch("r/3.parquet", "SELECT 'x' AS id, 1.5::DOUBLE AS extra FROM range(3)")};
  auto stats = wh_->Rebuild("r", new_target, new_batches);
  ASSERT_TRUE(stats) << stats.error().ToString();
  EXPECT_EQ(stats->rows, 3);

  auto contents = wh_->Inspect();
  ASSERT_TRUE(contents);
  const auto& r = contents->at("r");
  ASSERT_EQ(r.columns.columns.size(), 2u);
  EXPECT_EQ(r.columns.columns[0].type, "VARCHAR");
  EXPECT_EQ(r.columns.columns[1].type, "DOUBLE");
  ASSERT_EQ(r.ledger.size(), 1u);
  EXPECT_TRUE(r.ledger.contains("fp-r/3.parquet"));
  EXPECT_EQ(r.ledger.at("fp-r/3.parquet").rows, 3);
  EXPECT_EQ(Query("SELECT DISTINCT id FROM staging.r"), (std::vector<std::string>{"x"}));
  // No shadow table is left behind.
  EXPECT_EQ(QueryInt("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'staging'"), 1);
}

TEST_F(DuckDbWarehouseTest, RebuildCarriesOverRowsAndLedgerRowsOfNamedBatches) {
  std::vector<BatchFile> old_batches = {Batch("k/1.parquet", "SELECT 1 AS id, 'a' AS tag"),
                                        Batch("k/2.parquet", "SELECT 2 AS id, 'b' AS tag"),
                                        Batch("k/3.parquet", "SELECT 3 AS id, 'c' AS tag")};
  ASSERT_TRUE(wh_->Rebuild("k", Target({{"id", "INTEGER"}, {"tag", "VARCHAR"}}), old_batches));
  fs::remove(landing_ / "k/2.parquet");  // its rows live on only in the table

  // id becomes VARCHAR; batch 2 is carried over, batch 3 is not (nor loaded).
  const std::vector<std::string> carry = {"fp-k/2.parquet"};
  auto stats = wh_->Rebuild(
      "k", Target({{"id", "VARCHAR"}, {"tag", "VARCHAR"}, {"extra", "DOUBLE"}}),
      std::vector<BatchFile>{old_batches[0], Batch("k/4.parquet", "SELECT 'x4' AS id, 1.5 AS extra")},
      carry);
  ASSERT_TRUE(stats) << stats.error().ToString();
  EXPECT_EQ(stats->batches, 2);
  EXPECT_EQ(Query("SELECT id || ':' || coalesce(tag, '-') || ':' || coalesce(extra::VARCHAR, '-') "
                  "|| ':' || _landfall_batch FROM staging.k ORDER BY id"),
            (std::vector<std::string>{"1:a:-:fp-k/1.parquet", "2:b:-:fp-k/2.parquet",
                                      "x4:-:1.5:fp-k/4.parquet"}));
  EXPECT_EQ(Query("SELECT batch_id || ' ' || path FROM _landfall.ledger WHERE table_name = 'k' "
                  "ORDER BY batch_id"),
            (std::vector<std::string>{"fp-k/1.parquet k/1.parquet", "fp-k/2.parquet k/2.parquet",
                                      "fp-k/4.parquet k/4.parquet"}));
  EXPECT_EQ(QueryInt("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'staging'"), 1);
}

// A batch whose file cannot be decoded is left out and reported; the others
// apply in the same transaction, so one bad file cannot block its table.
TEST_F(DuckDbWarehouseTest, UndecodableBatchIsRejectedAndTheOthersApply) {
  auto target = Target({{"id", "BIGINT"}});
  ASSERT_TRUE(
      wh_->Rebuild("f", target, std::vector<BatchFile>{Batch("f/0.parquet", "SELECT 0 AS id")}));
  BatchFile good = Batch("f/1.parquet", "SELECT range AS id FROM range(100)");
  BatchFile bad = Batch("f/2.parquet", "SELECT 5 AS id");
  BatchFile also_good = Batch("f/3.parquet", "SELECT 1000 + range AS id FROM range(10)");
  {
    std::ofstream corrupt(bad.abs_path, std::ios::trunc);
    corrupt << "not parquet any more";
  }
  auto stats = wh_->Append("f", target, std::vector<BatchFile>{good, bad, also_good});
  ASSERT_TRUE(stats) << stats.error().ToString();
  EXPECT_EQ(stats->rows, 110);
  EXPECT_EQ(stats->batches, 2);
  ASSERT_EQ(stats->rejected.size(), 1u);
  EXPECT_EQ(stats->rejected[0].rel_path, "f/2.parquet");
  EXPECT_EQ(stats->rejected[0].batch_id, "fp-f/2.parquet");
  EXPECT_EQ(stats->rejected[0].code, "undecodable");
  EXPECT_FALSE(stats->rejected[0].message.empty());

  EXPECT_EQ(*wh_->RowCount("f"), 111);
  auto contents = wh_->Inspect();
  ASSERT_TRUE(contents);
  EXPECT_EQ(contents->at("f").ledger.size(), 3u);
  EXPECT_FALSE(contents->at("f").ledger.contains("fp-f/2.parquet"));
}

// The file's identity now, as the engine records it when it fingerprints.
FileIdentity IdentityOf(const fs::path& file) {
  struct stat st;
  EXPECT_EQ(lstat(file.c_str(), &st), 0) << file;
  return {static_cast<int64_t>(st.st_size),
          static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
          static_cast<int64_t>(st.st_ctim.tv_sec) * 1'000'000'000 + st.st_ctim.tv_nsec,
          static_cast<int64_t>(st.st_ino)};
}

TEST_F(DuckDbWarehouseTest, BatchFilesWithTheirIdentityUnchangedCommit) {
  auto target = Target({{"id", "BIGINT"}});
  BatchFile batch = Batch("u/1.parquet", "SELECT range AS id FROM range(3)");
  batch.identity = IdentityOf(batch.abs_path);
  auto stats = wh_->Rebuild("u", target, std::vector<BatchFile>{batch});
  ASSERT_TRUE(stats) << stats.error().ToString();
  EXPECT_EQ(*wh_->RowCount("u"), 3);
}

TEST_F(DuckDbWarehouseTest, FileReplacedAfterFingerprintingFailsTheAppendAndCommitsNothing) {
  auto target = Target({{"id", "BIGINT"}});
  ASSERT_TRUE(
      wh_->Rebuild("f", target, std::vector<BatchFile>{Batch("f/0.parquet", "SELECT 0 AS id")}));
  BatchFile good = Batch("f/1.parquet", "SELECT 1 AS id");
  good.identity = IdentityOf(good.abs_path);
  BatchFile replaced = Batch("f/2.parquet", "SELECT 2 AS id");
  replaced.identity = IdentityOf(replaced.abs_path);
  // Replaced between fingerprinting and loading: new rows under the old id.
  const fs::path fresh = dir_ / "fresh.parquet";
  WriteParquet(fresh, "SELECT range + 100 AS id FROM range(50)");
  fs::rename(fresh, replaced.abs_path);

  auto stats = wh_->Append("f", target, std::vector<BatchFile>{good, replaced});
  ASSERT_FALSE(stats);
  EXPECT_EQ(stats.error().code, kBatchChanged);
  EXPECT_NE(stats.error().message.find("f/2.parquet"), std::string::npos) << stats.error().message;
  EXPECT_NE(stats.error().message.find("\"f\""), std::string::npos) << stats.error().message;

  // Neither batch committed: not the replaced one's 50 rows, not the good one.
  EXPECT_EQ(Query("SELECT id FROM staging.f ORDER BY id"), (std::vector<std::string>{"0"}));
  EXPECT_EQ(Query("SELECT batch_id FROM _landfall.ledger"),
            (std::vector<std::string>{"fp-f/0.parquet"}));
}

TEST_F(DuckDbWarehouseTest, FileReplacedAfterFingerprintingFailsTheRebuildAndKeepsTheOldTable) {
  auto target = Target({{"id", "BIGINT"}});
  ASSERT_TRUE(
      wh_->Rebuild("k", target, std::vector<BatchFile>{Batch("k/1.parquet", "SELECT 1 AS id")}));
  BatchFile replaced = Batch("k/2.parquet", "SELECT 2 AS id");
  replaced.identity = IdentityOf(replaced.abs_path);
  const fs::path fresh = dir_ / "fresh.parquet";
  WriteParquet(fresh, "SELECT 200 AS id");
  fs::rename(fresh, replaced.abs_path);

  auto stats = wh_->Rebuild("k", target, std::vector<BatchFile>{replaced});
  ASSERT_FALSE(stats);
  EXPECT_EQ(stats.error().code, kBatchChanged);
  EXPECT_EQ(Query("SELECT id FROM staging.k"), (std::vector<std::string>{"1"}));
  EXPECT_EQ(Query("SELECT batch_id FROM _landfall.ledger"),
            (std::vector<std::string>{"fp-k/1.parquet"}));
}

// A value the target type cannot hold rejects its batch only.
TEST_F(DuckDbWarehouseTest, BatchWithAValueItsColumnCannotHoldIsRejected) {
  auto target = Target({{"id", "INTEGER"}});
  ASSERT_TRUE(wh_->Rebuild("c", target, {}));
  std::vector<BatchFile> batches = {Batch("c/1.parquet", "SELECT 1 AS id"),
                                    Batch("c/2.parquet", "SELECT 'abc' AS id")};
  auto stats = wh_->Append("c", target, batches);
  ASSERT_TRUE(stats) << stats.error().ToString();
  ASSERT_EQ(stats->rejected.size(), 1u);
  EXPECT_EQ(stats->rejected[0].rel_path, "c/2.parquet");
  EXPECT_NE(stats->rejected[0].message.find("abc"), std::string::npos)
      << stats->rejected[0].message;
  EXPECT_EQ(Query("SELECT id FROM staging.c"), (std::vector<std::string>{"1"}));
}

// A missing file is no verdict on its content: the whole append fails and
// rolls back, and a later run tries again.
TEST_F(DuckDbWarehouseTest, MissingBatchFileFailsAndRollsBackTheWholeAppend) {
  auto target = Target({{"id", "BIGINT"}});
  ASSERT_TRUE(
      wh_->Rebuild("m", target, std::vector<BatchFile>{Batch("m/0.parquet", "SELECT 0 AS id")}));
  BatchFile good = Batch("m/1.parquet", "SELECT range AS id FROM range(100)");
  BatchFile gone = Batch("m/2.parquet", "SELECT 5 AS id");
  fs::remove(gone.abs_path);
  auto stats = wh_->Append("m", target, std::vector<BatchFile>{good, gone});
  ASSERT_FALSE(stats);
  EXPECT_EQ(stats.error().code, "batch_unreadable");
  EXPECT_NE(stats.error().message.find("m/2.parquet"), std::string::npos) << stats.error().message;
  EXPECT_EQ(*wh_->RowCount("m"), 1);
}

TEST_F(DuckDbWarehouseTest, FailingRebuildKeepsTheOldTable) {
  auto target = Target({{"id", "BIGINT"}});
  ASSERT_TRUE(
      wh_->Rebuild("k", target, std::vector<BatchFile>{Batch("k/1.parquet", "SELECT 1 AS id")}));
  BatchFile missing;
  missing.batch_id = "fp-missing";
  missing.rel_path = "k/missing.parquet";
  missing.abs_path = landing_ / "k/missing.parquet";
  missing.schema = target;
  auto stats = wh_->Rebuild(
      "k", target, std::vector<BatchFile>{Batch("k/2.parquet", "SELECT 2 AS id"), missing});
  ASSERT_FALSE(stats);
  EXPECT_EQ(stats.error().code, "batch_unreadable");
  EXPECT_EQ(Query("SELECT id FROM staging.k"), (std::vector<std::string>{"1"}));
  EXPECT_EQ(Query("SELECT batch_id FROM _landfall.ledger"),
            (std::vector<std::string>{"fp-k/1.parquet"}));
  EXPECT_EQ(QueryInt("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'staging'"), 1);
}

TEST_F(DuckDbWarehouseTest, BatchPathsWithGlobCharactersReadOnlyThatFile) {
  auto target = Target({{"id", "BIGINT"}});
  Batch("g/bYx.parquet", "SELECT range AS id FROM range(50)");  // would match b*x
  std::vector<BatchFile> batches = {
      Batch("g/b*x [1]?.parquet", "SELECT range AS id FROM range(2)")};
  auto stats = wh_->Rebuild("g", target, batches);
  ASSERT_TRUE(stats) << stats.error().ToString();
  EXPECT_EQ(stats->rows, 2);
}

TEST_F(DuckDbWarehouseTest, HivePartitionFoldersAddNoColumns) {
  BatchFile batch = Batch("h/date=2026-11-01/part-0.parquet", "SELECT 1 AS id");
  ASSERT_EQ(batch.schema.columns.size(), 1u);
  auto stats = wh_->Rebuild("h", batch.schema, std::vector<BatchFile>{batch});
  ASSERT_TRUE(stats) << stats.error().ToString();
  EXPECT_EQ(stats->rows, 1);
}

TEST_F(DuckDbWarehouseTest, InspectReportsTablesColumnsAndLedger) {
  auto target = Target({{"id", "BIGINT"}, {"payload", "JSON"}});
  std::vector<BatchFile> batches = {
      Batch("i/1.parquet", "SELECT range AS id, {'a': range} AS payload FROM range(3)")};
  ASSERT_TRUE(wh_->Rebuild("i", target, batches));
  ASSERT_TRUE(wh_->Rebuild("empty", Target({{"x", "DATE"}}), {}));
  // Ledger rows whose staging table is gone (someone dropped it by hand).
  wh_.reset();
  ExecOnFile(db_file_,
             "INSERT INTO _landfall.ledger VALUES ('ghost', 'fp-g', 'ghost/1.parquet', "
             "7, TIMESTAMP '2026-01-02 03:04:05')");
  // A view in the staging schema is not a staging table.
  ExecOnFile(db_file_, "CREATE VIEW staging.v AS SELECT 1 AS z");
  Open();

  auto contents = wh_->Inspect();
  ASSERT_TRUE(contents) << contents.error().ToString();
  ASSERT_EQ(contents->size(), 3u);

  const auto& i = contents->at("i");
  EXPECT_TRUE(i.exists);
  ASSERT_EQ(i.columns.columns.size(), 2u);  // no _landfall_ columns
  EXPECT_EQ(i.columns.columns[0].name, "id");
  EXPECT_EQ(i.columns.columns[0].type, "BIGINT");
  EXPECT_EQ(i.columns.columns[1].name, "payload");
  EXPECT_EQ(i.columns.columns[1].type, "JSON");
  ASSERT_EQ(i.ledger.size(), 1u);
  const auto& entry = i.ledger.at("fp-i/1.parquet");
  EXPECT_EQ(entry.rel_path, "i/1.parquet");
  EXPECT_EQ(entry.rows, 3);
  EXPECT_GT(entry.loaded_at_us, 1'700'000'000'000'000);

  EXPECT_TRUE(contents->at("empty").exists);
  EXPECT_TRUE(contents->at("empty").ledger.empty());

  const auto& ghost = contents->at("ghost");
  EXPECT_FALSE(ghost.exists);
  EXPECT_TRUE(ghost.columns.columns.empty());
  ASSERT_EQ(ghost.ledger.size(), 1u);
  EXPECT_EQ(ghost.ledger.at("fp-g").rows, 7);
  EXPECT_EQ(ghost.ledger.at("fp-g").loaded_at_us, 1767323045000000);  // 2026-01-02T03:04:05Z
}

TEST_F(DuckDbWarehouseTest, InspectRunsAConstantNumberOfStatements) {
  auto target = Target({{"id", "BIGINT"}});
  auto before = wh_->StatementsExecuted();
  ASSERT_TRUE(wh_->Inspect());
  const auto empty_cost = wh_->StatementsExecuted() - before;
  for (int t = 0; t < 5; ++t) {
    ASSERT_TRUE(wh_->Rebuild(
        "t" + std::to_string(t), target,
        std::vector<BatchFile>{Batch("t" + std::to_string(t) + "/1.parquet", "SELECT 1 AS id")}));
  }
  before = wh_->StatementsExecuted();
  ASSERT_TRUE(wh_->Inspect());
  EXPECT_EQ(wh_->StatementsExecuted() - before, empty_cost);
  EXPECT_LE(empty_cost, 4);
}

TEST_F(DuckDbWarehouseTest, StatementCounterCountsEveryStatement) {
  auto target = Target({{"id", "BIGINT"}});
  const int64_t start = wh_->StatementsExecuted();
  EXPECT_GT(start, 0);  // Init ran statements

  // Nothing to append costs nothing.
  auto none = wh_->Append("nothing", target, {});
  ASSERT_TRUE(none);
  EXPECT_EQ(wh_->StatementsExecuted(), start);

  ASSERT_TRUE(
      wh_->Rebuild("s", target, std::vector<BatchFile>{Batch("s/1.parquet", "SELECT 1 AS id")}));
  const int64_t after_rebuild = wh_->StatementsExecuted();
  // BEGIN, create or replace, clear ledger, insert batch, insert ledger, COMMIT.
  EXPECT_EQ(after_rebuild - start, 6);

  ASSERT_TRUE(
      wh_->Append("s", target, std::vector<BatchFile>{Batch("s/2.parquet", "SELECT 2 AS id")}));
  // BEGIN, table lookup, ledger lookup, insert batch, insert ledger, COMMIT.
  EXPECT_EQ(wh_->StatementsExecuted() - after_rebuild, 6);

  ASSERT_TRUE(wh_->RowCount("s"));
  EXPECT_EQ(wh_->StatementsExecuted() - after_rebuild, 7);
}

TEST_F(DuckDbWarehouseTest, BatchesWithTheSameColumnsLoadInOneStatementEachUnderItsOwnId) {
  auto target = Target({{"id", "BIGINT"}, {"extra", "VARCHAR"}});
  std::vector<BatchFile> batches = {
      Batch("one/1.parquet", "SELECT range AS id FROM range(3)"),
      Batch("one/2.parquet", "SELECT range AS id FROM range(5)"),
      Batch("one/3.parquet", "SELECT 'x' AS extra, range AS id FROM range(2)"),
      Batch("one/4.parquet", "SELECT range AS id FROM range(7)")};
  const int64_t start = wh_->StatementsExecuted();
  auto stats = wh_->Rebuild("one", target, batches);
  ASSERT_TRUE(stats) << stats.error().ToString();
  EXPECT_EQ(stats->rows, 17);
  EXPECT_EQ(stats->batches, 4);
  // BEGIN, create or replace, clear ledger, insert 1+2+4, insert 3, insert
  // ledger, COMMIT.
  EXPECT_EQ(wh_->StatementsExecuted() - start, 7);
  EXPECT_EQ(Query("SELECT _landfall_batch || ':' || count(*) || ':' || count(extra) FROM "
                  "staging.one GROUP BY _landfall_batch ORDER BY 1"),
            (std::vector<std::string>{"fp-one/1.parquet:3:0", "fp-one/2.parquet:5:0",
                                      "fp-one/3.parquet:2:2", "fp-one/4.parquet:7:0"}));
  EXPECT_EQ(Query("SELECT path || ':' || rows FROM _landfall.ledger ORDER BY path"),
            (std::vector<std::string>{"one/1.parquet:3", "one/2.parquet:5", "one/3.parquet:2",
                                      "one/4.parquet:7"}));
}

TEST_F(DuckDbWarehouseTest, FooterRowCountsThatDisagreeFallBackToOneStatementPerBatch) {
  auto target = Target({{"id", "BIGINT"}});
  ASSERT_TRUE(wh_->Rebuild("rc", target, {}));
  std::vector<BatchFile> batches = {Batch("rc/1.parquet", "SELECT range AS id FROM range(3)"),
                                    Batch("rc/2.parquet", "SELECT range AS id FROM range(4)")};
  batches[1].rows = 40;  // wrong: the ledger must still record what was loaded
  auto stats = wh_->Append("rc", target, batches);
  ASSERT_TRUE(stats) << stats.error().ToString();
  EXPECT_EQ(stats->rows, 7);
  EXPECT_EQ(*wh_->RowCount("rc"), 7);
  EXPECT_EQ(Query("SELECT path || ':' || rows FROM _landfall.ledger ORDER BY path"),
            (std::vector<std::string>{"rc/1.parquet:3", "rc/2.parquet:4"}));
}

TEST_F(DuckDbWarehouseTest, DropRemovesTableAndLedger) {
  auto target = Target({{"id", "BIGINT"}});
  ASSERT_TRUE(
      wh_->Rebuild("d", target, std::vector<BatchFile>{Batch("d/1.parquet", "SELECT 1 AS id")}));
  ASSERT_TRUE(wh_->Rebuild("keep", target,
                           std::vector<BatchFile>{Batch("keep/1.parquet", "SELECT 1 AS id")}));
  ASSERT_TRUE(wh_->Drop("d"));
  ASSERT_TRUE(wh_->Drop("d"));  // idempotent
  auto count = wh_->RowCount("d");
  ASSERT_FALSE(count);
  EXPECT_EQ(count.error().code, "warehouse_table_missing");
  auto contents = wh_->Inspect();
  ASSERT_TRUE(contents);
  EXPECT_FALSE(contents->contains("d"));
  EXPECT_TRUE(contents->contains("keep"));
  EXPECT_EQ(Query("SELECT table_name FROM _landfall.ledger"), (std::vector<std::string>{"keep"}));
}

TEST_F(DuckDbWarehouseTest, TargetsThatCouldInjectSqlAreRejected) {
  auto bad_type = wh_->Rebuild("x", Target({{"id", "INTEGER); DROP SCHEMA staging; --"}}), {});
  ASSERT_FALSE(bad_type);
  EXPECT_EQ(bad_type.error().code, "warehouse_invalid_target");
  auto reserved = wh_->Rebuild("x", Target({{"_landfall_batch", "INTEGER"}}), {});
  ASSERT_FALSE(reserved);
  EXPECT_EQ(reserved.error().code, "warehouse_invalid_target");
  auto duplicate = wh_->Rebuild("x", Target({{"a", "INTEGER"}, {"A", "INTEGER"}}), {});
  ASSERT_FALSE(duplicate);
  EXPECT_EQ(duplicate.error().code, "warehouse_invalid_target");
  auto shadow = wh_->Rebuild("x__LANDFALL_shadow", Target({{"a", "INTEGER"}}), {});
  ASSERT_FALSE(shadow);
  EXPECT_EQ(shadow.error().code, "warehouse_invalid_target");
  EXPECT_EQ(QueryInt("SELECT count(*) FROM duckdb_schemas() WHERE schema_name = 'staging'"), 1);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'staging'"), 0);
}

TEST_F(DuckDbWarehouseTest, CommonSupertypeAsDuckDbComputesItAndCached) {
  auto widen = wh_->CommonSupertype("INTEGER", "BIGINT");
  ASSERT_TRUE(widen) << widen.error().ToString();
  EXPECT_EQ(*widen, "BIGINT");
  EXPECT_EQ(*wh_->CommonSupertype("FLOAT", "DOUBLE"), "DOUBLE");
  EXPECT_EQ(*wh_->CommonSupertype("DECIMAL(10,2)", "DECIMAL(18,4)"), "DECIMAL(18,4)");
  EXPECT_EQ(*wh_->CommonSupertype("TIMESTAMP", "TIMESTAMP WITH TIME ZONE"),
            "TIMESTAMP WITH TIME ZONE");
  EXPECT_EQ(*wh_->CommonSupertype("DATE", "TIMESTAMP"), "TIMESTAMP");
  EXPECT_EQ(*wh_->CommonSupertype("int", "INTEGER"), "INTEGER");  // same type after normalizing
  EXPECT_EQ(*wh_->CommonSupertype("JSON", "JSON"), "JSON");

  auto none = wh_->CommonSupertype("INTEGER", "VARCHAR");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, "no_common_supertype");
  auto json = wh_->CommonSupertype("JSON", "VARCHAR");
  ASSERT_FALSE(json);
  EXPECT_EQ(json.error().code, "no_common_supertype");
  auto injected = wh_->CommonSupertype("INTEGER); DROP SCHEMA staging; --", "BIGINT");
  ASSERT_FALSE(injected);
  EXPECT_EQ(injected.error().code, "no_common_supertype");

  // Answers (and refusals) are cached, in either argument order.
  const int64_t before = wh_->StatementsExecuted();
  EXPECT_EQ(*wh_->CommonSupertype("BIGINT", "INTEGER"), "BIGINT");
  EXPECT_FALSE(wh_->CommonSupertype("VARCHAR", "INTEGER"));
  EXPECT_EQ(wh_->StatementsExecuted(), before);
}

// Footer types -> staging table -> Inspect() give the same strings, so the
// planner can compare what the warehouse holds with what the files say.
TEST_F(DuckDbWarehouseTest, FooterTypesRoundTripThroughInspect) {
  BatchFile batch =
      Batch("types/1.parquet",
            "SELECT 1::TINYINT AS i8, 2::SMALLINT AS i16, 3::INTEGER AS i32, 4::BIGINT AS i64,"
            " 5::UTINYINT AS u8, 6::USMALLINT AS u16, 7::UINTEGER AS u32, 8::UBIGINT AS u64,"
            " 1.5::FLOAT AS f32, 2.5::DOUBLE AS f64, 1.23::DECIMAL(18,2) AS dec18,"
            " 1.2::DECIMAL(4,1) AS dec4, 1.5::DECIMAL(30,5) AS dec30, 'x' AS s, 'ab'::BLOB AS b,"
            " DATE '2024-01-02' AS d, TIMESTAMP '2024-01-02 03:04:05' AS ts,"
            " TIMESTAMPTZ '2024-01-02 03:04:05+00' AS tstz, TIMESTAMP_NS '2024-01-02' AS tsns,"
            " TIME '12:00:00' AS t, true AS flag,"
            " '6f1c7a4e-0c4b-4b8a-9f3e-2d1b0c9a8e7f'::UUID AS id,"
            " {'a': 1} AS st, [1, 2] AS li, MAP {'k': 1} AS ma, '{\"j\": 1}'::JSON AS js");
  ASSERT_EQ(batch.schema.columns.size(), 26u);
  auto stats = wh_->Rebuild("types", batch.schema, std::vector<BatchFile>{batch});
  ASSERT_TRUE(stats) << stats.error().ToString();
  auto contents = wh_->Inspect();
  ASSERT_TRUE(contents) << contents.error().ToString();
  const auto& columns = contents->at("types").columns.columns;
  ASSERT_EQ(columns.size(), batch.schema.columns.size());
  for (size_t k = 0; k < columns.size(); ++k) {
    EXPECT_EQ(columns[k].name, batch.schema.columns[k].name);
    EXPECT_EQ(columns[k].type, batch.schema.columns[k].type) << columns[k].name;
  }
  EXPECT_TRUE(contents->at("types").columns.SameStagingColumns(batch.schema));
  EXPECT_EQ(batch.schema.Find("tstz")->type, "TIMESTAMP WITH TIME ZONE");
  EXPECT_EQ(batch.schema.Find("dec30")->type, "DECIMAL(30,5)");
  EXPECT_EQ(batch.schema.Find("st")->type, "JSON");
  EXPECT_EQ(batch.schema.Find("js")->type, "JSON");
  // Values survive the trip.
  EXPECT_EQ(Query("SELECT concat_ws('|', i8, u64, f32, dec30, s, d, ts, tstz, flag, id, st, li, "
                  "ma, js) FROM staging.types"),
            (std::vector<std::string>{
                "1|8|1.5|1.50000|x|2024-01-02|2024-01-02 03:04:05|2024-01-02 03:04:05+00|true|"
                "6f1c7a4e-0c4b-4b8a-9f3e-2d1b0c9a8e7f|{\"a\":1}|[1,2]|{\"k\":1}|{\"j\":1}"}));
}

TEST_F(DuckDbWarehouseTest, FourThreadsAppendToFourTablesAtOnce) {
  constexpr int kTables = 4;
  constexpr int kRounds = 5;
  auto target = Target({{"id", "BIGINT"}, {"worker", "INTEGER"}});
  std::vector<std::vector<BatchFile>> batches(kTables);
  for (int t = 0; t < kTables; ++t) {
    ASSERT_TRUE(wh_->Rebuild("c" + std::to_string(t), target, {}));
    for (int r = 0; r < kRounds; ++r) {
      batches[t].push_back(Batch("c" + std::to_string(t) + "/" + std::to_string(r) + ".parquet",
                                 "SELECT range AS id, " + std::to_string(t) +
                                     " AS worker FROM range(" + std::to_string(100 * (r + 1)) +
                                     ")"));
    }
  }
  std::vector<std::string> failures(kTables);
  std::vector<std::thread> threads;
  for (int t = 0; t < kTables; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < kRounds; ++r) {
        auto stats = wh_->Append("c" + std::to_string(t), target,
                                 std::span<const BatchFile>(&batches[t][r], 1));
        if (!stats) failures[t] += stats.error().ToString() + "\n";
      }
      // And one rebuild each, concurrently with the others' appends.
      auto stats = wh_->Rebuild("c" + std::to_string(t), target, batches[t]);
      if (!stats) failures[t] += stats.error().ToString() + "\n";
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < kTables; ++t) {
    EXPECT_EQ(failures[t], "") << "table c" << t;
    EXPECT_EQ(*wh_->RowCount("c" + std::to_string(t)), 100 + 200 + 300 + 400 + 500);
  }
  auto contents = wh_->Inspect();
  ASSERT_TRUE(contents);
  for (int t = 0; t < kTables; ++t) {
    EXPECT_EQ(contents->at("c" + std::to_string(t)).ledger.size(), static_cast<size_t>(kRounds));
  }
}

TEST_F(DuckDbWarehouseTest, ConcurrentAppendsToOneTableStageEachBatchOnce) {
  auto target = Target({{"id", "BIGINT"}});
  ASSERT_TRUE(wh_->Rebuild("one", target, {}));
  std::vector<BatchFile> batches = {Batch("one/1.parquet", "SELECT range AS id FROM range(10)"),
                                    Batch("one/2.parquet", "SELECT range AS id FROM range(20)")};
  std::atomic<int64_t> applied{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      auto stats = wh_->Append("one", target, batches);
      if (stats) applied += stats->rows;
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(applied.load(), 30);
  EXPECT_EQ(*wh_->RowCount("one"), 30);
}

TEST_F(DuckDbWarehouseTest, ReadersNeverSeeARebuildHalfDone) {
  auto target = Target({{"id", "BIGINT"}});
  std::vector<BatchFile> small = {Batch("a/1.parquet", "SELECT range AS id FROM range(10)")};
  std::vector<BatchFile> large = {Batch("a/2.parquet", "SELECT range AS id FROM range(20000)")};
  ASSERT_TRUE(wh_->Rebuild("a", target, small));

  std::atomic<bool> done{false};
  std::atomic<int> reads{0};
  std::string reader_failure;
  std::thread reader([&] {
    while (!done) {
      auto count = wh_->RowCount("a");
      if (!count) {
        reader_failure = count.error().ToString();
        return;
      }
      if (*count != 10 && *count != 20000) {
        reader_failure = "saw " + std::to_string(*count) + " rows";
        return;
      }
      ++reads;
    }
  });
  for (int round = 0; round < 10; ++round) {
    auto stats = wh_->Rebuild("a", target, round % 2 == 0 ? large : small);
    ASSERT_TRUE(stats) << stats.error().ToString();
  }
  done = true;
  reader.join();
  EXPECT_EQ(reader_failure, "");
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(*wh_->RowCount("a"), 10);
}

TEST_F(DuckDbWarehouseTest, DataSurvivesReopeningTheDatabase) {
  auto target = Target({{"id", "BIGINT"}});
  ASSERT_TRUE(
      wh_->Rebuild("p", target, std::vector<BatchFile>{Batch("p/1.parquet", "SELECT 1 AS id")}));
  wh_.reset();
  Open();
  ASSERT_TRUE(wh_->Init());
  EXPECT_EQ(*wh_->RowCount("p"), 1);
  auto contents = wh_->Inspect();
  ASSERT_TRUE(contents);
  EXPECT_EQ(contents->at("p").ledger.size(), 1u);
}

// A new warehouse file appears complete (schemas and ledger inside, no WAL
// beside it) or not at all; nothing is left under the temporary name.
TEST(DuckDbWarehouseOpenTest, NewFileIsCreatedCompleteWithItsLedger) {
  TempDir dir;
  const fs::path file = dir / "new.duckdb";
  {
    auto wh = OpenDuckDb({.path = file});
    ASSERT_TRUE(wh) << wh.error().ToString();
  }
  EXPECT_FALSE(fs::exists(dir / "new.duckdb.creating"));
  // Opened read-only, without Init: the ledger is already there.
  EXPECT_EQ(QueryDuckDbInt(file, "SELECT count(*) FROM _landfall.ledger"), 0);
  EXPECT_EQ(
      QueryDuckDb(file, "SELECT schema_name FROM duckdb_schemas() WHERE schema_name = 'staging'"),
      (std::vector<std::string>{"staging"}));
}

// A crash while a new file was being built leaves <file>.creating (and its
// WAL); the next open starts over instead of failing or using it.
TEST(DuckDbWarehouseOpenTest, LeftoverTemporaryFromACrashedCreationIsReplaced) {
  TempDir dir;
  const fs::path file = dir / "w.duckdb";
  std::ofstream(dir / "w.duckdb.creating") << "half a header";
  std::ofstream(dir / "w.duckdb.creating.wal") << "junk";
  auto wh = OpenDuckDb({.path = file});
  ASSERT_TRUE(wh) << wh.error().ToString();
  ASSERT_TRUE((*wh)->Init());
  auto contents = (*wh)->Inspect();
  ASSERT_TRUE(contents) << contents.error().ToString();
  EXPECT_TRUE(contents->empty());
  EXPECT_FALSE(fs::exists(dir / "w.duckdb.creating"));
  EXPECT_FALSE(fs::exists(dir / "w.duckdb.creating.wal"));
}

// A WAL under the warehouse's name without its file (the file deleted by
// hand, say) belongs to another database: it must not be replayed into the
// new one.
TEST(DuckDbWarehouseOpenTest, StrayWalWithoutItsFileIsNotReplayedIntoANewFile) {
  TempDir dir;
  const fs::path file = dir / "w.duckdb";
  {
    // An old database whose last changes are only in its WAL.
    duckdb_database db;
    duckdb_connection con;
    ASSERT_EQ(duckdb_open(file.c_str(), &db), DuckDBSuccess);
    ASSERT_EQ(duckdb_connect(db, &con), DuckDBSuccess);
    for (const char* sql : {"PRAGMA disable_checkpoint_on_shutdown",
                            "SET checkpoint_threshold = '1TB'", "CREATE SCHEMA staging",
                            "CREATE TABLE staging.ghost AS SELECT range AS id FROM range(5)"}) {
      duckdb_result result;
      EXPECT_EQ(duckdb_query(con, sql, &result), DuckDBSuccess)
          << sql << ": " << duckdb_result_error(&result);
      duckdb_destroy_result(&result);
    }
    duckdb_disconnect(&con);
    duckdb_close(&db);
  }
  ASSERT_TRUE(fs::exists(dir / "w.duckdb.wal")) << "the fixture needs a WAL";
  fs::remove(file);

  auto wh = OpenDuckDb({.path = file});
  ASSERT_TRUE(wh) << wh.error().ToString();
  ASSERT_TRUE((*wh)->Init());
  auto contents = (*wh)->Inspect();
  ASSERT_TRUE(contents) << contents.error().ToString();
  EXPECT_FALSE(contents->contains("ghost"));
}

TEST(DuckDbWarehouseOpenTest, InMemoryDatabaseWorks) {
  auto wh = OpenDuckDb({.path = ":memory:"});
  ASSERT_TRUE(wh) << wh.error().ToString();
  ASSERT_TRUE((*wh)->Init());
  auto contents = (*wh)->Inspect();
  ASSERT_TRUE(contents);
  EXPECT_TRUE(contents->empty());
}

// warehouse.memory_limit and warehouse.threads reach DuckDB; a value DuckDB
// refuses fails the open, naming the setting.
TEST(DuckDbWarehouseOpenTest, MemoryLimitAndThreadsReachDuckDb) {
  auto wh = OpenDuckDb({.path = ":memory:", .threads = 1, .memory_limit = "300MB"});
  ASSERT_TRUE(wh) << wh.error().ToString();
  ASSERT_TRUE((*wh)->Init());
  auto answer = (*wh)->Query({.sql = "SELECT current_setting('threads') AS t, "
                                     "current_setting('memory_limit') AS m"});
  ASSERT_TRUE(answer) << answer.error().ToString();
  EXPECT_THAT(answer->body, HasSubstr("[1,\"286.1 MiB\"]"));
  auto refused = OpenDuckDb({.path = ":memory:", .memory_limit = "lots"});
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message, HasSubstr("memory_limit = lots"));
}

// Concurrent CREATE SCHEMA/TABLE IF NOT EXISTS of the same names is a catalog
// write-write conflict in DuckDB; the retry makes it invisible.
TEST(DuckDbWarehouseOpenTest, ConcurrentInitsAllSucceed) {
  for (int round = 0; round < 5; ++round) {
    auto wh = OpenDuckDb({.path = ":memory:"});
    ASSERT_TRUE(wh) << wh.error().ToString();
    std::vector<std::string> failures(4);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        if (auto s = (*wh)->Init(); !s) failures[t] = s.error().ToString();
      });
    }
    for (auto& thread : threads) thread.join();
    for (int t = 0; t < 4; ++t) EXPECT_EQ(failures[t], "") << "round " << round << " thread " << t;
  }
}

TEST(DuckDbWarehouseOpenTest, ReservedStagingSchemaIsRejected) {
  auto wh = OpenDuckDb({.path = ":memory:", .staging_schema = "_landfall"});
  ASSERT_FALSE(wh);
}

}  // namespace
}  // namespace landfall::warehouse
