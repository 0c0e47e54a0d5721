// The model layer's state (models, model run records, DAG snapshots) in the
// PostgreSQL state store, against a real server (tests/with-postgres.sh).
// Every test works in an environment of its own.
#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lib/state/state_store.h"
#include "tests/state/state_testing.h"
#include "tests/support/testing.h"

namespace landfall::state {
namespace {

using ::landfall::testing::PgQuery;
using ::landfall::testing::UniqueEnvironment;

nlohmann::json Json(const std::string& text) { return nlohmann::json::parse(text); }

ModelRecord MakeModel(const std::string& name) {
  ModelRecord model;
  model.name = name;
  model.strategy = "incremental";
  model.sql_hash = "sql-" + name;
  model.config_hash = "cfg-" + name;
  model.columns_json = R"({"columns":[{"name":"id","type":"BIGINT","nullable":true}]})";
  model.watermark = "2026-11-30 12:00:00";
  model.applied_batches = 7;
  model.strategy_state_json = R"({"partitions":["2026-11-30"]})";
  model.status = ModelStatus::kActive;
  model.updated_at_us = 1'767'225'600'000'000LL;
  return model;
}

ModelRunRecord MakeRun(const std::string& model, const std::string& action) {
  return {.model = model,
          .action = action,
          .reasons_json = R"([{"code":"upstream_changed","detail":"staging.orders: 2 batches"}])",
          .status = ModelRunStatus::kSucceeded,
          .rows_inserted = 10,
          .rows_updated = 2,
          .rows_deleted = 1,
          .duration_us = 1234};
}

class ModelStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LANDFALL_REQUIRE_POSTGRES();
    store_ = OpenMigrated(env_);
    ASSERT_TRUE(store_);
  }

  int64_t StartRun() {
    auto run = store_->StartRun("cli", "");
    EXPECT_TRUE(run) << run.error().ToString();
    return run.value_or(0);
  }

  std::vector<std::string> Query(const std::string& sql) { return PgQuery(sql, env_); }

  const std::string env_ = UniqueEnvironment("models");
  std::unique_ptr<StateStore> store_;
};

TEST(ModelStatusTest, NamesRoundTripAndUnknownNamesAreNone) {
  const std::pair<ModelStatus, const char*> names[] = {{ModelStatus::kNew, "new"},
                                                       {ModelStatus::kActive, "active"},
                                                       {ModelStatus::kFailed, "failed"},
                                                       {ModelStatus::kReset, "reset"}};
  for (const auto& [status, name] : names) {
    EXPECT_STREQ(ToString(status), name);
    EXPECT_EQ(ModelStatusFromString(name), status) << name;
  }
  for (const char* unknown : {"", "Active", "deleted", "orphaned"}) {
    EXPECT_EQ(ModelStatusFromString(unknown), std::nullopt) << unknown;
  }
}

TEST_F(ModelStateTest, ModelRoundTripsEveryField) {
  ModelRecord full = MakeModel("daily_revenue");
  ModelRecord bare;  // never built: no columns, watermark or strategy state; saved "now"
  bare.name = "a\"b; it's {x,y} \\ заказы";
  bare.strategy = "full_refresh";
  bare.status = ModelStatus::kFailed;
  bare.last_error = "Binder Error: column \"x\" not found";
  ASSERT_TRUE(store_->RecordModelOutcome(full, 0, nullptr));
  ASSERT_TRUE(store_->RecordModelOutcome(bare, 0, nullptr));

  auto models = store_->Models();
  ASSERT_TRUE(models) << models.error().ToString();
  ASSERT_EQ(models->size(), 2u);
  const ModelRecord& b = (*models)[0];  // by name: '"' sorts before 'd'
  const ModelRecord& f = (*models)[1];
  EXPECT_EQ(f.name, full.name);
  EXPECT_EQ(f.strategy, "incremental");
  EXPECT_EQ(f.sql_hash, full.sql_hash);
  EXPECT_EQ(f.config_hash, full.config_hash);
  EXPECT_EQ(Json(f.columns_json), Json(full.columns_json));
  EXPECT_EQ(f.watermark, full.watermark);
  EXPECT_EQ(f.applied_batches, 7);
  EXPECT_EQ(Json(f.strategy_state_json), Json(full.strategy_state_json));
  EXPECT_EQ(f.status, ModelStatus::kActive);
  EXPECT_EQ(f.last_error, "");
  EXPECT_EQ(f.updated_at_us, full.updated_at_us);

  EXPECT_EQ(b.name, bare.name);
  EXPECT_EQ(b.strategy, "full_refresh");
  EXPECT_EQ(b.columns_json, "");
  EXPECT_EQ(b.watermark, "");
  EXPECT_EQ(b.applied_batches, 0);
  EXPECT_EQ(b.strategy_state_json, "");
  EXPECT_EQ(b.status, ModelStatus::kFailed);
  EXPECT_EQ(b.last_error, bare.last_error);
  EXPECT_GT(b.updated_at_us, 0);

  // Saved again, the row is replaced whole.
  full.watermark = "";
  full.applied_batches = 9;
  full.strategy_state_json = "";
  ASSERT_TRUE(store_->RecordModelOutcome(full, 0, nullptr));
  models = store_->Models();
  ASSERT_TRUE(models) << models.error().ToString();
  ASSERT_EQ(models->size(), 2u);
  EXPECT_EQ((*models)[1].watermark, "");
  EXPECT_EQ((*models)[1].applied_batches, 9);
  EXPECT_EQ((*models)[1].strategy_state_json, "");
}

// The stored text is the wire format: other versions and operators read it.
TEST_F(ModelStateTest, ModelStatusesAreStoredAsTheirNamesAndUnknownOnesRefused) {
  for (auto status : {ModelStatus::kNew, ModelStatus::kActive, ModelStatus::kFailed,
                      ModelStatus::kReset}) {
    ModelRecord model = MakeModel(std::string("m_") + ToString(status));
    model.status = status;
    ASSERT_TRUE(store_->RecordModelOutcome(model, 0, nullptr));
  }
  EXPECT_EQ(Query("SELECT name || '=' || status FROM models WHERE environment = $1 ORDER BY name"),
            (std::vector<std::string>{"m_active=active", "m_failed=failed", "m_new=new",
                                      "m_reset=reset"}));

  Query("INSERT INTO models (environment, name, status) VALUES ($1, 'odd', 'exploded')");
  auto models = store_->Models();
  ASSERT_FALSE(models);
  EXPECT_EQ(models.error().code, "state_invalid");
  EXPECT_NE(models.error().message.find("\"exploded\""), std::string::npos)
      << models.error().message;
}

TEST_F(ModelStateTest, OutcomeWritesTheRowAndTheRecordInOneTransaction) {
  const int64_t run = StartRun();
  ModelRecord model = MakeModel("orders_clean");
  ModelRunRecord record = MakeRun("orders_clean", "run");
  ASSERT_TRUE(store_->RecordModelOutcome(model, run, &record));

  auto records = store_->ModelRuns(run);
  ASSERT_TRUE(records) << records.error().ToString();
  ASSERT_EQ(records->size(), 1u);
  const ModelRunRecord& got = (*records)[0];
  EXPECT_EQ(got.model, "orders_clean");
  EXPECT_EQ(got.action, "run");
  EXPECT_EQ(Json(got.reasons_json), Json(record.reasons_json));
  EXPECT_EQ(got.status, ModelRunStatus::kSucceeded);
  EXPECT_EQ(got.rows_inserted, 10);
  EXPECT_EQ(got.rows_updated, 2);
  EXPECT_EQ(got.rows_deleted, 1);
  EXPECT_EQ(got.duration_us, 1234);
  EXPECT_EQ(got.error, "");
  EXPECT_EQ(got.run_id, run);
  EXPECT_GT(got.recorded_at_us, 0);

  // A failing statement rolls the other back: invalid strategy state JSON
  // leaves neither the new row nor the record.
  ModelRecord bad = model;
  bad.applied_batches = 99;
  bad.strategy_state_json = "{not json";
  ModelRunRecord failed = MakeRun("orders_clean", "fail");
  failed.status = ModelRunStatus::kFailed;
  failed.error = "boom";
  auto refused = store_->RecordModelOutcome(bad, run, &failed);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "state_query_failed");
  records = store_->ModelRuns(run);
  ASSERT_TRUE(records);
  EXPECT_EQ(records->size(), 1u);
  auto models = store_->Models();
  ASSERT_TRUE(models);
  ASSERT_EQ(models->size(), 1u);
  EXPECT_EQ((*models)[0].applied_batches, 7);

  // A record alone (a skip), with reasons left empty: stored as [].
  ModelRunRecord skip{.model = "orders_clean", .action = "skip"};
  ASSERT_TRUE(store_->RecordModelOutcome(std::nullopt, run, &skip));
  records = store_->ModelRuns(run);
  ASSERT_TRUE(records);
  ASSERT_EQ(records->size(), 2u);
  EXPECT_EQ((*records)[1].action, "skip");
  EXPECT_EQ(Json((*records)[1].reasons_json), nlohmann::json::array());

  // A run this environment does not have: the record is refused.
  auto unknown = store_->RecordModelOutcome(std::nullopt, run + 1000, &skip);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, "state_not_found");
  EXPECT_EQ(Query("SELECT count(*) FROM model_runs WHERE run_id = " + std::to_string(run + 1000)),
            (std::vector<std::string>{"0"}));
}

TEST_F(ModelStateTest, DeleteModelLeavesAResetTombstoneAndKeepsItsRecords) {
  const int64_t run = StartRun();
  ModelRecord model = MakeModel("daily");
  model.status = ModelStatus::kFailed;
  model.last_error = "boom";
  ModelRunRecord record = MakeRun("daily", "run");
  ASSERT_TRUE(store_->RecordModelOutcome(model, run, &record));

  auto deleted = store_->DeleteModel("daily");
  ASSERT_TRUE(deleted) << deleted.error().ToString();
  EXPECT_TRUE(*deleted);
  auto models = store_->Models();
  ASSERT_TRUE(models) << models.error().ToString();
  ASSERT_EQ(models->size(), 1u);
  const ModelRecord& reset = (*models)[0];
  EXPECT_EQ(reset.name, "daily");
  EXPECT_EQ(reset.status, ModelStatus::kReset);
  EXPECT_EQ(reset.strategy, "incremental");  // still what it was configured as
  EXPECT_EQ(reset.sql_hash, "");
  EXPECT_EQ(reset.config_hash, "");
  EXPECT_EQ(reset.columns_json, "");
  EXPECT_EQ(reset.watermark, "");
  EXPECT_EQ(reset.applied_batches, 0);
  EXPECT_EQ(reset.strategy_state_json, "");
  EXPECT_EQ(reset.last_error, "");
  EXPECT_GT(reset.updated_at_us, model.updated_at_us);
  auto history = store_->ModelHistory("daily", 0);
  ASSERT_TRUE(history);
  EXPECT_EQ(history->size(), 1u);

  // The tombstone is a row: deleting again finds it; an unknown model is not found.
  deleted = store_->DeleteModel("daily");
  ASSERT_TRUE(deleted);
  EXPECT_TRUE(*deleted);
  deleted = store_->DeleteModel("never_seen");
  ASSERT_TRUE(deleted) << deleted.error().ToString();
  EXPECT_FALSE(*deleted);
  models = store_->Models();
  ASSERT_TRUE(models);
  EXPECT_EQ(models->size(), 1u);

  // Rebuilt, the model is active again.
  model.status = ModelStatus::kActive;
  model.last_error = "";
  ASSERT_TRUE(store_->RecordModelOutcome(model, run, &record));
  models = store_->Models();
  ASSERT_TRUE(models);
  ASSERT_EQ(models->size(), 1u);
  EXPECT_EQ((*models)[0].status, ModelStatus::kActive);
  EXPECT_EQ((*models)[0].sql_hash, "sql-daily");
}

TEST_F(ModelStateTest, HistoryIsNewestFirstAndLimitedAndRunsKeepTheirOrder) {
  std::vector<int64_t> runs;
  for (int i = 0; i < 3; ++i) {
    runs.push_back(StartRun());
    for (const char* name : {"b_model", "a_model"}) {
      ModelRunRecord record = MakeRun(name, i == 0 ? "rebuild" : "run");
      record.rows_inserted = i;
      ASSERT_TRUE(store_->RecordModelOutcome(MakeModel(name), runs.back(), &record));
    }
  }
  // Records of a model without a row are kept, and left out of LastModelRuns.
  ModelRunRecord orphan = MakeRun("rowless", "fail");
  ASSERT_TRUE(store_->RecordModelOutcome(std::nullopt, runs[0], &orphan));

  auto all = store_->ModelHistory("a_model", 0);
  ASSERT_TRUE(all) << all.error().ToString();
  ASSERT_EQ(all->size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ((*all)[i].run_id, runs[2 - i]);
    EXPECT_EQ((*all)[i].rows_inserted, 2 - i);
  }
  EXPECT_EQ((*all)[2].action, "rebuild");
  auto two = store_->ModelHistory("a_model", 2);
  ASSERT_TRUE(two);
  ASSERT_EQ(two->size(), 2u);
  EXPECT_EQ((*two)[0].run_id, runs[2]);
  auto none = store_->ModelHistory("unknown", 5);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());

  auto in_run = store_->ModelRuns(runs[1]);
  ASSERT_TRUE(in_run) << in_run.error().ToString();
  ASSERT_EQ(in_run->size(), 2u);
  EXPECT_EQ((*in_run)[0].model, "b_model");  // as recorded, not by name
  EXPECT_EQ((*in_run)[1].model, "a_model");
  auto empty = store_->ModelRuns(runs[2] + 1000);
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());

  auto last = store_->LastModelRuns();
  ASSERT_TRUE(last) << last.error().ToString();
  ASSERT_EQ(last->size(), 2u);
  EXPECT_EQ((*last)[0].model, "a_model");
  EXPECT_EQ((*last)[0].run_id, runs[2]);
  EXPECT_EQ((*last)[1].model, "b_model");
  EXPECT_EQ((*last)[1].run_id, runs[2]);
}

TEST_F(ModelStateTest, DagSnapshotIsStoredOnlyWhenItChanges) {
  auto latest = store_->LatestDag();
  ASSERT_TRUE(latest) << latest.error().ToString();
  EXPECT_EQ(*latest, std::nullopt);

  const std::string dag_a = R"({"nodes":["staging.orders","daily"],"edges":[["staging.orders","daily"]]})";
  // The same value, spelled with other spacing and key order.
  const std::string dag_a_again =
      R"({ "edges": [ ["staging.orders", "daily"] ], "nodes": ["staging.orders", "daily"] })";
  const std::string dag_b = R"({"nodes":["staging.orders","daily","weekly"],)"
                            R"("edges":[["staging.orders","daily"],["daily","weekly"]]})";
  std::vector<int64_t> runs;
  for (int i = 0; i < 4; ++i) runs.push_back(StartRun());

  auto stored = store_->SaveDagSnapshot(runs[0], dag_a);
  ASSERT_TRUE(stored) << stored.error().ToString();
  EXPECT_TRUE(*stored);
  stored = store_->SaveDagSnapshot(runs[1], dag_a_again);
  ASSERT_TRUE(stored) << stored.error().ToString();
  EXPECT_FALSE(*stored);
  stored = store_->SaveDagSnapshot(runs[2], dag_b);
  ASSERT_TRUE(stored);
  EXPECT_TRUE(*stored);
  latest = store_->LatestDag();
  ASSERT_TRUE(latest && *latest);
  EXPECT_EQ(Json(**latest), Json(dag_b));
  // Back to an older DAG: it differs from the newest, so it is stored.
  stored = store_->SaveDagSnapshot(runs[3], dag_a);
  ASSERT_TRUE(stored);
  EXPECT_TRUE(*stored);
  EXPECT_EQ(Query("SELECT run_id FROM dag_snapshots WHERE environment = $1 ORDER BY id"),
            (std::vector<std::string>{std::to_string(runs[0]), std::to_string(runs[2]),
                                      std::to_string(runs[3])}));
  latest = store_->LatestDag();
  ASSERT_TRUE(latest && *latest);
  EXPECT_EQ(Json(**latest), Json(dag_a));

  auto unknown = store_->SaveDagSnapshot(runs[3] + 1000, dag_b);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, "state_not_found");
  auto invalid = store_->SaveDagSnapshot(runs[3], "{not json");
  ASSERT_FALSE(invalid);
  EXPECT_EQ(invalid.error().code, "state_query_failed");
  EXPECT_EQ(Query("SELECT count(*) FROM dag_snapshots WHERE environment = $1"),
            (std::vector<std::string>{"3"}));
}

TEST_F(ModelStateTest, EnvironmentsShareNoModelState) {
  const std::string other_env = UniqueEnvironment("models_other");
  auto other = OpenMigrated(other_env);
  ASSERT_TRUE(other);
  const int64_t run = StartRun();
  ModelRunRecord record = MakeRun("daily", "run");
  ASSERT_TRUE(store_->RecordModelOutcome(MakeModel("daily"), run, &record));
  ASSERT_TRUE(store_->SaveDagSnapshot(run, R"({"nodes":["daily"],"edges":[]})"));

  auto models = other->Models();
  ASSERT_TRUE(models) << models.error().ToString();
  EXPECT_TRUE(models->empty());
  auto dag = other->LatestDag();
  ASSERT_TRUE(dag);
  EXPECT_EQ(*dag, std::nullopt);
  auto history = other->ModelHistory("daily", 0);
  ASSERT_TRUE(history);
  EXPECT_TRUE(history->empty());
  auto runs = other->ModelRuns(run);
  ASSERT_TRUE(runs);
  EXPECT_TRUE(runs->empty());
  auto last = other->LastModelRuns();
  ASSERT_TRUE(last);
  EXPECT_TRUE(last->empty());
  auto deleted = other->DeleteModel("daily");
  ASSERT_TRUE(deleted);
  EXPECT_FALSE(*deleted);
  // The other environment cannot write into this one's run.
  auto recorded = other->RecordModelOutcome(std::nullopt, run, &record);
  ASSERT_FALSE(recorded);
  EXPECT_EQ(recorded.error().code, "state_not_found");
  auto saved = other->SaveDagSnapshot(run, R"({"nodes":[],"edges":[]})");
  ASSERT_FALSE(saved);
  EXPECT_EQ(saved.error().code, "state_not_found");

  // Its own model of the same name is another row, and its first DAG is new
  // to it even when this environment already holds the same one.
  auto other_run = other->StartRun("cli", "");
  ASSERT_TRUE(other_run);
  ModelRecord failed = MakeModel("daily");
  failed.status = ModelStatus::kFailed;
  ASSERT_TRUE(other->RecordModelOutcome(failed, *other_run, &record));
  auto stored = other->SaveDagSnapshot(*other_run, R"({"nodes":["daily"],"edges":[]})");
  ASSERT_TRUE(stored);
  EXPECT_TRUE(*stored);

  models = store_->Models();
  ASSERT_TRUE(models);
  ASSERT_EQ(models->size(), 1u);
  EXPECT_EQ((*models)[0].status, ModelStatus::kActive);
  history = store_->ModelHistory("daily", 0);
  ASSERT_TRUE(history);
  EXPECT_EQ(history->size(), 1u);
}

TEST_F(ModelStateTest, CheckResultsRoundTripNewestFirstFilteredByCheckAndLimited) {
  const int64_t first = StartRun();
  const int64_t second = StartRun();
  ASSERT_TRUE(store_->RecordChecks(first, {}));  // nothing to record
  ASSERT_TRUE(store_->RecordChecks(
      first, {{.model = "daily", .check = "not_null(id)", .severity = "error", .passed = true, .observed = 0.0,
               .detail = "expected 0 rows"},
              {.model = "daily", .check = "row_count_anomaly", .severity = "warn", .passed = true,
               .observed = 100.0, .detail = "no baseline yet (0 earlier runs)"}}));
  ASSERT_TRUE(store_->RecordChecks(
      second, {{.model = "daily", .check = "freshness(ts)", .severity = "warn", .passed = false,
                .observed = std::nullopt, .detail = "expected <= 7200 s (2 hours)"},
               {.model = "daily", .check = "row_count_anomaly", .severity = "warn", .passed = false,
                .observed = 12345.5, .detail = "mean 100.0 of the last 1 runs, sigma 3"},
               {.model = "other", .check = "row_count", .severity = "error", .passed = true, .observed = 3.0}}));

  auto all = store_->ModelChecks("daily", "", 0);
  ASSERT_TRUE(all) << all.error().ToString();
  ASSERT_EQ(all->size(), 4u);
  const CheckRecord& newest = (*all)[0];
  EXPECT_EQ(newest.model, "daily");
  EXPECT_EQ(newest.check, "row_count_anomaly");
  EXPECT_EQ(newest.severity, "warn");
  EXPECT_FALSE(newest.passed);
  EXPECT_EQ(newest.observed, 12345.5);
  EXPECT_EQ(newest.detail, "mean 100.0 of the last 1 runs, sigma 3");
  EXPECT_EQ(newest.run_id, second);
  EXPECT_GT(newest.checked_at_us, 0);
  EXPECT_EQ((*all)[1].check, "freshness(ts)");
  EXPECT_EQ((*all)[1].observed, std::nullopt);
  EXPECT_EQ((*all)[3].check, "not_null(id)");
  EXPECT_TRUE((*all)[3].passed);
  EXPECT_EQ((*all)[3].observed, 0.0);
  EXPECT_EQ((*all)[3].run_id, first);

  auto anomaly = store_->ModelChecks("daily", "row_count_anomaly", 0);
  ASSERT_TRUE(anomaly);
  ASSERT_EQ(anomaly->size(), 2u);
  EXPECT_EQ((*anomaly)[0].observed, 12345.5);
  EXPECT_EQ((*anomaly)[1].observed, 100.0);
  auto one = store_->ModelChecks("daily", "", 1);
  ASSERT_TRUE(one);
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].check, "row_count_anomaly");
  auto none = store_->ModelChecks("unknown", "", 0);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST_F(ModelStateTest, CheckResultsStayInTheirEnvironmentAndFollowTheirRun) {
  const std::string other_env = UniqueEnvironment("checks_other");
  auto other = OpenMigrated(other_env);
  ASSERT_TRUE(other);
  const int64_t run = StartRun();
  const CheckRecord result{.model = "daily", .check = "row_count", .severity = "error", .passed = true, .observed = 1.0};
  auto foreign = other->RecordChecks(run, {result});
  ASSERT_FALSE(foreign);
  EXPECT_EQ(foreign.error().code, "state_not_found");
  ASSERT_TRUE(store_->RecordChecks(run, {result}));
  auto theirs = other->ModelChecks("daily", "", 0);
  ASSERT_TRUE(theirs);
  EXPECT_TRUE(theirs->empty());
  auto ours = store_->ModelChecks("daily", "", 0);
  ASSERT_TRUE(ours);
  EXPECT_EQ(ours->size(), 1u);
  // A run that goes (PruneHistory deletes it) takes its results with it.
  Query("DELETE FROM runs WHERE id = " + std::to_string(run));
  ours = store_->ModelChecks("daily", "", 0);
  ASSERT_TRUE(ours);
  EXPECT_TRUE(ours->empty());
}

TEST_F(ModelStateTest, PruneKeepsEachModelsNewestRecordAndTheNewestDag) {
  // Four finished runs touching daily, the first two also hourly; DAG A at
  // run 1, B at run 2, A again at run 3. All but run 4 are 40 days old.
  std::vector<int64_t> runs;
  const std::string dag_a = R"({"nodes":["a"],"edges":[]})";
  const std::string dag_b = R"({"nodes":["a","b"],"edges":[["a","b"]]})";
  for (int i = 0; i < 4; ++i) {
    runs.push_back(StartRun());
    ModelRunRecord daily = MakeRun("daily", "run");
    ASSERT_TRUE(store_->RecordModelOutcome(MakeModel("daily"), runs.back(), &daily));
    if (i < 2) {
      ModelRunRecord hourly = MakeRun("hourly", "run");
      ASSERT_TRUE(store_->RecordModelOutcome(MakeModel("hourly"), runs.back(), &hourly));
    }
    if (i < 3) {
      ASSERT_TRUE(store_->SaveDagSnapshot(runs.back(), i == 1 ? dag_b : dag_a));
    }
    ASSERT_TRUE(store_->FinishRun(runs.back(), "succeeded", ""));
  }
  Query("UPDATE runs SET started_at = now() - interval '40 days' WHERE environment = $1"
        " AND id <> " + std::to_string(runs[3]));
  Query("UPDATE dag_snapshots SET recorded_at = now() - interval '40 days' WHERE environment = $1");

  auto pruned = store_->PruneHistory(30, 2);
  ASSERT_TRUE(pruned) << pruned.error().ToString();
  // daily's records of runs 1-3 go (run 4 is recent); hourly keeps its newest (run 2).
  EXPECT_EQ(pruned->model_runs, 4);
  EXPECT_EQ(pruned->dag_snapshots, 2);  // A at run 1 and B at run 2; A at run 3 is the newest
  EXPECT_EQ(pruned->runs, 1);           // run 1: run 2 holds hourly's newest, run 3 the DAG
  EXPECT_EQ(pruned->table_runs, 0);
  EXPECT_EQ(Query("SELECT id FROM runs WHERE environment = $1 ORDER BY id"),
            (std::vector<std::string>{std::to_string(runs[1]), std::to_string(runs[2]),
                                      std::to_string(runs[3])}));
  auto last = store_->LastModelRuns();
  ASSERT_TRUE(last);
  ASSERT_EQ(last->size(), 2u);
  EXPECT_EQ((*last)[0].model, "daily");
  EXPECT_EQ((*last)[0].run_id, runs[3]);
  EXPECT_EQ((*last)[1].model, "hourly");
  EXPECT_EQ((*last)[1].run_id, runs[1]);
  auto dag = store_->LatestDag();
  ASSERT_TRUE(dag && *dag);
  EXPECT_EQ(Json(**dag), Json(dag_a));
  EXPECT_EQ(Query("SELECT run_id FROM dag_snapshots WHERE environment = $1"),
            (std::vector<std::string>{std::to_string(runs[2])}));

  auto again = store_->PruneHistory(30, 2);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->runs + again->model_runs + again->dag_snapshots, 0);
}

TEST_F(ModelStateTest, InterruptedRunIsLastSeenAtItsNewestModelRecordOrDag) {
  const int64_t with_record = StartRun();
  ModelRunRecord record = MakeRun("daily", "run");
  ASSERT_TRUE(store_->SaveDagSnapshot(with_record, R"({"nodes":["daily"],"edges":[]})"));
  ASSERT_TRUE(store_->RecordModelOutcome(std::nullopt, with_record, &record));
  const int64_t with_dag = StartRun();
  ASSERT_TRUE(store_->SaveDagSnapshot(with_dag, R"({"nodes":[],"edges":[]})"));
  // Recorded well after the runs started, so "last seen" is visibly not the start.
  Query("UPDATE model_runs SET recorded_at = recorded_at + interval '1 hour' WHERE run_id = " +
        std::to_string(with_record));
  Query("UPDATE dag_snapshots SET recorded_at = recorded_at + interval '2 hours'"
        " WHERE environment = $1 AND run_id = " + std::to_string(with_dag));

  auto marked = store_->MarkRunsInterrupted();
  ASSERT_TRUE(marked) << marked.error().ToString();
  ASSERT_EQ(marked->size(), 2u);
  auto records = store_->ModelRuns(with_record);
  ASSERT_TRUE(records && records->size() == 1u);
  EXPECT_EQ((*marked)[0].id, with_record);
  EXPECT_EQ((*marked)[0].finished_at_us, (*records)[0].recorded_at_us);
  EXPECT_EQ((*marked)[1].id, with_dag);
  EXPECT_EQ(std::to_string((*marked)[1].finished_at_us),
            Query("SELECT landfall_us(recorded_at) FROM dag_snapshots WHERE environment = $1"
                  " AND run_id = " + std::to_string(with_dag))[0]);
  EXPECT_GT((*marked)[1].finished_at_us, (*marked)[1].started_at_us);
}

}  // namespace
}  // namespace landfall::state
