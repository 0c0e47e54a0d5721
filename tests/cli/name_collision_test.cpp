// Table folders whose names differ only in case (`orders/` and
// `Orders/`) would be one DuckDB table. The one that was there first keeps
// staging; the other fails with a reason, in the plan, the run and the API.
#include "tests/api/daemon_fixture.h"
#include "tests/cli/cli_fixture.h"

namespace landfall::testing {
namespace {

using Strings = std::vector<std::string>;

class NameCollisionTest : public CliTest {
 protected:
  static nlohmann::json Reason(const nlohmann::json& plan, const std::string& table) {
    for (const auto& t : plan["tables"]) {
      if (t["table"] == table && !t["reasons"].empty()) return t["reasons"][0];
    }
    return nlohmann::json::object();
  }
  static nlohmann::json OutcomeOf(const nlohmann::json& run, const std::string& table) {
    for (const auto& t : run["tables"]) {
      if (t["table"] == table) return t;
    }
    return nlohmann::json::object();
  }
  Strings Ids(const std::string& table) {
    return WarehouseRows("SELECT id FROM staging." + Quote(table) + " ORDER BY id");
  }
};

TEST_F(NameCollisionTest, SecondFolderDifferingOnlyInCaseFailsAndTheFirstKeepsStaging) {
  Land("orders/p0.parquet", 3, 0);
  Run();
  Land("Orders/p0.parquet", 2, 100);

  auto plan = Plan();
  EXPECT_EQ(ActionOf(plan, "Orders"), "fail");
  EXPECT_EQ(Reason(plan, "Orders")["code"], "table_name_collision");
  EXPECT_EQ(Reason(plan, "Orders")["detail"], "Orders collides with orders");
  EXPECT_EQ(ActionOf(plan, "orders"), "skip");

  // Every run fails Orders (exit 1) and leaves orders alone, or appends to it.
  auto run = Run({}, 1);
  EXPECT_EQ(OutcomeOf(run, "Orders")["status"], "failed");
  EXPECT_NE(OutcomeOf(run, "Orders")["error"].get<std::string>().find(
                "table_name_collision: Orders collides with orders"),
            std::string::npos)
      << run.dump();
  EXPECT_EQ(run["quarantined"], 0);
  EXPECT_EQ(Ids("orders"), (Strings{"0", "1", "2"}));

  Land("orders/p1.parquet", 2, 3);
  run = Run({}, 1);
  EXPECT_EQ(OutcomeOf(run, "orders")["action"], "append");
  EXPECT_EQ(OutcomeOf(run, "Orders")["status"], "failed");
  Run({}, 1);
  EXPECT_EQ(Ids("orders"), (Strings{"0", "1", "2", "3", "4"}));
  EXPECT_EQ(LedgerBatches("orders"), 2);
  EXPECT_EQ(LedgerBatches("Orders"), 0);
}

TEST_F(NameCollisionTest, OfTwoNewFoldersDifferingOnlyInCaseTheFirstInByteOrderIsStaged) {
  Land("orders/p0.parquet", 3, 0);
  Land("Orders/p0.parquet", 2, 100);

  auto plan = Plan();
  EXPECT_EQ(ActionOf(plan, "Orders"), "create");
  EXPECT_EQ(ActionOf(plan, "orders"), "fail");
  EXPECT_EQ(Reason(plan, "orders")["detail"], "orders collides with Orders");

  Run({}, 1);
  Run({}, 1);
  EXPECT_EQ(Ids("Orders"), (Strings{"100", "101"}));
  EXPECT_EQ(LedgerBatches("Orders"), 1);
  EXPECT_EQ(LedgerBatches("orders"), 0);
}

// GET /v1/tables of `landfall serve` shows the failed table and why.
TEST_F(DaemonTest, TableWhoseNameCollidesIsListedAsFailedWithTheReason) {
  Start();
  Land("orders/p0.parquet", 3);
  ASSERT_TRUE(WaitForRows("orders", 3)) << Get("/v1/tables").body;
  Land("Orders/p0.parquet", 2, 100);
  ASSERT_TRUE(PollUntil([&] { return Table("Orders").value("status", "") == "failed"; }, 30s))
      << Get("/v1/tables").body;
  const auto collided = Table("Orders");
  EXPECT_NE(collided["last_error"].get<std::string>().find(
                "table_name_collision: Orders collides with orders"),
            std::string::npos)
      << collided.dump();
  EXPECT_EQ(Table("orders")["status"], "active");
  EXPECT_EQ(Table("orders")["rows"], 3);
}

}  // namespace
}  // namespace landfall::testing
