// A user's read-only query on the DuckDB warehouse (Warehouse::Query): what
// runs, what is refused before anything runs, limits and timeouts.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lib/warehouse/duckdb_warehouse.h"
#include "lib/warehouse/sql_parse.h"
#include "tests/support/duckdb_testing.h"
#include "tests/support/testing.h"

namespace landfall::warehouse {
namespace {

namespace fs = std::filesystem;
using landfall::testing::TempDir;
using landfall::testing::WriteParquet;
using nlohmann::json;
using ::testing::HasSubstr;

class DuckDbQueryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto wh = OpenDuckDb({.path = dir_ / "warehouse.duckdb", .staging_schema = "staging"});
    ASSERT_TRUE(wh) << wh.error().ToString();
    wh_ = std::move(*wh);
    ASSERT_TRUE(wh_->Init());
    auto reader = NewDuckDbFooterReader();
    ASSERT_TRUE(reader);
    const fs::path file = landing_ / "orders" / "a.parquet";
    WriteParquet(file, "SELECT range AS id, 'o' || range AS name FROM range(5)");
    auto footer = (*reader)->Read(file);
    ASSERT_TRUE(footer) << footer.error().ToString();
    BatchFile batch{.batch_id = "b1", .rel_path = "orders/a.parquet", .abs_path = file,
                    .rows = footer->rows, .schema = footer->schema};
    ASSERT_TRUE(wh_->Rebuild("orders", footer->schema, std::span<const BatchFile>(&batch, 1)));
  }

  Result<QueryAnswer> Ask(const std::string& sql, QueryFormat format = QueryFormat::kJson,
                          std::optional<int64_t> limit = std::nullopt) {
    return wh_->Query({.sql = sql, .format = format, .limit = limit, .readable_dir = landing_});
  }

  TempDir dir_;
  fs::path landing_ = dir_ / "landing";
  std::unique_ptr<Warehouse> wh_;
};

TEST_F(DuckDbQueryTest, JsonAnswerHasColumnsTypesAndRows) {
  auto answer = Ask("SELECT id, name, [id] AS ids FROM staging.orders ORDER BY id");
  ASSERT_TRUE(answer) << answer.error().ToString();
  const json doc = json::parse(answer->body);
  EXPECT_EQ(doc["columns"][0], json({{"name", "id"}, {"type", "BIGINT"}}));
  EXPECT_EQ(doc["columns"][2]["type"], "BIGINT[]");
  EXPECT_EQ(doc["rows"][1], json({1, "o1", {1}}));
  EXPECT_EQ(doc["row_count"], 5);
  EXPECT_EQ(doc["truncated"], false);
}

TEST_F(DuckDbQueryTest, LimitKeepsThatManyRowsAndSaysSo) {
  auto answer = Ask("SELECT id FROM staging.orders ORDER BY id", QueryFormat::kJson, 2);
  ASSERT_TRUE(answer) << answer.error().ToString();
  const json doc = json::parse(answer->body);
  EXPECT_EQ(doc["rows"], json({{0}, {1}}));
  EXPECT_EQ(doc["truncated"], true);
}

TEST_F(DuckDbQueryTest, DescribeShowAndSummarizeAnswer) {
  for (const char* sql : {"DESCRIBE staging.orders", "SHOW TABLES", "SUMMARIZE staging.orders",
                          "WITH x AS (SELECT 1 AS one) SELECT * FROM x;"}) {
    auto answer = Ask(sql);
    EXPECT_TRUE(answer) << sql << ": " << answer.error().ToString();
  }
}

TEST_F(DuckDbQueryTest, CsvAnswerHasAHeaderLine) {
  auto answer = Ask("SELECT id, name FROM staging.orders ORDER BY id -- a comment",
                    QueryFormat::kCsv);
  ASSERT_TRUE(answer) << answer.error().ToString();
  EXPECT_THAT(answer->body, ::testing::StartsWith("id,name\n0,o0\n1,o1\n"));
  EXPECT_EQ(answer->rows, 5);
}

TEST_F(DuckDbQueryTest, ParquetAnswerIsAParquetFile) {
  auto answer = Ask("SELECT * FROM staging.orders", QueryFormat::kParquet);
  ASSERT_TRUE(answer) << answer.error().ToString();
  EXPECT_EQ(answer->body.substr(0, 4), "PAR1");
}

TEST_F(DuckDbQueryTest, ReadingParquetInTheLandingDirectoryIsAllowed) {
  auto answer = Ask("SELECT count(*) AS n FROM read_parquet('" + (landing_ / "orders/*.parquet").string() + "')");
  ASSERT_TRUE(answer) << answer.error().ToString();
  EXPECT_EQ(json::parse(answer->body)["rows"][0][0], 5);
}

TEST_F(DuckDbQueryTest, EveryWriteOrOutsideReadIsRefusedAndChangesNothing) {
  std::vector<std::string> refused = testing::StatementsAQueryRefuses(dir_.path());
  for (std::string more : {"SELECT * FROM read_parquet('" +
                               (landing_ / "../warehouse.duckdb").string() + "')",
                           std::string("SELECT * FROM '/etc/passwd.csv'"),
                           std::string("SELECT * FROM query('DROP TABLE staging.orders')"),
                           std::string("SELECT * FROM staging.orders, read_csv(name)")}) {
    refused.push_back(more);
  }
  for (const auto& sql : refused) {
    auto answer = Ask(sql);
    ASSERT_FALSE(answer) << sql;
    EXPECT_EQ(answer.error().code, "query_refused") << sql;
    EXPECT_EQ(CheckReadOnlyQuery(sql, landing_).error().code, "query_refused") << sql;
  }
  auto rows = wh_->RowCount("orders");
  ASSERT_TRUE(rows) << rows.error().ToString();
  EXPECT_EQ(*rows, 5);
  EXPECT_FALSE(fs::exists(dir_ / "out.csv"));
  EXPECT_FALSE(fs::exists(dir_ / "other.duckdb"));
}

TEST_F(DuckDbQueryTest, RefusalSaysWhy) {
  EXPECT_THAT(CheckReadOnlyQuery("SELECT * FROM read_text('/etc/passwd')", landing_).error().message,
              HasSubstr("not below the landing directory"));
  EXPECT_THAT(CheckReadOnlyQuery("SELECT 1; SELECT 2", landing_).error().message,
              HasSubstr("2 statements"));
  EXPECT_THAT(CheckReadOnlyQuery("DROP TABLE x", landing_).error().message,
              HasSubstr("not a SELECT statement"));
}

TEST_F(DuckDbQueryTest, SlowQueryIsInterruptedAtItsTimeout) {
  const auto start = std::chrono::steady_clock::now();
  auto answer = wh_->Query({.sql = "SELECT sum(a.range * b.range) FROM range(1000000) a, range(1000000) b",
                            .timeout = std::chrono::milliseconds(300),
                            .readable_dir = landing_});
  ASSERT_FALSE(answer);
  EXPECT_EQ(answer.error().code, "query_timeout");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST_F(DuckDbQueryTest, JsonRowsAreStreamedAcrossChunksWithNullsAndNaN) {
  // Several of DuckDB's 2,048-row chunks; NULLs and NaN in every chunk.
  auto answer = Ask("SELECT range AS id, CASE WHEN range % 1000 = 7 THEN NULL ELSE 'v' || range END AS v, "
                    "CASE WHEN range % 1000 = 8 THEN 'NaN'::DOUBLE ELSE 0.5 END AS d FROM range(5000) ORDER BY id",
                    QueryFormat::kJson, 4999);
  ASSERT_TRUE(answer) << answer.error().ToString();
  const json doc = json::parse(answer->body);
  EXPECT_EQ(doc["row_count"], 4999);
  EXPECT_EQ(doc["truncated"], true);
  EXPECT_EQ(doc["rows"][4998], json({4998, "v4998", 0.5}));
  EXPECT_EQ(doc["rows"][3007], json({3007, nullptr, 0.5}));
  EXPECT_EQ(doc["rows"][4008], json({4008, "v4008", "NaN"}));
}

TEST_F(DuckDbQueryTest, AnAnswerPastMaxBytesIsRefusedInEveryFormat) {
  const std::string sql = "SELECT range AS id, repeat('x', 100) AS pad FROM range(10000)";
  for (QueryFormat format : {QueryFormat::kJson, QueryFormat::kCsv, QueryFormat::kParquet}) {
    auto answer = wh_->Query({.sql = sql, .format = format, .max_bytes = 4096, .readable_dir = landing_});
    ASSERT_FALSE(answer) << static_cast<int>(format);
    EXPECT_EQ(answer.error().code, "query_too_large");
    EXPECT_THAT(answer.error().message, HasSubstr("4096 bytes (api.query_max_bytes)"));
  }
  // The JSON answer stops at the cap: it names how far it got.
  auto json_answer = wh_->Query({.sql = sql, .max_bytes = 4096, .readable_dir = landing_});
  EXPECT_THAT(json_answer.error().message, ::testing::ContainsRegex("after [0-9][0-9] rows"));
  // Below the cap, the whole answer.
  for (QueryFormat format : {QueryFormat::kJson, QueryFormat::kCsv, QueryFormat::kParquet}) {
    auto answer = wh_->Query({.sql = "SELECT id FROM staging.orders", .format = format, .max_bytes = 4096,
                              .readable_dir = landing_});
    ASSERT_TRUE(answer) << answer.error().ToString();
    EXPECT_EQ(answer->rows, 5);
  }
}

}  // namespace
}  // namespace landfall::warehouse
