#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "lib/plan/plan.h"

namespace landfall::plan {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using schema::Column;
using schema::Schema;

// ---- building inputs by hand ----

Column Col(std::string name, std::string type, bool nullable = true) {
  Column c;
  c.name = std::move(name);
  c.source_type = type;
  c.type = std::move(type);
  c.nullable = nullable;
  return c;
}

Schema S(std::vector<Column> columns) { return Schema{std::move(columns)}; }

// The schema most tests use: (id INTEGER, name VARCHAR).
Schema Base() { return S({Col("id", "INTEGER"), Col("name", "VARCHAR")}); }

CurrentBatch B(std::string id, std::string rel_path, Schema schema = Base()) {
  return CurrentBatch{std::move(id), std::move(rel_path), 10, std::move(schema)};
}

// A warehouse holding `columns` with `staged` batches in its ledger.
warehouse::TableContents Warehouse(Schema columns, const std::vector<CurrentBatch>& staged) {
  warehouse::TableContents wh;
  wh.exists = true;
  wh.columns = std::move(columns);
  for (const auto& b : staged) wh.ledger[b.batch_id] = {b.batch_id, b.rel_path, b.rows, 1};
  return wh;
}

RememberedTable Remembered(Schema snapshot, std::string status = "active") {
  RememberedTable r;
  r.snapshot = std::move(snapshot);
  r.status = std::move(status);
  return r;
}

// A table that was staged with `staged` and whose folder now holds `now`;
// state and warehouse agree on Base().
TableInputs Staged(const std::vector<CurrentBatch>& staged, std::vector<CurrentBatch> now) {
  TableInputs in;
  in.table = "orders";
  in.folder_exists = true;
  in.batches = std::move(now);
  in.remembered = Remembered(Base());
  in.warehouse = Warehouse(Base(), staged);
  return in;
}

// A stand-in for the warehouse's supertype rules: INTEGER and BIGINT widen to
// BIGINT; nothing else has a supertype.
Result<std::string> FakeSupertype(const std::string& a, const std::string& b) {
  if (a == b) return a;
  if ((a == "INTEGER" && b == "BIGINT") || (a == "BIGINT" && b == "INTEGER")) {
    return std::string("BIGINT");
  }
  return Fail("no_supertype", "no common supertype for " + a + " and " + b);
}

TablePlan Plan(const TableInputs& in, const PlanOptions& options = {}) {
  return PlanTable(in, options, FakeSupertype);
}

std::vector<std::string> Codes(const TablePlan& plan) {
  std::vector<std::string> out;
  for (const auto& r : plan.reasons) out.push_back(r.code);
  return out;
}

const PlanReason* FindReason(const TablePlan& plan, const std::string& code) {
  for (const auto& r : plan.reasons) {
    if (r.code == code) return &r;
  }
  return nullptr;
}

// ---- new tables ----

TEST(PlanTableTest, NewTableIsCreatedWithAllItsBatches) {
  TableInputs in;
  in.table = "orders";
  in.folder_exists = true;
  in.batches = {B("b1", "orders/a.parquet"), B("b2", "orders/b.parquet")};
  TablePlan plan = Plan(in);
  EXPECT_EQ(plan.table, "orders");
  EXPECT_EQ(plan.action, Action::kCreate);
  EXPECT_THAT(plan.batches, ElementsAre("orders/a.parquet", "orders/b.parquet"));
  ASSERT_THAT(Codes(plan), ElementsAre(reason::kNewTable));
  EXPECT_EQ(plan.reasons[0].detail, "2 batches");
  EXPECT_TRUE(plan.target.SameStagingColumns(Base()));
}

TEST(PlanTableTest, NewTableTargetIsTheUnionOfItsBatches) {
  TableInputs in;
  in.table = "orders";
  in.folder_exists = true;
  in.batches = {B("b1", "orders/a.parquet", S({Col("id", "INTEGER")})),
                B("b2", "orders/b.parquet", S({Col("id", "BIGINT"), Col("note", "VARCHAR")}))};
  TablePlan plan = Plan(in);
  EXPECT_EQ(plan.action, Action::kCreate);
  EXPECT_TRUE(plan.target.SameStagingColumns(S({Col("id", "BIGINT"), Col("note", "VARCHAR")})));
}

TEST(PlanTableTest, NewTableWithIncompatibleBatchesFails) {
  TableInputs in;
  in.table = "orders";
  in.folder_exists = true;
  in.batches = {B("b1", "orders/a.parquet", S({Col("id", "INTEGER")})),
                B("b2", "orders/b.parquet", S({Col("id", "VARCHAR")}))};
  TablePlan plan = Plan(in);
  EXPECT_EQ(plan.action, Action::kFail);
  EXPECT_THAT(plan.batches, IsEmpty());
  const PlanReason* why = FindReason(plan, reason::kSupertypeUnavailable);
  ASSERT_NE(why, nullptr);
  EXPECT_THAT(why->detail, HasSubstr("id"));
}

TEST(PlanTableTest, EmptyNewFolderIsSkipped) {
  TableInputs in;
  in.table = "orders";
  in.folder_exists = true;
  TablePlan plan = Plan(in);
  EXPECT_EQ(plan.action, Action::kSkip);
  EXPECT_THAT(plan.batches, IsEmpty());
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kNoChange));
}

// ---- quiet tables and appends ----

TEST(PlanTableTest, NothingNewIsSkipped) {
  auto b1 = B("b1", "orders/a.parquet");
  TablePlan plan = Plan(Staged({b1}, {b1}));
  EXPECT_EQ(plan.action, Action::kSkip);
  EXPECT_THAT(plan.batches, IsEmpty());
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kNoChange));
}

TEST(PlanTableTest, NewBatchWithSameSchemaAppendsOnlyThatBatch) {
  auto b1 = B("b1", "orders/2026/part-1.parquet");
  auto b2 = B("b2", "orders/2026/part-2.parquet");
  auto b3 = B("b3", "orders/2026/part-3.parquet");
  TablePlan plan = Plan(Staged({b1, b2}, {b1, b2, b3}));
  EXPECT_EQ(plan.action, Action::kAppend);
  EXPECT_THAT(plan.batches, ElementsAre("orders/2026/part-3.parquet"));
  ASSERT_THAT(Codes(plan), ElementsAre(reason::kNewBatches));
  EXPECT_EQ(plan.reasons[0].detail, "1 new batch");
  EXPECT_TRUE(plan.target.SameStagingColumns(Base()));
}

TEST(PlanTableTest, SeveralNewBatchesAreCountedInTheReason) {
  auto b1 = B("b1", "orders/a.parquet");
  TablePlan plan = Plan(Staged({b1}, {b1, B("b2", "orders/b.parquet"), B("b3", "orders/c.parquet")}));
  EXPECT_EQ(plan.action, Action::kAppend);
  EXPECT_THAT(plan.batches, ElementsAre("orders/b.parquet", "orders/c.parquet"));
  ASSERT_THAT(Codes(plan), ElementsAre(reason::kNewBatches));
  EXPECT_EQ(plan.reasons[0].detail, "2 new batches");
}

TEST(PlanTableTest, BatchLackingAColumnIsAppendedNotAChange) {
  auto b1 = B("b1", "orders/a.parquet");
  auto b2 = B("b2", "orders/b.parquet", S({Col("id", "INTEGER")}));
  TablePlan plan = Plan(Staged({b1}, {b1, b2}));
  EXPECT_EQ(plan.action, Action::kAppend);
  EXPECT_THAT(plan.batches, ElementsAre("orders/b.parquet"));
  // The absent column stays in the target; its new rows are NULL.
  EXPECT_TRUE(plan.target.SameStagingColumns(Base()));
}

TEST(PlanTableTest, ColumnNameCaseDifferenceIsNotAChange) {
  auto b1 = B("b1", "orders/a.parquet");
  auto b2 = B("b2", "orders/b.parquet", S({Col("ID", "INTEGER"), Col("Name", "VARCHAR")}));
  TablePlan plan = Plan(Staged({b1}, {b1, b2}));
  EXPECT_EQ(plan.action, Action::kAppend);
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kNewBatches));
}

TEST(PlanTableTest, ColumnOrderChangeIsNotAChange) {
  auto b1 = B("b1", "orders/a.parquet");
  auto b2 = B("b2", "orders/b.parquet", S({Col("name", "VARCHAR"), Col("id", "INTEGER")}));
  TablePlan plan = Plan(Staged({b1}, {b1, b2}));
  EXPECT_EQ(plan.action, Action::kAppend);
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kNewBatches));
}

TEST(PlanTableTest, NullabilityChangeIsNotAChange) {
  auto b1 = B("b1", "orders/a.parquet");
  auto b2 = B("b2", "orders/b.parquet", S({Col("id", "INTEGER", false), Col("name", "VARCHAR", false)}));
  TablePlan plan = Plan(Staged({b1}, {b1, b2}));
  EXPECT_EQ(plan.action, Action::kAppend);
}

TEST(PlanTableTest, ChangeInsideANestedTypeIsNotAChange) {
  Column before = Col("payload", "JSON");
  before.source_type = "STRUCT(a INTEGER)";
  Column after = Col("payload", "JSON");
  after.source_type = "STRUCT(a INTEGER, b VARCHAR)";
  auto b1 = B("b1", "orders/a.parquet", S({before}));
  auto b2 = B("b2", "orders/b.parquet", S({after}));
  TableInputs in = Staged({b1}, {b1, b2});
  in.remembered = Remembered(S({before}));
  in.warehouse.columns = S({before});
  TablePlan plan = Plan(in);
  EXPECT_EQ(plan.action, Action::kAppend);
  EXPECT_THAT(plan.batches, ElementsAre("orders/b.parquet"));
}

TEST(PlanTableTest, NarrowerTypeInANewBatchIsAppendedToTheWiderColumn) {
  Schema wide = S({Col("id", "BIGINT")});
  auto b1 = B("b1", "orders/a.parquet", wide);
  auto b2 = B("b2", "orders/b.parquet", S({Col("id", "INTEGER")}));
  TableInputs in = Staged({b1}, {b1, b2});
  in.remembered = Remembered(wide);
  in.warehouse.columns = wide;
  TablePlan plan = Plan(in);
  EXPECT_EQ(plan.action, Action::kAppend);
  EXPECT_EQ(plan.target.Find("id")->type, "BIGINT");
}

TEST(PlanTableTest, SameContentMovedToANewPathIsNotNew) {
  auto staged = B("b1", "orders/a.parquet");
  auto moved = B("b1", "orders/2026/a.parquet");
  TablePlan plan = Plan(Staged({staged}, {moved}));
  EXPECT_EQ(plan.action, Action::kSkip);
  EXPECT_THAT(plan.batches, IsEmpty());
  EXPECT_EQ(FindReason(plan, reason::kBatchRemoved), nullptr);
}

// ---- schema changes ----

TEST(PlanTableTest, NewBatchAddingAColumnRebuildsTheTable) {
  auto b1 = B("b1", "orders/a.parquet");
  auto b2 = B("b2", "orders/b.parquet",
              S({Col("id", "INTEGER"), Col("name", "VARCHAR"), Col("discount", "DOUBLE")}));
  TablePlan plan = Plan(Staged({b1}, {b1, b2}));
  EXPECT_EQ(plan.action, Action::kRebuild);
  EXPECT_THAT(plan.batches, ElementsAre("orders/a.parquet", "orders/b.parquet"));
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kSchemaChanged, reason::kColumnAdded));
  const PlanReason* added = FindReason(plan, reason::kColumnAdded);
  ASSERT_NE(added, nullptr);
  EXPECT_THAT(added->detail, HasSubstr("discount"));
  EXPECT_THAT(added->detail, HasSubstr("DOUBLE"));
  ASSERT_NE(plan.target.Find("discount"), nullptr);
  EXPECT_EQ(plan.target.columns.size(), 3u);
}

TEST(PlanTableTest, WideningTypeRebuildsWithTheSupertype) {
  auto b1 = B("b1", "orders/a.parquet");
  auto b2 = B("b2", "orders/b.parquet", S({Col("id", "BIGINT"), Col("name", "VARCHAR")}));
  TablePlan plan = Plan(Staged({b1}, {b1, b2}));
  EXPECT_EQ(plan.action, Action::kRebuild);
  EXPECT_THAT(plan.batches, ElementsAre("orders/a.parquet", "orders/b.parquet"));
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kSchemaChanged, reason::kTypeChanged));
  EXPECT_THAT(FindReason(plan, reason::kTypeChanged)->detail, HasSubstr("id"));
  EXPECT_EQ(plan.target.Find("id")->type, "BIGINT");
}

TEST(PlanTableTest, IncompatibleTypesWithoutSupertypeFail) {
  auto b1 = B("b1", "orders/a.parquet");
  auto b2 = B("b2", "orders/b.parquet", S({Col("id", "VARCHAR"), Col("name", "VARCHAR")}));
  TablePlan plan = Plan(Staged({b1}, {b1, b2}));
  EXPECT_EQ(plan.action, Action::kFail);
  EXPECT_THAT(plan.batches, IsEmpty());
  const PlanReason* why = FindReason(plan, reason::kSupertypeUnavailable);
  ASSERT_NE(why, nullptr);
  EXPECT_THAT(why->detail, HasSubstr("INTEGER"));
  EXPECT_THAT(why->detail, HasSubstr("VARCHAR"));
}

// ---- batches that changed or went away ----

TEST(PlanTableTest, RewrittenBatchRebuildsTheTable) {
  auto staged = B("old-content", "orders/a.parquet");
  auto rewritten = B("new-content", "orders/a.parquet");
  auto other = B("b2", "orders/b.parquet");
  TablePlan plan = Plan(Staged({staged, other}, {rewritten, other}));
  EXPECT_EQ(plan.action, Action::kRebuild);
  EXPECT_THAT(plan.batches, ElementsAre("orders/a.parquet", "orders/b.parquet"));
  const PlanReason* why = FindReason(plan, reason::kBatchRewritten);
  ASSERT_NE(why, nullptr);
  EXPECT_THAT(why->detail, HasSubstr("orders/a.parquet"));
}

TEST(PlanTableTest, DeletedStagedBatchIsReportedButChangesNothing) {
  auto b1 = B("b1", "orders/a.parquet");
  auto b2 = B("b2", "orders/b.parquet");
  TablePlan plan = Plan(Staged({b1, b2}, {b1}));
  EXPECT_EQ(plan.action, Action::kSkip);
  EXPECT_THAT(plan.batches, IsEmpty());
  const PlanReason* why = FindReason(plan, reason::kBatchRemoved);
  ASSERT_NE(why, nullptr);
  EXPECT_THAT(why->detail, HasSubstr("orders/b.parquet"));
}

TEST(PlanTableTest, DeletedStagedBatchDoesNotStopANewOneFromAppending) {
  auto b1 = B("b1", "orders/a.parquet");
  auto b2 = B("b2", "orders/b.parquet");
  auto b3 = B("b3", "orders/c.parquet");
  TablePlan plan = Plan(Staged({b1, b2}, {b1, b3}));
  EXPECT_EQ(plan.action, Action::kAppend);
  EXPECT_THAT(plan.batches, ElementsAre("orders/c.parquet"));
  EXPECT_NE(FindReason(plan, reason::kBatchRemoved), nullptr);
  EXPECT_NE(FindReason(plan, reason::kNewBatches), nullptr);
}

// ---- folders that went away ----

TEST(PlanTableTest, VanishedFolderOrphansTheStagingTable) {
  auto b1 = B("b1", "orders/a.parquet");
  TableInputs in = Staged({b1}, {});
  in.folder_exists = false;
  TablePlan plan = Plan(in);
  EXPECT_EQ(plan.action, Action::kOrphan);
  EXPECT_THAT(plan.batches, IsEmpty());
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kTableRemoved));
}

TEST(PlanTableTest, AlreadyOrphanedTableIsSkipped) {
  auto b1 = B("b1", "orders/a.parquet");
  TableInputs in = Staged({b1}, {});
  in.folder_exists = false;
  in.remembered->status = "orphaned";
  TablePlan plan = Plan(in);
  EXPECT_EQ(plan.action, Action::kSkip);
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kTableRemoved));
}

TEST(PlanTableTest, VanishedFolderWithNothingStagedIsSkipped) {
  TableInputs in;
  in.table = "orders";
  in.folder_exists = false;
  TablePlan plan = Plan(in);
  EXPECT_EQ(plan.action, Action::kSkip);
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kNoChange));
}

TEST(PlanTableTest, ReturnedFolderOfAnOrphanedTableSaysSo) {
  auto b1 = B("b1", "orders/a.parquet");
  TableInputs in = Staged({b1}, {b1, B("b2", "orders/b.parquet")});
  in.remembered->status = "orphaned";
  TablePlan plan = Plan(in);
  EXPECT_EQ(plan.action, Action::kAppend);
  EXPECT_NE(FindReason(plan, reason::kTableReturned), nullptr);
}

// ---- the warehouse disagrees with state ----

TEST(PlanTableTest, MissingWarehouseTableKnownToTheLedgerIsRebuilt) {
  auto b1 = B("b1", "orders/a.parquet");
  TableInputs in = Staged({b1}, {b1});
  in.warehouse.exists = false;
  in.warehouse.columns = {};
  TablePlan plan = Plan(in);
  EXPECT_EQ(plan.action, Action::kRebuild);
  EXPECT_THAT(plan.batches, ElementsAre("orders/a.parquet"));
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kWarehouseTableMissing));
}

TEST(PlanTableTest, MissingWarehouseTableKnownOnlyToStateIsRebuilt) {
  auto b1 = B("b1", "orders/a.parquet");
  TableInputs in;
  in.table = "orders";
  in.folder_exists = true;
  in.batches = {b1};
  in.remembered = Remembered(Base());
  TablePlan plan = Plan(in);  // the warehouse holds nothing at all
  EXPECT_EQ(plan.action, Action::kRebuild);
  EXPECT_THAT(plan.batches, ElementsAre("orders/a.parquet"));
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kWarehouseTableMissing));
}

TEST(PlanTableTest, WarehouseColumnsDisagreeingWithStateRebuild) {
  auto b1 = B("b1", "orders/a.parquet");
  auto b2 = B("b2", "orders/b.parquet");
  TableInputs in = Staged({b1}, {b1, b2});
  in.warehouse.columns = S({Col("id", "INTEGER")});  // someone dropped a column by hand
  TablePlan plan = Plan(in);
  EXPECT_EQ(plan.action, Action::kRebuild);
  EXPECT_THAT(plan.batches, ElementsAre("orders/a.parquet", "orders/b.parquet"));
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kWarehouseSchemaMismatch));
  EXPECT_TRUE(plan.target.SameStagingColumns(Base()));
}

TEST(PlanTableTest, WarehouseColumnTypeDisagreeingWithStateRebuilds) {
  auto b1 = B("b1", "orders/a.parquet");
  TableInputs in = Staged({b1}, {b1});
  in.warehouse.columns = S({Col("id", "BIGINT"), Col("name", "VARCHAR")});
  TablePlan plan = Plan(in);
  EXPECT_EQ(plan.action, Action::kRebuild);
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kWarehouseSchemaMismatch));
}

TEST(PlanTableTest, StateAndWarehouseDifferingOnlyInNameCaseAgree) {
  auto b1 = B("b1", "orders/a.parquet");
  TableInputs in = Staged({b1}, {b1});
  in.warehouse.columns = S({Col("ID", "INTEGER"), Col("NAME", "VARCHAR")});
  TablePlan plan = Plan(in);
  EXPECT_EQ(plan.action, Action::kSkip);
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kNoChange));
}

// ---- state missing or unreadable ----

TEST(PlanTableTest, MissingStateConsistentWithWarehouseIsRederivedAndSkipped) {
  auto b1 = B("b1", "orders/a.parquet");
  TableInputs in = Staged({b1}, {b1});
  in.remembered.reset();
  TablePlan plan = Plan(in);
  EXPECT_EQ(plan.action, Action::kSkip);
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kStateMissing, reason::kNoChange));
}

TEST(PlanTableTest, MissingStateConsistentWithWarehouseAppendsNewBatches) {
  auto b1 = B("b1", "orders/a.parquet");
  auto b2 = B("b2", "orders/b.parquet");
  TableInputs in = Staged({b1}, {b1, b2});
  in.remembered.reset();
  TablePlan plan = Plan(in);
  EXPECT_EQ(plan.action, Action::kAppend);
  EXPECT_THAT(plan.batches, ElementsAre("orders/b.parquet"));
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kStateMissing, reason::kNewBatches));
}

TEST(PlanTableTest, MissingStateInconsistentWithWarehouseRebuilds) {
  auto b1 = B("b1", "orders/a.parquet");
  TableInputs in = Staged({b1}, {b1});
  in.remembered.reset();
  // The warehouse has a column no staged batch's footer has.
  in.warehouse.columns = S({Col("id", "INTEGER"), Col("name", "VARCHAR"), Col("extra", "DATE")});
  TablePlan plan = Plan(in);
  EXPECT_EQ(plan.action, Action::kRebuild);
  EXPECT_THAT(plan.batches, ElementsAre("orders/a.parquet"));
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kStateMissing, reason::kLedgerMismatch));
  EXPECT_TRUE(plan.target.SameStagingColumns(Base()));
}

TEST(PlanTableTest, StateRowWithoutSnapshotIsTreatedAsMissing) {
  auto b1 = B("b1", "orders/a.parquet");
  TableInputs in = Staged({b1}, {b1});
  in.remembered = RememberedTable{};
  TablePlan plan = Plan(in);
  EXPECT_EQ(plan.action, Action::kSkip);
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kStateMissing, reason::kNoChange));
}

TEST(PlanTableTest, UnreadableStateConsistentWithWarehouseIsRederived) {
  auto b1 = B("b1", "orders/a.parquet");
  auto b2 = B("b2", "orders/b.parquet");
  TableInputs in = Staged({b1}, {b1, b2});
  in.remembered = RememberedTable{};
  in.remembered->unreadable = true;
  TablePlan plan = Plan(in);
  EXPECT_EQ(plan.action, Action::kAppend);
  EXPECT_THAT(plan.batches, ElementsAre("orders/b.parquet"));
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kStateUnreadable, reason::kNewBatches));
}

TEST(PlanTableTest, UnreadableStateInconsistentWithWarehouseRebuilds) {
  auto b1 = B("b1", "orders/a.parquet");
  TableInputs in = Staged({b1}, {b1});
  in.remembered = RememberedTable{};
  in.remembered->unreadable = true;
  in.warehouse.columns = S({Col("id", "INTEGER")});
  TablePlan plan = Plan(in);
  EXPECT_EQ(plan.action, Action::kRebuild);
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kStateUnreadable, reason::kLedgerMismatch));
}

// ---- operator requests ----

TEST(PlanTableTest, DeletedStateRebuildsTheTable) {
  auto b1 = B("b1", "orders/a.parquet");
  TableInputs in = Staged({b1}, {b1});
  in.remembered->status = "reset";
  TablePlan plan = Plan(in);
  EXPECT_EQ(plan.action, Action::kRebuild);
  EXPECT_THAT(plan.batches, ElementsAre("orders/a.parquet"));
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kStateDeleted));
}

TEST(PlanTableTest, FullRefreshRebuildsAQuietTable) {
  auto b1 = B("b1", "orders/a.parquet");
  auto b2 = B("b2", "orders/b.parquet");
  PlanOptions options;
  options.full_refresh = true;
  TablePlan plan = Plan(Staged({b1, b2}, {b1, b2}), options);
  EXPECT_EQ(plan.action, Action::kRebuild);
  EXPECT_THAT(plan.batches, ElementsAre("orders/a.parquet", "orders/b.parquet"));
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kFullRefreshRequested));
}

TEST(PlanTableTest, FullRefreshOfANewTableCreatesIt) {
  TableInputs in;
  in.table = "orders";
  in.folder_exists = true;
  in.batches = {B("b1", "orders/a.parquet")};
  PlanOptions options;
  options.full_refresh = true;
  TablePlan plan = Plan(in, options);
  EXPECT_EQ(plan.action, Action::kCreate);
  EXPECT_THAT(plan.batches, ElementsAre("orders/a.parquet"));
}

// ---- whole plans ----

TEST(PlanAllTest, UnusableStateRebuildsEveryTableAndSaysWhy) {
  auto b1 = B("b1", "orders/a.parquet");
  TableInputs quiet = Staged({b1}, {b1});
  TableInputs fresh;
  fresh.table = "customers";
  fresh.folder_exists = true;
  fresh.batches = {B("c1", "customers/c.parquet")};
  PlanOptions options;
  options.state_unusable = true;
  options.state_unusable_why = "state format version 9 is newer than this binary";
  ChangePlan plan = PlanAll({quiet, fresh}, options, FakeSupertype);
  EXPECT_TRUE(plan.full_rebuild);
  ASSERT_EQ(plan.reasons.size(), 1u);
  EXPECT_EQ(plan.reasons[0].code, reason::kStateUnusable);
  EXPECT_EQ(plan.reasons[0].detail, "state format version 9 is newer than this binary");
  ASSERT_EQ(plan.tables.size(), 2u);
  for (const auto& t : plan.tables) {
    EXPECT_EQ(t.action, Action::kRebuild) << t.table;
    EXPECT_THAT(Codes(t), ElementsAre(reason::kStateUnusable)) << t.table;
  }
  EXPECT_THAT(plan.tables[0].batches, ElementsAre("customers/c.parquet"));
  EXPECT_THAT(plan.tables[1].batches, ElementsAre("orders/a.parquet"));
}

TEST(PlanAllTest, UsableStateIsNotAFullRebuild) {
  auto b1 = B("b1", "orders/a.parquet");
  ChangePlan plan = PlanAll({Staged({b1}, {b1})}, {}, FakeSupertype);
  EXPECT_FALSE(plan.full_rebuild);
  EXPECT_THAT(plan.reasons, IsEmpty());
}

TEST(PlanAllTest, TablesAreSortedByName) {
  std::vector<TableInputs> inputs;
  for (const char* name : {"zebra", "alpha", "mango"}) {
    TableInputs in;
    in.table = name;
    in.folder_exists = true;
    in.batches = {B(std::string(name) + "-1", std::string(name) + "/a.parquet")};
    inputs.push_back(in);
  }
  ChangePlan plan = PlanAll(inputs, {}, FakeSupertype);
  std::vector<std::string> names;
  for (const auto& t : plan.tables) names.push_back(t.table);
  EXPECT_THAT(names, ElementsAre("alpha", "mango", "zebra"));
}

TEST(PlanAllTest, OneChangedTableLeavesTheOthersSkipped) {
  auto o1 = B("o1", "orders/a.parquet");
  TableInputs orders = Staged({o1}, {o1, B("o2", "orders/b.parquet")});
  auto c1 = B("c1", "customers/a.parquet");
  TableInputs customers = Staged({c1}, {c1});
  customers.table = "customers";
  ChangePlan plan = PlanAll({orders, customers}, {}, FakeSupertype);
  ASSERT_EQ(plan.tables.size(), 2u);
  EXPECT_EQ(plan.tables[0].table, "customers");
  EXPECT_EQ(plan.tables[0].action, Action::kSkip);
  EXPECT_EQ(plan.tables[1].table, "orders");
  EXPECT_EQ(plan.tables[1].action, Action::kAppend);
  EXPECT_EQ(plan.ActionableCount(), 1);
}

TEST(PlanTest, EveryActionHasItsDocumentedName) {
  EXPECT_STREQ(ToString(Action::kSkip), "skip");
  EXPECT_STREQ(ToString(Action::kCreate), "create");
  EXPECT_STREQ(ToString(Action::kAppend), "append");
  EXPECT_STREQ(ToString(Action::kEvolve), "evolve");
  EXPECT_STREQ(ToString(Action::kRebuild), "rebuild");
  EXPECT_STREQ(ToString(Action::kOrphan), "orphan");
  EXPECT_STREQ(ToString(Action::kDrop), "drop");
  EXPECT_STREQ(ToString(Action::kFail), "fail");
}

// ---- JSON and text forms ----

ChangePlan SamplePlan() {
  auto b1 = B("b1", "orders/2026/part-1.parquet");
  TableInputs orders = Staged({b1}, {b1, B("b3", "orders/2026/part-3.parquet")});
  auto c1 = B("c1", "customers/a.parquet");
  TableInputs customers = Staged({c1}, {c1});
  customers.table = "customers";
  return PlanAll({orders, customers}, {}, FakeSupertype);
}

TEST(PlanJsonTest, TopLevelHasExactlyTheDocumentedKeys) {
  auto j = nlohmann::json::parse(ToJson(SamplePlan()));
  ASSERT_TRUE(j.is_object());
  std::vector<std::string> keys;
  for (const auto& [key, value] : j.items()) keys.push_back(key);
  EXPECT_THAT(keys, ::testing::UnorderedElementsAre("full_rebuild", "reasons", "tables"));
  EXPECT_EQ(j["full_rebuild"], false);
  EXPECT_TRUE(j["reasons"].is_array());
  EXPECT_TRUE(j["reasons"].empty());
  EXPECT_TRUE(j["tables"].is_array());
}

TEST(PlanJsonTest, TableEntryHasTheDocumentedShape) {
  auto j = nlohmann::json::parse(ToJson(SamplePlan()));
  ASSERT_EQ(j["tables"].size(), 2u);
  const auto& orders = j["tables"][1];
  EXPECT_EQ(orders["table"], "orders");
  EXPECT_EQ(orders["action"], "append");
  EXPECT_EQ(orders["batches"], nlohmann::json::array({"orders/2026/part-3.parquet"}));
  ASSERT_TRUE(orders["reasons"].is_array());
  ASSERT_EQ(orders["reasons"].size(), 1u);
  EXPECT_EQ(orders["reasons"][0],
            (nlohmann::json{{"code", "new_batches"}, {"detail", "1 new batch"}}));
}

TEST(PlanJsonTest, EveryTableHasTableActionBatchesAndReasons) {
  auto j = nlohmann::json::parse(ToJson(SamplePlan()));
  for (const auto& t : j["tables"]) {
    EXPECT_TRUE(t["table"].is_string()) << t;
    EXPECT_TRUE(t["action"].is_string()) << t;
    EXPECT_TRUE(t["batches"].is_array()) << t;  // [] for skip, never null
    ASSERT_TRUE(t["reasons"].is_array()) << t;
    for (const auto& r : t["reasons"]) {
      std::vector<std::string> keys;
      for (const auto& [key, value] : r.items()) keys.push_back(key);
      EXPECT_THAT(keys, ::testing::UnorderedElementsAre("code", "detail")) << r;
      EXPECT_TRUE(r["code"].is_string());
      EXPECT_TRUE(r["detail"].is_string());
    }
  }
  EXPECT_EQ(j["tables"][0]["table"], "customers");
  EXPECT_EQ(j["tables"][0]["action"], "skip");
  EXPECT_EQ(j["tables"][0]["batches"], nlohmann::json::array());
}

TEST(PlanJsonTest, TableEntryCarriesTargetSchemaHashAndColumns) {
  ChangePlan plan = SamplePlan();
  auto j = nlohmann::json::parse(ToJson(plan));
  const auto& orders = j["tables"][1];
  EXPECT_EQ(orders["policy"], "evolve");
  EXPECT_EQ(orders["schema_hash"], plan.tables[1].target.Hash());
  EXPECT_EQ(orders["columns"], nlohmann::json::array({{{"name", "id"}, {"type", "INTEGER"}},
                                                      {{"name", "name"}, {"type", "VARCHAR"}}}));
}

TEST(PlanJsonTest, FullRebuildCarriesItsReasons) {
  ChangePlan plan;
  plan.full_rebuild = true;
  plan.reasons.push_back({reason::kStateUnusable, "unknown state format"});
  auto j = nlohmann::json::parse(ToJson(plan));
  EXPECT_EQ(j["full_rebuild"], true);
  EXPECT_EQ(j["reasons"],
            nlohmann::json::array({{{"code", "state_unusable"}, {"detail", "unknown state format"}}}));
}

TEST(PlanJsonTest, StrangeTableNamesProduceValidJson) {
  ChangePlan plan;
  TablePlan t;
  t.table = "a\"b; drop table x";
  plan.tables.push_back(t);
  TablePlan bad;
  bad.table = "bad\xff\xfeutf8";  // not UTF-8: replaced, not thrown
  plan.tables.push_back(bad);
  std::string text;
  ASSERT_NO_THROW(text = ToJson(plan));
  auto j = nlohmann::json::parse(text);
  EXPECT_EQ(j["tables"][0]["table"], "a\"b; drop table x");
  EXPECT_TRUE(j["tables"][1]["table"].is_string());
}

TEST(PlanJsonTest, ReasonsToJsonIsAListOfCodeAndDetail) {
  auto j = nlohmann::json::parse(ReasonsToJson({{"new_table", "1 batch"}}));
  EXPECT_EQ(j, nlohmann::json::array({{{"code", "new_table"}, {"detail", "1 batch"}}}));
}

TEST(PlanTextTest, ListsEveryTableWithItsAction) {
  std::string text = ToText(SamplePlan());
  EXPECT_THAT(text, HasSubstr("orders"));
  EXPECT_THAT(text, HasSubstr("customers"));
  EXPECT_THAT(text, HasSubstr("append"));
  EXPECT_THAT(text, HasSubstr("skip"));
  EXPECT_THAT(text, HasSubstr("new_batches"));
  EXPECT_THAT(text, HasSubstr("2 tables, 1 to change"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("FULL REBUILD")));
}

TEST(PlanTextTest, FullRebuildIsAnnouncedWithItsReason) {
  ChangePlan plan;
  plan.full_rebuild = true;
  plan.reasons.push_back({reason::kStateUnusable, "unknown state format"});
  std::string text = ToText(plan);
  EXPECT_THAT(text, HasSubstr("FULL REBUILD"));
  EXPECT_THAT(text, HasSubstr("unknown state format"));
}

TEST(PlanTextTest, LongTableNamesDoNotBreakTheLayout) {
  ChangePlan plan;
  TablePlan t;
  t.table = std::string(40, 'x');
  t.action = Action::kRebuild;
  plan.tables.push_back(t);
  std::string text;
  ASSERT_NO_THROW(text = ToText(plan));
  EXPECT_THAT(text, HasSubstr(std::string(40, 'x') + "  rebuild"));
}

}  // namespace
}  // namespace landfall::plan
