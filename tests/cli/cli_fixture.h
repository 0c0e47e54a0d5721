// A landing dir, a DuckDB warehouse file and a config in a temp dir, with a
// fresh environment in the test PostgreSQL, driven through the landfall binary.
// With LANDFALL_TEST_WAREHOUSE=postgres (or on_postgres_ set before SetUp)
// the warehouse is PostgreSQL instead: a database of the test's own on the
// test server; read it with the Warehouse* helpers, which work on both.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/child_process.h"
#include "tests/support/duckdb_testing.h"
#include "tests/support/testing.h"

namespace landfall::testing {

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    LANDFALL_REQUIRE_POSTGRES();
    env_ = UniqueEnvironment("cli");
    std::filesystem::create_directories(landing());
    if (on_postgres_) {
      warehouse_db_ = UniqueEnvironment("wh");
      PgSession().Script("CREATE DATABASE " + warehouse_db_);
      warehouse_url_ = PgSession().UrlFor(warehouse_db_);
      // The config reads it from the environment, as a deployment would.
      setenv("LANDFALL_TEST_WAREHOUSE_URL", warehouse_url_.c_str(), 1);
    }
    WriteConfig();
  }

  ~CliTest() override {
    if (!warehouse_db_.empty()) {
      PgSession().Script("DROP DATABASE IF EXISTS " + warehouse_db_ + " WITH (FORCE)");
    }
  }

  // The config's warehouse section: type and path or url.
  std::string WarehouseYaml() const {
    return on_postgres_ ? "warehouse:\n  type: postgres\n  url: ${LANDFALL_TEST_WAREHOUSE_URL}\n"
                        : "warehouse:\n  type: duckdb\n  path: warehouse.duckdb\n";
  }

  static bool PostgresFromEnvironment() {
    const char* warehouse = std::getenv("LANDFALL_TEST_WAREHOUSE");
    return warehouse != nullptr && std::string(warehouse) == "postgres";
  }

  // The first column of each row of `sql` run on the warehouse (DuckDB or
  // PostgreSQL), "NULL" for NULL.
  std::vector<std::string> WarehouseRows(const std::string& sql) {
    return on_postgres_ ? PgSession(warehouse_url_).Query(sql) : QueryDuckDb(warehouse(), sql);
  }
  long long WarehouseInt(const std::string& sql) {
    if (!on_postgres_) return QueryDuckDbInt(warehouse(), sql);
    auto rows = WarehouseRows(sql);
    if (rows.empty() || rows[0] == "NULL") {
      ADD_FAILURE() << "no value for: " << sql;
      return -1;
    }
    return std::stoll(rows[0]);
  }
  void WarehouseExec(const std::string& sql) {
    if (on_postgres_) {
      PgSession(warehouse_url_).Script(sql);
    } else {
      ExecDuckDb(warehouse(), sql);
    }
  }

  std::filesystem::path landing() const { return dir_ / "landing"; }
  std::filesystem::path warehouse() const { return dir_ / "warehouse.duckdb"; }
  std::filesystem::path config() const { return dir_ / "landfall.yaml"; }
  std::filesystem::path quarantine() const { return dir_ / "quarantine"; }

  void WriteConfig(const std::string& extra_landing = "") {
    std::ofstream out(config());
    out << "environment: " << env_ << "\n"
        << "landing:\n  dir: landing\n"
        << extra_landing << "state:\n  postgres_url: ${LANDFALL_TEST_PG_URL}\n"
        << WarehouseYaml() << "  staging_schema: staging\n"
        << "workers: 2\nlog: {level: warn, format: text}\n";
  }

  // Writes `rows` rows (id = offset .. offset+rows-1, name, amount) to landing/<rel>.
  void Land(const std::string& rel, int rows, int offset = 0, const std::string& extra_cols = "") {
    WriteParquet(landing() / rel, "SELECT (i + " + std::to_string(offset) +
                                      ")::INTEGER AS id, 'n' || i AS name, i * 1.5 AS amount" +
                                      extra_cols + " FROM range(" + std::to_string(rows) +
                                      ") t(i)");
  }

  // Land, but written under a hidden temporary name and then renamed into
  // place, as careful producers do.
  void LandAtomically(const std::string& rel, int rows, int offset = 0) {
    const auto final_path = landing() / rel;
    const auto tmp = final_path.parent_path() / ("." + final_path.filename().string() + ".tmp");
    WriteParquet(tmp, "SELECT (i + " + std::to_string(offset) +
                          ")::INTEGER AS id, 'n' || i AS name, i * 1.5 AS amount FROM range(" +
                          std::to_string(rows) + ") t(i)");
    std::filesystem::rename(tmp, final_path);
  }

  // Starts `landfall run` on config() and kills it with SIGKILL after `delay`
  // (0: at once, before it has done anything). Its output is discarded.
  void RunAndKill(std::chrono::microseconds delay) {
    ChildProcess run({LandfallBinary(), "run", "--config", config().string()}, "/dev/null");
    std::this_thread::sleep_for(delay);
  }  // ~ChildProcess kills it with SIGKILL and reaps it.

  CommandResult Landfall(std::vector<std::string> args) {
    args.insert(args.begin(), LandfallBinary());
    args.push_back("--config");
    args.push_back(config().string());
    return RunCommand(args);
  }

  // `landfall run --format json`, parsed; fails the test on a bad exit code.
  nlohmann::json Run(std::vector<std::string> extra = {}, int expected_exit = 0) {
    std::vector<std::string> args = {"run", "--format", "json"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = Landfall(args);
    EXPECT_EQ(r.exit_code, expected_exit) << r.out << r.err;
    try {
      return nlohmann::json::parse(r.out);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "run output is not JSON: " << r.out << "\nstderr: " << r.err;
      return {};
    }
  }

  nlohmann::json Plan() {
    auto r = Landfall({"plan", "--format", "json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    try {
      return nlohmann::json::parse(r.out);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "plan output is not JSON: " << r.out << "\nstderr: " << r.err;
      return {};
    }
  }

  static std::string ActionOf(const nlohmann::json& plan, const std::string& table) {
    for (const auto& t : plan["tables"]) {
      if (t["table"] == table) return t["action"];
    }
    return "(absent)";
  }
  static std::vector<std::string> ReasonCodes(const nlohmann::json& plan,
                                              const std::string& table) {
    std::vector<std::string> codes;
    for (const auto& t : plan["tables"]) {
      if (t["table"] == table) {
        for (const auto& r : t["reasons"]) codes.push_back(r["code"]);
      }
    }
    return codes;
  }

  static std::string Quote(const std::string& ident) {
    std::string out = "\"";
    for (char c : ident) {
      out += c;
      if (c == '"') out += '"';
    }
    return out + "\"";
  }

  long long Rows(const std::string& table) {
    return WarehouseInt("SELECT count(*) FROM staging." + Quote(table));
  }
  long long LedgerBatches(const std::string& table) {
    std::string lit = "'";
    for (char c : table) {
      lit += c;
      if (c == '\'') lit += '\'';
    }
    return WarehouseInt("SELECT count(*) FROM _landfall.ledger WHERE table_name = " + lit + "'");
  }

  TempDir dir_;
  std::string env_;
  bool on_postgres_ = PostgresFromEnvironment();
  std::string warehouse_db_;   // on_postgres_: the test's database
  std::string warehouse_url_;  // and its URL
};

}  // namespace landfall::testing
