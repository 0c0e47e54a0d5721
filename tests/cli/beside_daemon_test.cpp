// The CLI beside a running daemon. While `landfall serve` holds the
// warehouse, plan, run, status and state delete ask it over its API and print
// what they print alone; when nothing can be asked, a clear error, never
// DuckDB's raw lock error.
#include "tests/cli/operate_fixture.h"

namespace landfall::testing {
namespace {

using json = nlohmann::json;

constexpr const char* kToken = "beside-daemon-token-0123456789";

class BesideDaemonTest : public OperateTest {
 protected:
  std::string Via() const { return "via the running daemon at 127.0.0.1:" + std::to_string(port_); }

  static json Parse(const CommandResult& r) {
    json j = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << "not JSON: " << r.out << "\nstderr: " << r.err;
    return j;
  }

  // Writes a file that is not Parquet at landing/<rel>.
  void LandGarbage(const std::string& rel) {
    std::filesystem::create_directories((landing() / rel).parent_path());
    std::ofstream(landing() / rel) << "this is not parquet";
    // Old enough that the daemon does not take it for a file being written.
    std::filesystem::last_write_time(landing() / rel, std::filesystem::file_time_type::clock::now() -
                                                          std::chrono::hours(1));
  }
};

TEST_F(BesideDaemonTest, PlanThroughTheDaemonPrintsWhatPlanPrintsAlone) {
  // A debounce longer than the test: the daemon runs nothing by itself, not
  // even its start-up scan, so the plans below have work to show.
  WriteServeConfig(/*debounce_ms=*/60'000);
  Land("orders/part-0.parquet", 10);
  Land("orders/part-1.parquet", 5, 10);
  Land("customers/part-0.parquet", 3);
  auto serve = StartServe(/*ready=*/false);

  auto json_plan = Landfall({"plan", "--format", "json"});
  EXPECT_EQ(json_plan.exit_code, 0) << json_plan.err;
  EXPECT_NE(json_plan.err.find(Via()), std::string::npos) << json_plan.err;
  auto text_plan = Landfall({"plan"});
  EXPECT_EQ(text_plan.exit_code, 0) << text_plan.err;
  EXPECT_NE(text_plan.err.find(Via()), std::string::npos) << text_plan.err;
  auto scoped = Landfall({"plan", "--format", "json", "--table", "orders", "--full-refresh"});
  EXPECT_EQ(scoped.exit_code, 0) << scoped.err;
  const json plan = Parse(json_plan);
  EXPECT_EQ(ActionOf(plan, "orders"), "create");
  EXPECT_EQ(ActionOf(plan, "customers"), "create");
  EXPECT_EQ(ActionOf(Parse(scoped), "orders"), "create");
  EXPECT_EQ(ActionOf(Parse(scoped), "customers"), "(absent)");
  EXPECT_NE(text_plan.out.find("orders"), std::string::npos) << text_plan.out;
  StopServe(*serve);

  auto alone_json = Landfall({"plan", "--format", "json"});
  EXPECT_EQ(alone_json.exit_code, 0) << alone_json.err;
  EXPECT_EQ(alone_json.err.find("via the running daemon"), std::string::npos) << alone_json.err;
  EXPECT_EQ(alone_json.out, json_plan.out);
  EXPECT_EQ(Landfall({"plan"}).out, text_plan.out);
  EXPECT_EQ(Landfall({"plan", "--format", "json", "--table", "orders", "--full-refresh"}).out,
            scoped.out);
}

TEST_F(BesideDaemonTest, RunThroughTheDaemonWaitsForItsRunAndPrintsWhatRunPrintsAlone) {
  // The daemon runs nothing by itself (see above): only what the CLI asks.
  WriteServeConfig(/*debounce_ms=*/60'000);
  Land("orders/part-0.parquet", 10);
  Land("orders/part-1.parquet", 5, 10);
  Land("orders/part-2.parquet", 7, 15);
  auto serve = StartServe(/*ready=*/false);

  auto run = Landfall({"run", "--format", "json"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.err.find(Via()), std::string::npos) << run.err;
  const json outcome = Parse(run);
  EXPECT_GT(outcome["run_id"].get<long long>(), 0);
  EXPECT_EQ(outcome["ok"], true);
  ASSERT_EQ(outcome["tables"].size(), 1u) << run.out;
  EXPECT_EQ(outcome["tables"][0]["table"], "orders");
  EXPECT_EQ(outcome["tables"][0]["action"], "create");
  EXPECT_EQ(outcome["tables"][0]["status"], "succeeded");
  EXPECT_EQ(outcome["tables"][0]["batches"], 3);
  EXPECT_EQ(outcome["tables"][0]["rows"], 22);
  EXPECT_EQ(outcome["plan"]["tables"].size(), 1u);

  // Nothing left: the same line as alone, and the daemon's run record.
  auto quiet = Landfall({"run"});
  EXPECT_EQ(quiet.exit_code, 0) << quiet.err;
  EXPECT_NE(quiet.err.find(Via()), std::string::npos) << quiet.err;
  EXPECT_EQ(quiet.out, "nothing to do: 1 tables unchanged; warehouse statements: 0\n");
  EXPECT_EQ(Pg("SELECT status FROM runs WHERE id = " + outcome["run_id"].dump())[0], "succeeded");

  // A text run with work: one line per table, then the summary.
  Land("orders/part-3.parquet", 4, 30);
  auto text = Landfall({"run"});
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("orders                   append   succeeded     1 batches          4 rows"),
            std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find(" tables changed, 0 failed, 0 unchanged; warehouse statements: "),
            std::string::npos)
      << text.out;
  StopServe(*serve);
  EXPECT_EQ(Rows("orders"), 26);
  EXPECT_EQ(LedgerBatches("orders"), 4);
  auto alone = Landfall({"run"});
  EXPECT_EQ(alone.err.find("via the running daemon"), std::string::npos) << alone.err;
  EXPECT_EQ(alone.out, quiet.out);
}

TEST_F(BesideDaemonTest, StatusListsTablesRunsFailingTablesAndQuarantinedBatchesWithOrWithoutTheDaemon) {
  Land("orders/part-0.parquet", 10);
  LandGarbage("orders/bad.parquet");
  Land("customers/part-0.parquet", 3);
  auto serve = StartServe();

  auto status = Landfall({"status", "--format", "json"});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.err.find(Via()), std::string::npos) << status.err;
  auto text = Landfall({"status"});
  EXPECT_EQ(text.exit_code, 0) << text.err;
  StopServe(*serve);
  auto alone = Landfall({"status", "--format", "json"});
  EXPECT_EQ(alone.exit_code, 0) << alone.err;
  EXPECT_EQ(alone.err.find("via the running daemon"), std::string::npos) << alone.err;

  for (const json& s : {Parse(status), Parse(alone)}) {
    EXPECT_EQ(s["environment"], env_);
    ASSERT_EQ(s["tables"].size(), 2u) << s.dump();
    std::map<std::string, long long> rows;
    for (const auto& t : s["tables"]) rows[t["name"]] = t["rows"];
    EXPECT_EQ(rows["orders"], 10);
    EXPECT_EQ(rows["customers"], 3);
    EXPECT_EQ(s["running_runs"].size(), 0u);
    EXPECT_EQ(s["failing_tables"].size(), 0u);
    ASSERT_EQ(s["quarantined_batches"].size(), 1u) << s.dump();
    EXPECT_EQ(s["quarantined_batches"][0]["path"], "orders/bad.parquet");
    EXPECT_EQ(s["quarantined_batches"][0]["error_code"], "not_parquet");
  }
  EXPECT_NE(text.out.find("environment " + env_ +
                          ": 2 tables, 0 running runs, 0 failing tables, 1 quarantined batches"),
            std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("  orders/bad.parquet: not_parquet: "), std::string::npos) << text.out;
}

TEST_F(BesideDaemonTest, ARunWithAFailingTableExitsOneThroughTheDaemonAndStatusListsTheTable) {
  // No API keys after this: a top-level key ends the api: block.
  WriteServeConfig(/*debounce_ms=*/60'000,
                   "tables:\n  - {match: \"strict_*\", schema_evolution: fail}\n");
  Land("strict_orders/p0.parquet", 10);
  auto serve = StartServe(/*ready=*/false);
  ASSERT_EQ(Landfall({"run"}).exit_code, 0);
  Land("strict_orders/p1.parquet", 5, 10, ", 1.5 AS discount");

  auto run = Landfall({"run", "--format", "json"});
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_NE(run.err.find(Via()), std::string::npos) << run.err;
  const json outcome = Parse(run);
  EXPECT_EQ(outcome["ok"], false);
  ASSERT_EQ(outcome["tables"].size(), 1u) << run.out;
  EXPECT_EQ(outcome["tables"][0]["status"], "failed");
  EXPECT_NE(outcome["tables"][0]["error"].get<std::string>().find("schema_change_blocked"),
            std::string::npos);

  auto status = Landfall({"status", "--format", "json"});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  const json s = Parse(status);
  ASSERT_EQ(s["failing_tables"].size(), 1u) << status.out;
  EXPECT_EQ(s["failing_tables"][0]["name"], "strict_orders");
  auto text = Landfall({"status"});
  EXPECT_NE(text.out.find("1 failing tables"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("failing tables:\n  strict_orders: "), std::string::npos) << text.out;
  StopServe(*serve);
  EXPECT_EQ(Rows("strict_orders"), 10) << "the blocked batch is not staged";
}

TEST_F(BesideDaemonTest, StateDeleteWhileServingMakesTheDaemonRebuildTheTable) {
  Land("orders/part-0.parquet", 10);
  auto serve = StartServe();

  auto deleted = Landfall({"state", "delete", "--table", "orders"});
  EXPECT_EQ(deleted.exit_code, 0) << deleted.err;
  EXPECT_NE(deleted.err.find(Via()), std::string::npos) << deleted.err;
  EXPECT_EQ(deleted.out, "state of table 'orders' deleted; its next run rebuilds it\n");

  // The daemon's next run of the table rebuilds it from both batches, instead
  // of writing its old record over the reset marker and appending.
  Land("orders/part-1.parquet", 5, 10);
  EXPECT_TRUE(serve->WaitForLog("table orders: rebuild 2 batches, 15 rows", 30s)) << serve->Log();
  StopServe(*serve);
  EXPECT_EQ(Rows("orders"), 15);
  EXPECT_EQ(LedgerBatches("orders"), 2);
  EXPECT_EQ(Pg("SELECT tr.action FROM table_runs tr JOIN runs r ON r.id = tr.run_id"
               " WHERE r.environment = $1 ORDER BY tr.id DESC LIMIT 1")[0],
            "rebuild");

  auto missing = Landfall({"state", "delete", "--table", "nope"});
  EXPECT_EQ(missing.exit_code, 2) << missing.err;
}

TEST_F(BesideDaemonTest, WarehouseHeldByADaemonWithoutItsApiIsAClearErrorNamingItsPid) {
  WriteServeConfig(100, "  enabled: false\n");
  Land("orders/part-0.parquet", 10);
  auto serve = StartServe();

  auto plan = Landfall({"plan"});
  EXPECT_EQ(plan.exit_code, 3) << plan.err;
  EXPECT_NE(plan.err.find("(PID " + std::to_string(serve->pid()) + ")"), std::string::npos)
      << plan.err;
  EXPECT_NE(plan.err.find("api.enabled: false"), std::string::npos) << plan.err;
  EXPECT_NE(plan.err.find("systemctl stop landfall"), std::string::npos) << plan.err;
  EXPECT_EQ(plan.err.find("IO Error"), std::string::npos) << plan.err;

  // A run is refused before it gets that far: the daemon is the writer.
  auto run = Landfall({"run"});
  EXPECT_EQ(run.exit_code, 3) << run.err;
  EXPECT_NE(run.err.find("landfall PID " + std::to_string(serve->pid())), std::string::npos)
      << run.err;
  EXPECT_EQ(run.err.find("IO Error"), std::string::npos) << run.err;
  StopServe(*serve);
}

TEST_F(BesideDaemonTest, WithApiTokensTheCliSendsLandfallApiToken) {
  WriteServeConfig(100, std::string("  tokens: [\"") + kToken + "\"]\n");
  Land("orders/part-0.parquet", 10);
  auto serve = StartServe();

  auto with = RunCommand({LandfallBinary(), "status", "--config", config().string()},
                         {std::string("LANDFALL_API_TOKEN=") + kToken});
  EXPECT_EQ(with.exit_code, 0) << with.err;
  EXPECT_NE(with.err.find(Via()), std::string::npos) << with.err;

  // Without it the daemon cannot be asked, and a plan says why.
  auto without = RunCommand({LandfallBinary(), "plan", "--config", config().string()},
                            {"LANDFALL_API_TOKEN="});
  EXPECT_EQ(without.exit_code, 3) << without.err;
  EXPECT_NE(without.err.find("LANDFALL_API_TOKEN"), std::string::npos) << without.err;
  StopServe(*serve);
}

}  // namespace
}  // namespace landfall::testing
