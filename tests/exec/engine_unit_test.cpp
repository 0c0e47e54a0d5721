// The engine's own decisions, against in-memory fakes of the warehouse, the
// state store and the footer reader (tests/support/fakes.h): what it records
// when a store write fails, how it fails a quarantined file it cannot put
// back, and that one table's failure leaves the others alone. The files are
// real (the engine scans and fingerprints them); engine_test.cpp and
// tests/cli run the same engine against real PostgreSQL and DuckDB.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>

#include "lib/exec/engine.h"
#include "tests/support/fakes.h"
#include "tests/support/testing.h"

namespace landfall::exec {
namespace {

namespace fs = std::filesystem;
using state::BatchStatus;

class EngineUnitTest : public ::testing::Test {
 protected:
  void Open(bool with_quarantine_dir = false) {
    config::Config config;
    config.landing.dir = landing();
    if (with_quarantine_dir) config.landing.quarantine_dir = quarantine();
    fs::create_directories(landing());
    engine_ = std::make_unique<Engine>(config, state_, warehouse_, footers_, pool_, clock_);
    auto started = engine_->Start();
    ASSERT_TRUE(started) << started.error().ToString();
  }
  fs::path landing() const { return dir_ / "landing"; }
  fs::path quarantine() const { return dir_ / "quarantine"; }

  // A file whose footer (the fake's) says one BIGINT column, `rows` rows.
  void Land(const std::string& rel, int64_t rows = 1) {
    fs::create_directories((landing() / rel).parent_path());
    std::ofstream(landing() / rel, std::ios::binary) << rel;  // content unique to the path
    footers_.Set(landing() / rel, {schema::Schema{{{"id", "BIGINT"}}}, rows});
  }
  // A file the footer reader refuses ("not_parquet").
  void LandBad(const std::string& rel) {
    fs::create_directories((landing() / rel).parent_path());
    std::ofstream(landing() / rel, std::ios::binary) << "not parquet";
  }

  const TableOutcome* OutcomeOf(const RunOutcome& outcome, const std::string& table) {
    for (const auto& t : outcome.tables) {
      if (t.table == table) return &t;
    }
    ADD_FAILURE() << "no outcome for " << table;
    return nullptr;
  }
  std::optional<BatchStatus> StoredStatus(const std::string& path) {
    auto batches = state_.Batches();
    auto it = batches.find(path);
    if (it == batches.end()) return std::nullopt;
    return it->second.status;
  }

  testing::TempDir dir_;
  testing::FakeStateStore state_;
  testing::FakeWarehouse warehouse_;
  testing::FakeFooterReader footers_;
  testing::FakeClock clock_;
  ThreadPool pool_{2};
  std::unique_ptr<Engine> engine_;
};

TEST_F(EngineUnitTest, NewFileIsCreatedStagedAndRecorded) {
  Open();
  Land("orders/a.parquet", 5);

  auto outcome = engine_->Run({});

  ASSERT_TRUE(outcome) << outcome.error().ToString();
  ASSERT_EQ(outcome->tables.size(), 1u);
  EXPECT_EQ(outcome->tables[0].action, plan::Action::kCreate);
  EXPECT_EQ(outcome->tables[0].status, state::TableRunStatus::kSucceeded);
  EXPECT_EQ(warehouse_.RowCount("orders").value_or(-1), 5);
  EXPECT_EQ(StoredStatus("orders/a.parquet"), BatchStatus::kStaged);
  EXPECT_EQ(state_.RunStatuses().at(outcome->run_id), "succeeded");
  EXPECT_FALSE(state_.Tables().at("orders").schema_json.empty());
}

TEST_F(EngineUnitTest, StateWriteThatFailedIsWrittenByTheNextRun) {
  Open();
  Land("orders/a.parquet");
  state_.down = true;

  auto failed = engine_->Run({});

  // The store was down from the start: nothing staged, nothing lost.
  ASSERT_FALSE(failed);
  EXPECT_TRUE(failed.error().transient);
  EXPECT_TRUE(warehouse_.Loads().empty());

  // It comes back: the next refresh writes the pending record the catalog
  // took on meanwhile (the file itself is not read again), then a run stages it.
  state_.down = false;
  const int reads = footers_.reads();
  ASSERT_TRUE(engine_->Plan({}));
  EXPECT_EQ(StoredStatus("orders/a.parquet"), BatchStatus::kPending);
  EXPECT_EQ(footers_.reads(), reads);
  auto outcome = engine_->Run({});
  ASSERT_TRUE(outcome) << outcome.error().ToString();
  EXPECT_EQ(StoredStatus("orders/a.parquet"), BatchStatus::kStaged);
}

TEST_F(EngineUnitTest, StagedBatchWhoseRecordFailedIsRecordedByTheNextRefresh) {
  Open();
  Land("orders/a.parquet");
  // Down once the run has started: the warehouse commits, the records cannot follow.
  RunRequest request;
  request.on_run_started = [this](int64_t) { state_.down = true; };

  auto failed = engine_->Run(request);

  ASSERT_FALSE(failed);
  EXPECT_TRUE(failed.error().transient);
  EXPECT_EQ(warehouse_.RowCount("orders").value_or(-1), 1);  // committed
  EXPECT_EQ(StoredStatus("orders/a.parquet"), BatchStatus::kPending);  // the record lags

  state_.down = false;
  auto plan = engine_->Plan({});  // its refresh writes what is owed
  ASSERT_TRUE(plan) << plan.error().ToString();
  EXPECT_EQ(StoredStatus("orders/a.parquet"), BatchStatus::kStaged);
  EXPECT_EQ(state_.RunStatuses().at(1), "succeeded");
  EXPECT_EQ(warehouse_.Loads().size(), 1u);  // not staged twice
}

TEST_F(EngineUnitTest, OneFailingTableDoesNotStopTheOthers) {
  Open();
  Land("invoices/a.parquet");
  Land("orders/a.parquet");
  Land("users/a.parquet");
  warehouse_.fail_tables = {"orders"};

  auto outcome = engine_->Run({});

  ASSERT_TRUE(outcome) << outcome.error().ToString();
  EXPECT_FALSE(outcome->ok());
  ASSERT_EQ(outcome->tables.size(), 3u);
  EXPECT_EQ(OutcomeOf(*outcome, "orders")->status, state::TableRunStatus::kFailed);
  EXPECT_THAT(OutcomeOf(*outcome, "orders")->error, ::testing::HasSubstr("warehouse_error"));
  EXPECT_EQ(OutcomeOf(*outcome, "invoices")->status, state::TableRunStatus::kSucceeded);
  EXPECT_EQ(OutcomeOf(*outcome, "users")->status, state::TableRunStatus::kSucceeded);
  EXPECT_EQ(StoredStatus("invoices/a.parquet"), BatchStatus::kStaged);
  EXPECT_EQ(StoredStatus("users/a.parquet"), BatchStatus::kStaged);
  EXPECT_EQ(StoredStatus("orders/a.parquet"), BatchStatus::kPending);
  EXPECT_EQ(state_.Tables().at("orders").status, state::TableStatus::kFailed);
  EXPECT_EQ(state_.RunStatuses().at(outcome->run_id), "failed");
}

TEST_F(EngineUnitTest, BatchTheWarehouseCannotDecodeIsQuarantinedAndTheRestStaged) {
  Open();
  Land("orders/a.parquet");
  Land("orders/b.parquet");
  warehouse_.reject_paths = {"orders/b.parquet"};

  auto outcome = engine_->Run({});

  ASSERT_TRUE(outcome) << outcome.error().ToString();
  EXPECT_EQ(StoredStatus("orders/a.parquet"), BatchStatus::kStaged);
  EXPECT_EQ(StoredStatus("orders/b.parquet"), BatchStatus::kQuarantined);
  EXPECT_EQ(state_.Batches().at("orders/b.parquet").error_code, "undecodable");
}

TEST_F(EngineUnitTest, QuarantinedFileThatCannotBePutBackFailsItsRetryAndStaysQuarantined) {
  Open(/*with_quarantine_dir=*/true);
  LandBad("orders/2026/bad.parquet");
  Land("orders/good.parquet");
  auto outcome = engine_->Run({});
  ASSERT_TRUE(outcome) << outcome.error().ToString();
  ASSERT_EQ(StoredStatus("orders/2026/bad.parquet"), BatchStatus::kQuarantined);
  ASSERT_TRUE(fs::exists(quarantine() / "orders/2026/bad.parquet"));
  // Its folder in the landing dir is a file now: the file cannot go back there.
  fs::remove_all(landing() / "orders/2026");
  std::ofstream(landing() / "orders/2026") << "in the way";

  auto retried = engine_->RetryQuarantined("orders/2026/bad.parquet");

  ASSERT_FALSE(retried);
  EXPECT_EQ(retried.error().code, "batch_restore_failed");
  EXPECT_THAT(retried.error().message, ::testing::HasSubstr("orders/2026/bad.parquet"));
  EXPECT_TRUE(fs::exists(quarantine() / "orders/2026/bad.parquet"));
  EXPECT_EQ(StoredStatus("orders/2026/bad.parquet"), BatchStatus::kQuarantined);
  // Still known as quarantined, so it can be retried once the way is clear.
  fs::remove(landing() / "orders/2026");
  auto again = engine_->RetryQuarantined("orders/2026/bad.parquet");
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_EQ(*again, "orders");
  EXPECT_TRUE(fs::exists(landing() / "orders/2026/bad.parquet"));
  EXPECT_EQ(StoredStatus("orders/2026/bad.parquet"), std::nullopt);  // forgotten until inspected again
}

TEST_F(EngineUnitTest, RetryOfABatchThatIsNotQuarantinedIsAConflict) {
  Open();
  Land("orders/a.parquet");
  ASSERT_TRUE(engine_->Run({}));

  auto retried = engine_->RetryQuarantined("orders/a.parquet");
  ASSERT_FALSE(retried);
  EXPECT_EQ(retried.error().code, "batch_conflict");
  auto unknown = engine_->RetryQuarantined("orders/none.parquet");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, "batch_not_found");
}

// Start reads the state store's records while the warehouse is inspected:
// each side waits here for the other to have begun, which only a start that
// runs them at the same time lets happen (one after the other, the first
// waits out its deadline alone).
TEST_F(EngineUnitTest, StartReadsStateWhileTheWarehouseIsInspected) {
  std::mutex mu;
  std::condition_variable cv;
  bool loading = false, inspecting = false;
  bool load_saw_inspect = false, inspect_saw_load = false;
  auto meet = [&](bool& mine, const bool& theirs, bool& saw) {
    std::unique_lock lock(mu);
    mine = true;
    cv.notify_all();
    saw = cv.wait_for(lock, std::chrono::seconds(5), [&] { return theirs; });
  };
  state_.on_load = [&] { meet(loading, inspecting, load_saw_inspect); };
  warehouse_.on_inspect = [&] { meet(inspecting, loading, inspect_saw_load); };

  Open();

  EXPECT_TRUE(load_saw_inspect);
  EXPECT_TRUE(inspect_saw_load);
}

// A warehouse commit whose state write never happened (the process stopped
// in between) is reconciled by the next start, now that the state is read
// beside the warehouse's inspection: the record is brought in line with the
// ledger and written, and the batch is not staged again.
TEST_F(EngineUnitTest, StartReconcilesACommitWhoseStateWriteNeverHappened) {
  Open();
  Land("orders/a.parquet", 3);
  RunRequest request;
  request.on_run_started = [this](int64_t) { state_.down = true; };
  ASSERT_FALSE(engine_->Run(request));
  ASSERT_EQ(StoredStatus("orders/a.parquet"), BatchStatus::kPending);  // the record lags
  engine_.reset();  // what memory owed is lost with the process
  state_.down = false;

  Open();

  EXPECT_EQ(StoredStatus("orders/a.parquet"), BatchStatus::kStaged);
  auto outcome = engine_->Run({});
  ASSERT_TRUE(outcome) << outcome.error().ToString();
  EXPECT_TRUE(outcome->tables.empty());  // nothing to do: the table skips
  EXPECT_EQ(warehouse_.Loads().size(), 1u);  // not staged twice
  EXPECT_EQ(warehouse_.RowCount("orders").value_or(-1), 3);
}

// OpenEngine reads the state ahead, while the warehouse opens: Start takes
// that read instead of reading again, and reconciles from it as from its own.
TEST_F(EngineUnitTest, StartTakesTheStateReadAhead) {
  Open();
  Land("orders/a.parquet", 3);
  ASSERT_TRUE(engine_->Run({}));
  engine_.reset();
  std::atomic<int> loads{0};
  state_.on_load = [&] { ++loads; };

  config::Config config;
  config.landing.dir = landing();
  engine_ = std::make_unique<Engine>(config, state_, warehouse_, footers_, pool_, clock_);
  auto started = engine_->Start(ReadStateAhead(state_));

  ASSERT_TRUE(started) << started.error().ToString();
  EXPECT_EQ(loads.load(), 1);
  auto outcome = engine_->Run({});
  ASSERT_TRUE(outcome) << outcome.error().ToString();
  EXPECT_TRUE(outcome->tables.empty());      // it knows a.parquet is staged
  EXPECT_EQ(warehouse_.Loads().size(), 1u);  // and does not stage it twice
}

// A read ahead that failed fails Start with its error, as Start's own read would.
TEST_F(EngineUnitTest, StartFailsWithTheErrorOfTheStateReadAhead) {
  state_.down = true;
  config::Config config;
  config.landing.dir = landing();
  fs::create_directories(landing());
  engine_ = std::make_unique<Engine>(config, state_, warehouse_, footers_, pool_, clock_);

  auto started = engine_->Start(ReadStateAhead(state_));

  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().code, "state_unavailable");
}

}  // namespace
}  // namespace landfall::exec
