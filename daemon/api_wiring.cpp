// The daemon's side of the HTTP API: the server and its pools, and
// DaemonControl, whose calls come from the API's workers and are handed to
// the io thread. See daemon/server.h.
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <condition_variable>
#include <nlohmann/json.hpp>

#include "daemon/server.h"

#ifndef LANDFALL_VERSION
#define LANDFALL_VERSION "dev"
#endif

namespace landfall::daemon {

namespace asio = boost::asio;
using std::chrono::milliseconds;
using std::chrono::seconds;

// A reply the API waits for on a worker while the io thread and a
// coordinator produce it. The first Set() wins.
class PendingReply {
 public:
  void Set(Result<api::Reply> reply) {
    std::lock_guard lock(mu_);
    if (reply_) return;
    reply_ = std::move(reply);
    cv_.notify_all();
  }
  // Waits up to `timeout`; nullopt if nothing came.
  std::optional<Result<api::Reply>> Wait(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return reply_.has_value(); });
    return reply_;
  }

 private:
  std::mutex mu_;  // guards reply_
  std::condition_variable cv_;
  std::optional<Result<api::Reply>> reply_;
};

bool Server::StartApi() {
  metrics_ = std::make_unique<api::Metrics>(
      api::Metrics::Options{LANDFALL_VERSION, config_.api.per_table_metrics});
  if (!config_.api.enabled) return true;
  // Pools of its own: API calls never queue behind long table jobs, and
  // slow calls never delay readiness probes or quick reads.
  api_pools_.health = std::make_unique<ThreadPool>(1);
  api_pools_.read = std::make_unique<ThreadPool>(2);
  api_pools_.slow = std::make_unique<ThreadPool>(2);
  api_backend_ = std::make_unique<DaemonApiBackend>(config_, *this);
  api::ServerOptions options;
  options.host = config_.api.listen_host;
  options.port = config_.api.listen_port;
  options.tokens = config_.api.tokens;
  options.protect_metrics = config_.api.protect_metrics;
  options.protect_health = config_.api.protect_health;
  options.webhook_secret = config_.api.webhook_secret;
  options.webhook_tolerance = seconds(config_.api.webhook_tolerance_s);
  options.landing_dir = config_.landing.dir;
  options.body_limit = static_cast<size_t>(config_.api.body_limit_bytes);
  options.max_connections = config_.api.max_connections;
  options.max_queries = config_.api.max_queries;
  options.read_timeout = milliseconds(config_.api.read_timeout_ms);
  options.idle_timeout = milliseconds(config_.api.idle_timeout_ms);
  options.version = LANDFALL_VERSION;
  auto server = api::HttpServer::Start(
      io_, std::move(options), *api_backend_, metrics_.get(),
      [pools = &api_pools_](api::Lane lane, std::function<void()> task) {
        pools->For(lane).Post(std::move(task));
      },
      SystemClock::Instance());
  if (!server) {
    spdlog::error("api: {}", server.error().ToString());
    return false;
  }
  http_ = std::move(*server);
  spdlog::info("api: listening on http://{}:{} ({})", config_.api.listen_host, http_->port(),
               config_.api.tokens.empty() ? "no tokens: /v1 is open to anyone who can connect"
                                          : "bearer tokens required on /v1");
  return true;
}

// With the io thread stopped: no new API work; wait for the calls in flight
// (they use the engine) before Close() destroys it.
void Server::StopApi() {
  api_stopping_ = true;
  if (http_) http_->Stop();
  api_pools_ = {};
  engine_ = nullptr;
}

Result<api::Reply> Server::StartRun(const api::RunTrigger& trigger) {
  auto pending = std::make_shared<PendingReply>();
  asio::post(io_, [this, trigger, pending] { StartApiRun(trigger, pending); });
  // The reply comes once the run is recorded, after its scan and plan.
  for (int waited_s = 0; waited_s < 60; ++waited_s) {
    if (auto reply = pending->Wait(seconds(1))) return std::move(*reply);
    if (api_stopping_) break;
  }
  return Fail("daemon_unavailable", "the run did not start in time (still planning, or stopping)", true);
}

void Server::Touch(const std::string& table, const std::string& trigger) {
  asio::post(io_, [this, table, trigger] {
    if (phase() != Phase::kServing) return;
    scheduler_.Touch(table, SteadyClock::now(), trigger);
    Pump();
  });
}

Result<bool> Server::DeleteTableStateIfIdle(const std::string& table) {
  // The io thread reserves the table with a job of its own, as a run would:
  // while we hold it, no run of the table starts. The delete itself (the
  // state store) runs here, on the API's worker, not on the io thread.
  struct Hold {
    std::mutex mu;  // guards the fields below
    std::condition_variable cv;
    bool answered = false;
    bool abandoned = false;  // the API gave up waiting: release at once
    std::optional<Job> job;
    bool hinted = false;  // the table had a run coming, which the job took
    Error error;
  };
  auto hold = std::make_shared<Hold>();
  asio::post(io_, [this, table, hold] {
    const bool hinted = scheduler_.Pending(table);
    auto job = HoldTable(scheduler_, phase(), table);
    std::lock_guard lock(hold->mu);
    if (hold->abandoned) {
      if (job) ReleaseHold(*job, hinted);
      return;
    }
    hold->answered = true;
    hold->hinted = hinted;
    if (job) {
      hold->job = *job;
    } else {
      hold->error = job.error();
    }
    hold->cv.notify_all();
  });
  std::unique_lock lock(hold->mu);
  if (!hold->cv.wait_for(lock, seconds(5), [&] { return hold->answered; })) {
    hold->abandoned = true;
    return Fail("daemon_unavailable", "landfall is busy or stopping; try again", true);
  }
  if (!hold->job) return Fail(hold->error);
  lock.unlock();
  auto deleted = engine_.load()->DeleteTableState(table);
  asio::post(io_, [this, job = *hold->job, hinted = hold->hinted] { ReleaseHold(job, hinted); });
  return deleted;
}

Result<api::Reply> Server::RunOutcome(int64_t id) {
  std::lock_guard lock(outcomes_mu_);
  auto it = outcomes_.find(id);
  if (it == outcomes_.end()) {
    return Fail("run_not_found", "this daemon started no run " + std::to_string(id) +
                                     " over its API, or no longer remembers it");
  }
  if (!it->second) {
    return api::Reply{202, nlohmann::json{{"run_id", id}, {"status", "running"}}.dump()};
  }
  if (!*it->second) return Fail(it->second->error());
  return api::Reply{200, **it->second};
}

// Runs a POST /v1/runs at once, if none of its tables is running.
void Server::StartApiRun(const api::RunTrigger& trigger,
                         const std::shared_ptr<PendingReply>& pending) {
  auto jobs = StartApiJobs(scheduler_, phase(), trigger.tables);
  if (!jobs) {
    pending->Set(Fail(jobs.error()));
    return;
  }
  exec::RunRequest request = RequestFor(*jobs, "api");
  request.full_refresh = trigger.full_refresh;
  request.models = trigger.models;
  request.partitions = SelectionOf(trigger.partitions);
  auto run_id = std::make_shared<std::atomic<int64_t>>(0);
  request.on_run_started = [this, pending, run_id, tables = request.tables](int64_t id) {
    *run_id = id;
    RememberOutcome(id, std::nullopt);
    nlohmann::json body = {{"run_id", id}, {"status", "running"}, {"tables", tables}};
    pending->Set(api::Reply{202, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)});
  };
  spdlog::info("api: run of {} requested",
               request.tables.empty() ? "every table" : std::to_string(request.tables.size()) + " table(s)");
  RunJobs(std::move(*jobs), std::move(request), "api run",
          [this, pending, run_id](const Result<exec::RunOutcome>& outcome) {
            if (!outcome) {
              pending->Set(Fail(outcome.error()));
              if (*run_id != 0) RememberOutcome(*run_id, Fail(outcome.error()));
            } else if (outcome->run_id == 0) {
              // The CLI prints what `landfall run` prints alone, from the outcome.
              nlohmann::json body = {{"run_id", nullptr},
                                     {"status", "nothing_to_do"},
                                     {"outcome", nlohmann::json::parse(exec::ToJson(*outcome))}};
              pending->Set(api::Reply{200, body.dump(-1, ' ', false,
                                                     nlohmann::json::error_handler_t::replace)});
            } else {
              RememberOutcome(outcome->run_id, exec::ToJson(*outcome));
            }
          });
  Pump();
}

// Remembers how an API run ended (nullopt: still running) for RunOutcome.
void Server::RememberOutcome(int64_t run_id, std::optional<Result<std::string>> outcome) {
  std::lock_guard lock(outcomes_mu_);
  outcomes_[run_id] = std::move(outcome);
  while (outcomes_.size() > kOutcomesKept) outcomes_.erase(outcomes_.begin());
}

}  // namespace landfall::daemon
