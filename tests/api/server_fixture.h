// An HttpServer on an ephemeral loopback port with a fake backend, its
// io_context on a thread of its own and a small pool as the executor.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "api/backend.h"
#include "api/http_server.h"
#include "api/metrics.h"
#include "lib/common/thread_pool.h"
#include "tests/support/fake_clock.h"
#include "tests/support/http_client.h"

namespace landfall::api {

using testing::FakeClock;

// Answers from canned values and records what it was asked, and on which thread.
class FakeBackend final : public ApiBackend {
 public:
  Result<std::string> ListTables() override {
    if (list_tables_throws) throw std::runtime_error("a bug in the backend");
    return Record("ListTables", tables_json);
  }
  Result<std::string> GetTable(const std::string& name) override {
    Record("GetTable " + name, "");
    if (name != "orders") return Fail("table_not_found", "no table '" + name + "'");
    return std::string(R"({"name":"orders"})");
  }
  Result<std::string> Plan(const PlanQuery& query) override {
    {
      std::unique_lock lock(gate_mu_);
      ++plans_waiting_;
      gate_cv_.notify_all();
      gate_cv_.wait(lock, [this] { return !hold_plans_; });
      --plans_waiting_;
    }
    std::string tables;
    for (const auto& t : query.tables) tables += " " + t;
    return Record("Plan" + tables + (query.full_refresh ? " full" : "") +
                      (query.text ? " text" : "") +
                      (query.models.empty() ? "" : " models=" + query.models),
                  R"({"full_rebuild":false,"reasons":[],"tables":[]})");
  }
  Result<std::string> Info() override {
    return Record("Info", R"({"environment":"test","pid":1})");
  }
  Result<std::string> Cluster() override {
    return Record("Cluster", R"({"enabled":false,"node":null,"lease_ttl_s":null,"members":[]})");
  }
  Result<Reply> RunOutcome(int64_t id) override {
    Record("RunOutcome " + std::to_string(id), "");
    if (id != 7) return Fail("run_not_found", "no run " + std::to_string(id));
    return Reply{200, R"({"run_id":7,"ok":true})"};
  }
  // Holds every Plan() call in flight until ReleasePlans(): a slow call.
  void HoldPlans() {
    std::lock_guard lock(gate_mu_);
    hold_plans_ = true;
  }
  void ReleasePlans() {
    std::lock_guard lock(gate_mu_);
    hold_plans_ = false;
    gate_cv_.notify_all();
  }
  // Waits until `n` Plan() calls are in flight (up to 10 s); false if they never are.
  bool WaitForPlansInFlight(int n) {
    std::unique_lock lock(gate_mu_);
    return gate_cv_.wait_for(lock, std::chrono::seconds(10), [&] { return plans_waiting_ >= n; });
  }
  Result<Reply> TriggerRun(const RunTrigger& trigger) override {
    std::string tables;
    for (const auto& t : trigger.tables) tables += (tables.empty() ? "" : ",") + t;
    Record("TriggerRun " + tables + (trigger.full_refresh ? " full" : "") +
               (trigger.models.empty() ? "" : " models=" + trigger.models),
           "");
    if (run_conflict) return Fail("run_conflict", "orders is already running");
    return Reply{202, R"({"run_id":7,"status":"running"})"};
  }
  Result<std::string> ListRuns(int limit, const std::string& status) override {
    return Record("ListRuns " + std::to_string(limit) + " " + status, R"({"runs":[]})");
  }
  Result<std::string> GetRun(int64_t id) override {
    Record("GetRun " + std::to_string(id), "");
    if (id != 7) return Fail("run_not_found", "no run " + std::to_string(id));
    return std::string(R"({"id":7})");
  }
  Result<std::string> ListBatches(const std::string& table, const std::string& status,
                                  int limit) override {
    return Record("ListBatches " + table + " " + status + " " + std::to_string(limit),
                  R"({"batches":[]})");
  }
  Result<Reply> RetryBatch(const std::string& path) override {
    Record("RetryBatch " + path, "");
    return Reply{202, R"({"scheduled":true})"};
  }
  Result<Reply> DeleteTableState(const std::string& table) override {
    Record("DeleteTableState " + table, "");
    if (state_down)
      return Fail("state_unavailable", "PostgreSQL at localhost:5432 is unreachable", true);
    return Reply{200, R"({"deleted":true})"};
  }
  Result<Reply> FileArrived(const std::string& table, const std::string& rel_path) override {
    Record("FileArrived " + table + " " + rel_path, "");
    return Reply{202, R"({"scheduled":true})"};
  }
  Result<std::string> ListModels() override {
    return Record("ListModels", R"({"models":[{"name":"daily"}],"models_error":null})");
  }
  Result<std::string> GetModel(const std::string& name) override {
    Record("GetModel " + name, "");
    if (name != "daily") return Fail("model_not_found", "no model '" + name + "'");
    return std::string(R"({"name":"daily"})");
  }
  Result<std::string> ModelChecks(const std::string& name) override {
    Record("ModelChecks " + name, "");
    if (name != "daily") return Fail("model_not_found", "no model '" + name + "'");
    return std::string(R"({"model":"daily","checks":[]})");
  }
  Result<std::string> Dag() override {
    Record("Dag", "");
    if (models_invalid) return Fail("model_cycle", "models/a.sql: a -> b -> a");
    return std::string(R"({"nodes":[],"edges":[]})");
  }
  Result<std::string> ListPartitions(const std::string& model, const std::string& status,
                                     const std::string& from, const std::string& to,
                                     int limit) override {
    Record("ListPartitions " + model + " " + status + " " + from + " " + to + " " +
               std::to_string(limit),
           "");
    if (model != "daily") return Fail("model_not_found", "no state for model '" + model + "'");
    return std::string(R"({"model":"daily","partitions":[]})");
  }
  Result<std::string> Lineage() override { return Record("Lineage", R"({"models":[]})"); }
  Result<std::string> ModelLineage(const std::string& name) override {
    Record("ModelLineage " + name, "");
    if (name != "daily") return Fail("model_not_found", "no model '" + name + "'");
    return std::string(R"({"model":"daily","known":true})");
  }
  Result<Reply> DeleteModelState(const std::string& model) override {
    Record("DeleteModelState " + model, "");
    if (model != "daily") return Fail("model_not_found", "no state for model '" + model + "'");
    if (run_conflict) return Fail("model_conflict", "models are running");
    return Reply{200, R"({"model":"daily","deleted":true})"};
  }
  Result<warehouse::QueryAnswer> Query(const QueryAsk& ask) override {
    const char* format = ask.format == warehouse::QueryFormat::kCsv       ? "csv"
                         : ask.format == warehouse::QueryFormat::kParquet ? "parquet"
                                                                          : "json";
    Record(std::string("Query ") + format + " " + (ask.limit ? std::to_string(*ask.limit) : "all") +
               " " + ask.sql,
           "");
    if (query_delay.count() > 0) std::this_thread::sleep_for(query_delay);
    if (ask.sql.starts_with("DROP")) return Fail("query_refused", "not a SELECT statement");
    return warehouse::QueryAnswer{R"({"columns":[],"rows":[],"row_count":0,"truncated":false})", 0,
                                  false};
  }
  Readiness Ready() override {
    Record("Ready", "");
    return ready;
  }

  std::vector<std::string> Calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }
  std::vector<std::thread::id> Threads() {
    std::lock_guard lock(mu_);
    return threads_;
  }

  std::string tables_json = R"({"tables":[{"name":"orders"}]})";
  std::atomic<bool> run_conflict{false};
  std::atomic<bool> state_down{false};
  std::atomic<bool> list_tables_throws{false};
  std::atomic<bool> models_invalid{false};
  Readiness ready{true, {}};
  std::chrono::milliseconds query_delay{0};  // Query sleeps this long (a slow query)

 private:
  Result<std::string> Record(const std::string& call, std::string answer) {
    std::lock_guard lock(mu_);
    calls_.push_back(call);
    threads_.push_back(std::this_thread::get_id());
    return answer;
  }
  std::mutex gate_mu_;  // guards the two below
  bool hold_plans_ = false;
  int plans_waiting_ = 0;
  std::condition_variable gate_cv_;
  std::mutex mu_;
  std::vector<std::string> calls_;
  std::vector<std::thread::id> threads_;
};

inline constexpr const char* kTestToken = "test-token-0123456789";
inline constexpr const char* kTestSecret = "webhook-secret-0123456789";

// `options` with the webhook on (kTestSecret) over a landing dir made in
// `dir`: dir/landing/orders/2026/part-9.parquet, and dir/outside/secret.parquet
// beside it. Bearer tokens (kTestToken) are on too: the webhook needs none.
inline ServerOptions WithWebhookLanding(ServerOptions options, const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir / "landing" / "orders" / "2026");
  std::ofstream(dir / "landing" / "orders" / "2026" / "part-9.parquet") << "x";
  std::filesystem::create_directories(dir / "outside");
  std::ofstream(dir / "outside" / "secret.parquet") << "x";
  options.webhook_secret = kTestSecret;
  options.landing_dir = dir / "landing";
  options.tokens = {kTestToken};
  return options;
}

class ServerTest : public ::testing::Test {
 protected:
  static constexpr const char* kToken = kTestToken;
  static constexpr const char* kSecret = kTestSecret;

  ServerOptions Options() {
    ServerOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.version = "9.9.9";
    o.read_timeout = std::chrono::milliseconds(1000);
    o.idle_timeout = std::chrono::milliseconds(1000);
    o.body_limit = 4096;
    return o;
  }

  void Start(ServerOptions options) {
    for (auto& pool : pools_) pool = std::make_unique<ThreadPool>(2);
    auto server = HttpServer::Start(
        io_, std::move(options), backend_, &metrics_,
        [this](Lane lane, std::function<void()> task) {
          pools_[static_cast<size_t>(lane)]->Post(std::move(task));
        },
        clock_);
    ASSERT_TRUE(server) << server.error().ToString();
    server_ = std::move(*server);
    port_ = server_->port();
    ASSERT_GT(port_, 0);
    thread_ = std::thread([this] {
      io_thread_ = std::this_thread::get_id();
      io_.run();
    });
  }

  void TearDown() override {
    if (!server_) return;
    server_->Stop();
    for (auto& pool : pools_) pool.reset();  // waits for backend calls in flight
    work_.reset();
    io_.stop();
    thread_.join();
    server_.reset();
  }

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_ =
      boost::asio::make_work_guard(io_);
  FakeBackend backend_;
  FakeClock clock_;
  Metrics metrics_{{"9.9.9", false}};
  std::array<std::unique_ptr<ThreadPool>, 3> pools_;  // one per Lane
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
  std::atomic<std::thread::id> io_thread_;
  int port_ = 0;
};

}  // namespace landfall::api
