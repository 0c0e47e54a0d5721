// POST /v1/query against a running daemon: answers in JSON, CSV and Parquet
// while it serves, every statement that could change or leak something
// refused with 400 and nothing changed, row limits, the timeout, the
// concurrency limit and the metrics. A real HTTP client against `landfall
// serve` as a child process, with real PostgreSQL and DuckDB.
#include <gmock/gmock.h>

#include <thread>

#include "tests/api/daemon_fixture.h"

namespace landfall::testing {
namespace {

using ::testing::HasSubstr;

class DaemonQueryTest : public DaemonTest {
 protected:
  HttpResult Query(const json& body, const std::vector<std::string>& headers = {}) {
    return HttpPost(port_, "/v1/query", body.dump(), token_, headers);
  }
  // The rows of a JSON answer; null when it is not one.
  static json Rows(const HttpResult& r) { return JsonOf(r).value("rows", json()); }
  static std::string Code(const HttpResult& r) {
    return JsonOf(r).value("/error/code"_json_pointer, std::string("(no error) ") + r.body);
  }
};

TEST_F(DaemonQueryTest, QueriesWhileServingAnswerJsonCsvAndParquet) {
  token_ = kToken;
  Start(std::string("  tokens: [") + kToken + "]\n");
  Land("orders/part-0.parquet", 100);
  ASSERT_TRUE(WaitForRows("orders", 100));

  auto counted = Query({{"sql", "SELECT count(*) AS n, sum(id) AS total FROM staging.orders"}});
  ASSERT_EQ(counted.status, 200) << counted.body;
  EXPECT_EQ(JsonOf(counted)["columns"][0], json({{"name", "n"}, {"type", "BIGINT"}}));
  EXPECT_EQ(Rows(counted), json({{100, 4950}}));

  auto csv = Query({{"sql", "SELECT id, name FROM staging.orders ORDER BY id LIMIT 2"}},
                   {"Accept: text/csv"});
  ASSERT_EQ(csv.status, 200) << csv.body;
  EXPECT_THAT(csv.Header("content-type"), HasSubstr("text/csv"));
  EXPECT_EQ(csv.body, "id,name\n0,n0\n1,n1\n");

  auto parquet = Query({{"sql", "SELECT * FROM staging.orders"}, {"format", "parquet"}});
  ASSERT_EQ(parquet.status, 200) << parquet.body;
  EXPECT_EQ(parquet.Header("content-type"), "application/vnd.apache.parquet");
  EXPECT_EQ(parquet.body.substr(0, 4), "PAR1");
  EXPECT_EQ(parquet.Header("x-landfall-rows"), "100");

  // Like every /v1 route, it needs the bearer token.
  EXPECT_EQ(HttpPost(port_, "/v1/query", R"({"sql": "SELECT 1"})").status, 401);

  // The daemon keeps staging while queries run.
  Land("orders/part-1.parquet", 10, 100);
  ASSERT_TRUE(WaitForRows("orders", 110));
  EXPECT_EQ(Rows(Query({{"sql", "SELECT count(*) FROM staging.orders"}}))[0][0], 110);
}

TEST_F(DaemonQueryTest, EveryStatementThatCouldChangeOrLeakIsRefusedAndNothingChanges) {
  Start();
  Land("orders/part-0.parquet", 20);
  ASSERT_TRUE(WaitForRows("orders", 20));
  std::vector<std::string> refused = StatementsAQueryRefuses(dir_.path());
  for (std::string more :
       {"COPY (SELECT 1) TO '" + (dir_ / "out.csv").string() + "'",
        "SELECT * FROM read_csv('" + (landing() / ".." / "serve.log").string() + "')",
        std::string("SELECT * FROM query('DROP TABLE staging.orders')"),
        std::string("DELETE FROM staging.orders"), std::string("CREATE TABLE staging.x AS SELECT 1")}) {
    refused.push_back(more);
  }
  for (const auto& sql : refused) {
    auto r = Query({{"sql", sql}});
    EXPECT_EQ(r.status, 400) << sql << ": " << r.body;
    EXPECT_EQ(Code(r), "query_refused") << sql;
    EXPECT_FALSE(JsonOf(r).value("/error/message"_json_pointer, std::string()).empty()) << sql;
  }
  EXPECT_FALSE(std::filesystem::exists(dir_ / "out.csv"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "other.duckdb"));
  EXPECT_EQ(Rows(Query({{"sql", "SELECT count(*) FROM staging.orders"}}))[0][0], 20);
  EXPECT_EQ(Rows(Query({{"sql", "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'x'"}}))[0][0], 0);
  EXPECT_EQ(Table("orders")["rows"], 20);
  // The landing directory may be read.
  auto landed = Query({{"sql", "SELECT count(*) FROM read_parquet('" +
                                   (landing() / "orders" / "*.parquet").string() + "')"}});
  ASSERT_EQ(landed.status, 200) << landed.body;
  EXPECT_EQ(Rows(landed)[0][0], 20);

  const std::string metrics = Get("/metrics").body;
  EXPECT_THAT(metrics, HasSubstr("landfall_queries_total{outcome=\"refused\"} " +
                                 std::to_string(refused.size())));
  EXPECT_THAT(metrics, HasSubstr("landfall_queries_total{outcome=\"ok\"} 3"));
}

TEST_F(DaemonQueryTest, ALimitKeepsThatManyRowsAndSaysRowsWereLeftOut) {
  Start();
  Land("orders/part-0.parquet", 50);
  ASSERT_TRUE(WaitForRows("orders", 50));
  auto limited = Query({{"sql", "SELECT id FROM staging.orders ORDER BY id"}, {"limit", 3}});
  ASSERT_EQ(limited.status, 200) << limited.body;
  EXPECT_EQ(Rows(limited), json({{0}, {1}, {2}}));
  EXPECT_EQ(JsonOf(limited)["truncated"], true);
  EXPECT_EQ(limited.Header("x-landfall-truncated"), "true");
  // JSON answers stop at 10,000 rows unless asked otherwise.
  auto many = Query({{"sql", "SELECT * FROM range(20000)"}});
  ASSERT_EQ(many.status, 200);
  EXPECT_EQ(JsonOf(many)["row_count"], 10000);
  EXPECT_EQ(JsonOf(many)["truncated"], true);
  // CSV answers have no default limit.
  auto csv = Query({{"sql", "SELECT * FROM range(20000)"}, {"format", "csv"}});
  ASSERT_EQ(csv.status, 200);
  EXPECT_EQ(csv.Header("x-landfall-rows"), "20000");
}

TEST_F(DaemonQueryTest, ASlowQueryIsInterruptedAtTheTimeoutAndTheDaemonGoesOn) {
  Start("  query_timeout_ms: 500\n");
  const auto start = std::chrono::steady_clock::now();
  auto slow = Query({{"sql", "SELECT sum(a.range * b.range) FROM range(1000000) a, range(1000000) b"}});
  EXPECT_EQ(slow.status, 504) << slow.body;
  EXPECT_EQ(Code(slow), "query_timeout");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  EXPECT_THAT(Get("/metrics").body, HasSubstr("landfall_queries_total{outcome=\"timeout\"} 1"));
  // Interrupted, not left running: the daemon still stages.
  Land("orders/part-0.parquet", 5);
  EXPECT_TRUE(WaitForRows("orders", 5));
}

TEST_F(DaemonQueryTest, QueriesBeyondMaxQueriesAreAnswered429) {
  Start("  query_timeout_ms: 3000\n  max_queries: 1\n");
  HttpResult slow_answer;
  std::thread slow([&] {
    slow_answer =
        Query({{"sql", "SELECT sum(a.range * b.range) FROM range(1000000) a, range(1000000) b"}});
  });
  // The slow query has its slot well before it times out; a probe sent
  // earlier could take the slot first.
  std::this_thread::sleep_for(700ms);
  HttpResult busy = Query({{"sql", "SELECT 1"}});
  slow.join();
  EXPECT_EQ(slow_answer.status, 504) << slow_answer.body;
  EXPECT_EQ(busy.status, 429) << busy.body;
  EXPECT_EQ(Code(busy), "query_busy");
  EXPECT_EQ(Query({{"sql", "SELECT 1"}}).status, 200);
}

TEST_F(DaemonQueryTest, AnAnswerPastQueryMaxBytesIsAnswered413) {
  Start("  query_max_bytes: 4096\n");
  const std::string big = "SELECT range AS id, repeat('x', 100) AS pad FROM range(10000)";
  auto json_answer = Query({{"sql", big}});
  EXPECT_EQ(json_answer.status, 413) << json_answer.body;
  EXPECT_EQ(Code(json_answer), "query_too_large");
  auto csv = Query({{"sql", big}, {"format", "csv"}});
  EXPECT_EQ(csv.status, 413) << csv.body;
  EXPECT_EQ(Code(csv), "query_too_large");
  EXPECT_THAT(Get("/metrics").body, HasSubstr("landfall_queries_total{outcome=\"too_large\"} 2"));
  // A smaller answer of the same query is whole.
  auto small = Query({{"sql", big}, {"limit", 3}});
  ASSERT_EQ(small.status, 200) << small.body;
  EXPECT_EQ(JsonOf(small)["row_count"], 3);
}

}  // namespace
}  // namespace landfall::testing
