// The engine in process, against real PostgreSQL and a real DuckDB file: what
// it keeps in memory between runs (quiet tables' plans, the table list the API
// serves) must agree with what a fresh look would decide.
#include "lib/exec/engine.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <utility>

#include "lib/config/config.h"
#include "lib/landing/catalog.h"
#include "lib/warehouse/duckdb_warehouse.h"
#include "tests/cli/cli_fixture.h"

namespace landfall::exec {
namespace {

using ::testing::Contains;
using ::testing::Not;

// The real warehouse, with `before_load` run before the next Append, Evolve or
// Rebuild: the moment between the engine's fingerprinting and the load.
class HookedWarehouse final : public warehouse::Warehouse {
 public:
  HookedWarehouse(std::unique_ptr<warehouse::Warehouse> inner, std::function<void()> before_load)
      : inner_(std::move(inner)), before_load_(std::move(before_load)) {}

  Status Init() override { return inner_->Init(); }
  Result<std::map<std::string, warehouse::TableContents>> Inspect() override {
    return inner_->Inspect();
  }
  Result<warehouse::ApplyStats> Append(const std::string& table, const schema::Schema& target,
                                       std::span<const warehouse::BatchFile> batches) override {
    Hook();
    return inner_->Append(table, target, batches);
  }
  Result<warehouse::ApplyStats> Evolve(const std::string& table, const schema::Schema& target,
                                       std::span<const warehouse::ColumnRename> renames,
                                       std::span<const warehouse::BatchFile> batches) override {
    Hook();
    return inner_->Evolve(table, target, renames, batches);
  }
  using warehouse::Warehouse::Rebuild;
  Result<warehouse::ApplyStats> Rebuild(const std::string& table, const schema::Schema& target,
                                        std::span<const warehouse::BatchFile> batches,
                                        std::span<const std::string> carry_over) override {
    Hook();
    return inner_->Rebuild(table, target, batches, carry_over);
  }
  Status Drop(const std::string& table) override { return inner_->Drop(table); }
  Result<std::string> CommonSupertype(const std::string& a, const std::string& b) override {
    return inner_->CommonSupertype(a, b);
  }
  int64_t StatementsExecuted() const override { return inner_->StatementsExecuted(); }
  Result<int64_t> RowCount(const std::string& table) override { return inner_->RowCount(table); }

 private:
  void Hook() {
    if (auto hook = std::exchange(before_load_, nullptr)) hook();
  }
  std::unique_ptr<warehouse::Warehouse> inner_;
  std::function<void()> before_load_;  // run once
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
    auto wh = warehouse::OpenDuckDb({config_.warehouse.path, config_.warehouse.staging_schema});
    ASSERT_TRUE(wh) << wh.error().ToString();
    warehouse_ = std::move(*wh);
    if (before_load_) {
      warehouse_ =
          std::make_unique<HookedWarehouse>(std::move(warehouse_), std::move(before_load_));
    }
    auto footers = warehouse::NewDuckDbFooterReader();
    ASSERT_TRUE(footers) << footers.error().ToString();
    footers_ = std::move(*footers);
    pool_ = std::make_unique<ThreadPool>(2);
    engine_ = std::make_unique<Engine>(config_, *state_, *warehouse_, *footers_, *pool_,
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
  config::Config config_;
  std::unique_ptr<state::StateStore> state_;
  std::unique_ptr<warehouse::Warehouse> warehouse_;
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
  engine_.reset();
  warehouse_.reset();
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
  EXPECT_EQ(failed.tables[0].status, "failed");
  EXPECT_TRUE(failed.tables[0].transient) << "the next run must look again";
  EXPECT_THAT(failed.tables[0].error, ::testing::HasSubstr(warehouse::kBatchChanged));
  EXPECT_FALSE(warehouse_->RowCount("a")) << "nothing committed";

  // The next run fingerprints the file again and stages what it holds now,
  // under the fingerprint of that content.
  auto staged = RunAll();
  ASSERT_EQ(staged.tables.size(), 1u);
  EXPECT_EQ(staged.tables[0].status, "succeeded") << staged.tables[0].error;
  EXPECT_EQ(staged.tables[0].rows, 5);
  auto fingerprint = landing::Fingerprint(landing() / "a/1.parquet");
  ASSERT_TRUE(fingerprint);
  engine_.reset();
  warehouse_.reset();
  EXPECT_EQ(testing::QueryDuckDb(warehouse(), "SELECT DISTINCT _landfall_batch FROM staging.a"),
            (std::vector<std::string>{*fingerprint}));
  EXPECT_EQ(testing::QueryDuckDb(warehouse(), "SELECT min(id) || '..' || max(id) FROM staging.a"),
            (std::vector<std::string>{"100..104"}));
}

}  // namespace
}  // namespace landfall::exec
