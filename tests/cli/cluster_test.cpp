// Several `landfall serve` daemons on one environment (config
// cluster.enabled): one landing directory, one state store, one PostgreSQL
// warehouse. They split the tables by lease, take a killed member's tables
// over, and together stage every batch exactly once.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

#include "api/security.h"
#include "tests/cli/operate_fixture.h"
#include "tests/support/http_client.h"

namespace landfall::testing {
namespace {

namespace fs = std::filesystem;

class ClusterTest : public OperateTest {
 protected:
  static constexpr int kLeaseTtlS = 3;
  static constexpr const char* kSecret = "cluster-test-secret-0123456789";

  ClusterTest() { on_postgres_ = true; }

  void SetUp() override {
    OperateTest::SetUp();
    if (IsSkipped() || HasFailure()) return;
    std::ofstream out(config());
    out << "environment: " << env_ << "\n"
        << "landing:\n  dir: landing\n  debounce_ms: 100\n  scan_interval_s: 2\n"
        << "state:\n  postgres_url: ${LANDFALL_TEST_PG_URL}\n"
        << WarehouseYaml() << "  staging_schema: staging\n"
        << "workers: 2\n"
        << "api:\n  listen: 127.0.0.1:0\n  webhook_secret: " << kSecret << "\n"
        << "cluster:\n  enabled: true\n  lease_ttl_s: " << kLeaseTtlS << "\n"
        << (with_models_ ? "models:\n  dir: models\n  schema: analytics\n" : "")
        << "log: {level: info, format: text}\n";
    if (!with_models_) return;
    // Models over tables the members split: one incremental by batch (each
    // batch once, whoever staged it), one full refresh over every table.
    fs::create_directories(dir_ / "models");
    std::ofstream(dir_ / "models" / "t0_inc.sql") << "SELECT id, name, amount FROM staging.t0";
    std::ofstream(dir_ / "models" / "t0_inc.yaml") << "strategy: incremental\nincremental: {by: batch}\n";
    std::string totals;
    for (int t = 0; t < kModelTables; ++t) {
      totals += std::string(t ? " UNION ALL " : "") + "SELECT 't" + std::to_string(t) +
                "' AS t, count(*) AS n FROM staging.t" + std::to_string(t);
    }
    std::ofstream(dir_ / "models" / "totals.sql") << totals;
  }

  // The models hold exactly what their SQL says of the staging tables now.
  bool ModelsMatch() {
    for (int t = 0; t < kModelTables; ++t) {
      if (!TableExists("t" + std::to_string(t))) return false;
    }
    const auto tables = WarehouseInt(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'analytics' AND "
        "table_name IN ('t0_inc', 'totals')");
    if (tables != 2) return false;
    if (WarehouseInt("SELECT count(*) FROM ((SELECT id, name, amount FROM analytics.t0_inc EXCEPT "
                     "ALL SELECT id, name, amount FROM staging.t0) UNION ALL (SELECT id, name, "
                     "amount FROM staging.t0 EXCEPT ALL SELECT id, name, amount FROM "
                     "analytics.t0_inc)) d") != 0) {
      return false;
    }
    for (int t = 0; t < kModelTables; ++t) {
      const std::string name = "t" + std::to_string(t);
      if (WarehouseInt("SELECT coalesce(sum(n), -1) FROM analytics.totals WHERE t = '" + name +
                       "'") != Rows(name)) {
        return false;
      }
    }
    return true;
  }

  // The member holding the models lease, as the state store says (a node id; "" when none).
  std::string ModelsHolder() {
    auto rows = PgQuery(
        "SELECT owner FROM leases WHERE environment = $1 AND table_name = '/models' AND "
        "expires_at > now()",
        env_);
    return rows.empty() ? "" : rows[0];
  }

  // Starts member `slot` (its n-th life logs to member-<slot>-<n>.log).
  std::unique_ptr<ChildProcess> StartMember(int slot) {
    const auto log =
        dir_ / ("member-" + std::to_string(slot) + "-" + std::to_string(lives_[slot]++) + ".log");
    return std::make_unique<ChildProcess>(
        std::vector<std::string>{LandfallBinary(), "serve", "--config", config().string()}, log);
  }

  bool TableExists(const std::string& table) {
    return WarehouseInt(
               "SELECT count(*) FROM information_schema.tables WHERE table_schema = "
               "'staging' AND table_name = '" +
               table + "'") == 1;
  }

  // The lease history (lease_history, in the state store) in order: no table
  // was held by two members at once. Each acquisition of a table another
  // member held came after that member's lease had expired, or after it
  // released it. Returns how many acquisitions took a table from another.
  int CheckLeaseHistory() {
    auto rows = PgQuery(
        "SELECT table_name || '|' || owner || '|' || event || '|' || landfall_us(at) || '|' ||"
        "       COALESCE(previous_owner, '') || '|' || COALESCE(landfall_us(previous_expiry), 0)"
        "  FROM lease_history WHERE environment = $1 ORDER BY id",
        env_);
    struct Holder {
      std::string owner;
      bool released = false;
    };
    std::map<std::string, Holder> holder;
    int takeovers = 0;
    for (const auto& row : rows) {
      std::vector<std::string> f;
      std::stringstream in(row);
      for (std::string part; std::getline(in, part, '|');) f.push_back(part);
      f.resize(6);
      const std::string& table = f[0];
      const std::string& owner = f[1];
      const std::string& event = f[2];
      const long long at = std::stoll(f[3]);
      if (event == "released") {
        EXPECT_EQ(holder[table].owner, owner)
            << "released by a member that did not hold it: " << row;
        holder[table].released = true;
        continue;
      }
      if (event != "acquired") {
        ADD_FAILURE() << "unknown lease event: " << row;
        continue;
      }
      auto& h = holder[table];
      if (!h.owner.empty() && h.owner != owner) {
        EXPECT_EQ(f[4], h.owner) << "the lease came from a member the history does not show: "
                                 << row;
        if (!h.released) {
          EXPECT_LE(std::stoll(f[5]), at) << "taken before the holder's lease expired: " << row;
        }
        ++takeovers;
      }
      h = {owner, false};
    }
    return takeovers;
  }

  std::map<int, int> lives_;
  bool with_models_ = false;
  static constexpr int kModelTables = 4;
};

// The port member `m` listens on, from its log.
int PortOf(ChildProcess& m) {
  std::string log = m.Log();
  std::smatch port;
  if (!std::regex_search(log, port, std::regex(R"(listening on http://127\.0\.0\.1:(\d+))")))
    return 0;
  return std::stoi(port[1]);
}

class ClusterModelsTest : public ClusterTest {
 protected:
  ClusterModelsTest() { with_models_ = true; }
};

TEST_F(ClusterTest, ThreeMembersSplitTheTablesAndStageEachBatchOnce) {
  constexpr int kTables = 6;
  long long expected = 0;
  for (int t = 0; t < kTables; ++t) {
    for (int f = 0; f < 2; ++f) {
      const int rows = 100 + t * 10 + f;
      Land("t" + std::to_string(t) + "/" + std::to_string(f) + ".parquet", rows, f * 1000);
      expected += rows;
    }
  }
  std::vector<std::unique_ptr<ChildProcess>> members;
  for (int slot = 0; slot < 3; ++slot) members.push_back(StartMember(slot));
  for (auto& m : members) ASSERT_TRUE(m->WaitForLog("cluster: joined", 60s)) << m->Log();

  auto staged = [&] {
    long long total = 0;
    for (int t = 0; t < kTables; ++t) {
      if (!TableExists("t" + std::to_string(t))) return false;
      total += Rows("t" + std::to_string(t));
    }
    return total == expected;
  };
  EXPECT_TRUE(PollUntil(staged, 60s)) << members[0]->Log();
  // Every member ends up with a share: 2 tables each (a fair share, plus at
  // most one of slack, once everyone has joined).
  auto spread = [&] {
    auto rows = PgQuery(
        "SELECT count(DISTINCT owner) || ' ' || max(n) FROM (SELECT owner, count(*) AS n FROM "
        "leases"
        " WHERE environment = $1 AND expires_at > now() GROUP BY owner) t",
        env_);
    return !rows.empty() && rows[0].starts_with("3 ") && std::stoi(rows[0].substr(2)) <= 3;
  };
  EXPECT_TRUE(PollUntil(spread, 30s))
      << PgQuery("SELECT owner || ' ' || table_name FROM leases WHERE environment = $1", env_)
             .size();

  // GET /v1/cluster on any member lists all three and who holds what.
  const int port = PortOf(*members[1]);
  ASSERT_NE(port, 0) << members[1]->Log();
  auto cluster = HttpGet(port, "/v1/cluster");
  ASSERT_EQ(cluster.status, 200) << cluster.body;
  auto body = nlohmann::json::parse(cluster.body);
  EXPECT_EQ(body["members"].size(), 3u) << cluster.body;
  int held = 0;
  for (const auto& m : body["members"]) {
    EXPECT_TRUE(m["live"].get<bool>()) << cluster.body;
    held += m["tables"].get<int>();
  }
  EXPECT_EQ(held, kTables) << cluster.body;
  auto tables = nlohmann::json::parse(HttpGet(port, "/v1/tables").body);
  ASSERT_EQ(tables["tables"].size(), static_cast<size_t>(kTables)) << tables.dump();
  std::string elsewhere;  // a table another member holds
  for (const auto& t : tables["tables"]) {
    ASSERT_TRUE(t["owner"].is_string()) << t.dump();
    if (t["owner"] != body["node"]) elsewhere = t["name"];
  }
  // A run of it asked of this member starts on its owner, which answers.
  ASSERT_FALSE(elsewhere.empty()) << tables.dump();
  auto forwarded = HttpPost(port, "/v1/runs",
                            nlohmann::json{{"tables", {elsewhere}}, {"full_refresh", true}}.dump());
  ASSERT_EQ(forwarded.status, 202) << forwarded.body;
  auto started = nlohmann::json::parse(forwarded.body);
  EXPECT_NE(started["member"], body["node"]) << forwarded.body;
  const auto run_id = started["run_id"].get<int64_t>();
  EXPECT_TRUE(PollUntil(
      [&] {
        return PgQuery("SELECT status FROM runs WHERE id = " + std::to_string(run_id) +
                           " AND environment = $1 AND node = '" +
                           started["member"].get<std::string>() + "'",
                       env_) == std::vector<std::string>{"succeeded"};
      },
      30s));
  // So does a webhook naming it, signed again for the owner.
  const std::string hook = nlohmann::json{{"table", elsewhere}}.dump();
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  auto announced = HttpPost(port, "/v1/webhooks/file-arrived", hook, "",
                            {"X-Landfall-Signature: " + api::SignWebhook(kSecret, now, hook)});
  ASSERT_EQ(announced.status, 202) << announced.body;
  EXPECT_EQ(nlohmann::json::parse(announced.body)["member"], started["member"]) << announced.body;
  // Tables held by several members take one run per member.
  std::vector<std::string> all;
  for (const auto& t : tables["tables"]) all.push_back(t["name"]);
  EXPECT_EQ(HttpPost(port, "/v1/runs", nlohmann::json{{"tables", all}}.dump()).status,
            409);

  EXPECT_TRUE(PollUntil(staged, 30s));  // the forced rebuild, again every row once
  for (int t = 0; t < kTables; ++t) EXPECT_EQ(LedgerBatches("t" + std::to_string(t)), 2);
  // A plan reads every table, whoever holds it.
  auto plan = Landfall({"plan", "--format", "json"});
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  EXPECT_EQ(nlohmann::json::parse(plan.out)["tables"].size(), static_cast<size_t>(kTables))
      << plan.out;
  // A one-shot writer is refused: the members share the tables.
  auto run = Landfall({"run"});
  EXPECT_NE(run.exit_code, 0);
  EXPECT_NE(run.err.find("cluster_mode"), std::string::npos) << run.err;

  for (auto& m : members) StopServe(*m);
  CheckLeaseHistory();
}

// The issue's proof: files land continuously while a random member is
// killed with SIGKILL and restarted, 20 times. Afterwards every table holds
// exactly the rows of its files, each batch is in the ledger once, the
// models hold what their SQL says (the incremental one each batch once),
// and the lease history shows no table, and not the models, held by two
// members at once.
TEST_F(ClusterModelsTest, KillDashNineLoopAcrossThreeMembersLosesAndDuplicatesNothing) {
  constexpr int kTables = 6;
  constexpr int kKills = 20;
  std::mutex mu;
  std::map<std::string, long long> expected_rows;
  std::map<std::string, int> expected_files;
  for (int t = 0; t < kTables; ++t) fs::create_directories(landing() / ("t" + std::to_string(t)));
  std::atomic<bool> stop_landing{false};
  std::thread lander([&] {
    std::mt19937 rng(20261202);
    for (int n = 0; !stop_landing; ++n) {
      const std::string table = "t" + std::to_string(rng() % kTables);
      const int rows = 100 + static_cast<int>(rng() % 3000);
      LandAtomically(table + "/part-" + std::to_string(n) + ".parquet", rows, n * 100'000);
      {
        std::lock_guard lock(mu);
        expected_rows[table] += rows;
        ++expected_files[table];
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(40 + rng() % 120));
    }
  });

  std::vector<std::unique_ptr<ChildProcess>> members;
  for (int slot = 0; slot < 3; ++slot) members.push_back(StartMember(slot));
  std::mt19937 rng(std::random_device{}());
  for (int k = 0; k < kKills; ++k) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng() % 1500));
    const int slot = static_cast<int>(rng() % members.size());
    members[slot]->Signal(SIGKILL);
    auto code = members[slot]->WaitExit(10s);
    ASSERT_TRUE(code.has_value());
    EXPECT_EQ(*code, 128 + SIGKILL) << members[slot]->Log();
    members[slot] = StartMember(slot);
  }
  stop_landing = true;
  lander.join();

  // The survivors take the dead members' tables over within the TTL and stage the rest.
  auto done = [&] {
    for (const auto& [table, rows] : expected_rows) {
      if (!TableExists(table) || Rows(table) != rows ||
          LedgerBatches(table) != expected_files[table]) {
        return false;
      }
    }
    return true;
  };
  EXPECT_TRUE(PollUntil(done, 90s));
  EXPECT_TRUE(PollUntil([&] { return ModelsMatch(); }, 60s));
  // A member killed mid-run leaves its run `running` until a live member
  // sees that member's heartbeat expire (within the TTL and a tick) and
  // marks it interrupted; the last kill may be only a moment ago.
  EXPECT_TRUE(PollUntil(
      [&] {
        return PgQuery("SELECT count(*) FROM runs WHERE environment = $1 AND status = 'running'",
                       env_) == std::vector<std::string>{"0"};
      },
      30s))
      << "a killed member's runs are marked interrupted";
  for (auto& m : members) StopServe(*m);

  long long files = 0, rows = 0;
  for (const auto& [table, expected] : expected_rows) {
    EXPECT_EQ(Rows(table), expected) << table;
    EXPECT_EQ(LedgerBatches(table), expected_files[table]) << table;
    files += expected_files[table];
    rows += expected;
  }
  EXPECT_EQ(WarehouseInt("SELECT count(*) FROM (SELECT table_name, batch_id FROM _landfall.ledger "
                         "GROUP BY 1, 2 HAVING count(*) > 1) t"),
            0);
  const int takeovers = CheckLeaseHistory();
  EXPECT_GT(takeovers, 0) << "no member ever took a table over";
  const auto model_members = PgQuery(
      "SELECT count(DISTINCT r.node) FROM model_runs mr JOIN runs r ON r.id = mr.run_id WHERE "
      "r.environment = $1",
      env_);
  std::cout << "[ cluster  ] kill -9 loop: " << kKills << " kills of 3 members, " << files
            << " files, " << rows << " rows in " << kTables << " tables, " << takeovers
            << " takeovers, models run by " << model_members.at(0)
            << " member lives; staged exactly once\n";
}

// With models: one member holds the models lease and runs every model,
// over tables any member staged; runs and state deletes naming models are
// forwarded to it; when it dies another takes the models over and they catch
// up, each batch once.
TEST_F(ClusterModelsTest, OneMemberRunsTheModelsAndAnotherTakesThemOver) {
  for (int t = 0; t < kModelTables; ++t) {
    for (int f = 0; f < 2; ++f) {
      Land("t" + std::to_string(t) + "/" + std::to_string(f) + ".parquet", 50 + t * 10 + f,
           f * 1000);
    }
  }
  std::vector<std::unique_ptr<ChildProcess>> members;
  for (int slot = 0; slot < 3; ++slot) members.push_back(StartMember(slot));
  std::map<std::string, int> slot_of;  // node id -> slot
  for (int slot = 0; slot < 3; ++slot) {
    ASSERT_TRUE(members[slot]->WaitForLog("cluster: joined", 60s)) << members[slot]->Log();
    ASSERT_TRUE(PollUntil([&] { return PortOf(*members[slot]) != 0; }, 30s));
    HttpResult self;
    ASSERT_TRUE(PollUntil(
        [&] { return (self = HttpGet(PortOf(*members[slot]), "/v1/cluster")).status == 200; }, 30s))
        << self.body;
    slot_of[nlohmann::json::parse(self.body)["node"]] = slot;
  }
  EXPECT_TRUE(PollUntil([&] { return ModelsMatch(); }, 60s)) << members[0]->Log();

  // One member holds the models, GET /v1/cluster says which, and only it ran them.
  const std::string holder = ModelsHolder();
  ASSERT_TRUE(slot_of.contains(holder)) << holder;
  auto cluster = nlohmann::json::parse(HttpGet(PortOf(*members[0]), "/v1/cluster").body);
  int holding = 0;
  for (const auto& m : cluster["members"]) {
    if (m["models"].get<bool>()) {
      ++holding;
      EXPECT_EQ(m["node"], holder) << cluster.dump();
    }
  }
  EXPECT_EQ(holding, 1) << cluster.dump();
  auto model_nodes = [&] {
    return PgQuery(
        "SELECT DISTINCT r.node FROM model_runs mr JOIN runs r ON r.id = mr.run_id WHERE "
        "r.environment = $1 ORDER BY 1",
        env_);
  };
  EXPECT_EQ(model_nodes(), std::vector<std::string>{holder});

  // A run naming models, asked of another member, runs on the holder.
  const int other = (slot_of[holder] + 1) % 3;
  auto forwarded =
      HttpPost(PortOf(*members[other]), "/v1/runs",
               nlohmann::json{{"models", "totals"}, {"full_refresh", true}}.dump());
  ASSERT_EQ(forwarded.status, 202) << forwarded.body;
  EXPECT_EQ(nlohmann::json::parse(forwarded.body)["member"], holder) << forwarded.body;
  const auto run_id = nlohmann::json::parse(forwarded.body)["run_id"].get<int64_t>();
  EXPECT_TRUE(PollUntil(
      [&] {
        return PgQuery("SELECT r.status || ' ' || r.node || ' ' || mr.action FROM runs r JOIN "
                       "model_runs mr ON mr.run_id = r.id WHERE r.id = " +
                           std::to_string(run_id) + " AND r.environment = $1",
                       env_) == std::vector<std::string>{"succeeded " + holder + " rebuild"};
      },
      30s))
      << PgQuery("SELECT r.status || ' ' || coalesce(r.error, '') FROM runs r WHERE r.id = " +
                     std::to_string(run_id) + " AND r.environment = $1",
                 env_)
             .size();
  // So does forgetting a model's state: the holder's next model cycle rebuilds it.
  auto deleted = HttpDelete(PortOf(*members[other]), "/v1/state/models/t0_inc");
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_EQ(nlohmann::json::parse(deleted.body)["member"], holder) << deleted.body;
  EXPECT_TRUE(PollUntil(
      [&] {
        return PgQuery("SELECT count(*) FROM model_runs mr JOIN runs r ON r.id = mr.run_id WHERE "
                       "r.environment = $1 AND mr.model_name = 't0_inc' AND mr.reasons::text "
                       "LIKE '%state_deleted%'",
                       env_) != std::vector<std::string>{"0"};
      },
      30s));

  // The holder dies: another member takes the models over within the TTL,
  // and the models catch up with what lands meanwhile. The models can match
  // staging before the dead member's tables are taken over (their late
  // files not staged yet), so the wait is for both.
  members[slot_of[holder]]->Signal(SIGKILL);
  ASSERT_TRUE(members[slot_of[holder]]->WaitExit(10s).has_value());
  for (int t = 0; t < kModelTables; ++t) {
    Land("t" + std::to_string(t) + "/late.parquet", 70 + t, 5000);
  }
  EXPECT_TRUE(PollUntil(
      [&] {
        const std::string now = ModelsHolder();
        if (now.empty() || now == holder) return false;
        for (int t = 0; t < kModelTables; ++t) {
          if (LedgerBatches("t" + std::to_string(t)) != 3) return false;
        }
        return ModelsMatch();
      },
      60s))
      << members[other]->Log();
  EXPECT_EQ(model_nodes().size(), 2u);
  for (int t = 0; t < kModelTables; ++t) EXPECT_EQ(LedgerBatches("t" + std::to_string(t)), 3);
  for (int slot = 0; slot < 3; ++slot) {
    if (slot != slot_of[holder]) StopServe(*members[slot]);
  }
  CheckLeaseHistory();
}

}  // namespace
}  // namespace landfall::testing
