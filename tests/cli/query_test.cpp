// `landfall query` through the binary: alone (the warehouse file opened
// read-only) and through a running daemon; its formats, --limit and
// --output; every statement that could change or leak something refused with
// exit 2 and nothing changed.
#include <duckdb.h>

#include <fstream>
#include <optional>

#include "tests/cli/operate_fixture.h"
#include "tests/support/duckdb_testing.h"
#include "tests/support/http_client.h"

namespace landfall::testing {
namespace {

// The warehouse file opened read-only by this process, as DuckDB's CLI or a
// notebook would, until destroyed. ok() is false when DuckDB refused it.
class Reader {
 public:
  explicit Reader(const std::filesystem::path& file) {
    duckdb_config config;
    duckdb_create_config(&config);
    duckdb_set_config(config, "access_mode", "READ_ONLY");
    char* error = nullptr;
    if (duckdb_open_ext(file.c_str(), &db_, config, &error) != DuckDBSuccess) {
      error_ = error ? error : "?";
      duckdb_free(error);
      db_ = nullptr;
    } else {
      duckdb_connect(db_, &con_);
    }
    duckdb_destroy_config(&config);
  }
  ~Reader() {
    if (con_) duckdb_disconnect(&con_);
    if (db_) duckdb_close(&db_);
  }
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;
  bool ok() const { return db_ != nullptr; }
  const std::string& error() const { return error_; }
  // The first value of `sql`'s first row; nullopt on error.
  std::optional<long long> Int(const std::string& sql) {
    duckdb_result result;
    if (!con_ || duckdb_query(con_, sql.c_str(), &result) != DuckDBSuccess) {
      if (con_) duckdb_destroy_result(&result);
      return std::nullopt;
    }
    const long long value = duckdb_value_int64(&result, 0, 0);
    duckdb_destroy_result(&result);
    return value;
  }

 private:
  duckdb_database db_ = nullptr;
  duckdb_connection con_ = nullptr;
  std::string error_;
};

class QueryTest : public OperateTest {
 protected:
  std::string Via() const { return "via the running daemon at 127.0.0.1:" + std::to_string(port_); }

  void ExpectEveryRefusal() {
    for (const auto& sql : StatementsAQueryRefuses(dir_.path())) {
      auto r = Landfall({"query", sql});
      EXPECT_EQ(r.exit_code, 2) << sql << "\n" << r.out << r.err;
      EXPECT_NE(r.err.find("query_refused"), std::string::npos) << sql << ": " << r.err;
    }
    EXPECT_FALSE(std::filesystem::exists(dir_ / "out.csv"));
    EXPECT_FALSE(std::filesystem::exists(dir_ / "other.duckdb"));
  }
};

TEST_F(QueryTest, AloneItReadsTheWarehouseFileInEveryFormat) {
  Land("orders/part-0.parquet", 10);
  ASSERT_EQ(Landfall({"run"}).exit_code, 0);

  auto table = Landfall({"query", "SELECT count(*) AS n, max(name) AS last FROM staging.orders"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_EQ(table.out, "n   last\n--  ----\n10  n9\n(1 row)\n");
  EXPECT_EQ(table.err.find("via the running daemon"), std::string::npos) << table.err;

  auto csv = Landfall({"query", "--format", "csv", "SELECT id FROM staging.orders ORDER BY id LIMIT 2"});
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  EXPECT_EQ(csv.out, "id\n0\n1\n");

  auto json_answer = Landfall({"query", "--format", "json", "--limit", "1", "SELECT id FROM staging.orders ORDER BY id"});
  ASSERT_EQ(json_answer.exit_code, 0) << json_answer.err;
  const auto doc = nlohmann::json::parse(json_answer.out);
  EXPECT_EQ(doc["rows"], nlohmann::json({{0}}));
  EXPECT_EQ(doc["truncated"], true);

  const auto file = dir_ / "orders.parquet";
  auto parquet = Landfall({"query", "--format", "parquet", "--output", file.string(), "SELECT * FROM staging.orders"});
  ASSERT_EQ(parquet.exit_code, 0) << parquet.err;
  EXPECT_EQ(QueryDuckDbInt(warehouse(), "SELECT count(*) FROM read_parquet('" + file.string() + "')"), 10);
}

TEST_F(QueryTest, AloneEveryRefusedStatementExits2AndChangesNothing) {
  Land("orders/part-0.parquet", 10);
  ASSERT_EQ(Landfall({"run"}).exit_code, 0);
  ExpectEveryRefusal();
  EXPECT_EQ(QueryDuckDbInt(warehouse(), "SELECT count(*) FROM staging.orders"), 10);
  auto unknown = Landfall({"query", "SELECT * FROM staging.nope"});
  EXPECT_EQ(unknown.exit_code, 2) << unknown.err;
  EXPECT_NE(unknown.err.find("query_failed"), std::string::npos) << unknown.err;
}

TEST_F(QueryTest, WhileServingItAsksTheDaemon) {
  Land("orders/part-0.parquet", 10);
  auto serve = StartServe();
  auto count = [&] {
    return Landfall({"query", "--format", "csv", "SELECT count(*) AS n FROM staging.orders"});
  };
  ASSERT_TRUE(PollUntil([&] { return count().out == "n\n10\n"; }, 30s)) << count().err;
  auto r = count();
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.err.find(Via()), std::string::npos) << r.err;
  ExpectEveryRefusal();
  Land("orders/part-1.parquet", 5, 10);
  EXPECT_TRUE(PollUntil([&] { return count().out == "n\n15\n"; }, 30s)) << count().out;
  StopServe(*serve);
  EXPECT_EQ(QueryDuckDbInt(warehouse(), "SELECT count(*) FROM staging.orders"), 15);
}

TEST_F(QueryTest, HoldOpenFalseLetsReadersInBetweenRunsAndARunWaitsForAReader) {
  WriteServeConfig(/*debounce_ms=*/100, /*api_extra=*/"", /*warehouse_extra=*/"  hold_open: false\n");
  Land("orders/part-0.parquet", 10);
  auto serve = StartServe();
  const std::string count = "SELECT count(*) FROM staging.orders";

  // Between runs the daemon has closed the file: another process reads it.
  std::optional<long long> seen;
  ASSERT_TRUE(PollUntil(
      [&] {
        Reader reader(warehouse());
        seen = reader.ok() ? reader.Int(count) : std::nullopt;
        return seen == 10;
      },
      30s))
      << serve->Log();

  // A reader holds the file while a batch lands: the run waits for it, and
  // says so, instead of failing the table.
  {
    Reader reader(warehouse());
    ASSERT_TRUE(reader.ok()) << reader.error();
    Land("orders/part-1.parquet", 5, 10);
    ASSERT_TRUE(serve->WaitForLog("runs wait for it", 30s)) << serve->Log();
    auto ready = HttpGet(port_, "/readyz");
    EXPECT_EQ(ready.status, 503) << ready.body;
    EXPECT_NE(ready.body.find("runs wait for it"), std::string::npos) << ready.body;
    auto status = Landfall({"status"});
    EXPECT_NE(status.out.find("not ready: the warehouse"), std::string::npos) << status.out;
    EXPECT_EQ(reader.Int(count), 10);  // the reader's view: nothing staged meanwhile
  }
  // The reader is gone: the retried run stages the batch.
  EXPECT_TRUE(PollUntil(
      [&] {
        auto r = Landfall({"query", "--format", "csv", count});
        return r.out == "count_star()\n15\n";
      },
      60s))
      << serve->Log();
  EXPECT_TRUE(PollUntil([&] { return HttpGet(port_, "/readyz").status == 200; }, 10s));
  StopServe(*serve);
}

TEST_F(QueryTest, HoldOpenFalseBuildsModelsThatReadersReadBetweenRuns) {
  WriteServeConfig(/*debounce_ms=*/100, /*api_extra=*/"",
                   /*warehouse_extra=*/"  hold_open: false\nmodels:\n  dir: models\n  schema: analytics\n");
  std::filesystem::create_directories(dir_ / "models");
  // One model applied batch by batch (many statements per batch), one over it.
  std::ofstream(dir_ / "models/orders_copy.sql") << "SELECT id, name FROM staging.orders";
  std::ofstream(dir_ / "models/orders_copy.yaml") << "strategy: incremental\nincremental: {by: batch}\n";
  std::ofstream(dir_ / "models/order_count.sql") << "SELECT count(*) AS n FROM analytics.orders_copy";
  Land("orders/part-0.parquet", 10);
  auto serve = StartServe();

  // Between runs another process reads the model targets.
  const auto read = [&](const std::string& sql) -> std::optional<long long> {
    Reader reader(warehouse());
    return reader.ok() ? reader.Int(sql) : std::nullopt;
  };
  std::optional<long long> seen;
  ASSERT_TRUE(PollUntil(
      [&] { return (seen = read("SELECT n FROM analytics.order_count")) == 10; }, 30s))
      << (seen ? std::to_string(*seen) : "unreadable") << "\n" << serve->Log();

  // A new batch while a reader holds the file: staging waits for it, then
  // the retried run stages the batch and builds both models again.
  {
    Reader reader(warehouse());
    ASSERT_TRUE(reader.ok()) << reader.error();
    Land("orders/part-1.parquet", 5, 10);
    ASSERT_TRUE(serve->WaitForLog("runs wait for it", 30s)) << serve->Log();
    EXPECT_EQ(reader.Int("SELECT n FROM analytics.order_count"), 10);
  }
  EXPECT_TRUE(PollUntil(
      [&] { return (seen = read("SELECT n FROM analytics.order_count")) == 15; }, 60s))
      << (seen ? std::to_string(*seen) : "unreadable") << "\n" << serve->Log();
  EXPECT_EQ(read("SELECT count(DISTINCT id) FROM analytics.orders_copy"), 15);
  EXPECT_EQ(serve->Log().find("models: "), std::string::npos) << serve->Log();
  StopServe(*serve);
}

}  // namespace
}  // namespace landfall::testing
