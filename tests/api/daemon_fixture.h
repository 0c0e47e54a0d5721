// `landfall serve` as a child process with its API on an ephemeral loopback
// port, a landing dir, a DuckDB warehouse and a fresh environment in the test
// PostgreSQL. Tests talk to it over HTTP only (DuckDB refuses a second open of
// the warehouse while the daemon writes it).
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/http_client.h"
#include "tests/support/testing.h"

extern char** environ;

namespace landfall::testing {

using json = nlohmann::json;
using namespace std::chrono_literals;

inline std::string ReadWholeFile(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Polls `done` every 25 ms until it holds or `timeout` passes.
inline bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(25ms);
  }
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
          << config_extra_ << "api:\n  listen: 127.0.0.1:0\n  webhook_secret: " << kSecret
          << "\n"
          << api_extra;
    }
    const std::string binary = LandfallBinary();
    const std::string config = (dir_ / "landfall.yaml").string();
    std::vector<std::string> args = {binary, "serve", "--config", config};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log().c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    ASSERT_EQ(posix_spawn(&pid_, binary.c_str(), &actions, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);

    // The daemon logs the port it bound (api.listen asks for any free one).
    const std::regex listening(R"(api: listening on http://127\.0\.0\.1:(\d+))");
    ASSERT_TRUE(WaitFor(
        [&] {
          std::smatch m;
          const std::string text = ReadWholeFile(log());
          if (!std::regex_search(text, m, listening)) return false;
          port_ = std::stoi(m[1]);
          return true;
        },
        20s))
        << "no 'api: listening' line:\n"
        << ReadWholeFile(log());
    ASSERT_TRUE(WaitFor([&] { return HttpGet(port_, "/readyz", token_).status == 200; }, 30s))
        << "not ready:\n"
        << ReadWholeFile(log());
  }

  // SIGTERM and wait (bounded); returns the exit code, -1 when it had to be killed.
  int Stop() {
    if (pid_ <= 0) return -1;
    kill(pid_, SIGTERM);
    int status = 0;
    const bool exited = WaitFor([&] { return waitpid(pid_, &status, WNOHANG) == pid_; }, 20s);
    if (!exited) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      ADD_FAILURE() << "landfall serve did not stop on SIGTERM:\n" << ReadWholeFile(log());
    }
    pid_ = -1;
    return exited && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
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
    WaitFor(
        [&] {
          r = Post("/v1/runs", body);
          return r.status != 409;
        },
        30s);
    return r;
  }

  // Table `name` from GET /v1/tables; an empty object when absent or on error.
  json Table(const std::string& name) {
    const json all = JsonOf(Get("/v1/tables"));
    if (!all.is_object()) return json::object();
    for (const auto& t : all.value("tables", json::array())) {
      if (t["name"] == name) return t;
    }
    return json::object();
  }
  // Waits until `table` has `rows` staged rows (per GET /v1/tables).
  bool WaitForRows(const std::string& table, int64_t rows,
                   std::chrono::milliseconds timeout = 30s) {
    return WaitFor(
        [&] {
          auto t = Table(table);
          return t.contains("rows") && t["rows"] == rows;
        },
        timeout);
  }
  // Waits until run `id` is no longer running; returns its JSON.
  json WaitForRun(int64_t id) {
    json run;
    WaitFor(
        [&] {
          run = JsonOf(Get("/v1/runs/" + std::to_string(id)));
          return run.is_object() && run.value("status", "") != "running";
        },
        60s);
    return run;
  }

  TempDir dir_;
  std::string env_;
  std::string token_;  // sent as a bearer token when not empty
  std::string config_extra_;  // top-level config lines (e.g. models:), written by Start()
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace landfall::testing
