// The one-shot CLI (`landfall run`, `plan`, `state delete`, `check-config`)
// against real PostgreSQL and DuckDB: exact row counts, runs that touch only
// what changed, quarantine of corrupt files, full refreshes, config errors,
// and a run killed with SIGKILL that the next run completes exactly once.
#include <chrono>
#include <random>

#include "tests/cli/cli_fixture.h"

namespace landfall::testing {
namespace {

TEST_F(CliTest, FirstRunStagesEveryBatchWithExactRowCounts) {
  Land("orders/2026/part-0.parquet", 100);
  Land("orders/2026/part-1.parquet", 50, 100);
  Land("customers/part-0.parquet", 7);
  Land("events/date=2026-11-01/hour=01/part-0.parquet", 1000);

  auto out = Run();
  EXPECT_EQ(out["ok"], true);
  EXPECT_EQ(ActionOf(out["plan"], "orders"), "create");
  EXPECT_EQ(Rows("orders"), 150);
  EXPECT_EQ(Rows("customers"), 7);
  EXPECT_EQ(Rows("events"), 1000);
  EXPECT_EQ(LedgerBatches("orders"), 2);
  EXPECT_EQ(WarehouseInt("SELECT sum(id) FROM staging.orders"), 149 * 150 / 2);
  // Metadata columns name the batch and the load time.
  EXPECT_EQ(WarehouseInt(
                           "SELECT count(DISTINCT _landfall_batch) FROM staging.orders "
                           "WHERE _landfall_loaded_at IS NOT NULL"),
            2);
}

TEST_F(CliTest, SecondRunIsAllSkipWithZeroWarehouseStatements) {
  Land("orders/part-0.parquet", 10);
  Land("customers/part-0.parquet", 10);
  Run();
  auto second = Run();
  EXPECT_EQ(second["run_id"], 0);
  EXPECT_EQ(second["warehouse_statements"], 0);
  EXPECT_EQ(second["inspected"], 0) << "unchanged files must not be re-hashed";
  for (const auto& t : second["plan"]["tables"]) EXPECT_EQ(t["action"], "skip") << t.dump();
  EXPECT_EQ(Rows("orders"), 10);

  auto text = Landfall({"run"});
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_NE(text.out.find("warehouse statements: 0"), std::string::npos) << text.out;
}

TEST_F(CliTest, OneNewBatchInOneOfThreeTablesTouchesOnlyThatTable) {
  Land("a/part-0.parquet", 10);
  Land("b/part-0.parquet", 20);
  Land("c/part-0.parquet", 30);
  Run();
  Land("b/part-1.parquet", 5, 20);

  auto plan = Plan();
  EXPECT_EQ(ActionOf(plan, "a"), "skip");
  EXPECT_EQ(ActionOf(plan, "b"), "append");
  EXPECT_EQ(ActionOf(plan, "c"), "skip");
  for (const auto& t : plan["tables"]) {
    if (t["table"] == "b") {
      EXPECT_EQ(t["batches"], nlohmann::json::array({"b/part-1.parquet"}));
      EXPECT_EQ(t["reasons"][0]["code"], "new_batches");
      EXPECT_EQ(t["reasons"][0]["detail"], "1 new batch");
    }
  }

  auto out = Run();
  ASSERT_EQ(out["tables"].size(), 1u);
  EXPECT_EQ(out["tables"][0]["table"], "b");
  EXPECT_EQ(out["tables"][0]["rows"], 5);
  EXPECT_EQ(Rows("a"), 10);
  EXPECT_EQ(Rows("b"), 25);
  EXPECT_EQ(Rows("c"), 30);
}

TEST_F(CliTest, SchemaChangeInOneTableChangesOnlyThatTable) {
  Land("a/part-0.parquet", 10);
  Land("b/part-0.parquet", 20);
  Run();
  Land("b/part-1.parquet", 5, 20, ", 'x' AS discount_code");

  auto plan = Plan();
  EXPECT_EQ(ActionOf(plan, "a"), "skip");
  EXPECT_EQ(ActionOf(plan, "b"), "evolve");
  auto codes = ReasonCodes(plan, "b");
  EXPECT_NE(std::find(codes.begin(), codes.end(), "schema_changed"), codes.end());
  EXPECT_NE(std::find(codes.begin(), codes.end(), "column_added"), codes.end());

  auto out = Run();
  ASSERT_EQ(out["tables"].size(), 1u);
  EXPECT_EQ(Rows("b"), 25);
  EXPECT_EQ(WarehouseInt("SELECT count(*) FROM staging.b WHERE discount_code IS NULL"),
            20);
  EXPECT_EQ(WarehouseInt("SELECT count(*) FROM staging.b WHERE discount_code = 'x'"),
            5);
}

TEST_F(CliTest, CorruptFilesAreQuarantinedWhileTheRestOfTheTableStages) {
  WriteConfig("  quarantine_dir: quarantine\n");
  Land("orders/good.parquet", 10);
  Land("other/good.parquet", 3);
  std::ofstream(landing() / "orders/text.parquet") << "this is not parquet";
  std::ofstream(landing() / "orders/empty.parquet");
  // A Parquet file cut in half: the header magic is there, the footer is not.
  Land("orders/whole.parquet", 100);
  std::filesystem::resize_file(landing() / "orders/whole.parquet",
                               std::filesystem::file_size(landing() / "orders/whole.parquet") / 2);
  std::filesystem::rename(landing() / "orders/whole.parquet", landing() / "orders/truncated.parquet");

  auto out = Run();
  EXPECT_EQ(out["quarantined"], 3);
  EXPECT_EQ(Rows("orders"), 10);
  EXPECT_EQ(Rows("other"), 3);
  EXPECT_TRUE(std::filesystem::exists(quarantine() / "orders/text.parquet"));
  EXPECT_TRUE(std::filesystem::exists(quarantine() / "orders/empty.parquet"));
  EXPECT_TRUE(std::filesystem::exists(quarantine() / "orders/truncated.parquet"));
  EXPECT_FALSE(std::filesystem::exists(landing() / "orders/text.parquet"));
  // Quarantine is not retried silently: the next run has nothing to do.
  auto second = Run();
  EXPECT_EQ(second["run_id"], 0);
  EXPECT_EQ(second["quarantined"], 0);
}

TEST_F(CliTest, BadFileWithoutQuarantineDirStaysAndIsNotRetried) {
  Land("orders/good.parquet", 10);
  std::ofstream(landing() / "orders/bad.parquet") << "PAR1 not really";
  auto out = Run();
  EXPECT_EQ(out["quarantined"], 1);
  EXPECT_TRUE(std::filesystem::exists(landing() / "orders/bad.parquet"));
  EXPECT_EQ(Rows("orders"), 10);
  EXPECT_EQ(Run()["quarantined"], 0);
}

TEST_F(CliTest, StrangeTableFolderNamesStageSafely) {
  const std::vector<std::string> names = {"a\"b; drop table x", "with space", "semi;colon",
                                          "na\xC3\xAFve_\xC3\xBCnic\xC3\xB8" "de", "O'Brien"};
  int n = 1;
  for (const auto& name : names) Land(name + "/part-0.parquet", n++);
  auto out = Run();
  EXPECT_EQ(out["ok"], true) << out.dump();
  n = 1;
  for (const auto& name : names) EXPECT_EQ(Rows(name), n++) << name;
  EXPECT_EQ(Run()["run_id"], 0);
}

TEST_F(CliTest, SameContentUnderTwoNamesIsStagedOnce) {
  Land("orders/part-0.parquet", 10);
  std::filesystem::copy_file(landing() / "orders/part-0.parquet", landing() / "orders/copy.parquet");
  auto out = Run();
  EXPECT_EQ(out["duplicates"], 1);
  EXPECT_EQ(Rows("orders"), 10);
  EXPECT_EQ(LedgerBatches("orders"), 1);
  // Landing it again later under a third name changes nothing either.
  std::filesystem::copy_file(landing() / "orders/part-0.parquet", landing() / "orders/again.parquet");
  auto second = Run();
  EXPECT_EQ(second["run_id"], 0);
  EXPECT_EQ(Rows("orders"), 10);
}

TEST_F(CliTest, StateDeleteMakesTheNextRunRebuildTheTable) {
  Land("orders/part-0.parquet", 10);
  Land("other/part-0.parquet", 10);
  Run();
  auto del = Landfall({"state", "delete", "--table", "orders"});
  EXPECT_EQ(del.exit_code, 0) << del.err;
  auto plan = Plan();
  EXPECT_EQ(ActionOf(plan, "orders"), "rebuild");
  EXPECT_EQ(ReasonCodes(plan, "orders"), std::vector<std::string>{"state_deleted"});
  EXPECT_EQ(ActionOf(plan, "other"), "skip");
  Run();
  EXPECT_EQ(Rows("orders"), 10);
  EXPECT_EQ(Run()["run_id"], 0);
  EXPECT_EQ(Landfall({"state", "delete", "--table", "nope"}).exit_code, 2);
}

TEST_F(CliTest, SchemaChangeUnderPolicyFailStopsOnlyThatTableAndRunExitsNonZero) {
  std::ofstream(config(), std::ios::app) << "tables:\n  - {match: bad, schema_evolution: fail}\n";
  Land("good/part-0.parquet", 5);
  WriteParquet(landing() / "bad/part-0.parquet", "SELECT 1::INTEGER AS v");
  Run();
  Land("good/part-1.parquet", 5, 5);
  WriteParquet(landing() / "bad/part-1.parquet", "SELECT {'x': 1} AS v");
  auto out = Run({}, 1);
  EXPECT_EQ(out["ok"], false);
  EXPECT_EQ(Rows("good"), 10);
  EXPECT_EQ(Rows("bad"), 1);
  EXPECT_EQ(ActionOf(out["plan"], "bad"), "fail");
  auto text = Landfall({"run"});
  EXPECT_EQ(text.exit_code, 1);
  EXPECT_NE(text.out.find("bad"), std::string::npos);
}

TEST_F(CliTest, PlanJsonHasTheDocumentedShape) {
  Land("orders/2026/part-3.parquet", 1);
  auto plan = Plan();
  EXPECT_EQ(plan["full_rebuild"], false);
  EXPECT_TRUE(plan["reasons"].is_array());
  ASSERT_EQ(plan["tables"].size(), 1u);
  const auto& t = plan["tables"][0];
  EXPECT_EQ(t["table"], "orders");
  EXPECT_EQ(t["action"], "create");
  EXPECT_EQ(t["batches"], nlohmann::json::array({"orders/2026/part-3.parquet"}));
  EXPECT_EQ(t["reasons"][0]["code"], "new_table");
  // plan is a dry run: nothing is staged.
  EXPECT_EQ(Plan()["tables"][0]["action"], "create");
}

TEST_F(CliTest, RunLimitedToOneTableLeavesTheOthers) {
  Land("a/part-0.parquet", 1);
  Land("b/part-0.parquet", 2);
  auto out = Run({"--table", "a"});
  ASSERT_EQ(out["tables"].size(), 1u);
  EXPECT_EQ(out["tables"][0]["table"], "a");
  EXPECT_EQ(ActionOf(Plan(), "b"), "create");
}

TEST_F(CliTest, FullRefreshRebuildsFromAllBatches) {
  Land("a/part-0.parquet", 3);
  Land("a/part-1.parquet", 4, 3);
  Run();
  auto out = Run({"--full-refresh"});
  EXPECT_EQ(ActionOf(out["plan"], "a"), "rebuild");
  EXPECT_EQ(Rows("a"), 7);
  EXPECT_EQ(LedgerBatches("a"), 2);
}

TEST_F(CliTest, CheckConfigNamesFileLineAndKey) {
  std::ofstream(config()) << "environment: x\nlanding:\n  dir: l\n  bogus: 1\n"
                             "state: {postgres_url: x}\nwarehouse: {path: w}\n";
  auto r = Landfall({"check-config"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("landfall.yaml:4: landing.bogus"), std::string::npos) << r.err;
  auto run = Landfall({"run"});
  EXPECT_EQ(run.exit_code, 2);
}

TEST_F(CliTest, MissingEnvironmentVariableIsAConfigError) {
  std::ofstream(config()) << "landing: {dir: l}\nstate: {postgres_url: '${LANDFALL_NOT_SET_X}'}\n"
                             "warehouse: {path: w}\n";
  auto r = Landfall({"check-config"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("LANDFALL_NOT_SET_X"), std::string::npos) << r.err;
}

TEST_F(CliTest, RunKilledWithSigkillThenRunAgainStagesEveryBatchExactlyOnce) {
  std::mt19937 rng(42);
  long long expected_rows[4] = {0, 0, 0, 0};
  int file = 0;
  for (int round = 0; round < 6; ++round) {
    for (int t = 0; t < 4; ++t) {
      int rows = 50 + static_cast<int>(rng() % 500);
      // Every other round adds a column to one table, so kills also hit rebuilds.
      std::string extra = (round % 2 == 1 && t == round % 4) ? ", 1 AS c" + std::to_string(round) : "";
      Land("t" + std::to_string(t) + "/part-" + std::to_string(file++) + ".parquet", rows, 0, extra);
      expected_rows[t] += rows;
    }
    RunAndKill(std::chrono::milliseconds(20 + rng() % 400));
  }
  auto final_run = Run();
  EXPECT_EQ(final_run["ok"], true) << final_run.dump();
  for (int t = 0; t < 4; ++t) {
    const std::string table = "t" + std::to_string(t);
    EXPECT_EQ(Rows(table), expected_rows[t]) << table;
    EXPECT_EQ(LedgerBatches(table), 6) << table;
    EXPECT_EQ(WarehouseInt("SELECT count(*) FROM (SELECT batch_id FROM "
                                          "_landfall.ledger WHERE table_name = '" + table +
                                              "' GROUP BY batch_id HAVING count(*) > 1)"),
              0);
  }
  EXPECT_EQ(Run()["run_id"], 0);
}

}  // namespace
}  // namespace landfall::testing
