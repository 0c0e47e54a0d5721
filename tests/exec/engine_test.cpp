// The engine in process, against real PostgreSQL and a real DuckDB file: what
// it keeps in memory between runs (quiet tables' plans, the table list the API
// serves) must agree with what a fresh look would decide.
#include "lib/exec/engine.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <functional>
#include <mutex>
#include <utility>

#include "lib/config/config.h"
#include "lib/landing/catalog.h"
#include "lib/warehouse/duckdb_warehouse.h"
#include "tests/cli/cli_fixture.h"

namespace landfall::exec {
namespace {

using ::testing::Contains;
using ::testing::Not;
namespace fs = std::filesystem;

// The real PostgreSQL store, and a switch that makes every call fail as if
// the server were down ("state_unavailable", transient): fault injection.
class SwitchableStateStore : public state::StateStore {
 public:
  explicit SwitchableStateStore(state::StateStore& real) : real_(real) {}
  std::atomic<bool> down{false};

  Status Migrate() override { return Up() ? real_.Migrate() : Down(); }
  Result<state::EnvironmentState> Load() override { return Up() ? real_.Load() : Down(); }
  Status SetFormatVersion(int v) override { return Up() ? real_.SetFormatVersion(v) : Down(); }
  Status UpsertBatches(const std::vector<state::BatchRecord>& b) override {
    return Up() ? real_.UpsertBatches(b) : Down();
  }
  Status DeleteBatches(const std::vector<std::string>& p) override {
    return Up() ? real_.DeleteBatches(p) : Down();
  }
  Status SaveTable(const state::TableRecord& t) override { return Up() ? real_.SaveTable(t) : Down(); }
  Result<std::vector<state::RunSummary>> MarkRunsInterrupted() override {
    return Up() ? real_.MarkRunsInterrupted() : Down();
  }
  Result<state::PruneStats> PruneHistory(int days, int chunk) override {
    return Up() ? real_.PruneHistory(days, chunk) : Down();
  }
  Result<bool> DeleteTable(const std::string& t) override { return Up() ? real_.DeleteTable(t) : Down(); }
  Result<int64_t> StartRun(const std::string& trigger, const std::string& plan) override {
    return Up() ? real_.StartRun(trigger, plan) : Down();
  }
  Status RecordTableOutcome(const std::vector<state::BatchRecord>& staged,
                            const std::optional<state::TableRecord>& table, int64_t run_id,
                            const state::TableRunRecord* run) override {
    return Up() ? real_.RecordTableOutcome(staged, table, run_id, run) : Down();
  }
  Status FinishRun(int64_t id, const std::string& status, const std::string& error) override {
    return Up() ? real_.FinishRun(id, status, error) : Down();
  }
  Result<std::vector<state::RunSummary>> ListRuns(int limit) override {
    return Up() ? real_.ListRuns(limit) : Down();
  }
  Result<std::vector<state::TableRunRecord>> TableRuns(int64_t id) override {
    return Up() ? real_.TableRuns(id) : Down();
  }
  Result<std::vector<state::TableSummary>> TableSummaries(const std::string& t) override {
    return Up() ? real_.TableSummaries(t) : Down();
  }
  Result<std::vector<state::SchemaVersion>> SchemaHistory(const std::string& t, int limit) override {
    return Up() ? real_.SchemaHistory(t, limit) : Down();
  }
  Result<std::vector<state::BatchRecord>> FindBatches(const state::BatchFilter& f) override {
    return Up() ? real_.FindBatches(f) : Down();
  }
  Result<std::vector<state::TableRunRecord>> TableHistory(const std::string& t, int limit) override {
    return Up() ? real_.TableHistory(t, limit) : Down();
  }
  Result<std::optional<state::RunSummary>> GetRun(int64_t id) override {
    return Up() ? real_.GetRun(id) : Down();
  }
  Result<std::vector<state::RunSummary>> FindRuns(int limit, const std::string& status) override {
    return Up() ? real_.FindRuns(limit, status) : Down();
  }
  Result<std::vector<state::ModelRecord>> Models() override { return Up() ? real_.Models() : Down(); }
  Status RecordModelOutcome(const std::optional<state::ModelRecord>& model, int64_t run_id,
                            const state::ModelRunRecord* run) override {
    return Up() ? real_.RecordModelOutcome(model, run_id, run) : Down();
  }
  Result<bool> DeleteModel(const std::string& m) override { return Up() ? real_.DeleteModel(m) : Down(); }
  Result<std::vector<state::ModelRunRecord>> ModelHistory(const std::string& m, int limit) override {
    return Up() ? real_.ModelHistory(m, limit) : Down();
  }
  Result<std::vector<state::ModelRunRecord>> ModelRuns(int64_t id) override {
    return Up() ? real_.ModelRuns(id) : Down();
  }
  Result<std::vector<state::ModelRunRecord>> LastModelRuns() override {
    return Up() ? real_.LastModelRuns() : Down();
  }
  Result<bool> SaveDagSnapshot(int64_t id, const std::string& dag) override {
    return Up() ? real_.SaveDagSnapshot(id, dag) : Down();
  }
  Result<std::optional<std::string>> LatestDag() override { return Up() ? real_.LatestDag() : Down(); }
  Status SavePartitions(const std::vector<state::PartitionRecord>& p) override {
    return Up() ? real_.SavePartitions(p) : Down();
  }
  Result<std::vector<state::PartitionRecord>> Partitions(const std::string& m,
                                                         const state::PartitionFilter& f) override {
    return Up() ? real_.Partitions(m, f) : Down();
  }
  Result<int64_t> MarkPartitionsInterrupted() override {
    return Up() ? real_.MarkPartitionsInterrupted() : Down();
  }
  Status DeletePartitions(const std::string& m) override {
    return Up() ? real_.DeletePartitions(m) : Down();
  }
  Status RecordChecks(int64_t id, const std::vector<state::CheckRecord>& checks) override {
    return Up() ? real_.RecordChecks(id, checks) : Down();
  }
  Result<std::vector<state::CheckRecord>> ModelChecks(const std::string& m, const std::string& check,
                                                      int limit) override {
    return Up() ? real_.ModelChecks(m, check, limit) : Down();
  }

 private:
  bool Up() const { return !down.load(); }
  static std::unexpected<Error> Down() {
    return Fail("state_unavailable", "injected: PostgreSQL is down", /*transient=*/true);
  }
  state::StateStore& real_;
};

// The real DuckDB warehouse with two hooks: `before_load`, run once before
// the next Append, Evolve or Rebuild (the moment between the engine's
// fingerprinting and the load), and `after_apply`, called after each one has
// committed (before the engine hears back).
class HookedWarehouse final : public warehouse::Warehouse {
 public:
  explicit HookedWarehouse(warehouse::Warehouse& real) : real_(real) {}
  std::function<void()> before_load;  // run once
  std::function<void()> after_apply;

  Status Init() override { return real_.Init(); }
  Result<std::map<std::string, warehouse::TableContents>> Inspect() override { return real_.Inspect(); }
  Result<warehouse::ApplyStats> Append(const std::string& table, const schema::Schema& target,
                                       std::span<const warehouse::BatchFile> batches) override {
    Before();
    return After(real_.Append(table, target, batches));
  }
  Result<warehouse::ApplyStats> Evolve(const std::string& table, const schema::Schema& target,
                                       std::span<const warehouse::ColumnRename> renames,
                                       std::span<const warehouse::BatchFile> batches) override {
    Before();
    return After(real_.Evolve(table, target, renames, batches));
  }
  using warehouse::Warehouse::Rebuild;
  Result<warehouse::ApplyStats> Rebuild(const std::string& table, const schema::Schema& target,
                                        std::span<const warehouse::BatchFile> batches,
                                        std::span<const std::string> carry_over) override {
    Before();
    return After(real_.Rebuild(table, target, batches, carry_over));
  }
  Status Drop(const std::string& table) override { return real_.Drop(table); }
  Result<std::string> CommonSupertype(const std::string& a, const std::string& b) override {
    return real_.CommonSupertype(a, b);
  }
  int64_t StatementsExecuted() const override { return real_.StatementsExecuted(); }
  Result<int64_t> RowCount(const std::string& table) override { return real_.RowCount(table); }
  warehouse::ModelWarehouse* Models() override { return real_.Models(); }

 private:
  void Before() {
    if (auto hook = std::exchange(before_load, nullptr)) hook();
  }
  Result<warehouse::ApplyStats> After(Result<warehouse::ApplyStats> r) {
    if (after_apply) after_apply();
    return r;
  }
  warehouse::Warehouse& real_;
};

class EngineTest : public testing::CliTest {
 protected:
  void Open() {
    auto config = config::LoadConfig(this->config());
    ASSERT_TRUE(config) << config.error().ToString();
    config_ = *config;
    auto state = state::OpenPostgres({config_.state.postgres_url, config_.environment});
    ASSERT_TRUE(state) << state.error().ToString();
    state_ = std::move(*state);
    switchable_ = std::make_unique<SwitchableStateStore>(*state_);
    auto wh = warehouse::OpenDuckDb({config_.warehouse.path, config_.warehouse.staging_schema});
    ASSERT_TRUE(wh) << wh.error().ToString();
    warehouse_ = std::move(*wh);
    hooked_ = std::make_unique<HookedWarehouse>(*warehouse_);
    hooked_->before_load = std::move(before_load_);
    auto footers = warehouse::NewDuckDbFooterReader();
    ASSERT_TRUE(footers) << footers.error().ToString();
    footers_ = std::move(*footers);
    pool_ = std::make_unique<ThreadPool>(2);
    engine_ = std::make_unique<Engine>(config_, *switchable_, *hooked_, *footers_, *pool_,
                                       SystemClock::Instance());
    auto started = engine_->Start();
    ASSERT_TRUE(started) << started.error().ToString();
  }

  RunOutcome RunAll() {
    auto outcome = engine_->Run({});
    EXPECT_TRUE(outcome) << outcome.error().ToString();
    return outcome ? *outcome : RunOutcome{};
  }

  plan::ChangePlan PlanAll() {
    auto plan = engine_->Plan({});
    EXPECT_TRUE(plan) << plan.error().ToString();
    return plan ? *plan : plan::ChangePlan{};
  }

  static const plan::TablePlan* Find(const plan::ChangePlan& plan, const std::string& table) {
    for (const auto& t : plan.tables) {
      if (t.table == table) return &t;
    }
    return nullptr;
  }
  static plan::Action ActionOf(const plan::ChangePlan& plan, const std::string& table) {
    const auto* t = Find(plan, table);
    return t ? t->action : plan::Action::kFail;
  }
  static std::vector<std::string> Codes(const plan::ChangePlan& plan, const std::string& table) {
    std::vector<std::string> codes;
    if (const auto* t = Find(plan, table)) {
      for (const auto& r : t->reasons) codes.push_back(r.code);
    }
    return codes;
  }

  std::function<void()> before_load_;  // set before Open: see HookedWarehouse
  void Close() {
    engine_.reset();
    hooked_.reset();
    warehouse_.reset();
    switchable_.reset();
  }

  // The batch at `path` as PostgreSQL has it (read past the switch).
  std::optional<state::BatchRecord> Stored(const std::string& path) {
    auto all = state_->FindBatches({"", std::nullopt, 0, false});
    EXPECT_TRUE(all) << all.error().ToString();
    if (all) {
      for (const auto& b : *all) {
        if (b.path == path) return b;
      }
    }
    return std::nullopt;
  }
  int64_t WarehouseRows(const std::string& table) {
    auto rows = warehouse_->RowCount(table);
    EXPECT_TRUE(rows) << rows.error().ToString();
    return rows ? *rows : -1;
  }
  size_t LedgerSize(const std::string& table) {
    auto contents = warehouse_->Inspect();
    EXPECT_TRUE(contents) << contents.error().ToString();
    if (!contents || !contents->contains(table)) return 0;
    return contents->at(table).ledger.size();
  }
  void WriteBadFile(const std::string& rel) {
    fs::create_directories((landing() / rel).parent_path());
    std::ofstream bad(landing() / rel);
    bad << "not parquet at all";
  }

  config::Config config_;
  std::unique_ptr<state::StateStore> state_;
  std::unique_ptr<SwitchableStateStore> switchable_;
  std::unique_ptr<warehouse::Warehouse> warehouse_;
  std::unique_ptr<HookedWarehouse> hooked_;
  std::unique_ptr<schema::FooterReader> footers_;
  std::unique_ptr<ThreadPool> pool_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(EngineTest, QuietTablesArePlannedAgainOnlyWhenWhatTheyDependOnChanges) {
  Land("a/1.parquet", 10);
  Land("b/1.parquet", 10);
  Land("b/2.parquet", 10, 10);
  Open();
  ASSERT_EQ(RunAll().plan.ActionableCount(), 2);
  EXPECT_EQ(RunAll().run_id, 0);  // quiet: both plans remembered

  // A new batch in a remembered table.
  Land("a/2.parquet", 5, 100);
  auto appended = RunAll();
  EXPECT_EQ(ActionOf(appended.plan, "a"), plan::Action::kAppend);
  EXPECT_EQ(ActionOf(appended.plan, "b"), plan::Action::kSkip);
  EXPECT_EQ(appended.tables.size(), 1u);

  // A new column in a table remembered as quiet.
  Land("b/3.parquet", 5, 200, ", 'x' AS extra");
  EXPECT_EQ(ActionOf(RunAll().plan, "b"), plan::Action::kEvolve);
  EXPECT_EQ(RunAll().run_id, 0);

  // A staged file moved away and back unchanged (a rename moves its ctime, so
  // it is fingerprinted again, to the same content): while away the plan says
  // so; back, it does not.
  std::filesystem::rename(landing() / "b/1.parquet", dir_ / "aside.parquet");
  EXPECT_THAT(Codes(PlanAll(), "b"), Contains(plan::reason::kBatchRemoved));
  std::filesystem::rename(dir_ / "aside.parquet", landing() / "b/1.parquet");
  EXPECT_THAT(Codes(PlanAll(), "b"), Not(Contains(plan::reason::kBatchRemoved)));

  // A deleted table state, and a table folder that disappears.
  ASSERT_TRUE(engine_->DeleteTableState("a"));
  EXPECT_EQ(ActionOf(PlanAll(), "a"), plan::Action::kRebuild);
  std::filesystem::remove_all(landing() / "b");
  auto after = RunAll();
  EXPECT_EQ(ActionOf(after.plan, "a"), plan::Action::kRebuild);
  EXPECT_EQ(ActionOf(after.plan, "b"), plan::Action::kOrphan);
  EXPECT_EQ(RunAll().run_id, 0);

  // --full-refresh ignores remembered plans.
  RunRequest full;
  full.full_refresh = true;
  auto refreshed = engine_->Plan(full);
  ASSERT_TRUE(refreshed);
  EXPECT_EQ(ActionOf(*refreshed, "a"), plan::Action::kRebuild);
}

TEST_F(EngineTest, TheTableListFromMemoryMatchesTheStateStore) {
  Land("a/1.parquet", 10);
  Land("a/2.parquet", 7, 10);
  Land("b/1.parquet", 3);
  Land("b/copy.parquet", 3);  // same content: a duplicate
  std::filesystem::create_directories(landing() / "c");
  {
    std::ofstream bad(landing() / "c/bad.parquet");
    bad << "not parquet";
  }
  Open();
  const uint64_t before = engine_->Generation();
  RunAll();
  EXPECT_NE(engine_->Generation(), before);
  Land("a/3.parquet", 4, 100);
  ASSERT_TRUE(engine_->Plan({}));  // a pending batch, not staged yet

  auto check = [&] {
    auto stored = state_->TableSummaries("");
    ASSERT_TRUE(stored) << stored.error().ToString();
    auto memory = engine_->TableSummaries();
    ASSERT_EQ(memory.size(), stored->size());
    for (size_t i = 0; i < memory.size(); ++i) {
      const auto& m = memory[i];
      const auto& s = (*stored)[i];
      SCOPED_TRACE(s.table.name);
      EXPECT_EQ(m.table.name, s.table.name);
      EXPECT_EQ(m.table.status, s.table.status);
      EXPECT_EQ(m.table.schema_hash, s.table.schema_hash);
      EXPECT_EQ(m.table.last_error, s.table.last_error);
      EXPECT_EQ(m.table.policy, s.table.policy);
      EXPECT_EQ(m.rows_staged, s.rows_staged);
      EXPECT_EQ(m.staged, s.staged);
      EXPECT_EQ(m.pending, s.pending);
      EXPECT_EQ(m.quarantined, s.quarantined);
      EXPECT_EQ(m.duplicate, s.duplicate);
      ASSERT_EQ(m.last_action.has_value(), s.last_action.has_value());
      if (m.last_action) {
        EXPECT_EQ(m.last_action->run_id, s.last_action->run_id);
        EXPECT_EQ(m.last_action->action, s.last_action->action);
        EXPECT_EQ(m.last_action->status, s.last_action->status);
      }
    }
  };
  check();
  auto memory = engine_->TableSummaries();
  ASSERT_EQ(memory.size(), 3u);
  EXPECT_EQ(memory[0].rows_staged, 17);
  EXPECT_EQ(memory[0].pending, 1);
  EXPECT_EQ(memory[1].duplicate, 1);
  EXPECT_EQ(memory[2].quarantined, 1);

  // A new engine over the same state starts with the same list.
  Close();
  Open();
  check();
}

TEST_F(EngineTest, FileReplacedBetweenFingerprintAndLoadFailsTransientlyThenStagesWhatItHolds) {
  Land("a/1.parquet", 3);  // ids 0..2
  // Replaced after the engine fingerprinted it, before the warehouse loads it.
  before_load_ = [this] {
    Land("a/fresh.tmp", 5, 100);  // an ignored name while it is written
    std::filesystem::rename(landing() / "a/fresh.tmp", landing() / "a/1.parquet");
  };
  Open();

  auto failed = RunAll();
  ASSERT_EQ(failed.tables.size(), 1u);
  EXPECT_EQ(failed.tables[0].status, state::TableRunStatus::kFailed);
  EXPECT_TRUE(failed.tables[0].transient) << "the next run must look again";
  EXPECT_THAT(failed.tables[0].error, ::testing::HasSubstr(warehouse::kBatchChanged));
  EXPECT_FALSE(warehouse_->RowCount("a")) << "nothing committed";

  // The next run fingerprints the file again and stages what it holds now,
  // under the fingerprint of that content.
  auto staged = RunAll();
  ASSERT_EQ(staged.tables.size(), 1u);
  EXPECT_EQ(staged.tables[0].status, state::TableRunStatus::kSucceeded) << staged.tables[0].error;
  EXPECT_EQ(staged.tables[0].rows, 5);
  auto fingerprint = landing::Fingerprint(landing() / "a/1.parquet");
  ASSERT_TRUE(fingerprint);
  Close();
  EXPECT_EQ(testing::QueryDuckDb(warehouse(), "SELECT DISTINCT _landfall_batch FROM staging.a"),
            (std::vector<std::string>{*fingerprint}));
  EXPECT_EQ(testing::QueryDuckDb(warehouse(), "SELECT min(id) || '..' || max(id) FROM staging.a"),
            (std::vector<std::string>{"100..104"}));
}

// A refresh (an API dry run, a scan) may forget a pending batch while
// the warehouse stages it; the engine must not crash on the missing record.
TEST_F(EngineTest, BatchForgottenWhileTheWarehouseStagesItDoesNotEndTheRun) {
  Land("a/1.parquet", 10);
  Open();
  bool forgotten = false;
  hooked_->after_apply = [&] {
    if (forgotten) return;
    forgotten = true;
    // The file goes away after the warehouse read it; a dry run forgets it.
    fs::rename(landing() / "a/1.parquet", dir_ / "aside.parquet");
    auto plan = engine_->Plan({});
    ASSERT_TRUE(plan) << plan.error().ToString();
  };
  auto outcome = engine_->Run({});
  ASSERT_TRUE(forgotten);
  ASSERT_TRUE(outcome) << outcome.error().ToString();
  ASSERT_EQ(outcome->tables.size(), 1u);
  EXPECT_EQ(outcome->tables[0].status, state::TableRunStatus::kSucceeded) << outcome->tables[0].error;
  EXPECT_EQ(WarehouseRows("a"), 10);
  EXPECT_EQ(LedgerSize("a"), 1u);

  // The file comes back: its content is staged already, never twice.
  hooked_->after_apply = nullptr;
  fs::rename(dir_ / "aside.parquet", landing() / "a/1.parquet");
  RunAll();
  RunAll();
  EXPECT_EQ(WarehouseRows("a"), 10);
  EXPECT_EQ(LedgerSize("a"), 1u);
}

// A quarantined file is recorded before it is moved; with the state
// store down neither happens, and both happen once it is back.
TEST_F(EngineTest, QuarantinedFileIsMovedOnlyOnceItsRecordIsWritten) {
  WriteConfig("  quarantine_dir: quarantine\n");
  Land("a/1.parquet", 10);
  WriteBadFile("a/bad.parquet");
  Open();
  switchable_->down = true;
  auto failed = engine_->Run({});
  ASSERT_FALSE(failed) << "a run whose records cannot be written must say so";
  EXPECT_TRUE(failed.error().transient) << failed.error().ToString();
  EXPECT_TRUE(fs::exists(landing() / "a/bad.parquet")) << "moved without a record";
  EXPECT_FALSE(fs::exists(quarantine() / "a/bad.parquet"));

  switchable_->down = false;
  EXPECT_FALSE(Stored("a/bad.parquet").has_value());
  auto outcome = RunAll();
  EXPECT_TRUE(outcome.ok());
  auto bad = Stored("a/bad.parquet");
  ASSERT_TRUE(bad.has_value()) << "the quarantine record was lost";
  EXPECT_EQ(bad->status, state::BatchStatus::kQuarantined);
  EXPECT_EQ(bad->error_code, "not_parquet");
  EXPECT_FALSE(fs::exists(landing() / "a/bad.parquet"));
  EXPECT_TRUE(fs::exists(quarantine() / "a/bad.parquet"));
  auto good = Stored("a/1.parquet");
  ASSERT_TRUE(good.has_value());
  EXPECT_EQ(good->status, state::BatchStatus::kStaged);
  EXPECT_EQ(WarehouseRows("a"), 10);
  EXPECT_EQ(LedgerSize("a"), 1u);
}

// The state store goes down while a table is being staged; the
// warehouse commits, the run says it could not record, and the next run
// writes what memory knows (the batch is staged, once).
TEST_F(EngineTest, StagedBatchWhoseRecordFailedIsRecordedByTheNextRun) {
  Land("a/1.parquet", 10);
  Open();
  hooked_->after_apply = [&] { switchable_->down = true; };
  auto failed = engine_->Run({});
  ASSERT_FALSE(failed);
  EXPECT_TRUE(failed.error().transient) << failed.error().ToString();
  EXPECT_EQ(WarehouseRows("a"), 10);

  hooked_->after_apply = nullptr;
  switchable_->down = false;
  auto stored = Stored("a/1.parquet");
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->status, state::BatchStatus::kPending);  // what PostgreSQL heard so far

  auto quiet = RunAll();
  EXPECT_EQ(quiet.run_id, 0);  // nothing to stage again
  stored = Stored("a/1.parquet");
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->status, state::BatchStatus::kStaged);
  auto runs = state_->ListRuns(0);
  ASSERT_TRUE(runs);
  ASSERT_EQ(runs->size(), 1u);
  EXPECT_EQ((*runs)[0].status, "succeeded");  // finished, not left "running"
  auto records = state_->TableRuns((*runs)[0].id);
  ASSERT_TRUE(records);
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ((*records)[0].rows, 10);

  // A new engine plans nothing for it: staged once.
  Close();
  Open();
  EXPECT_EQ(RunAll().run_id, 0);
  EXPECT_EQ(WarehouseRows("a"), 10);
  EXPECT_EQ(LedgerSize("a"), 1u);
}

// Landfall stopped between recording a quarantined file and moving
// it: the next run moves it.
TEST_F(EngineTest, RecordedQuarantinedFileStillInTheLandingDirIsMovedByTheNextRun) {
  WriteBadFile("a/bad.parquet");
  Open();
  RunAll();  // no quarantine_dir yet: recorded, left in place
  ASSERT_TRUE(Stored("a/bad.parquet").has_value());
  ASSERT_TRUE(fs::exists(landing() / "a/bad.parquet"));
  Close();
  WriteConfig("  quarantine_dir: quarantine\n");
  Open();
  RunAll();
  EXPECT_FALSE(fs::exists(landing() / "a/bad.parquet"));
  EXPECT_TRUE(fs::exists(quarantine() / "a/bad.parquet"));
  auto bad = Stored("a/bad.parquet");
  ASSERT_TRUE(bad.has_value());
  EXPECT_EQ(bad->status, state::BatchStatus::kQuarantined);
}

// A file in quarantine_dir without a record (moved by a landfall that
// stopped before recording it) is listed at start-up and can be retried.
TEST_F(EngineTest, FileInTheQuarantineDirWithoutARecordIsRecordedAtStartAndCanBeRetried) {
  WriteConfig("  quarantine_dir: quarantine\n");
  Land("a/1.parquet", 10);
  testing::WriteParquet(quarantine() / "a/lost.parquet",
                        "SELECT i::INTEGER AS id, 'n' || i AS name, i * 1.5 AS amount "
                        "FROM range(100, 107) t(i)");
  Open();
  auto lost = Stored("a/lost.parquet");
  ASSERT_TRUE(lost.has_value()) << "unlisted in the state store";
  EXPECT_EQ(lost->status, state::BatchStatus::kQuarantined);
  EXPECT_EQ(lost->error_code, "unrecorded");

  auto table = engine_->RetryQuarantined("a/lost.parquet");
  ASSERT_TRUE(table) << table.error().ToString();
  EXPECT_EQ(*table, "a");
  EXPECT_TRUE(fs::exists(landing() / "a/lost.parquet"));
  RunAll();
  EXPECT_EQ(WarehouseRows("a"), 17);
  auto staged = Stored("a/lost.parquet");
  ASSERT_TRUE(staged.has_value());
  EXPECT_EQ(staged->status, state::BatchStatus::kStaged);
}

// Counts what the engine reports as pending (the landfall_pending_batches gauge).
class PendingGauge : public EngineObserver {
 public:
  void OnPendingBatches(int64_t count) override { pending = count; }
  std::atomic<int64_t> pending{-1};
};

// A staged file moved within its table is the same batch under a
// new path: staged (not pending forever), not staged again, counted once.
TEST_F(EngineTest, StagedFileMovedWithinItsTableIsTheSameBatchUnderItsNewPath) {
  Land("a/1.parquet", 10);
  Land("a/2.parquet", 5, 10);
  Open();
  PendingGauge gauge;
  engine_->SetObserver(&gauge);
  RunAll();
  fs::create_directories(landing() / "a/moved");
  fs::rename(landing() / "a/1.parquet", landing() / "a/moved/1.parquet");
  RunAll();
  EXPECT_EQ(gauge.pending.load(), 0);
  auto summaries = engine_->TableSummaries();
  ASSERT_EQ(summaries.size(), 1u);
  EXPECT_EQ(summaries[0].pending, 0);
  EXPECT_EQ(summaries[0].staged, 2);
  EXPECT_EQ(summaries[0].rows_staged, 15);
  auto moved = Stored("a/moved/1.parquet");
  ASSERT_TRUE(moved.has_value());
  EXPECT_EQ(moved->status, state::BatchStatus::kStaged);
  EXPECT_FALSE(Stored("a/1.parquet").has_value());
  EXPECT_EQ(WarehouseRows("a"), 15);
  EXPECT_EQ(LedgerSize("a"), 2u);

  // Moved again, after a restart: still one batch.
  engine_->SetObserver(nullptr);
  Close();
  fs::rename(landing() / "a/moved/1.parquet", landing() / "a/1-again.parquet");
  Open();
  EXPECT_EQ(RunAll().run_id, 0);
  summaries = engine_->TableSummaries();
  ASSERT_EQ(summaries.size(), 1u);
  EXPECT_EQ(summaries[0].pending, 0);
  EXPECT_EQ(summaries[0].staged, 2);
  EXPECT_EQ(summaries[0].rows_staged, 15);
  EXPECT_FALSE(Stored("a/moved/1.parquet").has_value());
  EXPECT_EQ(WarehouseRows("a"), 15);
}

// Records the model actions the engine reports (the metrics' source).
class ModelActions : public EngineObserver {
 public:
  void OnModelFinished(const ModelActionReport& report) override {
    std::lock_guard lock(mu);
    reports.push_back(report);
  }
  std::mutex mu;  // guards reports
  std::vector<ModelActionReport> reports;
};

TEST_F(EngineTest, ModelPhaseReportsEveryModelThatActedAndStoresTheRunsDagWhenItChanged) {
  fs::create_directories(dir_ / "models");
  std::ofstream(dir_ / "models" / "clean.sql") << "SELECT id, amount FROM staging.a\n";
  std::ofstream(dir_ / "models" / "total.sql") << "SELECT sum(amount) AS total FROM analytics.clean\n";
  // A top-level key after landing's.
  WriteConfig("models: {dir: models, schema: analytics}\n");
  Land("a/1.parquet", 10);
  Open();
  ModelActions actions;
  engine_->SetObserver(&actions);
  const RunOutcome first = RunAll();
  ASSERT_EQ(first.models.size(), 2u);
  {
    std::lock_guard lock(actions.mu);
    ASSERT_EQ(actions.reports.size(), 2u);
    EXPECT_EQ(actions.reports[0].model, "clean");
    EXPECT_EQ(actions.reports[0].strategy, "full_refresh");
    EXPECT_EQ(actions.reports[0].action, model::ToString(first.models[0].step.action));
    EXPECT_TRUE(actions.reports[0].ok);
    EXPECT_EQ(actions.reports[0].rows_written, 10);
    EXPECT_EQ(actions.reports[1].model, "total");
  }
  auto dag = state_->LatestDag();
  ASSERT_TRUE(dag && dag->has_value());
  EXPECT_EQ(nlohmann::json::parse(**dag),
            nlohmann::json::parse(R"({"nodes": [
              {"id": "staging.a", "kind": "staging", "schema": "staging", "name": "a"},
              {"id": "analytics.clean", "kind": "model", "schema": "analytics", "name": "clean", "strategy": "full_refresh"},
              {"id": "analytics.total", "kind": "model", "schema": "analytics", "name": "total", "strategy": "full_refresh"}],
              "edges": [{"from": "staging.a", "to": "analytics.clean"}, {"from": "analytics.clean", "to": "analytics.total"}]})"));

  // A quiet cycle: no model acts, nothing is reported.
  EXPECT_EQ(RunAll().run_id, 0);
  Land("a/2.parquet", 5, 10);
  RunAll();
  std::lock_guard lock(actions.mu);
  EXPECT_EQ(actions.reports.size(), 4u) << "both models ran again on the new batch";
  engine_->SetObserver(nullptr);
}

}  // namespace
}  // namespace landfall::exec
