// Recovery through the real binary, real PostgreSQL and real
// DuckDB: no rebuild, crash window or lost state store may drop the rows of
// batches that on_batch_removed: keep keeps after their files are gone.

#include "tests/cli/cli_fixture.h"

namespace landfall::testing {
namespace {

using Strings = std::vector<std::string>;
namespace fs = std::filesystem;

class RecoveryTest : public CliTest {
 protected:
  void Batch(const std::string& rel, const std::string& select) {
    WriteParquet(landing() / rel, select);
  }
  // orders/<rel>: (id INTEGER, name VARCHAR), ids offset.., names o<id>.
  void LandOrders(const std::string& rel, int rows, int offset) {
    Batch(rel, "SELECT (i + " + std::to_string(offset) + ")::INTEGER AS id, 'o' || (i + " +
                   std::to_string(offset) + ") AS name FROM range(" + std::to_string(rows) +
                   ") t(i)");
  }
  Strings Q(const std::string& sql) { return WarehouseRows(sql); }
  Strings Columns(const std::string& table) {
    return Q("SELECT column_name FROM information_schema.columns WHERE table_schema = 'staging' "
             "AND table_name = '" + table +
             "' AND column_name NOT LIKE '\\_landfall\\_%' ESCAPE '\\' ORDER BY ordinal_position");
  }
  static nlohmann::json TableOf(const nlohmann::json& plan, const std::string& table) {
    for (const auto& t : plan["tables"]) {
      if (t["table"] == table) return t;
    }
    ADD_FAILURE() << "no table " << table << " in " << plan.dump();
    return nlohmann::json::object();
  }
  static std::string Detail(const nlohmann::json& plan, const std::string& table,
                            const std::string& code) {
    const nlohmann::json t = TableOf(plan, table);
    for (const auto& r : t["reasons"]) {
      if (r["code"] == code) return r["detail"];
    }
    return "(none)";
  }
  // Runs SQL against the state store; $1 is this test's environment.
  Strings Pg(const std::string& sql) {
    return PgQuery(sql, env_);
  }
  static std::string Literal(const std::string& text) {
    std::string out = "'";
    for (char c : text) {
      out += c;
      if (c == '\'') out += '\'';
    }
    return out + "'";
  }

  // orders with p0 (ids 0-2) and p1 (ids 3-4) staged, then p1 deleted: its
  // rows are kept (the default on_batch_removed: keep).
  void StageThenDeleteP1() {
    LandOrders("orders/p0.parquet", 3, 0);
    LandOrders("orders/p1.parquet", 2, 3);
    Run();
    fs::remove(landing() / "orders/p1.parquet");
    EXPECT_EQ(Run()["run_id"], 0);
    ASSERT_EQ(Rows("orders"), 5);
  }
};

TEST_F(RecoveryTest, RebuildForAnIncompatibleTypeKeepsRowsOfDeletedBatches) {
  StageThenDeleteP1();
  Batch("orders/p2.parquet", "SELECT 'k5' AS id, 'o5' AS name");  // id INTEGER -> VARCHAR

  auto plan = Plan();
  EXPECT_EQ(ActionOf(plan, "orders"), "rebuild");
  EXPECT_EQ(Detail(plan, "orders", "batches_carried_over"), "kept 1 batch whose file is gone");

  Run();
  EXPECT_EQ(Q("SELECT name || ':' || id FROM staging.orders ORDER BY name"),
            (Strings{"o0:0", "o1:1", "o2:2", "o3:3", "o4:4", "o5:k5"}));
  EXPECT_EQ(LedgerBatches("orders"), 3);
  EXPECT_EQ(Run()["run_id"], 0);
  EXPECT_EQ(Rows("orders"), 6);
}

TEST_F(RecoveryTest, FullRefreshKeepsRowsOfDeletedBatches) {
  StageThenDeleteP1();

  Run({"--full-refresh"});
  EXPECT_EQ(Q("SELECT id FROM staging.orders ORDER BY id"), (Strings{"0", "1", "2", "3", "4"}));
  EXPECT_EQ(LedgerBatches("orders"), 2);
  EXPECT_EQ(Run()["run_id"], 0);
  EXPECT_EQ(Rows("orders"), 5);
}

TEST_F(RecoveryTest, WarehouseCommitWhoseStateWriteNeverHappenedIsAdoptedNotRebuilt) {
  StageThenDeleteP1();
  const Strings before = Pg(
      "SELECT schema_json::text || E'\\x1f' || schema_hash FROM tables WHERE environment = $1 "
      "AND name = 'orders'");
  ASSERT_EQ(before.size(), 1u);
  const std::string old_json = before[0].substr(0, before[0].find('\x1f'));
  const std::string old_hash = before[0].substr(before[0].find('\x1f') + 1);
  Batch("orders/p2.parquet", "SELECT 5::INTEGER AS id, 'o5' AS name, 1.5::DOUBLE AS discount");
  Run();  // evolve: ADD COLUMN discount, append p2
  ASSERT_EQ(Columns("orders"), (Strings{"id", "name", "discount"}));

  // The crash window: the warehouse committed the evolve, but the state write
  // (the table's snapshot and p2's status, one transaction) never happened.
  Pg("UPDATE tables SET schema_json = " + Literal(old_json) + "::jsonb, schema_hash = " +
     Literal(old_hash) + " WHERE environment = $1 AND name = 'orders'");
  Pg("UPDATE batches SET status = 'pending', staged_at = NULL WHERE environment = $1 AND path = "
     "'orders/p2.parquet'");

  auto plan = Plan();
  EXPECT_EQ(ActionOf(plan, "orders"), "skip") << plan.dump();
  Run();
  EXPECT_EQ(Q("SELECT id || ':' || coalesce(discount::VARCHAR, 'NULL') FROM staging.orders ORDER "
              "BY id"),
            (Strings{"0:NULL", "1:NULL", "2:NULL", "3:NULL", "4:NULL", "5:1.5"}));
  EXPECT_EQ(LedgerBatches("orders"), 3);
  EXPECT_NE(Pg("SELECT schema_json::text FROM tables WHERE environment = $1 AND name = 'orders'")
                .at(0)
                .find("discount"),
            std::string::npos)
      << "the snapshot is caught up";
  EXPECT_EQ(Pg("SELECT status FROM batches WHERE environment = $1 AND path = 'orders/p2.parquet'"),
            (Strings{"staged"}));
}

TEST_F(RecoveryTest, RebuildCommittedWithoutItsStateWriteIsAdoptedNotRebuiltAgain) {
  StageThenDeleteP1();
  const Strings before = Pg(
      "SELECT schema_json::text || E'\\x1f' || schema_hash FROM tables WHERE environment = $1 "
      "AND name = 'orders'");
  ASSERT_EQ(before.size(), 1u);
  Batch("orders/p2.parquet", "SELECT 'k5' AS id, 'o5' AS name");  // id INTEGER -> VARCHAR
  Run();  // rebuild, carrying p1 over
  const Strings loaded = Q("SELECT _landfall_loaded_at::VARCHAR FROM staging.orders ORDER BY name");

  // The crash window: the rebuild committed, its state write never happened.
  const std::string old_json = before[0].substr(0, before[0].find('\x1f'));
  const std::string old_hash = before[0].substr(before[0].find('\x1f') + 1);
  Pg("UPDATE tables SET schema_json = " + Literal(old_json) + "::jsonb, schema_hash = " +
     Literal(old_hash) + " WHERE environment = $1 AND name = 'orders'");
  Pg("UPDATE batches SET status = 'pending', staged_at = NULL WHERE environment = $1 AND path = "
     "'orders/p2.parquet'");

  auto plan = Plan();
  EXPECT_EQ(ActionOf(plan, "orders"), "skip") << plan.dump();
  EXPECT_EQ(Run()["run_id"], 0);
  EXPECT_EQ(Q("SELECT name || ':' || id FROM staging.orders ORDER BY name"),
            (Strings{"o0:0", "o1:1", "o2:2", "o3:3", "o4:4", "o5:k5"}));
  EXPECT_EQ(Q("SELECT _landfall_loaded_at::VARCHAR FROM staging.orders ORDER BY name"), loaded)
      << "not rebuilt again";
}

TEST_F(RecoveryTest, WipedStateStoreKeepsEveryRowIncludingDeletedBatches) {
  LandOrders("orders/p0.parquet", 3, 0);
  Batch("orders/p1.parquet", "SELECT 3::INTEGER AS id, 'o3' AS name, 2.5::DOUBLE AS discount");
  Run();
  fs::remove(landing() / "orders/p1.parquet");
  EXPECT_EQ(Run()["run_id"], 0);
  ASSERT_EQ(Rows("orders"), 4);

  // The state store loses everything it held for the environment.
  for (const char* table : {"batches", "tables", "schema_history", "runs"}) {
    Pg(std::string("DELETE FROM ") + table + " WHERE environment = $1");
  }
  Pg("DELETE FROM environments WHERE name = $1");

  Run();
  EXPECT_EQ(Q("SELECT id || ':' || coalesce(discount::VARCHAR, 'NULL') FROM staging.orders ORDER "
              "BY id"),
            (Strings{"0:NULL", "1:NULL", "2:NULL", "3:2.5"}));
  EXPECT_EQ(LedgerBatches("orders"), 2);
  EXPECT_EQ(Run()["run_id"], 0);
  EXPECT_EQ(Rows("orders"), 4);
}

}  // namespace
}  // namespace landfall::testing
