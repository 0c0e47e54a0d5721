// The daemon behind `landfall serve`, one object per process. Its member
// functions are defined by job, one file each:
//   server.cpp      lifecycle: start-up (with retries), signals, SIGHUP
//                   reload, staged shutdown, the watchdog and writer lock checks
//   scheduling.cpp  the watcher, the timers and the scheduling loop: which run
//                   starts when, on a coordinator, and what happens as it ends
//   api_wiring.cpp  the HTTP API: its server and pools, and DaemonControl
// Included by those files only: it brings in asio.
//
// Threads: everything runs on the io thread (the one that called Run())
// except the bodies posted to `coordinators_`, which call the engine and
// post their outcome back, and DaemonControl's methods, which the API's
// workers call and which hand their work to the io thread. Engine::Run blocks
// and uses the worker pool itself, so it must run neither on the io thread
// nor on the worker pool.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stop_token>
#include <string>
#include <vector>

#include "api/http_server.h"
#include "api/metrics.h"
#include "daemon/api_backend.h"
#include "daemon/cli.h"
#include "daemon/cluster.h"
#include "daemon/run_start.h"
#include "daemon/runtime.h"
#include "lib/common/thread_pool.h"
#include "lib/config/config.h"
#include "lib/exec/engine.h"
#include "lib/exec/scheduler.h"
#include "lib/landing/inotify_watcher.h"

namespace landfall::daemon {

class PendingReply;

class Server final : public DaemonControl {
 public:
  Server(std::filesystem::path config_path, config::Config config);
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Serves until stopped; returns the exit code (see Serve in daemon/serve.h).
  int Run();

  // ---- DaemonControl (the HTTP API's workers call these) ----
  exec::Engine* StartedEngine() override { return engine_.load(); }
  warehouse::Warehouse* StartedWarehouse() override {
    return engine_.load() != nullptr ? rt_.warehouse.get() : nullptr;
  }
  bool FirstScanDone() override { return first_scan_done_.load(); }
  Result<api::Reply> StartRun(const api::RunTrigger& trigger) override;
  void Touch(const std::string& table, const std::string& trigger) override;
  Result<bool> DeleteTableStateIfIdle(const std::string& table) override;
  Result<api::Reply> RunOutcome(int64_t id) override;
  std::string WriterIdentity() override;
  state::ClusterStore* Cluster() override {
    return engine_.load() != nullptr ? cluster_store_.get() : nullptr;
  }

 private:
  using SteadyClock = std::chrono::steady_clock;
  using Job = exec::Scheduler::Job;

  // While some folders cannot be watched, scan everything at least this often...
  static constexpr std::chrono::seconds kDegradedScanInterval{10};
  // ...and try to watch them again this often.
  static constexpr std::chrono::seconds kRewatchInterval{30};
  // How often history is pruned (state.retention_days).
  static constexpr std::chrono::seconds kPruneInterval{3600};
  // How often the daemon makes sure it still holds the environment's writer lock.
  static constexpr std::chrono::milliseconds kWriterLockCheckInterval{5000};
  // ...and, once its session has ended, tries to take it again this often.
  static constexpr std::chrono::milliseconds kWriterLockRetakeInterval{1000};

  // ---- lifecycle (server.cpp) ----
  static exec::Scheduler::Options SchedulerOptions(const config::Config& config);
  Status StartEngine(std::stop_token stop);
  Status JoinCluster(const std::string& node, std::stop_token stop);
  void OnEngineStarted(const Status& started);
  void ArmPruneTimer(std::chrono::seconds after);
  void ArmWriterLockCheck(std::chrono::milliseconds after = kWriterLockCheckInterval);
  void PingWatchdog();
  void DoWaitSignal();
  void OnSignal(int signo);
  void Reload();
  void BeginShutdown(int signo);
  void MaybeFinishShutdown();
  // Ends the daemon after a fatal start-up error.
  void Exit(int code, const std::string& status = "start-up failed; see the log");
  void Close();
  Phase phase() const;

  // ---- the watcher, timers and scheduling loop (scheduling.cpp) ----
  bool CreateWatcher();
  void DoWatch();
  void OnWatchReadable(const boost::system::error_code& ec);
  void HandleEvents(const std::vector<landing::WatchEvent>& events);
  void FollowDegraded();
  std::chrono::seconds ScanPeriod() const;
  void ArmScanTimer();
  void ArmRewatchTimer();
  void Pump();
  void Launch(Job job);
  void RunJobs(std::vector<Job> jobs, exec::RunRequest request, const std::string& what,
               std::function<void(const Result<exec::RunOutcome>&)> on_outcome = {});
  void ReleaseHold(const Job& job, bool hinted);
  void OnJobDone(const Job& job, const JobOutcome& out);
  std::string StatusLine() const;
  void UpdateStatus();

  // ---- the HTTP API (api_wiring.cpp) ----
  bool StartApi();
  void StopApi();
  void StartApiRun(const api::RunTrigger& trigger, const std::shared_ptr<PendingReply>& pending);
  void RememberOutcome(int64_t run_id, std::optional<Result<std::string>> outcome);

  // Constant after construction.
  const std::filesystem::path config_path_;

  // Owned by the io thread.
  config::Config config_;  // the running config (live keys follow SIGHUP)
  exec::Scheduler scheduler_;
  boost::asio::io_context io_;
  boost::asio::signal_set signals_;
  boost::asio::steady_timer wake_timer_;
  boost::asio::steady_timer scan_timer_;
  boost::asio::steady_timer rewatch_timer_;
  boost::asio::steady_timer watchdog_timer_;
  boost::asio::steady_timer prune_timer_;
  boost::asio::steady_timer deadline_timer_;
  boost::asio::steady_timer lock_check_timer_;
  bool writer_lost_ = false;  // the lock's session ended and it is not taken again yet
  std::chrono::milliseconds watchdog_period_{0};
  std::unique_ptr<landing::InotifyWatcher> watcher_;
  std::unique_ptr<boost::asio::posix::stream_descriptor> watch_fd_;
  std::set<std::string> failing_;  // tables whose last run failed
  std::string last_status_;
  SteadyClock::time_point started_at_ = SteadyClock::now();
  int tables_known_ = 0;
  bool starting_ = false;  // StartEngine in flight on a coordinator
  bool ready_ = false;
  bool degraded_ = false;
  bool stopping_ = false;
  int exit_code_ = kExitOk;
  std::stop_source stop_;  // asks StartEngine's retries to give up

  // Written by StartEngine on a coordinator before it posts OnEngineStarted;
  // after that, used by coordinators (the engine is thread-safe) and destroyed
  // by Close() once they are idle.
  Runtime rt_;
  std::unique_ptr<ThreadPool> coordinators_;
  // A cluster member (config.cluster.enabled): its leases, and the thread
  // that renews and claims them. Stopped by Close() before the engine goes.
  std::unique_ptr<state::ClusterStore> cluster_store_;
  std::unique_ptr<ClusterMember> cluster_;

  // The HTTP API. Metrics outlive the engine (its observer); the pool is
  // drained by StopApi() before Close() destroys the engine.
  std::unique_ptr<api::Metrics> metrics_;
  std::unique_ptr<DaemonApiBackend> api_backend_;
  struct ApiPools {
    std::unique_ptr<ThreadPool> health, read, slow;
    ThreadPool& For(api::Lane lane) {
      return lane == api::Lane::kHealth ? *health : lane == api::Lane::kSlow ? *slow : *read;
    }
  };
  ApiPools api_pools_;
  std::unique_ptr<api::HttpServer> http_;
  std::atomic<exec::Engine*> engine_{nullptr};  // set once started, cleared by StopApi()
  std::atomic<bool> first_scan_done_{false};
  std::atomic<bool> api_stopping_{false};

  // How API runs ended, for GET /v1/runs/{id}/outcome (the CLI's `run`
  // waits on it), newest kOutcomesKept by run id; and the writer identity.
  static constexpr size_t kOutcomesKept = 100;
  std::mutex outcomes_mu_;  // guards the fields below
  std::map<int64_t, std::optional<Result<std::string>>> outcomes_;
  std::string writer_identity_;
};

}  // namespace landfall::daemon
