// The model routes against the real `landfall serve`: real PostgreSQL, real
// DuckDB, a real HTTP client. Two models over one staging table:
// orders_clean (incremental by batch over staging.orders) and orders_total
// (a full-refresh aggregate over orders_clean).
#include <gmock/gmock.h>

#include "lib/state/state_store.h"
#include "tests/api/daemon_fixture.h"

namespace landfall::testing {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

class DaemonModelsApiTest : public DaemonTest {
 protected:
  void SetUp() override {
    DaemonTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    const fs::path models = dir_ / "models";
    fs::create_directories(models);
    std::ofstream(models / "orders_clean.sql")
        << "SELECT id, name, amount FROM staging.orders WHERE amount >= 0\n";
    std::ofstream(models / "orders_clean.yaml") << "strategy: incremental\n";
    std::ofstream(models / "orders_total.sql")
        << "SELECT count(*) AS n, sum(amount) AS total FROM analytics.orders_clean\n";
    config_extra_ = "models: {dir: models, schema: analytics}\n";
  }

  // Starts the daemon, lands one batch of 10 orders and waits until both
  // models have run on it and been recorded.
  void StartWithOneBatch() {
    Start();
    Land("orders/part-0.parquet", 10);
    ASSERT_TRUE(WaitForRows("orders", 10));
    // Rows first, then the state store's record: the model's checks run
    // between the warehouse's commit and the record.
    ASSERT_TRUE(PollUntil(
        [&] {
          const json m = Model("orders_total");
          return m.value("rows", json()) == 1 && !m.value("last_run", json()).is_null();
        },
        30s))
        << JsonOf(Get("/v1/models")).dump() << "\n"
        << ReadFile(log());
  }

  // POST /v1/runs (retrying 409) and the run's outcome once it has ended.
  json RunAndWait(const std::string& body) {
    auto started = PostRunWhenIdle(body);
    EXPECT_EQ(started.status, 202) << started.body;
    const int64_t id = JsonOf(started).value("run_id", int64_t{0});
    HttpResult outcome;
    EXPECT_TRUE(PollUntil(
        [&] {
          outcome = Get("/v1/runs/" + std::to_string(id) + "/outcome");
          return outcome.status == 200;
        },
        60s))
        << outcome.body;
    return JsonOf(outcome);
  }

  // The entry of model `name` in a run's or plan's "models".
  static json StepOf(const json& doc, const std::string& name) {
    for (const auto& m : doc.value("models", json::array())) {
      if (m["model"] == name) return m;
    }
    return json::object();
  }
  static std::string FirstReason(const json& step) {
    const json reasons = step.value("reasons", json::array());
    return reasons.empty() ? "" : reasons[0].value("code", "");
  }
};

TEST_F(DaemonModelsApiTest, ModelsAreListedInDagOrderWithTheirLastRunRowsAndNeighbours) {
  StartWithOneBatch();
  const json all = JsonOf(Get("/v1/models"));
  ASSERT_EQ(all["models"].size(), 2u) << all.dump();
  EXPECT_TRUE(all["models_error"].is_null());
  const json clean = all["models"][0];
  const json total = all["models"][1];
  EXPECT_EQ(clean["name"], "orders_clean") << "upstream first";
  EXPECT_EQ(clean["strategy"], "incremental");
  EXPECT_EQ(clean["status"], "active");
  EXPECT_EQ(clean["rows"], 10);
  EXPECT_EQ(clean["file"], "orders_clean.sql");
  EXPECT_EQ(clean["upstream"], json({"staging.orders"}));
  EXPECT_EQ(clean["downstream"], json({"analytics.orders_total"}));
  ASSERT_TRUE(clean["last_run"].is_object()) << clean.dump();
  EXPECT_EQ(clean["last_run"]["status"], "succeeded");
  EXPECT_EQ(clean["last_run"]["reasons"][0]["code"], "new_model");
  EXPECT_EQ(clean["last_run"]["rows_inserted"], 10);

  EXPECT_EQ(total["name"], "orders_total");
  EXPECT_EQ(total["strategy"], "full_refresh");
  EXPECT_EQ(total["rows"], 1);
  EXPECT_EQ(total["upstream"], json({"analytics.orders_clean"}));
  EXPECT_EQ(total["downstream"], json::array());
}

TEST_F(DaemonModelsApiTest, OneModelShowsItsSqlConfigColumnsAndRecentRunsWithReasons) {
  StartWithOneBatch();
  Land("orders/part-1.parquet", 5, 100);
  // The rows are visible when the model's warehouse transaction commits; its
  // run record reaches the state store just after: wait for both.
  ASSERT_TRUE(PollUntil(
      [&] {
        return Model("orders_clean").value("rows", json()) == 15 &&
               JsonOf(Get("/v1/models/orders_clean")).value("recent_runs", json::array()).size() == 2;
      },
      30s));

  auto r = Get("/v1/models/orders_clean");
  ASSERT_EQ(r.status, 200) << r.body;
  const json m = JsonOf(r);
  EXPECT_THAT(m.value("sql", ""), HasSubstr("FROM staging.orders"));
  EXPECT_EQ(m["config"]["strategy"], "incremental");
  EXPECT_EQ(m["config"]["incremental"]["by"], "batch");
  ASSERT_EQ(m["columns"].size(), 3u) << m.dump();
  EXPECT_EQ(m["columns"][0]["name"], "id");
  EXPECT_EQ(m["applied_batches"], 1) << "batches applied since the rebuild that created it";
  EXPECT_TRUE(m["watermark"].is_null()) << "no watermark for incremental by batch";
  ASSERT_EQ(m["recent_runs"].size(), 2u) << m.dump();
  EXPECT_EQ(m["recent_runs"][0]["action"], "run") << "newest first: the second batch applied";
  EXPECT_EQ(m["recent_runs"][0]["reasons"][0]["code"], "upstream_changed");
  EXPECT_EQ(m["recent_runs"][0]["rows_inserted"], 5);
  EXPECT_EQ(m["recent_runs"][1]["reasons"][0]["code"], "new_model");

  auto missing = Get("/v1/models/nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(JsonOf(missing)["error"]["code"], "model_not_found");
}

TEST_F(DaemonModelsApiTest, ChecksAreServedNewestFirstWithTheirObservedValues) {
  std::ofstream(dir_ / "models" / "orders_total.yaml")
      << "checks:\n  - row_count: {min: 1}\n  - expression: n > 100\n    severity: warn\n";
  StartWithOneBatch();
  auto r = Get("/v1/models/orders_total/checks");
  ASSERT_EQ(r.status, 200) << r.body;
  const json doc = JsonOf(r);
  EXPECT_EQ(doc["model"], "orders_total");
  // Newest first: the anomaly test, then the checks in config order reversed.
  ASSERT_GE(doc["checks"].size(), 3u) << doc.dump();
  EXPECT_EQ(doc["checks"][0]["check"], "row_count_anomaly");
  EXPECT_EQ(doc["checks"][1]["check"], "expression(n > 100)");
  EXPECT_EQ(doc["checks"][1]["severity"], "warn");
  EXPECT_EQ(doc["checks"][1]["passed"], false);
  EXPECT_EQ(doc["checks"][1]["observed"], 1);
  EXPECT_EQ(doc["checks"][2]["check"], "row_count");
  EXPECT_EQ(doc["checks"][2]["passed"], true);
  EXPECT_EQ(doc["checks"][2]["observed"], 1);
  EXPECT_GT(doc["checks"][2].value("run_id", 0), 0);
  EXPECT_TRUE(doc["checks"][2]["at"].is_string()) << doc.dump();
  // A warn check does not fail the model.
  EXPECT_EQ(Model("orders_total").value("status", ""), "active");
  EXPECT_THAT(Get("/metrics").body, HasSubstr(R"(landfall_checks_total{result="warn"})"));

  auto missing = Get("/v1/models/nope/checks");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(JsonOf(missing)["error"]["code"], "model_not_found");
}

TEST_F(DaemonModelsApiTest, LineageNamesTheColumnsEachModelReadsAndWhoReadsThem) {
  StartWithOneBatch();
  auto all = Get("/v1/lineage");
  ASSERT_EQ(all.status, 200) << all.body;
  const json models = JsonOf(all)["models"];
  ASSERT_EQ(models.size(), 2u);
  EXPECT_EQ(models[0]["model"], "orders_clean");
  EXPECT_EQ(models[0]["reads"], json::parse(R"({"staging.orders":["amount","id","name"]})"));
  EXPECT_EQ(models[1]["reads"], json::parse(R"({"analytics.orders_clean":["amount"]})"));

  auto one = Get("/v1/models/orders_clean/lineage");
  ASSERT_EQ(one.status, 200) << one.body;
  const json lineage = JsonOf(one);
  EXPECT_TRUE(lineage["known"].get<bool>());
  std::map<std::string, json> columns;
  for (const auto& c : lineage["columns"]) columns[c["name"]] = c;
  EXPECT_EQ(columns["amount"]["sources"], json::parse(R"({"staging.orders":["amount"]})"));
  EXPECT_EQ(columns["amount"]["read_by"], json::parse(R"(["orders_total"])"));
  EXPECT_EQ(columns["name"]["read_by"], json::array());

  EXPECT_EQ(Get("/v1/models/nope/lineage").status, 404);
}

TEST_F(DaemonModelsApiTest, TheDagHasStagingTablesAndModelsAsNodesAndReadsAsEdges) {
  StartWithOneBatch();
  auto r = Get("/v1/dag");
  ASSERT_EQ(r.status, 200) << r.body;
  const json dag = JsonOf(r);
  std::vector<std::string> nodes;
  for (const auto& n : dag["nodes"])
    nodes.push_back(n["id"].get<std::string>() + ":" + n["kind"].get<std::string>());
  EXPECT_EQ(nodes,
            (std::vector<std::string>{"staging.orders:staging", "analytics.orders_clean:model",
                                      "analytics.orders_total:model"}));
  EXPECT_EQ(dag["edges"], json::parse(R"([{"from":"staging.orders","to":"analytics.orders_clean"},
                                          {"from":"analytics.orders_clean","to":"analytics.orders_total"}])"));
}

TEST_F(DaemonModelsApiTest, PlanListsTheModelsStepsAndTakesAModelsSelection) {
  StartWithOneBatch();
  auto r = Get("/v1/plan?models=orders_total&full_refresh=true");
  ASSERT_EQ(r.status, 200) << r.body;
  const json plan = JsonOf(r);
  const json total = StepOf(plan, "orders_total");
  EXPECT_EQ(total["action"], "rebuild") << plan.dump();
  EXPECT_EQ(FirstReason(total), "full_refresh_requested");
  EXPECT_EQ(total["upstream"], json({"analytics.orders_clean"}));
  EXPECT_EQ(StepOf(plan, "orders_clean")["action"], "skip");

  auto text = Get("/v1/plan?format=text&models=orders_total&full_refresh=true");
  ASSERT_EQ(text.status, 200);
  EXPECT_THAT(JsonOf(text).value("text", ""),
              HasSubstr("model orders_total       rebuild  full_refresh_requested"));

  auto bad = Get("/v1/plan?models=nope");
  EXPECT_EQ(bad.status, 400) << bad.body;
  EXPECT_EQ(JsonOf(bad)["error"]["code"], "model_selection_invalid");
}

TEST_F(DaemonModelsApiTest, RunWithModelsAndFullRefreshRebuildsOnlyThoseModels) {
  StartWithOneBatch();
  const json outcome = RunAndWait(R"({"models": "orders_total", "full_refresh": true})");
  const json total = StepOf(outcome, "orders_total");
  EXPECT_EQ(total["action"], "rebuild") << outcome.dump();
  EXPECT_EQ(FirstReason(total), "full_refresh_requested");
  EXPECT_EQ(StepOf(outcome, "orders_clean")["action"], "skip");
  EXPECT_TRUE(outcome["tables"].empty()) << "no table is rebuilt";
  EXPECT_EQ(Table("orders")["rows"], 10);

  // The same selection as an array of terms.
  const json again = RunAndWait(R"({"models": ["orders_clean"], "full_refresh": true})");
  EXPECT_EQ(StepOf(again, "orders_clean")["action"], "rebuild") << again.dump();
  EXPECT_EQ(Model("orders_clean")["rows"], 10) << "rebuilt from every batch";

  const std::string metrics = Get("/metrics").body;
  EXPECT_THAT(
      metrics,
      HasSubstr(
          R"(landfall_model_runs_total{action="rebuild",result="ok",strategy="full_refresh"})"));
  EXPECT_THAT(metrics, HasSubstr("landfall_model_rows_written_total"));
  EXPECT_THAT(metrics, HasSubstr("landfall_models_failing 0"));
}

TEST_F(DaemonModelsApiTest, BadModelSelectionsAre400AndNothingRuns) {
  StartWithOneBatch();
  const int64_t runs_before = JsonOf(Get("/v1/runs?limit=1"))["runs"][0].value("id", int64_t{0});
  auto unknown = PostRunWhenIdle(R"({"models": "nope+"})");
  EXPECT_EQ(unknown.status, 400) << unknown.body;
  EXPECT_EQ(JsonOf(unknown)["error"]["code"], "model_selection_invalid");
  for (const char* body : {R"({"models": 5})", R"({"models": ["a,b"]})", R"({"models": [""]})"}) {
    auto r = Post("/v1/runs", body);
    EXPECT_EQ(r.status, 400) << body << ": " << r.body;
    EXPECT_EQ(JsonOf(r)["error"]["code"], "invalid_request") << body;
  }
  EXPECT_EQ(JsonOf(Get("/v1/runs?limit=1"))["runs"][0].value("id", int64_t{0}), runs_before);
}

TEST_F(DaemonModelsApiTest, DeletedModelStateIsRebuiltByTheNextRunWithStateDeleted) {
  StartWithOneBatch();
  HttpResult r;
  ASSERT_TRUE(PollUntil(
      [&] {
        r = Delete("/v1/state/models/orders_clean");
        return r.status != 409;  // models were running: retried, as the CLI does
      },
      30s));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(JsonOf(r), json::parse(R"({"model":"orders_clean","deleted":true})"));
  EXPECT_EQ(Model("orders_clean")["status"], "reset");

  const json outcome = RunAndWait(R"({"models": "orders_clean"})");
  const json clean = StepOf(outcome, "orders_clean");
  EXPECT_EQ(clean["action"], "rebuild") << outcome.dump();
  EXPECT_EQ(FirstReason(clean), "state_deleted");
  EXPECT_EQ(Model("orders_clean")["status"], "active");
  EXPECT_EQ(Model("orders_clean")["rows"], 10);

  auto missing = Delete("/v1/state/models/nope");
  EXPECT_EQ(missing.status, 404) << missing.body;
  EXPECT_EQ(JsonOf(missing)["error"]["code"], "model_not_found");
}

// The partitions are written to the state store here, as the runner of
// time-interval models writes them; the route reads them back.
TEST_F(DaemonModelsApiTest, PartitionsAreListedByKeyFilteredAndUnknownModelsAre404) {
  StartWithOneBatch();
  auto store = state::OpenPostgres({.url = PostgresUrl(), .environment = env_});
  ASSERT_TRUE(store) << store.error().ToString();
  constexpr int64_t kApril1Us = 1'775'001'600'000'000LL;
  constexpr int64_t kDayUs = 86'400'000'000LL;
  std::vector<state::PartitionRecord> days;
  for (int day = 0; day < 3; ++day) {
    days.push_back({.model = "orders_clean",
                    .key = "2026-04-0" + std::to_string(day + 1),
                    .window_start_us = kApril1Us + day * kDayUs,
                    .window_end_us = kApril1Us + (day + 1) * kDayUs,
                    .status = day == 1 ? state::PartitionStatus::kFailed
                                       : state::PartitionStatus::kComputed,
                    .computed_at_us = kApril1Us + (day + 1) * kDayUs + 1'500'000,
                    .window_closed = true,
                    .row_count = 10 + day,
                    .checksum = std::to_string(10 + day) + ":42",
                    .duration_us = 2'500,
                    .run_id = day == 2 ? 0 : 7,
                    .error = day == 1 ? "Conversion Error: day 2" : ""});
  }
  ASSERT_TRUE((*store)->SavePartitions(days));

  auto r = Get("/v1/models/orders_clean/partitions");
  ASSERT_EQ(r.status, 200) << r.body;
  const json all = JsonOf(r);
  EXPECT_EQ(all["model"], "orders_clean");
  ASSERT_EQ(all["partitions"].size(), 3u) << all.dump();
  const json first = all["partitions"][0];
  EXPECT_EQ(first["key"], "2026-04-01");
  EXPECT_EQ(first["status"], "computed");
  EXPECT_EQ(first["window_start"], "2026-04-01T00:00:00.000Z");
  EXPECT_EQ(first["window_end"], "2026-04-02T00:00:00.000Z");
  EXPECT_EQ(first["computed_at"], "2026-04-02T00:00:01.500Z");
  EXPECT_EQ(first["window_closed"], true);
  EXPECT_EQ(first["rows"], 10);
  EXPECT_EQ(first["checksum"], "10:42");
  EXPECT_EQ(first["duration_ms"], 2.5);
  EXPECT_EQ(first["run_id"], 7);
  EXPECT_EQ(first["error"], "");
  EXPECT_TRUE(first["updated_at"].is_string());
  EXPECT_TRUE(all["partitions"][2]["run_id"].is_null());

  const json failed = JsonOf(Get("/v1/models/orders_clean/partitions?status=failed"));
  ASSERT_EQ(failed["partitions"].size(), 1u) << failed.dump();
  EXPECT_EQ(failed["partitions"][0]["key"], "2026-04-02");
  EXPECT_EQ(failed["partitions"][0]["error"], "Conversion Error: day 2");
  const json range =
      JsonOf(Get("/v1/models/orders_clean/partitions?from=2026-04-02&to=2026-04-03&limit=1"));
  ASSERT_EQ(range["partitions"].size(), 1u) << range.dump();
  EXPECT_EQ(range["partitions"][0]["key"], "2026-04-02");

  // A model with a state row and no partitions has none; one without a row is not found.
  EXPECT_EQ(JsonOf(Get("/v1/models/orders_total/partitions"))["partitions"], json::array());
  auto missing = Get("/v1/models/nope/partitions");
  EXPECT_EQ(missing.status, 404) << missing.body;
  EXPECT_EQ(JsonOf(missing)["error"]["code"], "model_not_found");
  auto bad = Get("/v1/models/orders_clean/partitions?status=done");
  EXPECT_EQ(bad.status, 400) << bad.body;
  EXPECT_EQ(JsonOf(bad)["error"]["code"], "invalid_request");
}

// A real time-interval model run by the daemon: its first run computes every
// day from first_partition to today; a late file for one day recomputes that
// day alone. The route and the metrics follow.
TEST_F(DaemonModelsApiTest, ATimeIntervalModelsPartitionsAndMetricsFollowItsRuns) {
  const fs::path models = dir_ / "models";
  fs::remove(models / "orders_clean.sql");
  fs::remove(models / "orders_clean.yaml");
  fs::remove(models / "orders_total.sql");
  std::ofstream(models / "events_daily.sql")
      << "SELECT CAST(ts AS DATE) AS day, count(*) AS n FROM staging.events\n"
         "WHERE ts >= @start_date AND ts < @end_date GROUP BY ALL\n";
  std::ofstream(models / "events_daily.yaml")
      << "strategy: time_interval\ntime_interval:\n  time_column: day\n  granularity: day\n"
         "  first_partition: \""
      << UtcDayKey(-3) << "\"\n  source_columns: {staging.events: ts}\n";
  // Events at noon of the days `days` back, `n` of them each.
  auto land_events = [&](const std::string& name, int back, int n) {
    const fs::path temp = dir_ / "staging-area" / name;
    WriteParquet(temp, "SELECT i::INTEGER AS id, TIMESTAMP '" + UtcDayKey(-back) +
                           " 12:00:00' AS ts FROM range(" + std::to_string(n) + ") t(i)");
    fs::create_directories(landing() / "events");
    fs::rename(temp, landing() / "events" / name);
  };
  land_events("part-0.parquet", 2, 3);
  land_events("part-1.parquet", 1, 2);
  Start();

  auto partitions = [&] {
    return JsonOf(Get("/v1/models/events_daily/partitions")).value("partitions", json::array());
  };
  ASSERT_TRUE(PollUntil([&] { return partitions().size() == 4; }, 60s))
      << partitions().dump() << "\n" << ReadFile(log());
  json days = partitions();
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(days[i]["key"], UtcDayKey(i - 3));
    EXPECT_EQ(days[i]["status"], "computed") << days[i].dump();
    EXPECT_TRUE(days[i]["run_id"].is_number()) << days[i].dump();
  }
  EXPECT_EQ(days[0]["rows"], 0) << "a day without events is computed, empty";
  EXPECT_EQ(days[1]["rows"], 1);
  EXPECT_EQ(days[2]["rows"], 1);
  EXPECT_EQ(days[3]["window_closed"], false) << "today is still open";
  EXPECT_EQ(days[2]["window_closed"], true);
  EXPECT_EQ(Model("events_daily")["strategy"], "time_interval");
  // The partitions are saved before the model's action is reported: the
  // metrics may follow a moment later.
  auto metrics_show = [&](const std::string& series) {
    return PollUntil([&] { return Get("/metrics").body.find(series) != std::string::npos; }, 30s);
  };
  EXPECT_TRUE(
      metrics_show(R"(landfall_model_partitions_total{model="events_daily",result="computed"} 4)"));
  EXPECT_TRUE(
      metrics_show(R"(landfall_model_partitions_total{model="events_daily",result="failed"} 0)"));
  EXPECT_TRUE(
      metrics_show(R"(landfall_model_partition_duration_seconds_count{model="events_daily"} 4)"));

  // A late file for three days back: that day alone is computed again.
  land_events("part-2.parquet", 3, 4);
  ASSERT_TRUE(PollUntil([&] { return partitions()[0].value("rows", -1) == 1; }, 60s))
      << partitions().dump() << "\n" << ReadFile(log());
  const json before = days;
  days = partitions();
  EXPECT_NE(days[0]["run_id"], before[0]["run_id"]);
  for (int i = 1; i < 4; ++i) {
    EXPECT_EQ(days[i]["computed_at"], before[i]["computed_at"]) << "not computed again: " << i;
  }
  EXPECT_TRUE(
      metrics_show(R"(landfall_model_partitions_total{model="events_daily",result="computed"} 5)"));
  const json one = JsonOf(Get("/v1/models/events_daily/partitions?from=" + UtcDayKey(-3) +
                              "&to=" + UtcDayKey(-3)));
  ASSERT_EQ(one["partitions"].size(), 1u) << one.dump();
}

TEST_F(DaemonModelsApiTest, InvalidModelFilesAre422OnTheDagAndAnErrorInTheList) {
  StartWithOneBatch();
  std::ofstream(dir_ / "models" / "orders_total.sql") << "SELECT * FROM staging.nowhere\n";
  auto dag = Get("/v1/dag");
  EXPECT_EQ(dag.status, 422) << dag.body;
  EXPECT_EQ(JsonOf(dag)["error"]["code"], "model_unknown_table");
  const json all = JsonOf(Get("/v1/models"));
  EXPECT_THAT(all.value("models_error", ""), HasSubstr("orders_total"));
  EXPECT_EQ(all["models"].size(), 2u) << "the state store's models are still listed";
}

}  // namespace
}  // namespace landfall::testing
