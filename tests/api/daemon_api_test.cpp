// The HTTP API of a running daemon: tables, plans, runs (202, 409, progress),
// quarantined batches and their retry, state deletion, bearer tokens, signed
// webhooks, body limits and slow clients, and the Prometheus metrics. A real
// HTTP client against the real daemon (`landfall serve` as a child process),
// real PostgreSQL, DuckDB and inotify.
#include <gmock/gmock.h>

#include <atomic>
#include <cstdlib>
#include <thread>

#include "api/security.h"
#include "tests/api/daemon_fixture.h"

namespace landfall::testing {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

std::string ErrorCode(const HttpResult& r) {
  return JsonOf(r).value("/error/code"_json_pointer, std::string("(no error code) ") + r.body);
}

int64_t UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TEST_F(DaemonTest, TablesShowStagedRowsBatchesAndLastAction) {
  Start();
  Land("orders/2026/part-0.parquet", 100);
  Land("orders/2026/part-1.parquet", 50, 100);
  Land("customers/part-0.parquet", 7);
  ASSERT_TRUE(WaitForRows("orders", 150)) << Get("/v1/tables").body;
  ASSERT_TRUE(WaitForRows("customers", 7));

  auto tables = Get("/v1/tables");
  ASSERT_EQ(tables.status, 200);
  EXPECT_EQ(tables.Header("Content-Type"), "application/json");
  auto orders = Table("orders");
  EXPECT_EQ(orders["status"], "active");
  EXPECT_EQ(orders["batches"]["staged"], 2);
  EXPECT_EQ(orders["batches"]["pending"], 0);
  EXPECT_EQ(orders["policy"], "evolve");
  EXPECT_FALSE(orders["schema_hash"].get<std::string>().empty());
  EXPECT_TRUE(orders["updated_at"].is_string());
  ASSERT_TRUE(orders["last_run"].is_object()) << orders.dump();
  EXPECT_THAT(orders["last_run"]["action"].get<std::string>(),
              ::testing::AnyOf("create", "append"));

  auto detail = Get("/v1/tables/orders");
  ASSERT_EQ(detail.status, 200) << detail.body;
  auto d = JsonOf(detail);
  ASSERT_EQ(d["columns"].size(), 3u);
  EXPECT_EQ(d["columns"][0]["name"], "id");
  EXPECT_EQ(d["recent_batches"].size(), 2u);
  EXPECT_GE(d["schema_history"].size(), 1u);
  ASSERT_GE(d["recent_actions"].size(), 1u);
  EXPECT_TRUE(d["recent_actions"][0]["reasons"].is_array());
  EXPECT_FALSE(d["recent_actions"][0]["reasons"].empty()) << "actions carry their reasons";

  auto missing = Get("/v1/tables/nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(ErrorCode(missing), "table_not_found");
}

TEST_F(DaemonTest, TablesShowThePolicyTheConfigGivesThem) {
  Start("tables:\n  - match: \"strict_*\"\n    schema_evolution: freeze\n");
  Land("strict_orders/part-0.parquet", 3);
  Land("orders/part-0.parquet", 3);
  ASSERT_TRUE(WaitForRows("strict_orders", 3)) << Get("/v1/tables").body;
  ASSERT_TRUE(WaitForRows("orders", 3));
  EXPECT_EQ(Table("strict_orders")["policy"], "freeze");
  EXPECT_EQ(Table("orders")["policy"], "evolve");
}

TEST_F(DaemonTest, PlanIsADryRunWithTheCliJson) {
  Start();
  Land("orders/part-0.parquet", 10);
  ASSERT_TRUE(WaitForRows("orders", 10));
  auto plan = Get("/v1/plan");
  ASSERT_EQ(plan.status, 200) << plan.body;
  auto p = JsonOf(plan);
  EXPECT_EQ(p["full_rebuild"], false);
  ASSERT_EQ(p["tables"].size(), 1u);
  EXPECT_EQ(p["tables"][0]["table"], "orders");
  EXPECT_EQ(p["tables"][0]["action"], "skip");
  EXPECT_EQ(p["tables"][0]["reasons"][0]["code"], "no_change");
}

TEST_F(DaemonTest, DryRunsDuringStagingNeverUndoIt) {
  // GET /v1/plan refreshes the catalog of every table while the scheduler's
  // runs stage the same new files: whatever the interleaving, every batch
  // ends staged exactly once.
  Start();
  std::atomic<bool> done{false};
  std::atomic<int> plans{0}, plan_errors{0};
  std::jthread planner([&] {
    while (!done) {
      auto r = Get("/v1/plan");
      ++plans;
      if (r.status != 200) ++plan_errors;
    }
  });
  for (int i = 0; i < 30; ++i) {
    Land("t" + std::to_string(i % 3) + "/part-" + std::to_string(i) + ".parquet", 10, i * 10);
    std::this_thread::sleep_for(20ms);
  }
  for (int t = 0; t < 3; ++t)
    EXPECT_TRUE(WaitForRows("t" + std::to_string(t), 100)) << Get("/v1/tables").body;
  done = true;
  planner.join();
  EXPECT_GT(plans.load(), 5);
  EXPECT_EQ(plan_errors.load(), 0);
  for (int t = 0; t < 3; ++t) {
    auto table = Table("t" + std::to_string(t));
    EXPECT_EQ(table["batches"]["staged"], 10) << table.dump();
    EXPECT_EQ(table["batches"]["pending"], 0) << table.dump();
    EXPECT_EQ(table["status"], "active") << table.dump();
  }
  EXPECT_TRUE(JsonOf(Get("/v1/runs?status=failed"))["runs"].empty());
  // A named document: a range-for over a member of a temporary would read it
  // after it is destroyed (found by ThreadSanitizer; g++ 12 does not extend
  // the temporary's lifetime, which C++23 does).
  auto plan = JsonOf(Get("/v1/plan"));
  for (const auto& t : plan["tables"]) EXPECT_EQ(t["action"], "skip") << t.dump();
}

TEST_F(DaemonTest, RunTriggerAnswers202AndTheRunShowsItsTablesAndProgress) {
  Start();
  Land("orders/part-0.parquet", 20);
  Land("customers/part-0.parquet", 5);
  ASSERT_TRUE(WaitForRows("orders", 20));
  ASSERT_TRUE(WaitForRows("customers", 5));

  auto started = PostRunWhenIdle(R"({"tables": ["orders"], "full_refresh": true})");
  ASSERT_EQ(started.status, 202) << started.body;
  const int64_t id = JsonOf(started)["run_id"];
  EXPECT_GT(id, 0);
  EXPECT_EQ(JsonOf(started)["status"], "running");

  auto run = WaitForRun(id);
  EXPECT_EQ(run["status"], "succeeded") << run.dump();
  EXPECT_EQ(run["trigger"], "api");
  ASSERT_EQ(run["tables"].size(), 1u) << "only the table asked for";
  EXPECT_EQ(run["tables"][0]["table"], "orders");
  EXPECT_EQ(run["tables"][0]["action"], "rebuild");
  EXPECT_EQ(run["tables"][0]["rows"], 20);
  EXPECT_EQ(run["tables"][0]["reasons"][0]["code"], "full_refresh_requested");
  EXPECT_EQ(run["progress"]["tables_total"], 1);
  EXPECT_EQ(run["progress"]["tables_done"], 1);
  EXPECT_TRUE(run["progress"]["pending"].empty());
  EXPECT_TRUE(run["duration_ms"].is_number());

  auto listed = JsonOf(Get("/v1/runs?limit=1"));
  ASSERT_EQ(listed["runs"].size(), 1u);
  EXPECT_EQ(listed["runs"][0]["id"], id);
  EXPECT_EQ(JsonOf(Get("/v1/runs?status=running"))["runs"].size(), 0u);

  // Everything is staged: nothing to do, no run recorded.
  auto quiet = PostRunWhenIdle("{}");
  EXPECT_EQ(quiet.status, 200) << quiet.body;
  EXPECT_EQ(JsonOf(quiet)["status"], "nothing_to_do");
  EXPECT_TRUE(JsonOf(quiet)["run_id"].is_null());

  EXPECT_EQ(Post("/v1/runs", R"({"tables": ["nope"]})").status, 404);
  EXPECT_EQ(Post("/v1/runs", R"({"tables": ["../etc"]})").status, 400);
  EXPECT_EQ(Post("/v1/runs", R"({"tables": "orders"})").status, 400);
  EXPECT_EQ(Get("/v1/runs/999999999").status, 404);
  EXPECT_EQ(Get("/v1/runs/abc").status, 400);
  EXPECT_EQ(Get("/v1/runs?status=bogus").status, 400);
}

TEST_F(DaemonTest, ASecondRunOfTablesAlreadyRunningIs409) {
  // A rebuild big enough to still be running when the second request comes.
  for (int i = 0; i < 8; ++i)
    Land("big/part-" + std::to_string(i) + ".parquet", 250'000, i * 250'000);
  Start();
  ASSERT_TRUE(WaitForRows("big", 2'000'000, 120s));

  auto first = PostRunWhenIdle(R"({"tables": ["big"], "full_refresh": true})");
  ASSERT_EQ(first.status, 202) << first.body;
  auto second = Post("/v1/runs", R"({"tables": ["big"], "full_refresh": true})");
  auto every = Post("/v1/runs", R"({"full_refresh": true})");
  const int64_t id = JsonOf(first)["run_id"];
  // While it runs, its progress shows the table still pending.
  auto during = JsonOf(Get("/v1/runs/" + std::to_string(id)));
  EXPECT_EQ(second.status, 409) << second.body;
  EXPECT_EQ(ErrorCode(second), "run_conflict");
  EXPECT_EQ(every.status, 409) << "a run of every table waits for none";
  if (during["status"] == "running") {
    EXPECT_EQ(during["progress"]["tables_total"], 1);
    EXPECT_EQ(during["progress"]["tables_done"], 0);
    EXPECT_EQ(during["progress"]["pending"], json::array({"big"}));
  }
  // Deleting the state of a running table would be undone by the run: refused.
  auto del = Delete("/v1/state/tables/big");
  if (JsonOf(Get("/v1/runs/" + std::to_string(id)))["status"] == "running") {
    EXPECT_EQ(del.status, 409) << del.body;
  }
  EXPECT_EQ(WaitForRun(id)["status"], "succeeded");
  // Once it has finished, the table can run again.
  auto third = PostRunWhenIdle(R"({"tables": ["big"], "full_refresh": true})");
  EXPECT_EQ(third.status, 202) << third.body;
  WaitForRun(JsonOf(third)["run_id"]);
}

TEST_F(DaemonTest, ATableKnownOnlyByItsBatchesIsNewUnderTheConfigsPolicy) {
  Start();
  fs::create_directories(landing() / "broken");
  std::ofstream(landing() / "broken" / "x.parquet") << "not parquet at all";
  ASSERT_TRUE(PollUntil(
      [&] { return Table("broken").value("/batches/quarantined"_json_pointer, 0) == 1; }, 30s))
      << Get("/v1/tables").body;
  auto broken = Table("broken");
  EXPECT_EQ(broken["status"], "new") << broken.dump();
  EXPECT_EQ(broken["policy"], "evolve");
  EXPECT_TRUE(broken["last_run"].is_null());
}

TEST_F(DaemonTest, QuarantinedBatchesAreListedAndCanBeRetriedOnceFixed) {
  Start();
  Land("orders/good.parquet", 10);
  fs::create_directories(landing() / "orders");
  std::ofstream(landing() / "orders" / "bad.parquet") << "this is not parquet";
  ASSERT_TRUE(PollUntil(
      [&] { return Table("orders").value("/batches/quarantined"_json_pointer, 0) == 1; }, 30s))
      << Get("/v1/tables").body;
  ASSERT_TRUE(WaitForRows("orders", 10));
  // Recorded, then moved (the table list above counts it as soon as the
  // daemon knows, a moment before).
  ASSERT_TRUE(PollUntil([&] { return fs::exists(quarantine() / "orders" / "bad.parquet"); }, 30s));

  auto listed = JsonOf(Get("/v1/batches?status=quarantined"));
  ASSERT_EQ(listed["batches"].size(), 1u) << listed.dump();
  const auto& bad = listed["batches"][0];
  EXPECT_EQ(bad["id"], "orders/bad.parquet");
  EXPECT_EQ(bad["table"], "orders");
  EXPECT_EQ(bad["error_code"], "not_parquet");
  EXPECT_FALSE(fs::exists(landing() / "orders" / "bad.parquet")) << "moved to the quarantine dir";
  // The rows commit in the warehouse before the run records the batch as
  // staged in the state store; a slow build (TSan) sees the gap.
  EXPECT_TRUE(PollUntil(
      [&] { return JsonOf(Get("/v1/batches?table=orders&status=staged"))["batches"].size() == 1; },
      30s));
  EXPECT_EQ(JsonOf(Get("/v1/batches?table=customers"))["batches"].size(), 0u);
  EXPECT_EQ(Get("/v1/batches?status=lost").status, 400);

  // The operator fixes the file where it was put aside, then retries it.
  fs::remove(quarantine() / "orders" / "bad.parquet");
  WriteParquet(quarantine() / "orders" / "bad.parquet",
               "SELECT (1000 + i)::INTEGER AS id, 'x' AS name, 0.5 AS amount FROM range(5) t(i)");
  auto retry = Post("/v1/batches/" + UrlEncode("orders/bad.parquet") + "/retry", "");
  ASSERT_EQ(retry.status, 202) << retry.body;
  EXPECT_EQ(JsonOf(retry)["table"], "orders");
  ASSERT_TRUE(WaitForRows("orders", 15)) << Get("/v1/tables").body;
  EXPECT_TRUE(fs::exists(landing() / "orders" / "bad.parquet"))
      << "moved back into the landing dir";
  EXPECT_EQ(JsonOf(Get("/v1/batches?status=quarantined"))["batches"].size(), 0u);

  auto staged = Post("/v1/batches/" + UrlEncode("orders/bad.parquet") + "/retry", "");
  EXPECT_EQ(staged.status, 409);
  EXPECT_EQ(ErrorCode(staged), "batch_conflict");
  EXPECT_EQ(Post("/v1/batches/" + UrlEncode("orders/none.parquet") + "/retry", "").status, 404);
}

TEST_F(DaemonTest, DeletingStateMakesTheNextRunRebuild) {
  Start();
  Land("orders/part-0.parquet", 10);
  ASSERT_TRUE(WaitForRows("orders", 10));
  // The rows are committed before the job that staged them has recorded its
  // run and ended; until then the delete is refused (409) and may be retried.
  HttpResult deleted;
  ASSERT_TRUE(PollUntil(
      [&] {
        deleted = Delete("/v1/state/tables/orders");
        return deleted.status != 409;
      },
      10s));
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_EQ(JsonOf(deleted)["deleted"], true);
  EXPECT_EQ(Table("orders")["status"], "reset");

  auto plan = JsonOf(Get("/v1/plan"));
  EXPECT_EQ(plan["tables"][0]["action"], "rebuild");
  EXPECT_EQ(plan["tables"][0]["reasons"][0]["code"], "state_deleted");
  auto run = PostRunWhenIdle(R"({"tables": ["orders"]})");
  ASSERT_EQ(run.status, 202) << run.body;
  auto done = WaitForRun(JsonOf(run)["run_id"]);
  EXPECT_EQ(done["tables"][0]["action"], "rebuild");
  EXPECT_TRUE(WaitForRows("orders", 10));

  auto missing = Delete("/v1/state/tables/nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(ErrorCode(missing), "table_not_found");
}

TEST_F(DaemonTest, WithTokensV1NeedsOneAndProbesStayOpen) {
  token_ = kToken;
  Start(std::string("  tokens: [") + kToken + "]\n");
  auto anonymous = HttpGet(port_, "/v1/tables");
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(anonymous.Header("WWW-Authenticate"), R"(Bearer realm="landfall")");
  EXPECT_EQ(ErrorCode(anonymous), "unauthorized");
  auto wrong = HttpGet(port_, "/v1/tables", "wrong-token-0123456789");
  EXPECT_EQ(wrong.status, 401);
  EXPECT_THAT(wrong.Header("WWW-Authenticate"), HasSubstr("invalid_token"));
  EXPECT_EQ(HttpPost(port_, "/v1/runs", "{}").status, 401);
  EXPECT_EQ(HttpDelete(port_, "/v1/state/tables/x").status, 401);
  EXPECT_EQ(Get("/v1/tables").status, 200);
  EXPECT_EQ(Get("/v1/openapi.json").status, 200);
  // A single daemon is no cluster.
  auto cluster = Get("/v1/cluster");
  EXPECT_EQ(cluster.status, 200);
  EXPECT_EQ(nlohmann::json::parse(cluster.body)["enabled"], false) << cluster.body;
  EXPECT_EQ(HttpGet(port_, "/healthz").status, 200);
  EXPECT_EQ(HttpGet(port_, "/readyz").status, 200);
  EXPECT_EQ(HttpGet(port_, "/metrics").status, 200);
  EXPECT_EQ(HttpGet(port_, "/").status, 200);
}

TEST_F(DaemonTest, ProtectedMetricsNeedATokenToo) {
  token_ = kToken;
  Start(std::string("  tokens: [") + kToken + "]\n  protect_metrics: true\n");
  EXPECT_EQ(HttpGet(port_, "/metrics").status, 401);
  EXPECT_EQ(Get("/metrics").status, 200);
  EXPECT_EQ(HttpGet(port_, "/healthz").status, 200);
}

TEST_F(DaemonTest, WithoutTokensV1IsOpen) {
  Start();
  EXPECT_EQ(HttpGet(port_, "/v1/tables").status, 200);
  auto health = JsonOf(HttpGet(port_, "/healthz"));
  EXPECT_EQ(health["status"], "ok");
  EXPECT_FALSE(health["version"].get<std::string>().empty());
  EXPECT_EQ(HttpGet(port_, "/nowhere").status, 404);
  auto wrong_method = HttpDelete(port_, "/v1/tables");
  EXPECT_EQ(wrong_method.status, 405);
  EXPECT_EQ(wrong_method.Header("Allow"), "GET");
}

class DaemonWebhookTest : public DaemonTest {
 protected:
  HttpResult Hook(const std::string& body, const std::string& signature) {
    std::vector<std::string> headers = {"Content-Type: application/json"};
    if (!signature.empty()) headers.push_back("X-Landfall-Signature: " + signature);
    return HttpRequest(port_, "POST", "/v1/webhooks/file-arrived", headers, body);
  }
  HttpResult Signed(const std::string& body, int64_t t = UnixNow()) {
    return Hook(body, api::SignWebhook(kSecret, t, body));
  }
  int WebhookLogLines() {
    const std::string text = ReadFile(log());
    int n = 0;
    for (size_t pos = text.find("webhook: "); pos != std::string::npos;
         pos = text.find("webhook: ", pos + 1))
      ++n;
    return n;
  }
};

TEST_F(DaemonWebhookTest, ASignedAnnouncementScansTheTable) {
  Start();
  Land("orders/2026/part-9.parquet", 12);
  auto r = Signed(R"({"path": "orders/2026/part-9.parquet"})");
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(JsonOf(r)["table"], "orders");
  EXPECT_EQ(JsonOf(r)["path"], "orders/2026/part-9.parquet");
  EXPECT_TRUE(WaitForRows("orders", 12));
  EXPECT_EQ(Signed(R"({"table": "orders"})").status, 202);
  EXPECT_EQ(WebhookLogLines(), 2);
}

TEST_F(DaemonWebhookTest, InvalidExpiredAndReplayedSignaturesAre401AndNothingHappens) {
  Start();
  Land("orders/part-0.parquet", 3);
  const std::string body = R"({"table": "orders"})";
  auto missing = Hook(body, "");
  EXPECT_EQ(missing.status, 401);
  EXPECT_EQ(ErrorCode(missing), "signature_missing");
  auto invalid = Hook(body, api::SignWebhook("not-the-secret-0123456789", UnixNow(), body));
  EXPECT_EQ(invalid.status, 401);
  EXPECT_EQ(ErrorCode(invalid), "signature_invalid");
  auto tampered = Hook(R"({"table": "other"})", api::SignWebhook(kSecret, UnixNow(), body));
  EXPECT_EQ(ErrorCode(tampered), "signature_invalid");
  auto expired = Signed(body, UnixNow() - 301);
  EXPECT_EQ(expired.status, 401);
  EXPECT_EQ(ErrorCode(expired), "signature_expired");
  EXPECT_EQ(ErrorCode(Signed(body, UnixNow() + 301)), "signature_expired");
  EXPECT_EQ(ErrorCode(Hook(body, "t=abc,v1=00")), "signature_malformed");

  const std::string signature = api::SignWebhook(kSecret, UnixNow(), body);
  EXPECT_EQ(Hook(body, signature).status, 202);
  auto replayed = Hook(body, signature);
  EXPECT_EQ(replayed.status, 401);
  EXPECT_EQ(ErrorCode(replayed), "signature_replayed");
  EXPECT_EQ(WebhookLogLines(), 1) << "only the one good request did anything";
}

TEST_F(DaemonWebhookTest, PathsOutsideTheLandingDirAre400) {
  Start();
  fs::create_directories(dir_ / "outside");
  WriteParquet(dir_ / "outside" / "secret.parquet", "SELECT 1 AS x");
  Land("orders/part-0.parquet", 1);
  fs::create_symlink(dir_ / "outside" / "secret.parquet", landing() / "orders" / "link.parquet");
  fs::create_directory_symlink(dir_ / "outside", landing() / "escape");
  const std::vector<std::string> bodies = {
      R"({"path": "../outside/secret.parquet"})",
      R"({"path": "orders/../../outside/secret.parquet"})",
      json{{"path", (dir_ / "outside" / "secret.parquet").string()}}.dump(),
      R"({"path": "orders/link.parquet"})",
      R"({"path": "escape/secret.parquet"})",
      R"({"table": "escape"})",
      R"({"table": ".."})",
      R"({"path": "orders/./part-0.parquet"})",
  };
  for (const auto& body : bodies) {
    auto r = Signed(body);
    EXPECT_EQ(r.status, 400) << body << " -> " << r.body;
    EXPECT_EQ(ErrorCode(r), "invalid_request") << body;
  }
  EXPECT_EQ(Signed(R"({"path": "orders/missing.parquet"})").status, 404);
  EXPECT_EQ(Signed(R"({"nothing": 1})").status, 400);
  EXPECT_EQ(WebhookLogLines(), 0);
}

TEST_F(DaemonTest, OversizedBodiesAre413AndSlowClientsAreCutOff) {
  Start("  body_limit_bytes: 1024\n  read_timeout_ms: 500\n  idle_timeout_ms: 500\n");
  auto big = Post("/v1/runs", "{\"tables\": [\"" + std::string(2000, 'x') + "\"]}");
  EXPECT_EQ(big.status, 413) << big.error;
  EXPECT_EQ(ErrorCode(big), "body_too_large");

  RawConnection slow(port_);
  ASSERT_TRUE(slow.ok());
  slow.Send("GET /v1/tables HTTP/1.1\r\nHost: x\r\n");  // and nothing more
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(slow.WaitClosed(5s));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  EXPECT_EQ(HttpGet(port_, "/healthz").status, 200) << "the server is fine";
}

// Values of unlabeled series in a Prometheus text scrape.
double MetricValue(const std::string& text, const std::string& series) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

TEST_F(DaemonTest, MetricsMoveWhenFilesAreStagedAndPassPromtool) {
  Start();
  const std::string before = HttpGet(port_, "/metrics").body;
  EXPECT_EQ(MetricValue(before, "landfall_batches_staged_total"), 0);
  Land("orders/part-0.parquet", 100);
  Land("orders/part-1.parquet", 20, 100);
  Land("events/part-0.parquet", 3);
  fs::create_directories(landing() / "events");
  std::ofstream(landing() / "events" / "broken.parquet") << "not parquet at all";
  ASSERT_TRUE(WaitForRows("orders", 120));
  ASSERT_TRUE(WaitForRows("events", 3));
  ASSERT_TRUE(PollUntil([&] { return Table("events")["batches"]["quarantined"] == 1; }, 20s));
  Get("/v1/tables/orders");

  auto scrape = HttpGet(port_, "/metrics");
  ASSERT_EQ(scrape.status, 200);
  EXPECT_THAT(scrape.Header("Content-Type"), HasSubstr("text/plain; version=0.0.4"));
  const std::string& after = scrape.body;
  EXPECT_EQ(MetricValue(after, "landfall_batches_staged_total"), 3);
  EXPECT_EQ(MetricValue(after, "landfall_rows_staged_total"), 123);
  EXPECT_GE(MetricValue(after, "landfall_batches_discovered_total"), 3);
  EXPECT_EQ(MetricValue(after, "landfall_pending_batches"), 0);
  EXPECT_GE(MetricValue(after, "landfall_landing_to_staged_seconds_count"), 3);
  EXPECT_GE(MetricValue(after, "landfall_watcher_rescans_total"), 1) << "the start-up scan";
  EXPECT_THAT(after, HasSubstr("landfall_batches_quarantined_total{reason="));
  EXPECT_THAT(after,
              ::testing::ContainsRegex(R"(landfall_runs_total\{outcome="succeeded"\} [1-9])"));
  EXPECT_THAT(after,
              ::testing::ContainsRegex(
                  R"(landfall_table_action_duration_seconds_count\{action="create"\} [1-9])"));
  EXPECT_THAT(
      after,
      HasSubstr(R"(landfall_http_requests_total{route="/v1/tables/{name}",status="200"} 1)"));
  EXPECT_THAT(after, HasSubstr("landfall_build_info{version="));
  EXPECT_THAT(after, ::testing::Not(HasSubstr("table=\""))) << "no per-table labels by default";

  // promtool, from Debian's prometheus package, checks the exposition format
  // and the naming conventions.
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
    if (InCi()) FAIL() << "promtool missing in CI (LANDFALL_EXTRAS=1 deploy/install-deps.sh)";
    GTEST_SKIP() << "promtool not installed";
  }
  std::ofstream(dir_ / "scrape.txt") << after;
  auto check = RunCommand(
      {"/bin/sh", "-c", "promtool check metrics < '" + (dir_ / "scrape.txt").string() + "'"});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  EXPECT_EQ(check.out + check.err, "") << "promtool has no complaint";
}

TEST_F(DaemonTest, PerTableMetricsWhenAllowed) {
  Start("  per_table_metrics: true\n");
  Land("orders/part-0.parquet", 4);
  ASSERT_TRUE(WaitForRows("orders", 4));
  auto text = HttpGet(port_, "/metrics").body;
  EXPECT_THAT(text, HasSubstr(R"(landfall_rows_staged_total{table="orders"} 4)"));
}

}  // namespace
}  // namespace landfall::testing
