// The catalog of batches on its own, with a fake footer reader: which files
// it records and how (pending, quarantined, deferred, duplicate, staged), which
// it reads again, and which it forgets. The files are real (the catalog scans
// and fingerprints them), their footers are the fake's.
#include "lib/exec/batch_catalog.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/fakes.h"
#include "tests/support/testing.h"

namespace landfall::exec {
namespace {

namespace fs = std::filesystem;
using ::testing::Contains;
using ::testing::Not;
using state::BatchStatus;

class BatchCatalogTest : public ::testing::Test {
 protected:
  BatchCatalogTest() : catalog_(Landing(), footers_, pool_, clock_) {}

  config::LandingConfig Landing() {
    config::LandingConfig landing;
    landing.dir = dir_ / "landing";
    fs::create_directories(landing.dir);
    return landing;
  }
  fs::path landing() const { return dir_ / "landing"; }

  // Writes `content` at `rel` with a footer of one column (`type`) and `rows` rows.
  void Land(const std::string& rel, const std::string& content, int64_t rows = 1,
            const std::string& type = "BIGINT") {
    fs::create_directories((landing() / rel).parent_path());
    std::ofstream(landing() / rel, std::ios::binary | std::ios::trunc) << content;
    footers_.Set(landing() / rel, {schema::Schema{{{"id", type}}}, rows});
  }

  // One refresh of every table (or of `tables`), as the engine runs it.
  CatalogChanges Refresh(bool dry_run = false, std::vector<std::string> tables = {},
                         std::chrono::seconds grace = std::chrono::seconds(0)) {
    const bool all = tables.empty();
    auto scanned = catalog_.Scan(tables, all);
    EXPECT_TRUE(scanned) << scanned.error().ToString();
    scanned_ = std::move(*scanned);
    auto candidates = catalog_.ToInspect(scanned_);
    auto inspected = catalog_.Inspect(candidates, grace);
    EXPECT_TRUE(inspected) << inspected.error().ToString();
    return catalog_.Merge(std::move(*inspected), scanned_, tables, all, dry_run, contents_, observer_);
  }

  BatchStatus StatusOf(const std::string& path) {
    const KnownBatch* batch = catalog_.Find(path);
    EXPECT_NE(batch, nullptr) << path << " is not in the catalog";
    return batch ? batch->status : BatchStatus::kPending;
  }

  // The warehouse's ledger holds `path`'s content (as staged from `path`,
  // loaded at 1), and the catalog says it is staged (at kStagedAt).
  void Stage(const std::string& path) {
    KnownBatch* batch = catalog_.Find(path);
    ASSERT_NE(batch, nullptr);
    batch->status = BatchStatus::kStaged;
    batch->staged_at_us = kStagedAt;
    auto& contents = contents_[batch->table];
    contents.exists = true;
    contents.ledger[batch->fingerprint] = {batch->fingerprint, path, batch->rows, 1};
  }

  static constexpr int64_t kStagedAt = 42;
  testing::TempDir dir_;
  testing::FakeFooterReader footers_;
  testing::FakeClock clock_;
  ThreadPool pool_{2};
  WarehouseContents contents_;
  EngineObserver observer_;
  Scanned scanned_;
  BatchCatalog catalog_;
};

TEST_F(BatchCatalogTest, NewFileIsRecordedPendingWithItsFooter) {
  Land("orders/a.parquet", "first", 7);

  auto changes = Refresh();

  EXPECT_EQ(StatusOf("orders/a.parquet"), BatchStatus::kPending);
  const KnownBatch* batch = catalog_.Find("orders/a.parquet");
  ASSERT_NE(batch, nullptr);
  EXPECT_EQ(batch->table, "orders");
  EXPECT_EQ(batch->rows, 7);
  EXPECT_EQ(batch->fingerprint.size(), 64u);  // sha-256 hex
  ASSERT_NE(batch->schema, nullptr);
  EXPECT_EQ(batch->schema->schema.columns.at(0).name, "id");
  EXPECT_EQ(changes.stats.files, 1);
  EXPECT_EQ(changes.stats.inspected, 1);
  EXPECT_THAT(changes.written, Contains("orders/a.parquet"));
  EXPECT_THAT(changes.changed_tables, Contains("orders"));
  // As the state store keeps it: with its schema as JSON.
  auto stored = catalog_.ForStore("orders/a.parquet");
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->schema_json, schema::ToJson(batch->schema->schema));
}

TEST_F(BatchCatalogTest, UnchangedFileIsNotReadAgain) {
  Land("orders/a.parquet", "first");
  Refresh();
  const int reads = footers_.reads();

  auto changes = Refresh();

  EXPECT_EQ(changes.stats.inspected, 0);
  EXPECT_EQ(footers_.reads(), reads);
  EXPECT_TRUE(changes.written.empty());
  EXPECT_TRUE(changes.changed_tables.empty());
}

TEST_F(BatchCatalogTest, ChangedContentIsANewPendingBatch) {
  Land("orders/a.parquet", "first");
  Refresh();
  const std::string before = catalog_.Find("orders/a.parquet")->fingerprint;
  Stage("orders/a.parquet");

  Land("orders/a.parquet", "second, longer", 3);
  auto changes = Refresh();

  EXPECT_EQ(changes.stats.inspected, 1);
  EXPECT_EQ(StatusOf("orders/a.parquet"), BatchStatus::kPending);
  EXPECT_NE(catalog_.Find("orders/a.parquet")->fingerprint, before);
  EXPECT_EQ(catalog_.Find("orders/a.parquet")->rows, 3);
  EXPECT_THAT(changes.written, Contains("orders/a.parquet"));
}

TEST_F(BatchCatalogTest, StagedFileTouchedWithTheSameContentStaysStaged) {
  Land("orders/a.parquet", "first");
  Refresh();
  Stage("orders/a.parquet");

  fs::last_write_time(landing() / "orders/a.parquet",
                      fs::last_write_time(landing() / "orders/a.parquet") + std::chrono::seconds(5));
  auto changes = Refresh();

  EXPECT_EQ(changes.stats.inspected, 1);  // read again for its new mtime
  EXPECT_EQ(StatusOf("orders/a.parquet"), BatchStatus::kStaged);
  EXPECT_EQ(catalog_.Find("orders/a.parquet")->staged_at_us, kStagedAt);  // the same staging
}

TEST_F(BatchCatalogTest, VanishedPendingFileIsForgotten) {
  Land("orders/a.parquet", "first");
  Land("orders/b.parquet", "second");
  Refresh();

  fs::remove(landing() / "orders/a.parquet");
  auto changes = Refresh();

  EXPECT_EQ(catalog_.Find("orders/a.parquet"), nullptr);
  EXPECT_THAT(changes.written, Contains("orders/a.parquet"));  // to be deleted from the store
  EXPECT_THAT(changes.changed_tables, Contains("orders"));
  EXPECT_EQ(StatusOf("orders/b.parquet"), BatchStatus::kPending);
}

TEST_F(BatchCatalogTest, VanishedStagedFileIsKeptWhileTheLedgerHoldsIt) {
  Land("orders/a.parquet", "first");
  Land("orders/b.parquet", "second");
  Refresh();
  Stage("orders/a.parquet");
  Stage("orders/b.parquet");
  contents_["orders"].ledger.erase(catalog_.Find("orders/b.parquet")->fingerprint);  // rebuilt without it

  fs::remove(landing() / "orders/a.parquet");
  fs::remove(landing() / "orders/b.parquet");
  auto changes = Refresh();

  EXPECT_EQ(StatusOf("orders/a.parquet"), BatchStatus::kStaged);  // the planner applies the policy
  EXPECT_THAT(changes.stale_plans, Contains("orders"));
  EXPECT_EQ(catalog_.Find("orders/b.parquet"), nullptr);
  EXPECT_THAT(changes.written, Contains("orders/b.parquet"));
  EXPECT_THAT(changes.written, Not(Contains("orders/a.parquet")));
}

TEST_F(BatchCatalogTest, SameContentTwiceInATableIsADuplicateOfTheFirstPath) {
  Land("orders/a.parquet", "same bytes");
  Land("orders/b.parquet", "same bytes");
  Land("invoices/a.parquet", "same bytes");  // another table: no duplicate

  auto changes = Refresh();

  EXPECT_EQ(StatusOf("orders/a.parquet"), BatchStatus::kPending);
  EXPECT_EQ(StatusOf("orders/b.parquet"), BatchStatus::kDuplicate);
  EXPECT_EQ(catalog_.Find("orders/b.parquet")->duplicate_of, "orders/a.parquet");
  EXPECT_EQ(StatusOf("invoices/a.parquet"), BatchStatus::kPending);
  EXPECT_EQ(changes.stats.duplicates, 1);
}

TEST_F(BatchCatalogTest, TheBatchTheLedgerHoldsIsKeptOverADuplicate) {
  Land("orders/b.parquet", "same bytes");
  Refresh();
  Stage("orders/b.parquet");

  Land("orders/a.parquet", "same bytes");  // first in path order, but new
  Refresh();

  EXPECT_EQ(StatusOf("orders/b.parquet"), BatchStatus::kStaged);
  EXPECT_EQ(StatusOf("orders/a.parquet"), BatchStatus::kDuplicate);
  EXPECT_EQ(catalog_.Find("orders/a.parquet")->duplicate_of, "orders/b.parquet");
}

TEST_F(BatchCatalogTest, DuplicateWhoseTwinIsGoneIsPendingAgain) {
  Land("orders/a.parquet", "same bytes");
  Land("orders/b.parquet", "same bytes");
  Refresh();
  ASSERT_EQ(StatusOf("orders/b.parquet"), BatchStatus::kDuplicate);

  fs::remove(landing() / "orders/a.parquet");
  auto changes = Refresh(/*dry_run=*/false, {"orders"});  // a run of that table alone

  EXPECT_EQ(StatusOf("orders/b.parquet"), BatchStatus::kPending);
  EXPECT_TRUE(catalog_.Find("orders/b.parquet")->duplicate_of.empty());
  EXPECT_THAT(changes.written, Contains("orders/b.parquet"));
}

TEST_F(BatchCatalogTest, BadFooterIsQuarantinedWithItsReasonButNotByADryRun) {
  Land("orders/a.parquet", "garbage");
  footers_.SetError(landing() / "orders/a.parquet", "not_parquet");

  auto planned = Refresh(/*dry_run=*/true);
  EXPECT_EQ(catalog_.Find("orders/a.parquet"), nullptr);
  EXPECT_EQ(planned.stats.deferred, 1);
  EXPECT_TRUE(planned.quarantined.empty());

  auto run = Refresh();
  EXPECT_EQ(StatusOf("orders/a.parquet"), BatchStatus::kQuarantined);
  EXPECT_EQ(catalog_.Find("orders/a.parquet")->error_code, "not_parquet");
  EXPECT_EQ(run.stats.quarantined, 1);
  EXPECT_THAT(run.quarantined, Contains("orders/a.parquet"));
}

TEST_F(BatchCatalogTest, TruncatedFileJustWrittenIsDeferredWithinTheGrace) {
  Land("orders/a.parquet", "half");
  footers_.SetError(landing() / "orders/a.parquet", "truncated");
  clock_.now = fs::file_time_type::clock::to_sys(fs::last_write_time(landing() / "orders/a.parquet"));

  auto changes = Refresh(/*dry_run=*/false, {}, std::chrono::seconds(60));

  EXPECT_EQ(catalog_.Find("orders/a.parquet"), nullptr);
  EXPECT_EQ(changes.stats.deferred, 1);
  EXPECT_THAT(changes.stats.deferred_tables, Contains("orders"));

  clock_.now = clock_.now.load() + std::chrono::minutes(2);  // past the grace: broken, not unfinished
  Refresh(/*dry_run=*/false, {}, std::chrono::seconds(60));
  EXPECT_EQ(StatusOf("orders/a.parquet"), BatchStatus::kQuarantined);
}

TEST_F(BatchCatalogTest, StagedFileMovedWithinItsTableIsTakenOverByItsNewPath) {
  Land("orders/a.parquet", "staged bytes");
  Refresh();
  Stage("orders/a.parquet");

  fs::create_directories(landing() / "orders/2026");
  fs::rename(landing() / "orders/a.parquet", landing() / "orders/2026/a.parquet");
  footers_.Set(landing() / "orders/2026/a.parquet", {schema::Schema{{{"id", "BIGINT"}}}, 1});
  auto changes = Refresh();

  EXPECT_EQ(StatusOf("orders/2026/a.parquet"), BatchStatus::kStaged);
  EXPECT_EQ(catalog_.Find("orders/a.parquet"), nullptr);
  EXPECT_THAT(changes.written, Contains("orders/a.parquet"));
}

TEST_F(BatchCatalogTest, LoadedRecordsShareOneSchemaAndKeepTheirStatus) {
  state::BatchRecord a{.table = "orders", .path = "orders/a.parquet", .fingerprint = "fa"};
  a.status = BatchStatus::kStaged;
  a.schema_json = schema::ToJson(schema::Schema{{{"id", "BIGINT"}}});
  state::BatchRecord b = a;
  b.path = "orders/b.parquet";
  b.fingerprint = "fb";
  b.status = BatchStatus::kPending;

  catalog_.Load({a, b});

  ASSERT_NE(catalog_.Find("orders/a.parquet"), nullptr);
  EXPECT_EQ(StatusOf("orders/a.parquet"), BatchStatus::kStaged);
  EXPECT_EQ(catalog_.Find("orders/a.parquet")->schema, catalog_.Find("orders/b.parquet")->schema);
  EXPECT_TRUE(catalog_.Find("orders/a.parquet")->schema_json.empty());  // held once, shared
  EXPECT_EQ(catalog_.ForStore("orders/b.parquet")->schema_json, a.schema_json);
}

}  // namespace
}  // namespace landfall::exec
