// The planner, a pure function from state, warehouse contents and batches to
// a ChangePlan, fed inputs built by hand: the action and reasons for new,
// unchanged, drifting, renamed, rewritten, deleted, vanished and returning
// tables; name collisions; the schema_evolution policies; state or warehouse
// that disagree; full refreshes and full rebuilds; and the plan's JSON and
// text output.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <optional>

#include "lib/plan/plan.h"

namespace landfall::plan {
namespace {

using schema::Column;
using schema::Schema;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// ---- building inputs by hand ----

Column Col(std::string name, std::string type, bool nullable = true,
           std::optional<int32_t> field_id = std::nullopt) {
  Column c;
  c.name = std::move(name);
  c.source_type = type;
  c.type = std::move(type);
  c.nullable = nullable;
  c.field_id = field_id;
  return c;
}

// A column with a Parquet field_id.
Column Fid(std::string name, std::string type, int32_t field_id) {
  return Col(std::move(name), std::move(type), true, field_id);
}

Schema S(std::vector<Column> columns) { return Schema{std::move(columns)}; }

// The schema most tests use: (id INTEGER, name VARCHAR).
Schema Base() { return S({Col("id", "INTEGER"), Col("name", "VARCHAR")}); }

CurrentBatch B(std::string id, std::string rel_path, Schema schema = Base()) {
  return CurrentBatch{std::move(id), std::move(rel_path), 10,
                      std::make_shared<const Schema>(std::move(schema))};
}

// A warehouse holding `columns` with `staged` batches in its ledger.
warehouse::TableContents Warehouse(Schema columns, const std::vector<CurrentBatch>& staged) {
  warehouse::TableContents wh;
  wh.exists = true;
  wh.columns = std::move(columns);
  for (const auto& b : staged) wh.ledger[b.batch_id] = {b.batch_id, b.rel_path, b.rows, 1};
  return wh;
}

RememberedTable Remembered(Schema snapshot,
                           state::TableStatus status = state::TableStatus::kActive) {
  RememberedTable r;
  r.snapshot = std::move(snapshot);
  r.status = status;
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

// What the engine hands the planner (Engine::Supertype): landfall's own
// supertype for numbers (schema::NumericSupertypeOf), else DuckDB's common
// supertype (these answers are DuckDB 1.4's, from SELECT typeof([NULL::a,
// NULL::b][1])), and where DuckDB has none, VARCHAR, or JSON when one side is JSON.
Result<std::string> EngineSupertype(const std::string& a, const std::string& b) {
  if (a == b) return a;
  if (auto numeric = schema::NumericSupertypeOf(a, b)) return numeric->type;
  if (a == "JSON" || b == "JSON") return std::string("JSON");
  static const std::map<std::pair<std::string, std::string>, std::string> kDuckDb = {
      {{"TINYINT", "SMALLINT"}, "SMALLINT"},
      {{"SMALLINT", "INTEGER"}, "INTEGER"},
      {{"INTEGER", "BIGINT"}, "BIGINT"},
      {{"TINYINT", "BIGINT"}, "BIGINT"},
      {{"UTINYINT", "USMALLINT"}, "USMALLINT"},
      {{"USMALLINT", "UINTEGER"}, "UINTEGER"},
      {{"UINTEGER", "UBIGINT"}, "UBIGINT"},
      {{"UTINYINT", "SMALLINT"}, "SMALLINT"},
      {{"UINTEGER", "BIGINT"}, "BIGINT"},
      {{"UINTEGER", "INTEGER"}, "BIGINT"},
      {{"FLOAT", "DOUBLE"}, "DOUBLE"},
      {{"INTEGER", "DOUBLE"}, "DOUBLE"},
      {{"SMALLINT", "DOUBLE"}, "DOUBLE"},
      {{"BIGINT", "DOUBLE"}, "DOUBLE"},
      {{"INTEGER", "FLOAT"}, "FLOAT"},
      {{"DECIMAL(10,2)", "DECIMAL(12,2)"}, "DECIMAL(12,2)"},
      {{"DECIMAL(10,2)", "DECIMAL(10,3)"}, "DECIMAL(11,3)"},
      {{"DATE", "TIMESTAMP"}, "TIMESTAMP"},
  };
  if (auto it = kDuckDb.find({a, b}); it != kDuckDb.end()) return it->second;
  if (auto it = kDuckDb.find({b, a}); it != kDuckDb.end()) return it->second;
  return std::string("VARCHAR");
}

TablePlan EnginePlan(const TableInputs& in, const PlanOptions& options = {}) {
  return PlanTable(in, options, EngineSupertype);
}

// Like Staged(), but state and warehouse hold `columns` instead of Base().
TableInputs StagedWith(const Schema& columns, const std::vector<CurrentBatch>& staged,
                       std::vector<CurrentBatch> now) {
  TableInputs in = Staged(staged, std::move(now));
  in.remembered = Remembered(columns);
  in.warehouse.columns = columns;
  return in;
}

std::vector<std::string> ColumnNames(const Schema& s) {
  std::vector<std::string> out;
  for (const auto& c : s.columns) out.push_back(c.name);
  return out;
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

// A warehouse that stores a type less precisely says so in the plan, once:
// when a table first gets such a column.
TEST(PlanTableTest, ATypeTheWarehouseStoresLessPreciselyIsAReason) {
  PlanOptions options;
  options.lossy_types = {
      {"TIMESTAMP_NS", "PostgreSQL timestamp: nanoseconds are cut to microseconds"}};
  TableInputs in;
  in.table = "events";
  in.folder_exists = true;
  in.batches = {B("b1", "events/a.parquet", S({Col("id", "INTEGER"), Col("at", "TIMESTAMP_NS")}))};
  TablePlan created = Plan(in, options);
  EXPECT_EQ(created.action, Action::kCreate);
  const PlanReason* why = FindReason(created, reason::kPrecisionLost);
  ASSERT_NE(why, nullptr);
  EXPECT_EQ(why->detail,
            "column at: TIMESTAMP_NS is stored as PostgreSQL timestamp: nanoseconds are cut to "
            "microseconds");

  // Once staged so, a new batch of the same columns appends without it.
  const Schema columns = *in.batches[0].schema;
  TableInputs staged =
      StagedWith(columns, in.batches, {in.batches[0], B("b2", "events/b.parquet", columns)});
  TablePlan appended = Plan(staged, options);
  EXPECT_EQ(appended.action, Action::kAppend);
  EXPECT_EQ(FindReason(appended, reason::kPrecisionLost), nullptr);
  // A warehouse that keeps the type has nothing to say.
  EXPECT_EQ(FindReason(Plan(in), reason::kPrecisionLost), nullptr);
}

// ---- names that differ only in case ----

TEST(NameCollisionsTest, NameTheWarehouseHoldsWinsOverANewOne) {
  auto losers = NameCollisions({{"Orders", NameHold::kNew}, {"orders", NameHold::kStaged}});
  EXPECT_EQ(losers, (std::map<std::string, std::string>{{"Orders", "orders"}}));
}

TEST(NameCollisionsTest, NameKnownToStateOrLedgerWinsOverANewOne) {
  auto losers = NameCollisions({{"ORDERS", NameHold::kNew}, {"orders", NameHold::kKnown}});
  EXPECT_EQ(losers, (std::map<std::string, std::string>{{"ORDERS", "orders"}}));
}

TEST(NameCollisionsTest, AmongNewNamesTheFirstInByteOrderWins) {
  auto losers = NameCollisions(
      {{"orders", NameHold::kNew}, {"Orders", NameHold::kNew}, {"ORDERS", NameHold::kNew}});
  EXPECT_EQ(losers,
            (std::map<std::string, std::string>{{"Orders", "ORDERS"}, {"orders", "ORDERS"}}));
}

TEST(NameCollisionsTest, NamesThatDifferBeyondCaseDoNotCollide) {
  EXPECT_THAT(NameCollisions({{"orders", NameHold::kStaged},
                              {"orders_2", NameHold::kNew},
                              {"customers", NameHold::kNew}}),
              IsEmpty());
}

TEST(PlanTableTest, TableWhoseNameCollidesFailsWithTheReasonAndStagesNothing) {
  TableInputs in;
  in.table = "Orders";
  in.folder_exists = true;
  in.batches = {B("b1", "Orders/a.parquet")};
  in.collides_with = "orders";
  TablePlan plan = Plan(in);
  EXPECT_EQ(plan.action, Action::kFail);
  EXPECT_THAT(plan.batches, IsEmpty());
  EXPECT_THAT(plan.quarantine, IsEmpty());
  ASSERT_THAT(Codes(plan), ElementsAre(reason::kTableNameCollision));
  EXPECT_EQ(plan.reasons[0].detail, "Orders collides with orders");
}

TEST(PlanTableTest, CollidingNameWithoutAFolderIsSkippedNeverDropped) {
  // Dropping "Orders" would drop "orders": DuckDB resolves them to one table.
  TableInputs in;
  in.table = "Orders";
  in.warehouse.ledger["b1"] = {"b1", "Orders/a.parquet", 1, 1};
  in.policy.on_table_removed = config::OnTableRemoved::kDrop;
  in.collides_with = "orders";
  TablePlan plan = Plan(in);
  EXPECT_EQ(plan.action, Action::kSkip);
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kTableNameCollision));
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
  TablePlan plan =
      Plan(Staged({b1}, {b1, B("b2", "orders/b.parquet"), B("b3", "orders/c.parquet")}));
  EXPECT_EQ(plan.action, Action::kAppend);
  EXPECT_THAT(plan.batches, ElementsAre("orders/b.parquet", "orders/c.parquet"));
  ASSERT_THAT(Codes(plan), ElementsAre(reason::kNewBatches));
  EXPECT_EQ(plan.reasons[0].detail, "2 new batches");
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

TEST(PlanTableTest, SameContentMovedToANewPathIsNotNew) {
  auto staged = B("b1", "orders/a.parquet");
  auto moved = B("b1", "orders/2026/a.parquet");
  TablePlan plan = Plan(Staged({staged}, {moved}));
  EXPECT_EQ(plan.action, Action::kSkip);
  EXPECT_THAT(plan.batches, IsEmpty());
  EXPECT_EQ(FindReason(plan, reason::kBatchRemoved), nullptr);
}

// ---- schema changes under schema_evolution: evolve (the default) ----

TEST(PlanTableTest, NewBatchAddingAColumnEvolvesTheTableInPlace) {
  auto b1 = B("b1", "orders/a.parquet");
  auto b2 = B("b2", "orders/b.parquet",
              S({Col("id", "INTEGER"), Col("name", "VARCHAR"), Col("discount", "DOUBLE")}));
  TablePlan plan = Plan(Staged({b1}, {b1, b2}));
  EXPECT_EQ(plan.action, Action::kEvolve);
  EXPECT_EQ(plan.policy, config::SchemaEvolution::kEvolve);
  // Only the new batch: the old rows stay and get NULL in the new column.
  EXPECT_THAT(plan.batches, ElementsAre("orders/b.parquet"));
  EXPECT_THAT(Codes(plan),
              ElementsAre(reason::kNewBatches, reason::kSchemaChanged, reason::kColumnAdded));
  EXPECT_EQ(FindReason(plan, reason::kColumnAdded)->detail, "discount DOUBLE");
  EXPECT_THAT(ColumnNames(plan.target), ElementsAre("id", "name", "discount"));
  EXPECT_EQ(plan.target.Find("discount")->type, "DOUBLE");
  EXPECT_TRUE(plan.target.Find("discount")->nullable);
  EXPECT_THAT(plan.renames, IsEmpty());
  EXPECT_THAT(plan.quarantine, IsEmpty());
}

TEST(PlanTableTest, SeveralAddedColumnsAreEachNamed) {
  auto b1 = B("b1", "orders/a.parquet");
  auto b2 = B("b2", "orders/b.parquet",
              S({Col("id", "INTEGER"), Col("name", "VARCHAR"), Col("discount", "DOUBLE"),
                 Col("coupon", "VARCHAR")}));
  TablePlan plan = Plan(Staged({b1}, {b1, b2}));
  EXPECT_EQ(plan.action, Action::kEvolve);
  std::vector<std::string> added;
  for (const auto& r : plan.reasons) {
    if (r.code == reason::kColumnAdded) added.push_back(r.detail);
  }
  EXPECT_THAT(added, ElementsAre("discount DOUBLE", "coupon VARCHAR"));
}

TEST(PlanTableTest, ColumnAbsentFromNewBatchesIsKeptAndNewRowsGetNull) {
  auto b1 = B("b1", "orders/a.parquet");
  auto b2 = B("b2", "orders/b.parquet", S({Col("id", "INTEGER")}));
  TablePlan plan = Plan(Staged({b1}, {b1, b2}));
  EXPECT_EQ(plan.action, Action::kAppend);
  EXPECT_THAT(plan.batches, ElementsAre("orders/b.parquet"));
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kNewBatches, reason::kColumnAbsent));
  EXPECT_EQ(FindReason(plan, reason::kColumnAbsent)->detail, "name VARCHAR (new rows NULL)");
  EXPECT_TRUE(plan.target.SameStagingColumns(Base()));
}

TEST(PlanTableTest, ColumnCarriedByAnyNewBatchIsNotAbsent) {
  auto b1 = B("b1", "orders/a.parquet");
  auto b2 = B("b2", "orders/b.parquet", S({Col("id", "INTEGER")}));
  auto b3 = B("b3", "orders/c.parquet");
  TablePlan plan = Plan(Staged({b1}, {b1, b2, b3}));
  EXPECT_EQ(plan.action, Action::kAppend);
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kNewBatches));
}

struct Widening {
  std::string from, to;
};

class LosslessWideningTest : public ::testing::TestWithParam<Widening> {};

TEST_P(LosslessWideningTest, IsAlteredInPlaceAndOnlyNewBatchesAreLoaded) {
  const auto& [from, to] = GetParam();
  Schema before = S({Col("id", "INTEGER"), Col("qty", from)});
  auto b1 = B("b1", "orders/a.parquet", before);
  auto b2 = B("b2", "orders/b.parquet", S({Col("id", "INTEGER"), Col("qty", to)}));
  TablePlan plan = EnginePlan(StagedWith(before, {b1}, {b1, b2}));
  EXPECT_EQ(plan.action, Action::kEvolve);
  EXPECT_THAT(plan.batches, ElementsAre("orders/b.parquet"));
  EXPECT_THAT(Codes(plan),
              ElementsAre(reason::kNewBatches, reason::kSchemaChanged, reason::kTypeWidened));
  EXPECT_EQ(FindReason(plan, reason::kTypeWidened)->detail, "qty " + from + "\u2192" + to);
  EXPECT_EQ(plan.target.Find("qty")->type, to);
  EXPECT_THAT(ColumnNames(plan.target), ElementsAre("id", "qty"));
}

INSTANTIATE_TEST_SUITE_P(
    PlanTableTest, LosslessWideningTest,
    ::testing::Values(Widening{"TINYINT", "SMALLINT"}, Widening{"SMALLINT", "INTEGER"},
                      Widening{"INTEGER", "BIGINT"}, Widening{"TINYINT", "BIGINT"},
                      Widening{"UTINYINT", "USMALLINT"}, Widening{"USMALLINT", "UINTEGER"},
                      Widening{"UINTEGER", "UBIGINT"}, Widening{"UTINYINT", "SMALLINT"},
                      Widening{"UINTEGER", "BIGINT"}, Widening{"FLOAT", "DOUBLE"},
                      Widening{"INTEGER", "DOUBLE"}, Widening{"SMALLINT", "DOUBLE"},
                      Widening{"DECIMAL(10,2)", "DECIMAL(12,2)"},
                      // A scale-up the new type holds every old value of.
                      Widening{"DECIMAL(10,2)", "DECIMAL(12,4)"},
                      Widening{"DECIMAL(10,2)", "DECIMAL(11,3)"}),
    [](const ::testing::TestParamInfo<Widening>& info) {
      std::string name = info.param.from + "_to_" + info.param.to;
      for (char& c : name) {
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      }
      return name;
    });

TEST(PlanTableTest, WideningIsJudgedAgainstTheSupertypeNotTheBatchType) {
  // UINTEGER and INTEGER meet at BIGINT, which holds every UINTEGER.
  Schema before = S({Col("qty", "UINTEGER")});
  auto b1 = B("b1", "orders/a.parquet", before);
  auto b2 = B("b2", "orders/b.parquet", S({Col("qty", "INTEGER")}));
  TablePlan plan = EnginePlan(StagedWith(before, {b1}, {b1, b2}));
  EXPECT_EQ(plan.action, Action::kEvolve);
  EXPECT_EQ(FindReason(plan, reason::kTypeWidened)->detail, "qty UINTEGER\u2192BIGINT");
  EXPECT_EQ(plan.target.Find("qty")->type, "BIGINT");
}

TEST(PlanTableTest, IntegerMeetingFloatWidensToDoubleNotFloat) {
  // DuckDB would choose FLOAT, which rounds 16777217 to 16777216.
  Schema before = S({Col("qty", "INTEGER")});
  auto b1 = B("b1", "orders/a.parquet", before);
  auto b2 = B("b2", "orders/b.parquet", S({Col("qty", "FLOAT")}));
  TablePlan plan = EnginePlan(StagedWith(before, {b1}, {b1, b2}));
  EXPECT_EQ(plan.action, Action::kEvolve);
  EXPECT_EQ(FindReason(plan, reason::kTypeWidened)->detail, "qty INTEGER\u2192DOUBLE");
  EXPECT_EQ(plan.target.Find("qty")->type, "DOUBLE");
}

TEST(PlanTableTest, DecimalScaleUpThatHoldsTheOldValuesWidensInPlace) {
  // DuckDB's supertype of the two would be DECIMAL(10,2) plus a digit, not
  // enough scale for 1.234; landfall's keeps both the digits and the scale.
  Schema before = S({Col("v", "DECIMAL(10,2)")});
  auto b1 = B("b1", "orders/a.parquet", before);
  auto b2 = B("b2", "orders/b.parquet", S({Col("v", "DECIMAL(10,3)")}));
  TablePlan plan = EnginePlan(StagedWith(before, {b1}, {b1, b2}));
  EXPECT_EQ(plan.action, Action::kEvolve);
  EXPECT_EQ(FindReason(plan, reason::kTypeWidened)->detail, "v DECIMAL(10,2)\u2192DECIMAL(11,3)");
  EXPECT_EQ(plan.target.Find("v")->type, "DECIMAL(11,3)");
}

struct Rounding {
  std::string from, batch, detail;
};

class RoundingSupertypeTest : public ::testing::TestWithParam<Rounding> {};

TEST_P(RoundingSupertypeTest, RebuildsWithDoubleAndTheReasonSaysItMayRound) {
  const auto& [from, batch, detail] = GetParam();
  Schema before = S({Col("id", "INTEGER"), Col("v", from)});
  auto b1 = B("b1", "orders/a.parquet", before);
  auto b2 = B("b2", "orders/b.parquet", S({Col("id", "INTEGER"), Col("v", batch)}));
  TablePlan plan = EnginePlan(StagedWith(before, {b1}, {b1, b2}));
  EXPECT_EQ(plan.action, Action::kRebuild);
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kSchemaChanged, reason::kIncompatibleType));
  EXPECT_EQ(FindReason(plan, reason::kIncompatibleType)->detail, detail);
  EXPECT_EQ(plan.target.Find("v")->type, "DOUBLE");
}

INSTANTIATE_TEST_SUITE_P(
    PlanTableTest, RoundingSupertypeTest,
    ::testing::Values(Rounding{"BIGINT", "DOUBLE", "v BIGINT+DOUBLE\u2192DOUBLE (may round)"},
                      Rounding{"BIGINT", "FLOAT", "v BIGINT+FLOAT\u2192DOUBLE (may round)"},
                      Rounding{"DECIMAL(38,2)", "DECIMAL(38,4)",
                               "v DECIMAL(38,2)+DECIMAL(38,4)\u2192DOUBLE (may round)"}),
    [](const ::testing::TestParamInfo<Rounding>& info) {
      std::string name = info.param.from + "_with_" + info.param.batch;
      for (char& c : name) {
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      }
      return name;
    });

TEST(PlanTableTest, ValuesTheColumnsTypeMayRoundAreAppendedWithAReasonSayingSo) {
  // A DOUBLE column is already the supertype of DOUBLE and BIGINT: a rebuild
  // would give the same column, but the cast is not silent.
  Schema before = S({Col("v", "DOUBLE")});
  auto b1 = B("b1", "orders/a.parquet", before);
  auto b2 = B("b2", "orders/b.parquet", S({Col("v", "BIGINT")}));
  TablePlan plan = EnginePlan(StagedWith(before, {b1}, {b1, b2}));
  EXPECT_EQ(plan.action, Action::kAppend);
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kNewBatches, reason::kMayRound));
  EXPECT_EQ(FindReason(plan, reason::kMayRound)->detail, "v DOUBLE+BIGINT\u2192DOUBLE (may round)");
  EXPECT_EQ(plan.target.Find("v")->type, "DOUBLE");
}

TEST(PlanTableTest, NewTableWhoseBatchesNoTypeHoldsExactlySaysItMayRound) {
  TableInputs in;
  in.table = "orders";
  in.folder_exists = true;
  in.batches = {B("b1", "orders/a.parquet", S({Col("v", "DECIMAL(38,2)")})),
                B("b2", "orders/b.parquet", S({Col("v", "DECIMAL(38,4)")}))};
  TablePlan plan = EnginePlan(in);
  EXPECT_EQ(plan.action, Action::kCreate);
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kNewTable, reason::kMayRound));
  EXPECT_EQ(FindReason(plan, reason::kMayRound)->detail,
            "v DECIMAL(38,2)+DECIMAL(38,4)\u2192DOUBLE (may round)");
  EXPECT_EQ(plan.target.Find("v")->type, "DOUBLE");
}

TEST(PlanTableTest, NarrowerTypeInANewBatchIsAppendedToTheWiderColumn) {
  Schema wide = S({Col("id", "BIGINT")});
  auto b1 = B("b1", "orders/a.parquet", wide);
  auto b2 = B("b2", "orders/b.parquet", S({Col("id", "INTEGER")}));
  TablePlan plan = Plan(StagedWith(wide, {b1}, {b1, b2}));
  EXPECT_EQ(plan.action, Action::kAppend);
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kNewBatches));
  EXPECT_EQ(plan.target.Find("id")->type, "BIGINT");
}

struct Incompatible {
  std::string from, batch, supertype;
};

class IncompatibleTypeTest : public ::testing::TestWithParam<Incompatible> {};

TEST_P(IncompatibleTypeTest, RebuildsTheTableWithTheCommonSupertype) {
  const auto& [from, batch, supertype] = GetParam();
  Schema before = S({Col("id", "INTEGER"), Col("v", from)});
  auto b1 = B("b1", "orders/a.parquet", before);
  auto b2 = B("b2", "orders/b.parquet", S({Col("id", "INTEGER"), Col("v", batch)}));
  TablePlan plan = EnginePlan(StagedWith(before, {b1}, {b1, b2}));
  EXPECT_EQ(plan.action, Action::kRebuild);
  // Every batch, old rows included, is loaded again into the new column type.
  EXPECT_THAT(plan.batches, ElementsAre("orders/a.parquet", "orders/b.parquet"));
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kSchemaChanged, reason::kIncompatibleType));
  EXPECT_EQ(FindReason(plan, reason::kIncompatibleType)->detail,
            "v " + from + "\u2192" + supertype);
  EXPECT_EQ(plan.target.Find("v")->type, supertype);
  EXPECT_THAT(plan.renames, IsEmpty());
}

INSTANTIATE_TEST_SUITE_P(
    PlanTableTest, IncompatibleTypeTest,
    ::testing::Values(Incompatible{"INTEGER", "DECIMAL(12,2)", "DECIMAL(12,2)"},
                      Incompatible{"INTEGER", "VARCHAR", "VARCHAR"},  // int to string
                      Incompatible{"DATE", "TIMESTAMP", "TIMESTAMP"},
                      Incompatible{"INTEGER", "JSON", "JSON"}),  // scalar to struct
    [](const ::testing::TestParamInfo<Incompatible>& info) {
      std::string name = info.param.from + "_to_" + info.param.batch;
      for (char& c : name) {
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      }
      return name;
    });

TEST(PlanTableTest, ValuesThatFitTheExistingColumnsTypeAreAppendedWithACast) {
  // A string column receiving integers, a JSON column receiving scalars: the
  // common supertype is the column's own type, so a rebuild would produce the
  // very same table. The batch is appended, its values cast.
  for (const auto& [column, batch] : std::vector<std::pair<std::string, std::string>>{
           {"VARCHAR", "INTEGER"}, {"JSON", "INTEGER"}, {"DOUBLE", "INTEGER"}}) {
    Schema before = S({Col("v", column)});
    auto b1 = B("b1", "orders/a.parquet", before);
    auto b2 = B("b2", "orders/b.parquet", S({Col("v", batch)}));
    TablePlan plan = EnginePlan(StagedWith(before, {b1}, {b1, b2}));
    EXPECT_EQ(plan.action, Action::kAppend) << column << " <- " << batch;
    EXPECT_THAT(Codes(plan), ElementsAre(reason::kNewBatches)) << column << " <- " << batch;
    EXPECT_EQ(plan.target.Find("v")->type, column);
  }
}

TEST(PlanTableTest, IncompatibleChangeAlongsideAnAddedColumnRebuildsWithBoth) {
  Schema before = S({Col("id", "BIGINT")});
  auto b1 = B("b1", "orders/a.parquet", before);
  auto b2 = B("b2", "orders/b.parquet", S({Col("id", "DOUBLE"), Col("note", "VARCHAR")}));
  TablePlan plan = EnginePlan(StagedWith(before, {b1}, {b1, b2}));
  EXPECT_EQ(plan.action, Action::kRebuild);
  // Per-column reasons follow the target's column order.
  EXPECT_THAT(Codes(plan),
              ElementsAre(reason::kSchemaChanged, reason::kIncompatibleType, reason::kColumnAdded));
  EXPECT_THAT(ColumnNames(plan.target), ElementsAre("id", "note"));
  EXPECT_EQ(plan.target.Find("id")->type, "DOUBLE");
}

TEST(PlanTableTest, IncompatibleTypesWithoutASupertypeFailTheTable) {
  // The engine always finds one (VARCHAR or JSON); a supertype function that
  // cannot is a failure of that table, never a silent guess.
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

TEST(PlanTableTest, ScalarBecomingAStructRebuildsAsJson) {
  Schema before = S({Col("id", "INTEGER"), Col("payload", "INTEGER")});
  Column nested = Col("payload", "JSON");
  nested.source_type = "STRUCT(a INTEGER)";
  auto b1 = B("b1", "orders/a.parquet", before);
  auto b2 = B("b2", "orders/b.parquet", S({Col("id", "INTEGER"), nested}));
  TablePlan plan = EnginePlan(StagedWith(before, {b1}, {b1, b2}));
  EXPECT_EQ(plan.action, Action::kRebuild);
  EXPECT_EQ(FindReason(plan, reason::kIncompatibleType)->detail, "payload INTEGER\u2192JSON");
  EXPECT_EQ(plan.target.Find("payload")->type, "JSON");
}

TEST(PlanTableTest, StructBecomingAScalarIsAppendedAsJson) {
  Column nested = Col("payload", "JSON");
  nested.source_type = "STRUCT(a INTEGER)";
  Schema before = S({Col("id", "INTEGER"), nested});
  auto b1 = B("b1", "orders/a.parquet", before);
  auto b2 = B("b2", "orders/b.parquet", S({Col("id", "INTEGER"), Col("payload", "INTEGER")}));
  TablePlan plan = EnginePlan(StagedWith(before, {b1}, {b1, b2}));
  EXPECT_EQ(plan.action, Action::kAppend);
  EXPECT_EQ(plan.target.Find("payload")->type, "JSON");
}

TEST(PlanTableTest, ChangesInsideNestedTypesOfEveryKindAreNotChanges) {
  for (const auto& [before_type, after_type] : std::vector<std::pair<std::string, std::string>>{
           {"STRUCT(a INTEGER)", "STRUCT(a BIGINT, b VARCHAR)"},
           {"INTEGER[]", "VARCHAR[]"},
           {"MAP(VARCHAR, INTEGER)", "MAP(VARCHAR, STRUCT(x DOUBLE))"},
           {"STRUCT(a INTEGER)", "INTEGER[]"}}) {
    Column before = Col("payload", "JSON");
    before.source_type = before_type;
    Column after = Col("payload", "JSON");
    after.source_type = after_type;
    auto b1 = B("b1", "orders/a.parquet", S({before}));
    auto b2 = B("b2", "orders/b.parquet", S({after}));
    TablePlan plan = EnginePlan(StagedWith(S({before}), {b1}, {b1, b2}));
    EXPECT_EQ(plan.action, Action::kAppend) << before_type << " -> " << after_type;
    EXPECT_THAT(Codes(plan), ElementsAre(reason::kNewBatches));
  }
}

// ---- renames ----

// (id INTEGER field_id 1, cust INTEGER field_id 2)
Schema WithFieldIds() { return S({Fid("id", "INTEGER", 1), Fid("cust", "INTEGER", 2)}); }

TEST(PlanTableTest, RenameProvenByFieldIdIsRenamedInPlace) {
  auto b1 = B("b1", "orders/a.parquet", WithFieldIds());
  auto b2 =
      B("b2", "orders/b.parquet", S({Fid("id", "INTEGER", 1), Fid("customer_id", "INTEGER", 2)}));
  TablePlan plan = Plan(StagedWith(WithFieldIds(), {b1}, {b1, b2}));
  EXPECT_EQ(plan.action, Action::kEvolve);
  EXPECT_THAT(plan.batches, ElementsAre("orders/b.parquet"));
  EXPECT_THAT(Codes(plan),
              ElementsAre(reason::kNewBatches, reason::kSchemaChanged, reason::kRenameByFieldId));
  EXPECT_EQ(FindReason(plan, reason::kRenameByFieldId)->detail,
            "cust\u2192customer_id (field_id 2)");
  ASSERT_EQ(plan.renames.size(), 1u);
  EXPECT_EQ(plan.renames[0].from, "cust");
  EXPECT_EQ(plan.renames[0].to, "customer_id");
  EXPECT_THAT(ColumnNames(plan.target), ElementsAre("id", "customer_id"));
  EXPECT_EQ(plan.target.Find("customer_id")->field_id, 2);
}

// b dropped, then a renamed to b: both renames in place, the old b aside.
TEST(PlanTableTest, RenameOntoADroppedColumnsNameMovesThatColumnAsideInPlace) {
  Schema before = S({Fid("a", "INTEGER", 1), Fid("b", "VARCHAR", 2)});
  auto b1 = B("b1", "orders/a.parquet", before);
  auto b2 = B("b2", "orders/b.parquet", S({Fid("b", "INTEGER", 1)}));
  TablePlan plan = Plan(StagedWith(before, {b1}, {b1, b2}));
  EXPECT_EQ(plan.action, Action::kEvolve);
  EXPECT_EQ(FindReason(plan, reason::kRenameByFieldId)->detail, "a\u2192b (field_id 1)");
  ASSERT_NE(FindReason(plan, reason::kColumnDisplaced), nullptr);
  EXPECT_EQ(FindReason(plan, reason::kColumnDisplaced)->detail,
            "b\u2192b__replaced (its name went to a renamed column)");
  ASSERT_EQ(plan.renames.size(), 2u);
  EXPECT_THAT(ColumnNames(plan.target), ElementsAre("b", "b__replaced"));
}

// Without a field_id on the old b nothing can move it aside in place: rebuilt.
TEST(PlanTableTest, RenameOntoANameStillHeldByAColumnWithoutFieldIdRebuilds) {
  Schema before = S({Fid("a", "INTEGER", 1), Col("b", "VARCHAR")});
  auto b1 = B("b1", "orders/a.parquet", before);
  auto b2 = B("b2", "orders/b.parquet", S({Fid("b", "INTEGER", 1)}));
  TablePlan plan = Plan(StagedWith(before, {b1}, {b1, b2}));
  EXPECT_EQ(plan.action, Action::kRebuild);
  EXPECT_THAT(ColumnNames(plan.target), ElementsAre("b", "b__replaced"));
}

TEST(PlanTableTest, RenameAndWideningOfOneColumnAreBothApplied) {
  auto b1 = B("b1", "orders/a.parquet", WithFieldIds());
  auto b2 =
      B("b2", "orders/b.parquet", S({Fid("id", "INTEGER", 1), Fid("customer_id", "BIGINT", 2)}));
  TablePlan plan = Plan(StagedWith(WithFieldIds(), {b1}, {b1, b2}));
  EXPECT_EQ(plan.action, Action::kEvolve);
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kNewBatches, reason::kSchemaChanged,
                                       reason::kRenameByFieldId, reason::kTypeWidened));
  EXPECT_EQ(FindReason(plan, reason::kTypeWidened)->detail, "customer_id INTEGER\u2192BIGINT");
  ASSERT_EQ(plan.renames.size(), 1u);
  EXPECT_EQ(plan.target.Find("customer_id")->type, "BIGINT");
}

TEST(PlanTableTest, OldAndRenamedBatchesInOneRunStillRename) {
  auto b1 = B("b1", "orders/a.parquet", WithFieldIds());
  auto b2 = B("b2", "orders/b.parquet", WithFieldIds());
  auto b3 =
      B("b3", "orders/c.parquet", S({Fid("id", "INTEGER", 1), Fid("customer_id", "INTEGER", 2)}));
  TablePlan plan = Plan(StagedWith(WithFieldIds(), {b1}, {b1, b2, b3}));
  EXPECT_EQ(plan.action, Action::kEvolve);
  EXPECT_THAT(plan.batches, ElementsAre("orders/b.parquet", "orders/c.parquet"));
  ASSERT_EQ(plan.renames.size(), 1u);
  EXPECT_THAT(ColumnNames(plan.target), ElementsAre("id", "customer_id"));
  EXPECT_EQ(FindReason(plan, reason::kColumnAbsent), nullptr);
}

TEST(PlanTableTest, LateBatchStillCarryingTheOldNameRenamesTheColumnBack) {
  // The later name wins (README): field ids say which column, not which name is newer.
  Schema renamed = S({Fid("id", "INTEGER", 1), Fid("customer_id", "INTEGER", 2)});
  auto b1 = B("b1", "orders/a.parquet", renamed);
  auto b2 = B("b2", "orders/b.parquet", WithFieldIds());
  TablePlan plan = Plan(StagedWith(renamed, {b1}, {b1, b2}));
  EXPECT_EQ(plan.action, Action::kEvolve);
  ASSERT_EQ(plan.renames.size(), 1u);
  EXPECT_EQ(plan.renames[0].from, "customer_id");
  EXPECT_EQ(plan.renames[0].to, "cust");
}

TEST(PlanTableTest, CaseOnlyRenameWithFieldIdIsNotAChange) {
  auto b1 = B("b1", "orders/a.parquet", WithFieldIds());
  auto b2 = B("b2", "orders/b.parquet", S({Fid("ID", "INTEGER", 1), Fid("Cust", "INTEGER", 2)}));
  TablePlan plan = Plan(StagedWith(WithFieldIds(), {b1}, {b1, b2}));
  EXPECT_EQ(plan.action, Action::kAppend);
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kNewBatches));
  EXPECT_THAT(plan.renames, IsEmpty());
}

TEST(PlanTableTest, SameNameWithANewFieldIdStaysOneColumn) {
  // A writer that renumbered its fields: the name still says which column it is.
  auto b1 = B("b1", "orders/a.parquet", WithFieldIds());
  auto b2 = B("b2", "orders/b.parquet", S({Fid("id", "INTEGER", 7), Fid("cust", "INTEGER", 8)}));
  TablePlan plan = Plan(StagedWith(WithFieldIds(), {b1}, {b1, b2}));
  EXPECT_EQ(plan.action, Action::kAppend);
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kNewBatches));
  EXPECT_THAT(ColumnNames(plan.target), ElementsAre("id", "cust"));
}

TEST(PlanTableTest, SameNameWithANewFieldIdNextToAnAddedColumnStaysOneColumn) {
  auto b1 = B("b1", "orders/a.parquet", WithFieldIds());
  auto b2 =
      B("b2", "orders/b.parquet",
        S({Fid("id", "INTEGER", 7), Fid("cust", "INTEGER", 8), Fid("discount", "DOUBLE", 9)}));
  TablePlan plan = Plan(StagedWith(WithFieldIds(), {b1}, {b1, b2}));
  EXPECT_EQ(plan.action, Action::kEvolve);
  EXPECT_THAT(Codes(plan),
              ElementsAre(reason::kNewBatches, reason::kSchemaChanged, reason::kColumnAdded));
  EXPECT_THAT(ColumnNames(plan.target), ElementsAre("id", "cust", "discount"));
  EXPECT_THAT(plan.renames, IsEmpty());
}

TEST(PlanTableTest, NameFreedByARenameCanBeTakenByANewColumn) {
  auto b1 = B("b1", "orders/a.parquet", WithFieldIds());
  auto b2 =
      B("b2", "orders/b.parquet",
        S({Fid("id", "INTEGER", 1), Fid("customer_id", "INTEGER", 2), Fid("cust", "VARCHAR", 3)}));
  TablePlan plan = Plan(StagedWith(WithFieldIds(), {b1}, {b1, b2}));
  EXPECT_EQ(plan.action, Action::kEvolve);
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kNewBatches, reason::kSchemaChanged,
                                       reason::kRenameByFieldId, reason::kColumnAdded));
  EXPECT_EQ(FindReason(plan, reason::kColumnAdded)->detail, "cust VARCHAR");
  ASSERT_EQ(plan.renames.size(), 1u);
  EXPECT_EQ(plan.renames[0].from, "cust");
  EXPECT_EQ(plan.renames[0].to, "customer_id");
  EXPECT_THAT(ColumnNames(plan.target), ElementsAre("id", "customer_id", "cust"));
  EXPECT_EQ(plan.target.Find("cust")->field_id, 3);
}

TEST(PlanTableTest, SuspectedRenameWithoutFieldIdIsAddPlusAbsentAndFlagged) {
  Schema before = S({Col("id", "INTEGER"), Col("cust", "INTEGER")});
  auto b1 = B("b1", "orders/a.parquet", before);
  auto b2 = B("b2", "orders/b.parquet", S({Col("id", "INTEGER"), Col("customer_id", "INTEGER")}));
  TablePlan plan = Plan(StagedWith(before, {b1}, {b1, b2}));
  EXPECT_EQ(plan.action, Action::kEvolve);
  EXPECT_THAT(plan.batches, ElementsAre("orders/b.parquet"));
  EXPECT_THAT(Codes(plan),
              ElementsAre(reason::kNewBatches, reason::kSchemaChanged, reason::kColumnAdded,
                          reason::kColumnAbsent, reason::kSuspectedRename));
  EXPECT_EQ(FindReason(plan, reason::kColumnAdded)->detail, "customer_id INTEGER");
  EXPECT_EQ(FindReason(plan, reason::kColumnAbsent)->detail, "cust INTEGER (new rows NULL)");
  EXPECT_EQ(FindReason(plan, reason::kSuspectedRename)->detail,
            "cust\u2192customer_id (no field_id to prove it)");
  EXPECT_THAT(plan.renames, IsEmpty());  // not renamed: only flagged
  EXPECT_THAT(ColumnNames(plan.target), ElementsAre("id", "cust", "customer_id"));
}

TEST(PlanTableTest, NoSuspectedRenameWhenTheTypesDiffer) {
  Schema before = S({Col("id", "INTEGER"), Col("cust", "INTEGER")});
  auto b1 = B("b1", "orders/a.parquet", before);
  auto b2 = B("b2", "orders/b.parquet", S({Col("id", "INTEGER"), Col("customer", "VARCHAR")}));
  TablePlan plan = Plan(StagedWith(before, {b1}, {b1, b2}));
  EXPECT_EQ(plan.action, Action::kEvolve);
  EXPECT_EQ(FindReason(plan, reason::kSuspectedRename), nullptr);
  EXPECT_NE(FindReason(plan, reason::kColumnAbsent), nullptr);
}

TEST(PlanTableTest, NoSuspectedRenameWhenTwoNewColumnsCouldBeIt) {
  Schema before = S({Col("id", "INTEGER"), Col("cust", "INTEGER")});
  auto b1 = B("b1", "orders/a.parquet", before);
  auto b2 = B("b2", "orders/b.parquet",
              S({Col("id", "INTEGER"), Col("customer_id", "INTEGER"), Col("store_id", "INTEGER")}));
  TablePlan plan = Plan(StagedWith(before, {b1}, {b1, b2}));
  EXPECT_EQ(plan.action, Action::kEvolve);
  EXPECT_EQ(FindReason(plan, reason::kSuspectedRename), nullptr);
}

// ---- nullability, order, case ----

TEST(PlanTableTest, NullableBecomingRequiredIsNotAChange) {
  auto b1 = B("b1", "orders/a.parquet");
  auto b2 =
      B("b2", "orders/b.parquet", S({Col("id", "INTEGER", false), Col("name", "VARCHAR", false)}));
  TablePlan plan = Plan(Staged({b1}, {b1, b2}));
  EXPECT_EQ(plan.action, Action::kAppend);
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kNewBatches));
}

TEST(PlanTableTest, RequiredBecomingNullableIsNotAChange) {
  Schema required = S({Col("id", "INTEGER", false), Col("name", "VARCHAR", false)});
  auto b1 = B("b1", "orders/a.parquet", required);
  auto b2 = B("b2", "orders/b.parquet");
  TablePlan plan = Plan(StagedWith(required, {b1}, {b1, b2}));
  EXPECT_EQ(plan.action, Action::kAppend);
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kNewBatches));
}

// ---- mixed batches in one run ----

TEST(PlanTableTest, OldAndNewSchemaBatchesInOneRunShareOneTarget) {
  auto b1 = B("b1", "orders/a.parquet");
  auto b2 = B("b2", "orders/b.parquet");  // old schema
  auto b3 = B("b3", "orders/c.parquet",
              S({Col("id", "BIGINT"), Col("name", "VARCHAR"), Col("discount", "DOUBLE")}));
  auto b4 = B("b4", "orders/d.parquet", S({Col("id", "INTEGER")}));  // lacks name
  TablePlan plan = Plan(Staged({b1}, {b1, b2, b3, b4}));
  EXPECT_EQ(plan.action, Action::kEvolve);
  EXPECT_THAT(plan.batches,
              ElementsAre("orders/b.parquet", "orders/c.parquet", "orders/d.parquet"));
  EXPECT_THAT(ColumnNames(plan.target), ElementsAre("id", "name", "discount"));
  EXPECT_EQ(plan.target.Find("id")->type, "BIGINT");
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kNewBatches, reason::kSchemaChanged,
                                       reason::kTypeWidened, reason::kColumnAdded));
  EXPECT_EQ(plan.reasons[0].detail, "3 new batches");
}

TEST(PlanTableTest, OneIncompatibleBatchAmongSeveralRebuildsEverything) {
  auto b1 = B("b1", "orders/a.parquet");
  auto b2 = B("b2", "orders/b.parquet");
  auto b3 = B("b3", "orders/c.parquet", S({Col("id", "VARCHAR"), Col("name", "VARCHAR")}));
  TablePlan plan = EnginePlan(Staged({b1}, {b1, b2, b3}));
  EXPECT_EQ(plan.action, Action::kRebuild);
  EXPECT_THAT(plan.batches,
              ElementsAre("orders/a.parquet", "orders/b.parquet", "orders/c.parquet"));
  EXPECT_EQ(plan.target.Find("id")->type, "VARCHAR");
}

// ---- schema_evolution policies ----

// A new batch that adds `discount DOUBLE` to a Base() table staged from b1.
TableInputs AddingAColumn(config::SchemaEvolution policy) {
  auto b1 = B("b1", "orders/a.parquet");
  auto b2 = B("b2", "orders/b.parquet",
              S({Col("id", "INTEGER"), Col("name", "VARCHAR"), Col("discount", "DOUBLE")}));
  TableInputs in = Staged({b1}, {b1, b2});
  in.policy.schema_evolution = policy;
  return in;
}

TEST(PlanPolicyTest, RebuildPolicyRebuildsOnAnySchemaChange) {
  TablePlan plan = Plan(AddingAColumn(config::SchemaEvolution::kRebuild));
  EXPECT_EQ(plan.action, Action::kRebuild);
  EXPECT_EQ(plan.policy, config::SchemaEvolution::kRebuild);
  EXPECT_THAT(plan.batches, ElementsAre("orders/a.parquet", "orders/b.parquet"));
  EXPECT_THAT(Codes(plan),
              ElementsAre(reason::kSchemaChanged, reason::kColumnAdded, reason::kPolicyRebuild));
  EXPECT_EQ(FindReason(plan, reason::kPolicyRebuild)->detail, "schema_evolution: rebuild");
  EXPECT_THAT(ColumnNames(plan.target), ElementsAre("id", "name", "discount"));
}

TEST(PlanPolicyTest, RebuildPolicyRebuildsOnAWidening) {
  auto b1 = B("b1", "orders/a.parquet");
  auto b2 = B("b2", "orders/b.parquet", S({Col("id", "BIGINT"), Col("name", "VARCHAR")}));
  TableInputs in = Staged({b1}, {b1, b2});
  in.policy.schema_evolution = config::SchemaEvolution::kRebuild;
  TablePlan plan = Plan(in);
  EXPECT_EQ(plan.action, Action::kRebuild);
  EXPECT_THAT(Codes(plan),
              ElementsAre(reason::kSchemaChanged, reason::kTypeWidened, reason::kPolicyRebuild));
}

TEST(PlanPolicyTest, RebuildPolicyStillAppendsWhenNothingChanged) {
  auto b1 = B("b1", "orders/a.parquet");
  TableInputs in = Staged({b1}, {b1, B("b2", "orders/b.parquet")});
  in.policy.schema_evolution = config::SchemaEvolution::kRebuild;
  TablePlan plan = Plan(in);
  EXPECT_EQ(plan.action, Action::kAppend);
  EXPECT_EQ(plan.policy, config::SchemaEvolution::kRebuild);
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kNewBatches));
}

TEST(PlanPolicyTest, RebuildPolicyDoesNotRebuildForAnAbsentColumn) {
  auto b1 = B("b1", "orders/a.parquet");
  TableInputs in = Staged({b1}, {b1, B("b2", "orders/b.parquet", S({Col("id", "INTEGER")}))});
  in.policy.schema_evolution = config::SchemaEvolution::kRebuild;
  TablePlan plan = Plan(in);
  EXPECT_EQ(plan.action, Action::kAppend);
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kNewBatches, reason::kColumnAbsent));
}

TEST(PlanPolicyTest, FreezeQuarantinesDifferingBatchesAndStagesTheRest) {
  TableInputs in = AddingAColumn(config::SchemaEvolution::kFreeze);
  in.batches.push_back(B("b3", "orders/c.parquet"));  // same schema as before
  in.batches.push_back(
      B("b4", "orders/d.parquet", S({Col("id", "INTEGER")})));  // lacks a column: fits
  TablePlan plan = Plan(in);
  EXPECT_EQ(plan.action, Action::kAppend);
  EXPECT_EQ(plan.policy, config::SchemaEvolution::kFreeze);
  EXPECT_THAT(plan.batches, ElementsAre("orders/c.parquet", "orders/d.parquet"));
  ASSERT_EQ(plan.quarantine.size(), 1u);
  EXPECT_EQ(plan.quarantine[0].rel_path, "orders/b.parquet");
  EXPECT_EQ(plan.quarantine[0].code, reason::kSchemaFrozen);
  EXPECT_EQ(plan.quarantine[0].detail, "schema_evolution: freeze; column_added: discount DOUBLE");
  EXPECT_TRUE(plan.target.SameStagingColumns(Base()));  // the columns stay frozen
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kNewBatches, reason::kSchemaChanged,
                                       reason::kColumnAdded, reason::kSchemaFrozen));
  EXPECT_EQ(FindReason(plan, reason::kSchemaFrozen)->detail,
            "1 batch with a different schema quarantined");
  EXPECT_EQ(plan.reasons[0].detail, "2 new batches");
}

TEST(PlanPolicyTest, FreezeWithOnlyDifferingBatchesStagesNothing) {
  TablePlan plan = Plan(AddingAColumn(config::SchemaEvolution::kFreeze));
  EXPECT_EQ(plan.action, Action::kSkip);
  EXPECT_THAT(plan.batches, IsEmpty());
  ASSERT_EQ(plan.quarantine.size(), 1u);
  EXPECT_EQ(plan.quarantine[0].rel_path, "orders/b.parquet");
  EXPECT_NE(FindReason(plan, reason::kSchemaFrozen), nullptr);
}

TEST(PlanPolicyTest, FreezeQuarantinesAWidenedBatchToo) {
  auto b1 = B("b1", "orders/a.parquet");
  auto b2 = B("b2", "orders/b.parquet", S({Col("id", "BIGINT"), Col("name", "VARCHAR")}));
  TableInputs in = Staged({b1}, {b1, b2});
  in.policy.schema_evolution = config::SchemaEvolution::kFreeze;
  TablePlan plan = Plan(in);
  ASSERT_EQ(plan.quarantine.size(), 1u);
  EXPECT_EQ(plan.quarantine[0].detail,
            "schema_evolution: freeze; type_widened: id INTEGER\u2192BIGINT");
}

TEST(PlanPolicyTest, FailStopsTheTableAndStagesNothing) {
  TablePlan plan = Plan(AddingAColumn(config::SchemaEvolution::kFail));
  EXPECT_EQ(plan.action, Action::kFail);
  EXPECT_EQ(plan.policy, config::SchemaEvolution::kFail);
  EXPECT_THAT(plan.batches, IsEmpty());
  EXPECT_THAT(plan.quarantine, IsEmpty());
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kSchemaChanged, reason::kColumnAdded,
                                       reason::kSchemaChangeBlocked));
  EXPECT_THAT(FindReason(plan, reason::kSchemaChangeBlocked)->detail,
              HasSubstr("schema_evolution: fail"));
  EXPECT_TRUE(plan.target.SameStagingColumns(Base()));
}

TEST(PlanPolicyTest, FailPolicyStillAppendsWhenNothingChanged) {
  auto b1 = B("b1", "orders/a.parquet");
  TableInputs in = Staged({b1}, {b1, B("b2", "orders/b.parquet")});
  in.policy.schema_evolution = config::SchemaEvolution::kFail;
  EXPECT_EQ(Plan(in).action, Action::kAppend);
}

TEST(PlanPolicyTest, PoliciesDoNotChangeNewTables) {
  for (auto policy : {config::SchemaEvolution::kEvolve, config::SchemaEvolution::kRebuild,
                      config::SchemaEvolution::kFreeze, config::SchemaEvolution::kFail}) {
    TableInputs in;
    in.table = "orders";
    in.folder_exists = true;
    in.policy.schema_evolution = policy;
    in.batches = {B("b1", "orders/a.parquet", S({Col("id", "INTEGER")})),
                  B("b2", "orders/b.parquet", S({Col("id", "BIGINT"), Col("x", "DATE")}))};
    TablePlan plan = Plan(in);
    EXPECT_EQ(plan.action, Action::kCreate) << config::ToString(policy);
    EXPECT_EQ(plan.policy, policy);
    EXPECT_THAT(plan.quarantine, IsEmpty()) << config::ToString(policy);
  }
}

TEST(PlanPolicyTest, RewrittenBatchRebuildsUnderEveryPolicy) {
  for (auto policy : {config::SchemaEvolution::kEvolve, config::SchemaEvolution::kRebuild,
                      config::SchemaEvolution::kFreeze, config::SchemaEvolution::kFail}) {
    auto staged = B("old-content", "orders/a.parquet");
    TableInputs in = Staged({staged}, {B("new-content", "orders/a.parquet")});
    in.policy.schema_evolution = policy;
    TablePlan plan = Plan(in);
    EXPECT_EQ(plan.action, Action::kRebuild) << config::ToString(policy);
    EXPECT_THAT(Codes(plan), ElementsAre(reason::kBatchRewritten)) << config::ToString(policy);
  }
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

TEST(PlanTableTest, DeletedStagedBatchRebuildsWithoutItUnderOnBatchRemovedRebuild) {
  auto b1 = B("b1", "orders/a.parquet");
  auto b2 = B("b2", "orders/b.parquet");
  TableInputs in = Staged({b1, b2}, {b1});
  in.policy.on_batch_removed = config::OnBatchRemoved::kRebuild;
  TablePlan plan = Plan(in);
  EXPECT_EQ(plan.action, Action::kRebuild);
  EXPECT_THAT(plan.batches, ElementsAre("orders/a.parquet"));
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kBatchRemoved));
  EXPECT_EQ(plan.reasons[0].detail, "orders/b.parquet was deleted; rebuilding without it");
}

TEST(PlanTableTest, DeletedStagedBatchKeepsItsRowsByDefaultAndSaysSo) {
  auto b1 = B("b1", "orders/a.parquet");
  auto b2 = B("b2", "orders/b.parquet");
  TablePlan plan = Plan(Staged({b1, b2}, {b1}));
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kBatchRemoved, reason::kNoChange));
  EXPECT_EQ(plan.reasons[0].detail, "orders/b.parquet was deleted; its rows are kept");
}

TEST(PlanTableTest, EveryBatchDeletedUnderOnBatchRemovedRebuildKeepsTheTable) {
  // Nothing to rebuild from: an empty folder does not empty the staging table.
  auto b1 = B("b1", "orders/a.parquet");
  TableInputs in = Staged({b1}, {});
  in.policy.on_batch_removed = config::OnBatchRemoved::kRebuild;
  TablePlan plan = Plan(in);
  EXPECT_EQ(plan.action, Action::kSkip);
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kBatchRemoved, reason::kNoChange));
}

TEST(PlanTableTest, RewrittenBatchWithANewSchemaRebuildsWithIt) {
  auto staged = B("old-content", "orders/a.parquet");
  auto rewritten = B("new-content", "orders/a.parquet",
                     S({Col("id", "INTEGER"), Col("name", "VARCHAR"), Col("discount", "DOUBLE")}));
  TablePlan plan = Plan(Staged({staged}, {rewritten}));
  EXPECT_EQ(plan.action, Action::kRebuild);
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kBatchRewritten));
  EXPECT_EQ(plan.reasons[0].detail, "orders/a.parquet changed content after it was staged");
  EXPECT_THAT(ColumnNames(plan.target), ElementsAre("id", "name", "discount"));
}

TEST(PlanTableTest, BatchStagedInStateButMissingFromTheLedgerRebuilds) {
  // Appending it again could double its rows; skipping it could lose them.
  auto b1 = B("b1", "orders/a.parquet");
  auto b2 = B("b2", "orders/b.parquet");
  b1.staged = b2.staged = true;
  TablePlan plan = Plan(Staged({b1}, {b1, b2}));
  EXPECT_EQ(plan.action, Action::kRebuild);
  EXPECT_THAT(plan.batches, ElementsAre("orders/a.parquet", "orders/b.parquet"));
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kLedgerMismatch));
  EXPECT_EQ(plan.reasons[0].detail,
            "orders/b.parquet is staged according to state but not in the warehouse ledger");
}

TEST(PlanTableTest, PendingBatchMissingFromTheLedgerIsJustNew) {
  auto b1 = B("b1", "orders/a.parquet");
  b1.staged = true;
  TablePlan plan = Plan(Staged({b1}, {b1, B("b2", "orders/b.parquet")}));
  EXPECT_EQ(plan.action, Action::kAppend);
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kNewBatches));
}

// ---- kept batches whose files are gone survive rebuilds ----

TEST(PlanTableTest, RebuildCarriesOverKeptBatchesWhoseFilesAreGone) {
  auto b1 = B("b1", "orders/a.parquet");
  auto b2 = B("b2", "orders/b.parquet");
  auto b3 = B("b3", "orders/c.parquet", S({Col("id", "VARCHAR"), Col("name", "VARCHAR")}));
  TablePlan plan = EnginePlan(Staged({b1, b2}, {b1, b3}));  // b2 deleted, b3 incompatible
  EXPECT_EQ(plan.action, Action::kRebuild);
  EXPECT_THAT(plan.batches, ElementsAre("orders/a.parquet", "orders/c.parquet"));
  EXPECT_THAT(plan.carry_over, ElementsAre("b2"));
  const PlanReason* why = FindReason(plan, reason::kBatchesCarriedOver);
  ASSERT_NE(why, nullptr);
  EXPECT_EQ(why->detail, "kept 1 batch whose file is gone");
  EXPECT_EQ(plan.target.Find("id")->type, "VARCHAR");
}

TEST(PlanTableTest, FullRefreshCarriesOverKeptBatchesAndSaysHowMany) {
  auto b1 = B("b1", "orders/a.parquet");
  TablePlan plan =
      Plan(Staged({b1, B("b2", "orders/b.parquet"), B("b3", "orders/c.parquet")}, {b1}),
           PlanOptions{.full_refresh = true});
  EXPECT_EQ(plan.action, Action::kRebuild);
  EXPECT_THAT(plan.batches, ElementsAre("orders/a.parquet"));
  EXPECT_THAT(plan.carry_over, ElementsAre("b2", "b3"));
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kFullRefreshRequested, reason::kBatchesCarriedOver));
  EXPECT_EQ(plan.reasons[1].detail, "kept 2 batches whose files are gone");
}

TEST(PlanTableTest, CarriedOverRebuildKeepsColumnsOnlyTheGoneBatchesHad) {
  auto b1 = B("b1", "orders/a.parquet");
  auto gone = B("b2", "orders/b.parquet",
                S({Col("id", "INTEGER"), Col("name", "VARCHAR"), Col("discount", "DOUBLE")}));
  TablePlan plan =
      Plan(StagedWith(*gone.schema, {b1, gone}, {b1}), PlanOptions{.full_refresh = true});
  EXPECT_EQ(plan.action, Action::kRebuild);
  EXPECT_THAT(plan.carry_over, ElementsAre("b2"));
  EXPECT_THAT(ColumnNames(plan.target), ElementsAre("id", "name", "discount"));
}

TEST(PlanTableTest, RebuildUnderOnBatchRemovedRebuildCarriesNothingOver) {
  auto b1 = B("b1", "orders/a.parquet");
  TableInputs in = Staged({b1, B("b2", "orders/b.parquet")}, {b1});
  in.policy.on_batch_removed = config::OnBatchRemoved::kRebuild;
  TablePlan plan = Plan(in, PlanOptions{.full_refresh = true});
  EXPECT_EQ(plan.action, Action::kRebuild);
  EXPECT_THAT(plan.carry_over, IsEmpty());
  EXPECT_EQ(FindReason(plan, reason::kBatchesCarriedOver), nullptr);
}

TEST(PlanTableTest, RewrittenBatchIsRebuiltFromItsNewContentNotCarriedOver) {
  auto staged = B("old-content", "orders/a.parquet");
  auto rewritten = B("new-content", "orders/a.parquet");
  TablePlan plan = Plan(Staged({staged}, {rewritten}));
  EXPECT_EQ(plan.action, Action::kRebuild);
  EXPECT_THAT(plan.carry_over, IsEmpty());
}

TEST(PlanTableTest, MovedBatchIsLoadedFromItsNewPathNotCarriedOver) {
  auto before = B("b1", "orders/a.parquet");
  auto moved = B("b1", "orders/moved/a.parquet");
  TablePlan plan = Plan(Staged({before}, {moved}), PlanOptions{.full_refresh = true});
  EXPECT_EQ(plan.action, Action::kRebuild);
  EXPECT_THAT(plan.batches, ElementsAre("orders/moved/a.parquet"));
  EXPECT_THAT(plan.carry_over, IsEmpty());
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
  in.remembered->status = state::TableStatus::kOrphaned;
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
  in.remembered->status = state::TableStatus::kOrphaned;
  TablePlan plan = Plan(in);
  EXPECT_EQ(plan.action, Action::kAppend);
  EXPECT_NE(FindReason(plan, reason::kTableReturned), nullptr);
}

TEST(PlanTableTest, VanishedFolderIsDroppedUnderOnTableRemovedDrop) {
  auto b1 = B("b1", "orders/a.parquet");
  TableInputs in = Staged({b1}, {});
  in.folder_exists = false;
  in.policy.on_table_removed = config::OnTableRemoved::kDrop;
  TablePlan plan = Plan(in);
  EXPECT_EQ(plan.action, Action::kDrop);
  EXPECT_THAT(plan.batches, IsEmpty());
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kTableRemoved));
  EXPECT_EQ(plan.reasons[0].detail, "table folder disappeared; on_table_removed: drop");
}

TEST(PlanTableTest, VanishedFolderOrphanDetailSaysTheTableIsKept) {
  auto b1 = B("b1", "orders/a.parquet");
  TableInputs in = Staged({b1}, {});
  in.folder_exists = false;
  TablePlan plan = Plan(in);
  EXPECT_EQ(plan.reasons[0].detail, "table folder disappeared; staging table kept");
}

TEST(PlanTableTest, DroppedTableWhoseFolderIsStillAbsentIsSkipped) {
  // After a drop the warehouse holds nothing of it: nothing to do.
  TableInputs in;
  in.table = "orders";
  in.folder_exists = false;
  in.remembered = RememberedTable{};
  in.remembered->status = state::TableStatus::kDropped;
  in.policy.on_table_removed = config::OnTableRemoved::kDrop;
  TablePlan plan = Plan(in);
  EXPECT_EQ(plan.action, Action::kSkip);
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kNoChange));
}

TEST(PlanTableTest, ReturnedFolderOfADroppedTableIsCreatedAgain) {
  TableInputs in;
  in.table = "orders";
  in.folder_exists = true;
  in.batches = {B("b1", "orders/a.parquet")};
  in.remembered = RememberedTable{};
  in.remembered->status = state::TableStatus::kDropped;
  TablePlan plan = Plan(in);
  EXPECT_EQ(plan.action, Action::kCreate);
  EXPECT_THAT(plan.batches, ElementsAre("orders/a.parquet"));
  EXPECT_EQ(FindReason(plan, reason::kNewTable)->detail, "1 batch");
}

TEST(PlanTableTest, ReturnedFolderWithNothingNewIsSkippedButSaysSo) {
  auto b1 = B("b1", "orders/a.parquet");
  TableInputs in = Staged({b1}, {b1});
  in.remembered->status = state::TableStatus::kOrphaned;
  TablePlan plan = Plan(in);
  EXPECT_EQ(plan.action, Action::kSkip);
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kTableReturned, reason::kNoChange));
}

TEST(PlanTableTest, ReturnedFolderWithAnAddedColumnEvolves) {
  auto b1 = B("b1", "orders/a.parquet");
  auto b2 = B("b2", "orders/b.parquet",
              S({Col("id", "INTEGER"), Col("name", "VARCHAR"), Col("discount", "DOUBLE")}));
  TableInputs in = Staged({b1}, {b1, b2});
  in.remembered->status = state::TableStatus::kOrphaned;
  TablePlan plan = Plan(in);
  EXPECT_EQ(plan.action, Action::kEvolve);
  EXPECT_EQ(plan.reasons[0].code, reason::kNewBatches);
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
  // new_batches leads whenever batches are applied.
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kNewBatches, reason::kStateMissing));
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
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kNewBatches, reason::kStateUnreadable));
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

TEST(PlanTableTest, MissingStateWithAnAddedColumnEvolvesFromTheRederivedSchema) {
  auto b1 = B("b1", "orders/a.parquet");
  auto b2 = B("b2", "orders/b.parquet",
              S({Col("id", "INTEGER"), Col("name", "VARCHAR"), Col("discount", "DOUBLE")}));
  TableInputs in = Staged({b1}, {b1, b2});
  in.remembered.reset();
  TablePlan plan = Plan(in);
  EXPECT_EQ(plan.action, Action::kEvolve);
  EXPECT_THAT(plan.batches, ElementsAre("orders/b.parquet"));
  EXPECT_NE(FindReason(plan, reason::kStateMissing), nullptr);
  EXPECT_EQ(FindReason(plan, reason::kColumnAdded)->detail, "discount DOUBLE");
}

TEST(PlanTableTest, StateMismatchRebuildsEvenUnderTheFailPolicy) {
  // Policies govern schema drift in new batches; state that cannot be trusted
  // always falls back to a rebuild.
  auto b1 = B("b1", "orders/a.parquet");
  TableInputs in = Staged({b1}, {b1});
  in.warehouse.columns = S({Col("id", "INTEGER"), Col("name", "VARCHAR"), Col("extra", "DATE")});
  in.policy.schema_evolution = config::SchemaEvolution::kFail;
  TablePlan plan = Plan(in);
  EXPECT_EQ(plan.action, Action::kRebuild);
  EXPECT_THAT(Codes(plan), ElementsAre(reason::kWarehouseSchemaMismatch));
  EXPECT_EQ(plan.policy, config::SchemaEvolution::kFail);
}

// ---- operator requests ----

TEST(PlanTableTest, DeletedStateRebuildsTheTable) {
  auto b1 = B("b1", "orders/a.parquet");
  TableInputs in = Staged({b1}, {b1});
  in.remembered->status = state::TableStatus::kReset;
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

TEST(PlanJsonTest, RunRecordKeepsOnlyTouchedTablesWithBatchCounts) {
  auto j = nlohmann::json::parse(ToRunJson(SamplePlan()));
  EXPECT_EQ(j["tables_skipped"], 1);  // customers
  ASSERT_EQ(j["tables"].size(), 1u);
  const auto& orders = j["tables"][0];
  EXPECT_EQ(orders["table"], "orders");
  EXPECT_EQ(orders["action"], "append");
  EXPECT_EQ(orders["batch_count"], 1);
  EXPECT_FALSE(orders.contains("batches")) << "paths are not kept in a run's record";
  EXPECT_EQ(orders["reasons"][0]["code"], "new_batches");
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
  EXPECT_EQ(j["reasons"], nlohmann::json::array(
                              {{{"code", "state_unusable"}, {"detail", "unknown state format"}}}));
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

TEST(PlanJsonTest, RenamesQuarantineAndPolicyAreInTheJson) {
  auto b1 = B("b1", "orders/a.parquet", WithFieldIds());
  auto b2 =
      B("b2", "orders/b.parquet", S({Fid("id", "INTEGER", 1), Fid("customer_id", "INTEGER", 2)}));
  TableInputs renamed = StagedWith(WithFieldIds(), {b1}, {b1, b2});
  TableInputs frozen = AddingAColumn(config::SchemaEvolution::kFreeze);
  frozen.table = "frozen";
  auto j = nlohmann::json::parse(ToJson(PlanAll({renamed, frozen}, {}, FakeSupertype)));
  ASSERT_EQ(j["tables"].size(), 2u);
  const auto& f = j["tables"][0];
  EXPECT_EQ(f["table"], "frozen");
  EXPECT_EQ(f["policy"], "freeze");
  EXPECT_EQ(f["renames"], nlohmann::json::array());
  EXPECT_EQ(f["quarantine"],
            nlohmann::json::array(
                {{{"batch", "orders/b.parquet"},
                  {"code", "schema_frozen"},
                  {"detail", "schema_evolution: freeze; column_added: discount DOUBLE"}}}));
  const auto& o = j["tables"][1];
  EXPECT_EQ(o["action"], "evolve");
  EXPECT_EQ(o["renames"], nlohmann::json::array({{{"from", "cust"}, {"to", "customer_id"}}}));
  EXPECT_EQ(o["quarantine"], nlohmann::json::array());
  EXPECT_EQ(o["reasons"][2], (nlohmann::json{{"code", "rename_by_field_id"},
                                             {"detail", "cust\u2192customer_id (field_id 2)"}}));
}

TEST(PlanTextTest, ShowsThePolicyOfEveryTable) {
  TableInputs failing = AddingAColumn(config::SchemaEvolution::kFail);
  failing.table = "strict_orders";
  auto c1 = B("c1", "customers/a.parquet");
  TableInputs customers = Staged({c1}, {c1});
  customers.table = "customers";
  std::string text = ToText(PlanAll({failing, customers}, {}, FakeSupertype));
  EXPECT_THAT(text, HasSubstr("POLICY"));
  EXPECT_THAT(text, ::testing::ContainsRegex("strict_orders +fail +0 +fail +schema_changed"));
  EXPECT_THAT(text, ::testing::ContainsRegex("customers +skip +0 +evolve +no_change"));
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
