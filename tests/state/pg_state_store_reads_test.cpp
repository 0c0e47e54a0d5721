// The state store's reads for the HTTP API (TableSummaries, SchemaHistory,
// FindBatches, TableHistory, GetRun, FindRuns) against a real PostgreSQL.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "lib/state/state_store.h"
#include "tests/support/testing.h"

namespace landfall::state {
namespace {

class StateReadsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LANDFALL_REQUIRE_POSTGRES();
    auto store = OpenPostgres({testing::PostgresUrl(), testing::UniqueEnvironment("reads")});
    ASSERT_TRUE(store) << store.error().ToString();
    store_ = std::move(*store);
    ASSERT_TRUE(store_->Migrate());
  }

  static BatchRecord Batch(const std::string& path, BatchStatus status, int64_t rows,
                           int64_t discovered_us) {
    BatchRecord b;
    b.table = path.substr(0, path.find('/'));
    b.path = path;
    b.fingerprint = "fp-" + path;
    b.rows = rows;
    b.status = status;
    b.discovered_at_us = discovered_us;
    if (status == BatchStatus::kQuarantined) {
      b.error_code = "not_parquet";
      b.error_message = "bad magic";
    }
    return b;
  }

  std::unique_ptr<StateStore> store_;
};

TEST_F(StateReadsTest, TableSummariesCountBatchesAndSumStagedRows) {
  ASSERT_TRUE(
      store_->UpsertBatches({Batch("orders/a.parquet", BatchStatus::kStaged, 100, 1'000'000),
                             Batch("orders/b.parquet", BatchStatus::kStaged, 50, 2'000'000),
                             Batch("orders/c.parquet", BatchStatus::kPending, 7, 3'000'000),
                             Batch("orders/d.parquet", BatchStatus::kQuarantined, 0, 4'000'000),
                             Batch("events/x.parquet", BatchStatus::kPending, 9, 5'000'000)}));
  TableRecord orders;
  orders.name = "orders";
  orders.schema_json = R"({"columns":[{"name":"id","type":"INTEGER","nullable":true}]})";
  orders.schema_hash = "h1";
  orders.policy = "evolve";
  ASSERT_TRUE(store_->SaveTable(orders));
  auto run = store_->StartRun("api", R"({"tables":[]})");
  ASSERT_TRUE(run);
  TableRunRecord record;
  record.table = "orders";
  record.action = "create";
  record.reasons_json = R"([{"code":"new_table","detail":""}])";
  record.status = TableRunStatus::kSucceeded;
  record.rows = 150;
  ASSERT_TRUE(store_->RecordTableRun(*run, record));

  auto all = store_->TableSummaries("");
  ASSERT_TRUE(all) << all.error().ToString();
  ASSERT_EQ(all->size(), 2u);
  const auto& events = (*all)[0];
  EXPECT_EQ(events.table.name, "events");
  EXPECT_EQ(events.table.status, TableStatus::kNew) << "known only by its batches";
  EXPECT_EQ(events.pending, 1);
  EXPECT_FALSE(events.last_action);
  const auto& o = (*all)[1];
  EXPECT_EQ(o.table.name, "orders");
  EXPECT_EQ(o.table.status, TableStatus::kActive);
  EXPECT_EQ(o.table.schema_hash, "h1");
  EXPECT_EQ(o.rows_staged, 150);
  EXPECT_EQ(o.staged, 2);
  EXPECT_EQ(o.pending, 1);
  EXPECT_EQ(o.quarantined, 1);
  ASSERT_TRUE(o.last_action);
  EXPECT_EQ(o.last_action->action, "create");
  EXPECT_EQ(o.last_action->run_id, *run);
  EXPECT_GT(o.last_action->recorded_at_us, 0);

  auto one = store_->TableSummaries("orders");
  ASSERT_TRUE(one);
  ASSERT_EQ(one->size(), 1u);
  EXPECT_TRUE(store_->TableSummaries("nope")->empty());
}

TEST_F(StateReadsTest, FindBatchesFiltersByTableAndStatus) {
  ASSERT_TRUE(
      store_->UpsertBatches({Batch("orders/a.parquet", BatchStatus::kStaged, 1, 1'000'000),
                             Batch("orders/b.parquet", BatchStatus::kQuarantined, 0, 3'000'000),
                             Batch("orders/c.parquet", BatchStatus::kQuarantined, 0, 2'000'000),
                             Batch("events/x.parquet", BatchStatus::kQuarantined, 0, 4'000'000)}));
  auto quarantined = store_->FindBatches({"", BatchStatus::kQuarantined, 100});
  ASSERT_TRUE(quarantined);
  ASSERT_EQ(quarantined->size(), 3u);
  EXPECT_EQ((*quarantined)[0].path, "events/x.parquet") << "by path";
  EXPECT_EQ((*quarantined)[0].error_code, "not_parquet");
  auto orders = store_->FindBatches({"orders", std::nullopt, 2, /*newest_first=*/true});
  ASSERT_TRUE(orders);
  ASSERT_EQ(orders->size(), 2u);
  EXPECT_EQ((*orders)[0].path, "orders/b.parquet");
  EXPECT_EQ((*orders)[1].path, "orders/c.parquet");
}

TEST_F(StateReadsTest, RunsByIdAndStatusAndTableHistory) {
  auto first = store_->StartRun("watcher", R"({"tables":[{"table":"orders","action":"append"}]})");
  auto second = store_->StartRun("api", "");
  ASSERT_TRUE(first && second);
  ASSERT_TRUE(store_->FinishRun(*first, "succeeded", ""));
  for (const char* action : {"create", "append"}) {
    TableRunRecord r;
    r.table = "orders";
    r.action = action;
    r.reasons_json = "[]";
    r.status = TableRunStatus::kSucceeded;
    ASSERT_TRUE(store_->RecordTableRun(*first, r));
  }
  auto run = store_->GetRun(*first);
  ASSERT_TRUE(run);
  ASSERT_TRUE(*run);
  EXPECT_EQ((*run)->status, "succeeded");
  EXPECT_EQ(nlohmann::json::parse((*run)->plan_json)["tables"][0]["action"], "append");
  EXPECT_FALSE(*store_->GetRun(*second + 1000));

  auto running = store_->FindRuns(10, "running");
  ASSERT_TRUE(running);
  ASSERT_EQ(running->size(), 1u);
  EXPECT_EQ((*running)[0].id, *second);
  EXPECT_EQ(store_->FindRuns(0, "")->size(), 2u);
  EXPECT_EQ(store_->FindRuns(0, "")->front().id, *second) << "newest first";

  auto history = store_->TableHistory("orders", 1);
  ASSERT_TRUE(history);
  ASSERT_EQ(history->size(), 1u);
  EXPECT_EQ((*history)[0].action, "append") << "newest first";
}

TEST_F(StateReadsTest, SchemaHistoryIsNewestFirst) {
  TableRecord t;
  t.name = "orders";
  for (const char* hash : {"h1", "h2"}) {
    t.schema_hash = hash;
    t.schema_json = R"({"columns":[]})";
    ASSERT_TRUE(store_->SaveTable(t));
  }
  auto history = store_->SchemaHistory("orders", 0);
  ASSERT_TRUE(history);
  ASSERT_EQ(history->size(), 2u);
  EXPECT_EQ((*history)[0].schema_hash, "h2");
  EXPECT_GT((*history)[0].recorded_at_us, 0);
}

}  // namespace
}  // namespace landfall::state
