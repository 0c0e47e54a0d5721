// `landfall serve` as a child process with its API on an ephemeral loopback
// port, a landing dir, a DuckDB warehouse and a fresh environment in the test
// PostgreSQL. Tests talk to it over HTTP only (DuckDB refuses a second open of
// the warehouse while the daemon writes it).
#pragma once

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "tests/support/child_process.h"
#include "tests/support/duckdb_testing.h"
#include "tests/support/http_client.h"
#include "tests/support/testing.h"

namespace landfall::testing {

using json = nlohmann::json;
using namespace std::chrono_literals;

// The key of the UTC day `days` after today ("2026-04-07"; -1: yesterday),
// and when that day starts, in seconds since the epoch.
inline std::string UtcDayKey(int days) {
  const auto day = std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now()) +
                   std::chrono::days{days};
  const std::chrono::year_month_day ymd{day};
  char out[16];
  std::snprintf(out, sizeof out, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return out;
}
inline int64_t UtcDayStart(int days) {
  const auto day = std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now()) +
                   std::chrono::days{days};
  return std::chrono::duration_cast<std::chrono::seconds>(day.time_since_epoch()).count();
}

inline json JsonOf(const HttpResult& r) {
  json j = json::parse(r.body, nullptr, false);
  return j.is_discarded() ? json() : j;
}

class DaemonTest : public ::testing::Test {
 protected:
  static constexpr const char* kToken = "daemon-test-token-0123456789";
  static constexpr const char* kSecret = "daemon-webhook-secret-0123456789";

  void SetUp() override {
    LANDFALL_REQUIRE_POSTGRES();
    env_ = UniqueEnvironment("api");
    std::filesystem::create_directories(landing());
  }

  void TearDown() override { Stop(); }

  std::filesystem::path landing() const { return dir_ / "landing"; }
  std::filesystem::path quarantine() const { return dir_ / "quarantine"; }
  std::filesystem::path log() const { return dir_ / "serve.log"; }

  // Writes the config (`api_extra` lines go under api:) and starts the daemon;
  // returns once /readyz says ready.
  void Start(const std::string& api_extra = "", const std::string& landing_extra = "") {
    {
      std::ofstream out(dir_ / "landfall.yaml");
      out << "environment: " << env_ << "\n"
          << "landing:\n  dir: landing\n  quarantine_dir: quarantine\n  debounce_ms: 50\n"
          << landing_extra << "state:\n  postgres_url: ${LANDFALL_TEST_PG_URL}\n"
          << "warehouse:\n  path: warehouse.duckdb\n"
          << "workers: 2\nlog: {level: info, format: text}\n"
          << config_extra_ << "api:\n  listen: 127.0.0.1:0\n  webhook_secret: " << kSecret << "\n"
          << api_extra;
    }
    serve_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{LandfallBinary(), "serve", "--config",
                                 (dir_ / "landfall.yaml").string()},
        log());

    // The daemon logs the port it bound (api.listen asks for any free one).
    const std::regex listening(R"(api: listening on http://127\.0\.0\.1:(\d+))");
    ASSERT_TRUE(PollUntil(
        [&] {
          std::smatch m;
          const std::string text = ReadFile(log());
          if (!std::regex_search(text, m, listening)) return false;
          port_ = std::stoi(m[1]);
          return true;
        },
        20s))
        << "no 'api: listening' line:\n"
        << ReadFile(log());
    ASSERT_TRUE(PollUntil([&] { return HttpGet(port_, "/readyz", token_).status == 200; }, 30s))
        << "not ready:\n"
        << ReadFile(log());
  }

  // SIGTERM and wait (bounded); returns the exit code (128 + the signal when
  // killed by one), -1 when it had to be killed or was not started.
  int Stop() {
    if (!serve_) return -1;
    serve_->Signal(SIGTERM);
    const std::optional<int> code = serve_->WaitExit(20s);
    if (!code) ADD_FAILURE() << "landfall serve did not stop on SIGTERM:\n" << serve_->Log();
    serve_.reset();  // kills it if it is still running
    return code.value_or(-1);
  }

  // Writes `rows` rows (id, name, amount) as Parquet at landing/<rel>, atomically
  // (written aside, then renamed in, as producers should).
  void Land(const std::string& rel, int rows, int offset = 0) {
    const auto target = landing() / rel;
    const auto temp = dir_ / "staging-area" / rel;
    WriteParquet(temp, "SELECT (i + " + std::to_string(offset) +
                           ")::INTEGER AS id, 'n' || i AS name, i * 1.5 AS amount FROM range(" +
                           std::to_string(rows) + ") t(i)");
    std::filesystem::create_directories(target.parent_path());
    std::filesystem::rename(temp, target);
  }

  HttpResult Get(const std::string& target) { return HttpGet(port_, target, token_); }
  HttpResult Post(const std::string& target, const std::string& body) {
    return HttpPost(port_, target, body, token_);
  }
  HttpResult Delete(const std::string& target) { return HttpDelete(port_, target, token_); }
  // POST /v1/runs once no job covers its tables. Rows are committed before the
  // job that staged them has recorded its run and ended, and a late watcher
  // event may start another; until they end, the daemon answers 409
  // run_conflict, which a caller may retry.
  HttpResult PostRunWhenIdle(const std::string& body) {
    HttpResult r;
    PollUntil(
        [&] {
          r = Post("/v1/runs", body);
          return r.status != 409;
        },
        30s);
    return r;
  }

  // Table `name` from GET /v1/tables; an empty object when absent or on error.
  json Table(const std::string& name) { return Named("/v1/tables", "tables", name); }
  // Model `name` from GET /v1/models; an empty object when absent or on error.
  json Model(const std::string& name) { return Named("/v1/models", "models", name); }
  // The element of GET `target`'s `list` whose "name" is `name`; an empty
  // object when absent or on error.
  json Named(const std::string& target, const std::string& list, const std::string& name) {
    const json all = JsonOf(Get(target));
    if (!all.is_object()) return json::object();
    for (const auto& item : all.value(list, json::array())) {
      if (item["name"] == name) return item;
    }
    return json::object();
  }
  // Waits until `table` has `rows` staged rows (per GET /v1/tables).
  bool WaitForRows(const std::string& table, int64_t rows,
                   std::chrono::milliseconds timeout = 30s) {
    return PollUntil(
        [&] {
          auto t = Table(table);
          return t.contains("rows") && t["rows"] == rows;
        },
        timeout);
  }
  // Waits until run `id` is no longer running; returns its JSON.
  json WaitForRun(int64_t id) {
    json run;
    PollUntil(
        [&] {
          run = JsonOf(Get("/v1/runs/" + std::to_string(id)));
          return run.is_object() && run.value("status", "") != "running";
        },
        60s);
    return run;
  }

  TempDir dir_;
  std::string env_;
  std::string token_;         // sent as a bearer token when not empty
  std::string config_extra_;  // top-level config lines (e.g. models:), written by Start()
  std::unique_ptr<ChildProcess> serve_;  // landfall serve, once started
  int port_ = 0;
};

}  // namespace landfall::testing
