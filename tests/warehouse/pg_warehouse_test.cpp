// The PostgreSQL warehouse against a real PostgreSQL (a database of each
// test's own) and real Parquet files: staging tables with PostgreSQL types,
// the ledger in the same transaction as the rows, exactly-once, evolve,
// rebuild with carried rows, rejected batches, streaming.
#include "lib/warehouse/pg_warehouse.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "lib/warehouse/duckdb_warehouse.h"
#include "tests/support/duckdb_testing.h"
#include "tests/support/testing.h"
#include "tests/support/warehouse_testing.h"

namespace landfall::warehouse {
namespace {

namespace fs = std::filesystem;
using landfall::testing::PgSession;
using landfall::testing::TempDir;
using landfall::testing::WriteParquet;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class PgWarehouseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LANDFALL_REQUIRE_POSTGRES();
    database_ = landfall::testing::UniqueEnvironment("wh");
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
    auto init = wh_->Init();
    ASSERT_TRUE(init) << init.error().ToString();
  }

  void TearDown() override {
    wh_.reset();
    db_.reset();
    if (!database_.empty() && !landfall::testing::PostgresUrl().empty()) {
      PgSession().Script("DROP DATABASE IF EXISTS " + database_ + " WITH (FORCE)");
    }
  }

  std::vector<std::string> Query(const std::string& sql) { return db_->Query(sql); }
  std::string One(const std::string& sql) { return db_->QueryOne(sql); }

  BatchFile Batch(const std::string& rel_path, const std::string& select) {
    return landfall::testing::WriteBatch(*reader_, landing_, rel_path, select);
  }
  static schema::Schema Target(std::vector<std::pair<std::string, std::string>> columns) {
    return landfall::testing::TargetOf(std::move(columns));
  }

  TempDir dir_;
  fs::path landing_ = dir_ / "landing";
  std::string database_;
  std::string url_;
  std::unique_ptr<PgSession> db_;
  std::unique_ptr<schema::FooterReader> reader_;
  std::unique_ptr<Warehouse> wh_;
};

TEST_F(PgWarehouseTest, InitCreatesSchemasAndLedgerAndIsIdempotent) {
  ASSERT_TRUE(wh_->Init());
  EXPECT_EQ(Query("SELECT nspname FROM pg_namespace WHERE nspname IN ('staging', '_landfall') "
                  "ORDER BY 1"),
            (std::vector<std::string>{"_landfall", "staging"}));
  EXPECT_EQ(Query("SELECT a.attname || ' ' || format_type(a.atttypid, a.atttypmod) FROM "
                  "pg_attribute a WHERE a.attrelid = '_landfall.ledger'::regclass AND a.attnum > 0 "
                  "ORDER BY a.attnum"),
            (std::vector<std::string>{"staging_schema text", "table_name text", "batch_id text",
                                      "path text", "rows bigint",
                                      "loaded_at timestamp without time zone"}));
  EXPECT_EQ(One("SELECT count(*) FROM pg_constraint WHERE conrelid = '_landfall.ledger'::regclass "
                "AND contype = 'p'"),
            "1");
}

TEST_F(PgWarehouseTest, EveryStagingTypeLandsAsItsPostgresTypeAndInspectGivesTheStagingTypeBack) {
  auto batch =
      Batch("t/1.parquet",
            "SELECT 1::BIGINT AS b, 'x\ty\\z\nw' AS s, 4000000000::UINTEGER AS u, "
            "12.345::DECIMAL(18,3) AS d, TIMESTAMP '2024-01-02 03:04:05.123456' AS ts, "
            "TIMESTAMPTZ '2024-01-02 03:04:05+00' AS tz, '\\xAB\\x00'::BLOB AS bl, "
            "{'k': 1, 'l': [1, 2]} AS nested, true AS ok, DATE '2024-02-29' AS dt, "
            "'inf'::DOUBLE AS dbl, '5b7d1c36-8b5e-4a7c-9f2e-0a1b2c3d4e5f'::UUID AS id, "
            "18446744073709551615::UBIGINT AS huge, "
            "TIMESTAMP_NS '2024-01-02 03:04:05.123456789' AS ns, NULL::INTEGER AS nothing");
  auto target = batch.schema;
  auto stats = wh_->Rebuild("t", target, std::vector<BatchFile>{batch});
  ASSERT_TRUE(stats) << stats.error().ToString();
  EXPECT_EQ(stats->rows, 1);

  EXPECT_EQ(Query("SELECT a.attname || ' ' || format_type(a.atttypid, a.atttypmod) FROM "
                  "pg_attribute a WHERE a.attrelid = 'staging.t'::regclass AND a.attnum > 0 "
                  "AND NOT a.attisdropped ORDER BY a.attnum"),
            (std::vector<std::string>{
                "b bigint", "s text", "u bigint", "d numeric(18,3)",
                "ts timestamp without time zone", "tz timestamp with time zone", "bl bytea",
                "nested jsonb", "ok boolean", "dt date", "dbl double precision", "id uuid",
                "huge numeric(20,0)", "ns timestamp without time zone", "nothing integer",
                "_landfall_batch text", "_landfall_loaded_at timestamp without time zone"}));
  EXPECT_EQ(One("SELECT concat_ws('|', b, s = E'x\\ty\\\\z\\nw', u, d, ts, tz, encode(bl, 'hex'), "
                "nested->'l'->>1, ok, dt, dbl, id, huge, ns, coalesce(nothing::text, 'null'), "
                "_landfall_batch) FROM staging.t"),
            "1|t|4000000000|12.345|2024-01-02 03:04:05.123456|2024-01-02 03:04:05+00|ab00|2|t|"
            "2024-02-29|Infinity|5b7d1c36-8b5e-4a7c-9f2e-0a1b2c3d4e5f|"
            "18446744073709551615|2024-01-02 03:04:05.123456|null|fp-t/1.parquet");

  auto contents = wh_->Inspect();
  ASSERT_TRUE(contents) << contents.error().ToString();
  ASSERT_TRUE(contents->contains("t"));
  const auto& t = contents->at("t");
  EXPECT_TRUE(t.exists);
  EXPECT_TRUE(t.columns.SameStagingColumns(target))
      << "staging types come back as the planner chose them";
  EXPECT_EQ(t.columns.Find("u")->type, "UINTEGER");
  EXPECT_EQ(t.columns.Find("ns")->type, "TIMESTAMP_NS");
  ASSERT_EQ(t.ledger.size(), 1u);
  EXPECT_EQ(t.ledger.at("fp-t/1.parquet").rows, 1);
  EXPECT_EQ(t.ledger.at("fp-t/1.parquet").rel_path, "t/1.parquet");
}

// Rows go in with binary COPY unless a column has no binary form here (TIME
// WITH TIME ZONE): the same values loaded both ways must read back the same.
TEST_F(PgWarehouseTest, BinaryAndTextCopiesStoreTheSameValues) {
  struct Column {
    std::string name, type;
    std::vector<std::string> values;  // rows 1.., then NULL
  };
  const std::vector<Column> columns = {
      {"i1", "TINYINT", {"-128", "127", "0"}},
      {"i2", "SMALLINT", {"-32768", "32767"}},
      {"i4", "INTEGER", {"-2147483648", "2147483647"}},
      {"i8", "BIGINT", {"-9223372036854775808", "9223372036854775807"}},
      {"u1", "UTINYINT", {"255", "0"}},
      {"u2", "USMALLINT", {"65535"}},
      {"u4", "UINTEGER", {"4294967295"}},
      {"u8", "UBIGINT", {"18446744073709551615", "0", "10000"}},
      {"h", "HUGEINT", {"-170141183460469231731687303715884105727", "1"}},
      {"d", "DECIMAL(18,3)", {"-0.001", "12345678901234.567", "0", "-10000.5"}},
      {"d38", "DECIMAL(38,10)", {"-1234567890123456789012345678.0123456789", "0.0000000001"}},
      {"f", "FLOAT", {"'nan'", "'-inf'", "1.5e-40", "-0.0"}},
      {"dbl", "DOUBLE", {"'inf'", "-0.0", "2.2250738585072014e-308", "0.1"}},
      {"dt",
       "DATE",
       {"make_date(-43, 3, 15)", "DATE '1969-12-31'", "DATE '2000-01-01'", "DATE 'infinity'",
        "DATE '-infinity'"}},
      {"ts",
       "TIMESTAMP",
       {"make_timestamp(-43, 3, 15, 12, 0, 0.5)", "TIMESTAMP '1969-12-31 23:59:59.999999'",
        "TIMESTAMP '2000-01-01'", "TIMESTAMP 'infinity'", "TIMESTAMP '-infinity'"}},
      {"tz",
       "TIMESTAMPTZ",
       {"TIMESTAMPTZ '1900-06-01 12:00:00+05'", "TIMESTAMPTZ '2024-01-02 03:04:05.000001+00'"}},
      {"s0", "TIMESTAMP_S", {"TIMESTAMP_S '1960-01-01 00:00:01'"}},
      {"ms", "TIMESTAMP_MS", {"TIMESTAMP_MS '1969-12-31 23:59:59.999'"}},
      {"ns",
       "TIMESTAMP_NS",
       {"TIMESTAMP_NS '1969-12-31 23:59:59.999999999'", "TIMESTAMP_NS '2024-01-02 03:04:05.1'"}},
      {"tm", "TIME", {"TIME '23:59:59.999999'", "TIME '00:00:00'"}},
      {"iv",
       "INTERVAL",
       {"INTERVAL '1 year 2 months 3 days 04:05:06.789'", "INTERVAL '100 years 00:00:00.000001'"}},
      {"id",
       "UUID",
       {"'00000000-0000-0000-0000-000000000000'", "'ffffffff-ffff-ffff-ffff-ffffffffffff'",
        "'5b7d1c36-8b5e-4a7c-9f2e-0a1b2c3d4e5f'"}},
      {"s", "VARCHAR", {"'é€😀'", "''", "'a\tb\\c\nd'"}},
      {"bl", "BLOB", {"'\\x00\\xFF'::BLOB", "''::BLOB"}},
      {"j", "JSON", {"'{\"a\": [1, 2.5, null]}'", "'\"x\"'"}},
      {"b", "BOOLEAN", {"true", "false"}},
  };
  constexpr int kRows = 6;
  std::string select = "SELECT k";
  std::string names = "k";
  for (const auto& c : columns) {
    std::string cases;
    for (size_t i = 0; i < c.values.size(); ++i)
      cases +=
          " WHEN " + std::to_string(i + 1) + " THEN CAST(" + c.values[i] + " AS " + c.type + ")";
    select += ", CASE k" + cases + " END AS " + c.name;
    names += ", " + c.name;
  }
  select += " FROM range(1, " + std::to_string(kRows + 1) + ") t(k)";
  auto binary = Batch("bin/1.parquet", select);
  auto text = Batch("txt/1.parquet", "SELECT *, TIMETZ '03:04:05+02' AS ttz FROM (" + select + ")");
  ASSERT_TRUE(binary.schema.Find("j") != nullptr);
  auto a = wh_->Rebuild("bin", binary.schema, std::vector<BatchFile>{binary});
  ASSERT_TRUE(a) << a.error().ToString();
  auto b = wh_->Rebuild("txt", text.schema, std::vector<BatchFile>{text});
  ASSERT_TRUE(b) << b.error().ToString();
  EXPECT_EQ(a->rows, kRows);
  EXPECT_EQ(b->rows, kRows);

  const auto read = [&](const std::string& table) {
    return Query("SELECT row(" + names + ")::text FROM staging." + table + " ORDER BY k");
  };
  const auto from_binary = read("bin");
  EXPECT_EQ(from_binary, read("txt"));
  ASSERT_EQ(from_binary.size(), static_cast<size_t>(kRows));
  EXPECT_EQ(from_binary.back(), "(6" + std::string(columns.size(), ',') + ")") << "NULLs";
  EXPECT_EQ(Query("SELECT concat_ws('|', dt, ts, u8, d, ns, tm, iv, id, s, encode(bl, 'hex'), "
                  "j->'a'->>1, f, dbl) FROM staging.bin ORDER BY k"),
            (std::vector<std::string>{
                "0044-03-15 BC|0044-03-15 12:00:00.5 BC|18446744073709551615|-0.001|"
                "1970-01-01 00:00:00|23:59:59.999999|1 year 2 mons 3 days 04:05:06.789|"
                "00000000-0000-0000-0000-000000000000|é€😀|00ff|2.5|NaN|Infinity",
                "1969-12-31|1969-12-31 23:59:59.999999|0|12345678901234.567|"
                "2024-01-02 03:04:05.1|00:00:00|100 years|ffffffff-ffff-ffff-ffff-ffffffffffff|||"
                "-Infinity|0",
                "2000-01-01|2000-01-01 00:00:00|10000|0.000|5b7d1c36-8b5e-4a7c-9f2e-0a1b2c3d4e5f|"
                "a\tb\\c\nd|1.5e-40|2.2250738585072014e-308",
                "infinity|infinity|-10000.500|0|0.1", "-infinity|-infinity", ""}))
      << "TIMESTAMP_NS as DuckDB casts it to TIMESTAMP (-1 ns is 1970), either way";
}

TEST_F(PgWarehouseTest, ColumnsChangedByHandToAnotherTypeStillLoad) {
  auto first =
      Batch("h/1.parquet",
            "SELECT 1 AS id, {'a': 1} AS j, 'x' AS s, TIMESTAMP '2024-01-02 03:04:05.6789' "
            "AS ts");
  ASSERT_TRUE(wh_->Rebuild("h", first.schema, std::vector<BatchFile>{first}));
  // json has no binary form of jsonb's; varchar(20) and timestamp(3) read
  // text's and timestamp's.
  db_->Script(
      "ALTER TABLE staging.h ALTER COLUMN j TYPE json USING j::json, "
      "ALTER COLUMN s TYPE varchar(20), ALTER COLUMN ts TYPE timestamp(3)");
  auto second =
      Batch("h/2.parquet",
            "SELECT 2 AS id, {'a': 2} AS j, 'y' AS s, TIMESTAMP '2024-01-02 03:04:05.6789' "
            "AS ts");
  auto stats = wh_->Append("h", first.schema, std::vector<BatchFile>{second});
  ASSERT_TRUE(stats) << stats.error().ToString();
  EXPECT_TRUE(stats->rejected.empty());
  EXPECT_EQ(
      Query("SELECT concat_ws('|', id, j->>'a', s, ts) FROM staging.h ORDER BY id"),
      (std::vector<std::string>{"1|1|x|2024-01-02 03:04:05.679", "2|2|y|2024-01-02 03:04:05.679"}));
}

TEST_F(PgWarehouseTest, AppendStagesEachBatchOnceWithItsLedgerRow) {
  auto target = Target({{"id", "BIGINT"}, {"name", "VARCHAR"}});
  auto first = Batch("o/1.parquet", "SELECT i AS id, 'n' || i AS name FROM range(3) t(i)");
  ASSERT_TRUE(wh_->Rebuild("o", target, std::vector<BatchFile>{first}));
  auto second = Batch("o/2.parquet", "SELECT i AS id FROM range(10, 15) t(i)");
  auto stats = wh_->Append("o", target, std::vector<BatchFile>{second, first, second});
  ASSERT_TRUE(stats) << stats.error().ToString();
  EXPECT_EQ(stats->batches, 1) << "the staged batch and the repeat are skipped";
  EXPECT_EQ(stats->rows, 5);
  auto again = wh_->Append("o", target, std::vector<BatchFile>{second});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->batches, 0);
  EXPECT_EQ(One("SELECT count(*) FROM staging.o"), "8");
  EXPECT_EQ(One("SELECT count(*) FROM staging.o WHERE name IS NULL"), "5");
  EXPECT_EQ(Query("SELECT batch_id || ' ' || rows FROM _landfall.ledger ORDER BY 1"),
            (std::vector<std::string>{"fp-o/1.parquet 3", "fp-o/2.parquet 5"}));
  auto rows = wh_->RowCount("o");
  ASSERT_TRUE(rows);
  EXPECT_EQ(*rows, 8);
}

TEST_F(PgWarehouseTest, AppendToAMissingTableFailsAndNothingIsWritten) {
  auto batch = Batch("m/1.parquet", "SELECT 1 AS id");
  auto stats = wh_->Append("m", batch.schema, std::vector<BatchFile>{batch});
  ASSERT_FALSE(stats);
  EXPECT_EQ(stats.error().code, "warehouse_table_missing");
  EXPECT_EQ(One("SELECT count(*) FROM _landfall.ledger"), "0");
  auto rows = wh_->RowCount("m");
  ASSERT_FALSE(rows);
  EXPECT_EQ(rows.error().code, "warehouse_table_missing");
}

TEST_F(PgWarehouseTest, EvolveAddsAndWidensColumnsAndRenamesInPlace) {
  auto v1 = Batch("e/1.parquet", "SELECT 1::INTEGER AS id, 'a' AS old_name");
  ASSERT_TRUE(wh_->Rebuild("e", v1.schema, std::vector<BatchFile>{v1}));
  auto v2 = Batch("e/2.parquet",
                  "SELECT 5000000000::BIGINT AS id, 'b' AS new_name, 2.5::DOUBLE AS extra");
  auto target = Target({{"id", "BIGINT"}, {"new_name", "VARCHAR"}, {"extra", "DOUBLE"}});
  std::vector<ColumnRename> renames = {{"old_name", "new_name"}};
  auto stats = wh_->Evolve("e", target, renames, std::vector<BatchFile>{v2});
  ASSERT_TRUE(stats) << stats.error().ToString();
  EXPECT_EQ(Query("SELECT concat_ws(' ', id, new_name, coalesce(extra::text, 'null')) FROM "
                  "staging.e ORDER BY id"),
            (std::vector<std::string>{"1 a null", "5000000000 b 2.5"}));
  auto contents = wh_->Inspect();
  ASSERT_TRUE(contents);
  EXPECT_TRUE(contents->at("e").columns.SameStagingColumns(target));
}

TEST_F(PgWarehouseTest, AScalarBecomingJsonIsConvertedInPlace) {
  auto v1 = Batch("j/1.parquet", "SELECT 7 AS v");
  ASSERT_TRUE(wh_->Rebuild("j", Target({{"v", "INTEGER"}}), std::vector<BatchFile>{v1}));
  auto v2 = Batch("j/2.parquet", "SELECT {'a': 1} AS v");
  ASSERT_TRUE(wh_->Append("j", Target({{"v", "JSON"}}), std::vector<BatchFile>{v2}));
  EXPECT_EQ(Query("SELECT v::text FROM staging.j ORDER BY 1"),
            (std::vector<std::string>{"7", "{\"a\": 1}"}));
}

TEST_F(PgWarehouseTest, RebuildReplacesTheTableAndItsLedgerAndCarriesRowsOver) {
  auto target = Target({{"id", "INTEGER"}});
  auto gone = Batch("r/gone.parquet", "SELECT 100 AS id");
  auto a = Batch("r/a.parquet", "SELECT 1 AS id");
  auto b = Batch("r/b.parquet", "SELECT 2 AS id");
  ASSERT_TRUE(wh_->Rebuild("r", target, std::vector<BatchFile>{gone, a, b}));
  // b's file is no longer listed, gone's rows are kept without their file,
  // and id becomes VARCHAR.
  auto wide = Target({{"id", "VARCHAR"}});
  std::vector<std::string> carry = {"fp-r/gone.parquet"};
  auto stats = wh_->Rebuild("r", wide, std::vector<BatchFile>{a}, carry);
  ASSERT_TRUE(stats) << stats.error().ToString();
  EXPECT_EQ(stats->rows, 1) << "carried rows are not counted";
  EXPECT_EQ(Query("SELECT id || ' ' || _landfall_batch FROM staging.r ORDER BY 1"),
            (std::vector<std::string>{"1 fp-r/a.parquet", "100 fp-r/gone.parquet"}));
  EXPECT_EQ(Query("SELECT batch_id FROM _landfall.ledger ORDER BY 1"),
            (std::vector<std::string>{"fp-r/a.parquet", "fp-r/gone.parquet"}));
  EXPECT_EQ(One("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE "
                "attrelid = 'staging.r'::regclass AND attname = 'id'"),
            "text");
  EXPECT_EQ(One("SELECT count(*) FROM pg_class WHERE relname LIKE '\\_landfall\\_shadow%'"), "0");
}

TEST_F(PgWarehouseTest, ReadersSeeTheOldTableOrTheNewOneDuringARebuild) {
  auto target = Target({{"id", "BIGINT"}});
  auto small = Batch("s/1.parquet", "SELECT i AS id FROM range(10) t(i)");
  ASSERT_TRUE(wh_->Rebuild("s", target, std::vector<BatchFile>{small}));
  auto big = Batch("s/2.parquet", "SELECT i AS id FROM range(200000) t(i)");
  std::atomic<bool> done{false};
  std::vector<std::string> seen;
  std::thread reader([&] {
    PgSession session(url_);
    while (!done.load()) {
      std::string count = session.QueryOne("SELECT count(*) FROM staging.s");
      if (seen.empty() || seen.back() != count) seen.push_back(count);
    }
  });
  auto stats = wh_->Rebuild("s", target, std::vector<BatchFile>{small, big});
  done = true;
  reader.join();
  ASSERT_TRUE(stats) << stats.error().ToString();
  for (const auto& count : seen) EXPECT_THAT(count, ::testing::AnyOf("10", "200010"));
  EXPECT_EQ(One("SELECT count(*) FROM staging.s"), "200010");
}

TEST_F(PgWarehouseTest, ABatchThatCannotBeReadOrStoredIsRejectedAndTheOthersApply) {
  auto target = Target({{"id", "INTEGER"}, {"s", "VARCHAR"}});
  auto good = Batch("q/good.parquet", "SELECT 1 AS id, 'ok' AS s");
  auto corrupt = Batch("q/corrupt.parquet", "SELECT 2 AS id, 'x' AS s");
  {
    // A valid footer read before, garbage now.
    std::ofstream out(corrupt.abs_path, std::ios::trunc);
    out << "PAR1 this is not parquet PAR1";
  }
  // PostgreSQL text cannot hold a NUL byte; DuckDB's can.
  auto nul = Batch("q/nul.parquet", "SELECT 3 AS id, 'a' || chr(0) || 'b' AS s");
  auto stats = wh_->Rebuild("q", target, std::vector<BatchFile>{good, corrupt, nul});
  ASSERT_TRUE(stats) << stats.error().ToString();
  EXPECT_EQ(stats->batches, 1);
  ASSERT_EQ(stats->rejected.size(), 2u);
  EXPECT_EQ(stats->rejected[0].rel_path, "q/corrupt.parquet");
  EXPECT_EQ(stats->rejected[0].code, "undecodable");
  EXPECT_EQ(stats->rejected[1].rel_path, "q/nul.parquet");
  EXPECT_THAT(stats->rejected[1].message, HasSubstr("PostgreSQL refuses a value"));
  EXPECT_EQ(Query("SELECT id::text FROM staging.q"), (std::vector<std::string>{"1"}));
  EXPECT_EQ(Query("SELECT batch_id FROM _landfall.ledger"),
            (std::vector<std::string>{"fp-q/good.parquet"}));
}

TEST_F(PgWarehouseTest, AFileChangedAfterItsFingerprintFailsTheLoadAndWritesNothing) {
  auto target = Target({{"id", "BIGINT"}});
  auto a = Batch("c/a.parquet", "SELECT 1 AS id");
  ASSERT_TRUE(wh_->Rebuild("c", target, std::vector<BatchFile>{a}));
  auto b = Batch("c/b.parquet", "SELECT 2 AS id");
  b.identity = FileIdentity{.size = 1, .mtime_ns = 1, .ctime_ns = 1, .inode = 1};
  auto stats = wh_->Append("c", target, std::vector<BatchFile>{b});
  ASSERT_FALSE(stats);
  EXPECT_EQ(stats.error().code, kBatchChanged);
  EXPECT_EQ(One("SELECT count(*) FROM staging.c"), "1");
  EXPECT_EQ(One("SELECT count(*) FROM _landfall.ledger"), "1");
}

TEST_F(PgWarehouseTest, ConcurrentAppendsOfOneBatchStageItOnce) {
  auto target = Target({{"id", "BIGINT"}});
  auto base = Batch("p/0.parquet", "SELECT 0 AS id");
  ASSERT_TRUE(wh_->Rebuild("p", target, std::vector<BatchFile>{base}));
  auto batch = Batch("p/1.parquet", "SELECT i AS id FROM range(1000) t(i)");
  std::atomic<int> applied{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      auto stats = wh_->Append("p", target, std::vector<BatchFile>{batch});
      EXPECT_TRUE(stats) << stats.error().ToString();
      if (stats) applied += stats->batches;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(applied.load(), 1);
  EXPECT_EQ(One("SELECT count(*) FROM staging.p"), "1001");
}

TEST_F(PgWarehouseTest, AMillionRowFileStreamsThrough) {
  auto batch =
      Batch("big/1.parquet",
            "SELECT i AS id, 'row ' || i AS label, i * 0.5 AS half FROM range(1000000) t(i)");
  auto stats = wh_->Rebuild("big", batch.schema, std::vector<BatchFile>{batch});
  ASSERT_TRUE(stats) << stats.error().ToString();
  EXPECT_EQ(stats->rows, 1000000);
  EXPECT_EQ(One("SELECT count(*) || ' ' || sum(id) || ' ' || max(label) FROM staging.big"),
            "1000000 499999500000 row 999999");
}

TEST_F(PgWarehouseTest, DropRemovesTheTableAndItsLedgerRows) {
  auto target = Target({{"id", "BIGINT"}});
  auto a = Batch("d/a.parquet", "SELECT 1 AS id");
  auto keep = Batch("k/a.parquet", "SELECT 1 AS id");
  ASSERT_TRUE(wh_->Rebuild("d", target, std::vector<BatchFile>{a}));
  ASSERT_TRUE(wh_->Rebuild("k", target, std::vector<BatchFile>{keep}));
  ASSERT_TRUE(wh_->Drop("d"));
  auto contents = wh_->Inspect();
  ASSERT_TRUE(contents);
  EXPECT_FALSE(contents->contains("d"));
  EXPECT_TRUE(contents->contains("k"));
  EXPECT_EQ(One("SELECT count(*) FROM _landfall.ledger"), "1");
}

TEST_F(PgWarehouseTest, TwoStagingSchemasInOneDatabaseKeepTheirLedgersApart) {
  // Two environments (dev and prod, say) on one database: the same content
  // in a table of the same name is staged once in each.
  auto other = OpenPostgresWarehouse({.url = url_, .staging_schema = "staging_dev"});
  ASSERT_TRUE(other) << other.error().ToString();
  ASSERT_TRUE((*other)->Init());
  auto target = Target({{"id", "BIGINT"}});
  auto batch = Batch("t/1.parquet", "SELECT 1 AS id");
  ASSERT_TRUE(wh_->Rebuild("t", target, std::vector<BatchFile>{batch}));
  auto stats = (*other)->Rebuild("t", target, std::vector<BatchFile>{batch});
  ASSERT_TRUE(stats) << stats.error().ToString();
  EXPECT_EQ(stats->batches, 1);
  EXPECT_EQ(One("SELECT count(*) FROM staging_dev.t"), "1");
  ASSERT_TRUE((*other)->Drop("t"));
  EXPECT_EQ(One("SELECT count(*) FROM staging.t"), "1");
  auto contents = wh_->Inspect();
  ASSERT_TRUE(contents);
  EXPECT_EQ(contents->at("t").ledger.size(), 1u) << "prod's ledger keeps its row";
  EXPECT_EQ(Query("SELECT staging_schema FROM _landfall.ledger"),
            (std::vector<std::string>{"staging"}));
}

TEST_F(PgWarehouseTest, NamesPostgresWouldCutAreRefused) {
  const std::string long_name(64, 'x');
  auto a = Batch("n/a.parquet", "SELECT 1 AS id");
  auto stats = wh_->Rebuild(long_name, a.schema, std::vector<BatchFile>{a});
  ASSERT_FALSE(stats);
  EXPECT_EQ(stats.error().code, "warehouse_invalid_target");
  EXPECT_THAT(stats.error().message, HasSubstr("63 bytes"));
}

TEST_F(PgWarehouseTest, AnUnreachableServerIsATransientError) {
  auto wh = OpenPostgresWarehouse({.url = "postgresql://nobody:secret@127.0.0.1:1/none"});
  ASSERT_TRUE(wh) << wh.error().ToString();
  auto init = (*wh)->Init();
  ASSERT_FALSE(init);
  EXPECT_EQ(init.error().code, "warehouse_unavailable");
  EXPECT_TRUE(init.error().transient);
  EXPECT_THAT(init.error().message, ::testing::Not(HasSubstr("secret")));
}

}  // namespace
}  // namespace landfall::warehouse
