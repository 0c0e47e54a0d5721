#include "daemon/serve.h"

#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <future>
#include <iostream>
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
#include "daemon/reload.h"
#include "daemon/retry.h"
#include "daemon/runtime.h"
#include "lib/common/logging.h"
#include "lib/common/systemd_notify.h"
#include "lib/common/thread_pool.h"
#include "lib/config/config.h"
#include "lib/exec/engine.h"
#include "lib/exec/scheduler.h"
#include "lib/landing/inotify_watcher.h"

#ifndef LANDFALL_VERSION
#define LANDFALL_VERSION "dev"
#endif

namespace landfall::daemon {

namespace {

namespace asio = boost::asio;
using exec::Scheduler;
using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

// A truncated file younger than this is taken to be still being written.
constexpr seconds kTruncatedGrace{10};
// While some folders cannot be watched, scan everything at least this often...
constexpr seconds kDegradedScanInterval{10};
// ...and try to watch them again this often.
constexpr seconds kRewatchInterval{30};
// How often `landfall serve` prunes history (state.retention_days).
constexpr seconds kPruneInterval{3600};
// How often serve makes sure it still holds the environment's writer lock.
constexpr seconds kWriterLockCheckInterval{5};

const char* SignalName(int signo) {
  switch (signo) {
    case SIGINT:
      return "SIGINT";
    case SIGTERM:
      return "SIGTERM";
    case SIGHUP:
      return "SIGHUP";
    default:
      return "signal";
  }
}

int64_t ElapsedMs(SteadyClock::time_point since) {
  return std::chrono::duration_cast<milliseconds>(SteadyClock::now() - since).count();
}

// How one engine run ended, carried from a coordinator thread to the io thread.
struct JobOutcome {
  Scheduler::Result result;
  std::optional<Error> error;  // the run as a whole failed
  exec::CatalogStats catalog;
  int tables_known = 0;  // tables in the plan
  int changed = 0;       // tables with an action other than skip
  std::vector<std::string> succeeded;
  std::vector<std::string> failed;
  int64_t duration_ms = 0;
};

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

// The daemon. Everything below runs on the io thread (the one that called
// Run()) except the bodies posted to `coordinators_`, which call the engine and
// post their outcome back. Engine::Run blocks and uses the worker pool itself,
// so it must run neither on the io thread nor on the worker pool.
class Server final : public DaemonControl {
 public:
  Server(std::filesystem::path config_path, config::Config config)
      : config_path_(std::move(config_path)),
        config_(std::move(config)),
        scheduler_(SchedulerOptions(config_)),
        signals_(io_),
        wake_timer_(io_),
        scan_timer_(io_),
        rewatch_timer_(io_),
        watchdog_timer_(io_),
        prune_timer_(io_),
        deadline_timer_(io_),
        lock_check_timer_(io_) {}
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  int Run() {
    signals_.add(SIGINT);
    signals_.add(SIGTERM);
    signals_.add(SIGHUP);
    DoWaitSignal();
    if (auto interval = systemd::WatchdogInterval()) {
      watchdog_period_ = std::chrono::duration_cast<milliseconds>(*interval) / 2;
      PingWatchdog();
    }
    systemd::Notify("STATUS=starting: migrations, reconciliation, first scan");
    spdlog::info("landfall serve: environment {}, landing {}, warehouse {}, {} workers",
                 config_.environment, config_.landing.dir.string(),
                 config_.warehouse.path.string(), config_.workers);
    // /healthz answers (and /readyz says why not ready) while the engine starts.
    if (!StartApi()) return kExitUnavailable;

    // Coordinators call Engine::Run (blocking); one per parallel table job.
    coordinators_ = std::make_unique<ThreadPool>(config_.workers);
    starting_ = true;
    coordinators_->Post([this] {
      // No exception may end the process from here: it becomes the error.
      auto started = CallCatching([&] { return StartEngine(stop_.get_token()); }, "start");
      asio::post(io_, [this, started] { OnEngineStarted(started); });
    });

    io_.run();
    StopApi();
    Close();
    return exit_code_;
  }

  // ---- DaemonControl (the HTTP API's workers call these) ----

  exec::Engine* StartedEngine() override { return engine_.load(); }
  bool FirstScanDone() override { return first_scan_done_.load(); }

  Result<api::Reply> StartRun(const api::RunTrigger& trigger) override {
    auto pending = std::make_shared<PendingReply>();
    asio::post(io_, [this, trigger, pending] { StartApiRun(trigger, pending); });
    // The reply comes once the run is recorded, after its scan and plan.
    for (int waited_s = 0; waited_s < 60; ++waited_s) {
      if (auto reply = pending->Wait(seconds(1))) return std::move(*reply);
      if (api_stopping_) break;
    }
    return Fail("daemon_unavailable", "the run did not start in time (still planning, or stopping)", true);
  }

  void Touch(const std::string& table, const std::string& trigger) override {
    asio::post(io_, [this, table, trigger] {
      if (stopping_ || !watcher_) return;
      scheduler_.Touch(table, SteadyClock::now(), trigger);
      Pump();
    });
  }

  Result<bool> DeleteTableStateIfIdle(const std::string& table) override {
    // The io thread reserves the table with a job of its own, as a run would:
    // while we hold it, no run of the table starts. The delete itself (the
    // state store) runs here, on the API's worker, not on the io thread.
    struct Hold {
      std::mutex mu;  // guards the fields below
      std::condition_variable cv;
      bool answered = false;
      bool abandoned = false;  // the API gave up waiting: release at once
      std::optional<Scheduler::Job> job;
      bool hinted = false;  // the table had a run coming, which the job took
      Error error;
    };
    auto hold = std::make_shared<Hold>();
    asio::post(io_, [this, table, hold] {
      std::vector<Scheduler::Job> jobs;
      Error error;
      const bool hinted = scheduler_.Pending(table);
      if (stopping_ || !watcher_) {
        error = {"daemon_unavailable", stopping_ ? "landfall is stopping" : "landfall is starting",
                 true};
      } else if (jobs = scheduler_.StartNow({table}, "api"); jobs.empty()) {
        error = {"table_conflict",
                 "table '" + table + "' is running; delete its state when the run ends"};
      }
      std::lock_guard lock(hold->mu);
      if (hold->abandoned) {
        for (const auto& job : jobs) ReleaseHold(job, hinted);
        return;
      }
      hold->answered = true;
      hold->hinted = hinted;
      if (!jobs.empty()) hold->job = jobs.front();
      hold->error = error;
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

  Result<api::Reply> RunOutcome(int64_t id) override {
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

  std::string WriterIdentity() override {
    std::lock_guard lock(outcomes_mu_);
    return writer_identity_;
  }

 private:
  static Scheduler::Options SchedulerOptions(const config::Config& config) {
    Scheduler::Options o;
    o.debounce = milliseconds(config.landing.debounce_ms);
    o.max_parallel = config.workers;
    o.backoff_initial = kRunBackoff.initial;
    o.backoff_max = kRunBackoff.max;
    o.deferred_retry = milliseconds(1000);
    // Enough to outlast the grace, after which the engine quarantines.
    o.max_deferred_retries = static_cast<int>(kTruncatedGrace.count()) * 2;
    return o;
  }

  // ---- start-up (on a coordinator thread) ----

  // Opens the state store and the warehouse and starts the engine (migrations,
  // reconciliation with the warehouse ledger). Transient failures (PostgreSQL
  // not up yet) are retried with backoff until stopped.
  Status StartEngine(std::stop_token stop) {
    rt_.config = config_;
    auto state = OpenStateWithRetry(rt_.config, SteadyClock::time_point::max(), stop);
    if (!state) return Fail(state.error());
    rt_.state = std::move(*state);
    // Before the engine touches the warehouse or the state: one writer per environment.
    if (auto s = BecomeWriter(rt_, SteadyClock::time_point::max(), stop); !s) return s;
    {
      std::lock_guard lock(outcomes_mu_);
      writer_identity_ = rt_.writer->identity();
    }
    if (auto s = OpenEngine(rt_); !s) return s;
    rt_.engine->SetObserver(metrics_.get());
    bool first = true;
    return RetryTransient(
        [&] {
          if (!first) {
            // A fresh engine: Start() is meant to run once per engine.
            rt_.engine = std::make_unique<exec::Engine>(rt_.config, *rt_.state, *rt_.warehouse,
                                                        *rt_.footers, *rt_.pool,
                                                        SystemClock::Instance());
            rt_.engine->SetObserver(metrics_.get());
          }
          first = false;
          return rt_.engine->Start();
        },
        kRunBackoff, SteadyClock::time_point::max(), stop,
        [](const Error& error, milliseconds delay) {
          spdlog::warn("start: {}; retrying in {} ms", error.ToString(), delay.count());
        });
  }

  void OnEngineStarted(const Status& started) {
    starting_ = false;
    if (stopping_) {
      MaybeFinishShutdown();
      return;
    }
    if (!started) {
      spdlog::error("start: {}", started.error().ToString());
      Exit(kExitUnavailable);
      return;
    }
    engine_ = rt_.engine.get();
    ArmWriterLockCheck();
    // The full scan is asked for first, so it runs before any table the
    // watcher's first events name. The watch exists before the scan starts:
    // a file landing in between is seen by both, never by neither.
    scheduler_.TouchAll(SteadyClock::now(), "startup");
    if (!CreateWatcher()) {
      Exit(kExitUnavailable);
      return;
    }
    ArmScanTimer();
    ArmPruneTimer(seconds(0));
    Pump();
  }

  // ---- the watcher ----

  bool CreateWatcher() {
    landing::InotifyWatcher::Options options;
    options.ignore_globs = config_.landing.ignore;
    auto watcher = landing::InotifyWatcher::Create(config_.landing.dir, options);
    if (!watcher) {
      spdlog::error("watch: {}", watcher.error().ToString());
      return false;
    }
    watcher_ = std::move(*watcher);
    // The watcher keeps its fd; asio gets a duplicate it may close.
    const int fd = fcntl(watcher_->NativeHandle(), F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
      spdlog::error("watch: dup of the inotify fd failed: {}", std::strerror(errno));
      return false;
    }
    watch_fd_ = std::make_unique<asio::posix::stream_descriptor>(io_, fd);
    spdlog::info("watching {} ({} folders)", config_.landing.dir.string(),
                 watcher_->WatchCount());
    // Folders that could not be watched are reported by the first read, which
    // the fd does not announce.
    HandleEvents(watcher_->ReadEvents());
    DoWatch();
    return true;
  }

  void DoWatch() {
    if (!watch_fd_) return;
    watch_fd_->async_wait(asio::posix::stream_descriptor::wait_read,
                          [this](const boost::system::error_code& ec) { OnWatchReadable(ec); });
  }

  void OnWatchReadable(const boost::system::error_code& ec) {
    if (ec || !watcher_ || stopping_) return;
    HandleEvents(watcher_->ReadEvents());
    DoWatch();
  }

  void HandleEvents(const std::vector<landing::WatchEvent>& events) {
    using landing::WatchEvent;
    const auto now = SteadyClock::now();
    for (const auto& e : events) {
      switch (e.kind) {
        case WatchEvent::kFileReady:
          spdlog::debug("event: {} is ready", e.rel_path);
          scheduler_.Touch(e.table, now, "watcher");
          break;
        case WatchEvent::kDirectoryAdded:
          // Files may have landed before the watch existed: the table run scans it.
          spdlog::debug("event: folder {} added", e.rel_path);
          scheduler_.Touch(e.table, now, "watcher");
          break;
        case WatchEvent::kFileRemoved:
        case WatchEvent::kDirectoryRemoved:
          spdlog::debug("event: {} removed", e.rel_path);
          scheduler_.Touch(e.table, now, "watcher");
          break;
        case WatchEvent::kTableRemoved:
          spdlog::info("table folder {} removed", e.table);
          scheduler_.Touch(e.table, now, "watcher");
          break;
        case WatchEvent::kOverflow:
          // The watcher is a hint; the scan is the truth.
          spdlog::warn("watch: {}", e.message);
          if (metrics_) metrics_->OnWatcherOverflow();
          scheduler_.TouchAll(now, "overflow");
          break;
        case WatchEvent::kWatchLimit:
        case WatchEvent::kWatchError:
          // Said loudly once per degraded episode; each Rewatch() attempt
          // that fails again reports it anew, which would only be noise.
          spdlog::log(degraded_ ? spdlog::level::debug : spdlog::level::err, "watch: {}",
                      e.message);
          if (!e.table.empty()) scheduler_.Touch(e.table, now, "watcher");
          break;
      }
    }
    if (watcher_ && watcher_->Degraded() != degraded_) {
      degraded_ = watcher_->Degraded();
      if (degraded_) {
        spdlog::warn("watch: degraded; scanning the whole landing directory every {} s, and "
                     "trying to watch every folder again every {} s",
                     ScanPeriod().count(), kRewatchInterval.count());
        ArmRewatchTimer();
      } else {
        spdlog::info("watch: every folder is watched again");
        rewatch_timer_.cancel();
      }
      ArmScanTimer();
      UpdateStatus();
    }
    Pump();
  }

  // ---- timers ----

  seconds ScanPeriod() const {
    const seconds configured(config_.landing.scan_interval_s);
    if (!degraded_) return configured;  // 0: off
    return configured.count() > 0 ? std::min(configured, kDegradedScanInterval)
                                  : kDegradedScanInterval;
  }

  void ArmScanTimer() {
    scan_timer_.cancel();
    const auto period = ScanPeriod();
    if (period.count() <= 0 || stopping_) return;
    scan_timer_.expires_after(period);
    scan_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || stopping_) return;
      scheduler_.TouchAll(SteadyClock::now(), "scan");
      Pump();
      ArmScanTimer();
    });
  }

  // History is pruned once at start and then every kPruneInterval, on a
  // coordinator: it talks to PostgreSQL, which the io thread never does.
  void ArmPruneTimer(seconds after) {
    if (config_.state.retention_days <= 0 || stopping_) return;
    prune_timer_.expires_after(after);
    prune_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || stopping_) return;
      coordinators_->Post([this] {
        PruneHistory(*rt_.state, config_);
        asio::post(io_, [this] { ArmPruneTimer(kPruneInterval); });
      });
    });
  }

  void ArmRewatchTimer() {
    rewatch_timer_.expires_after(kRewatchInterval);
    rewatch_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || stopping_ || !watcher_) return;
      spdlog::info("watch: trying to watch every folder again");
      watcher_->Rewatch();
      // Files may have landed in folders that were not watched.
      scheduler_.TouchAll(SteadyClock::now(), "rewatch");
      HandleEvents(watcher_->ReadEvents());
      if (degraded_) ArmRewatchTimer();
    });
  }

  // Every kWriterLockCheckInterval, asks (on a coordinator: libpq blocks)
  // whether the writer lock's session is still alive. If PostgreSQL restarted
  // or ended it, the lock is gone and another writer may start: stop, so that
  // a restart (systemd) takes it again before writing.
  void ArmWriterLockCheck() {
    lock_check_timer_.expires_after(kWriterLockCheckInterval);
    lock_check_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || stopping_) return;
      coordinators_->Post([this] {
        auto held = rt_.writer->StillHeld();
        asio::post(io_, [this, held] {
          if (stopping_) return;
          if (held) return ArmWriterLockCheck();
          spdlog::error("{}; stopping (exit {}) so that a restart takes the lock again",
                        held.error().ToString(), kExitUnavailable);
          Exit(kExitUnavailable, "writer lock lost; see the log");
        });
      });
    });
  }

  void PingWatchdog() {
    systemd::Notify("WATCHDOG=1");
    watchdog_timer_.expires_after(watchdog_period_);
    watchdog_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) PingWatchdog();
    });
  }

  // ---- scheduling ----

  // Starts what is ready and sets the wake-up timer for what is next.
  void Pump() {
    if (!watcher_ || stopping_) return;
    const auto now = SteadyClock::now();
    for (auto& job : scheduler_.TakeReady(now)) Launch(std::move(job));
    wake_timer_.cancel();
    if (auto next = scheduler_.NextWakeup()) {
      wake_timer_.expires_at(*next);
      wake_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) Pump();
      });
    }
    UpdateStatus();
  }

  void Launch(Scheduler::Job job) {
    exec::RunRequest request;
    if (!job.full()) request.tables = {job.table};
    request.trigger = job.trigger;
    request.truncated_grace = kTruncatedGrace;
    spdlog::debug("run started: {} ({})", Scope(job), job.trigger);
    if (job.full() && metrics_) metrics_->OnWatcherRescan();
    coordinators_->Post([this, job = std::move(job), request = std::move(request)] {
      const auto started = SteadyClock::now();
      // An exception (a bug) fails this job like an error, and the scheduler
      // goes on; escaping, it would end the process.
      auto outcome = CallCatching([&] { return rt_.engine->Run(request); }, Scope(job));
      JobOutcome out = Summarize(outcome);
      out.duration_ms = ElapsedMs(started);
      asio::post(io_, [this, job, out = std::move(out)] { OnJobDone(job, out); });
    });
  }

  // Ends a DeleteTableStateIfIdle hold on the io thread; a run the hold's job
  // took from the table is asked for again.
  void ReleaseHold(const Scheduler::Job& job, bool hinted) {
    const auto now = SteadyClock::now();
    scheduler_.Finished(job, {}, now);
    if (hinted && !stopping_) scheduler_.Touch(job.table, now, "watcher");
    if (stopping_) {
      MaybeFinishShutdown();
    } else {
      Pump();
    }
  }

  // Remembers how an API run ended (nullopt: still running) for RunOutcome.
  void RememberOutcome(int64_t run_id, std::optional<Result<std::string>> outcome) {
    std::lock_guard lock(outcomes_mu_);
    outcomes_[run_id] = std::move(outcome);
    while (outcomes_.size() > kOutcomesKept) outcomes_.erase(outcomes_.begin());
  }

  static JobOutcome Summarize(const Result<exec::RunOutcome>& outcome) {
    JobOutcome out;
    if (!outcome) {
      out.error = outcome.error();
      out.result.status =
          outcome.error().transient ? Scheduler::Result::kTransientError : Scheduler::Result::kError;
      return out;
    }
    out.catalog = outcome->catalog;
    out.tables_known = static_cast<int>(outcome->plan.tables.size());
    out.changed = static_cast<int>(outcome->tables.size());
    for (const auto& t : outcome->tables) {
      if (t.status == "failed") {
        out.failed.push_back(t.table);
        if (t.transient) out.result.retry_tables.push_back(t.table);
      } else {
        out.succeeded.push_back(t.table);
      }
    }
    out.result.deferred_tables.assign(outcome->catalog.deferred_tables.begin(),
                                      outcome->catalog.deferred_tables.end());
    return out;
  }

  static std::string Scope(const Scheduler::Job& job) {
    return job.full() ? "full scan" : "table " + job.table;
  }

  void OnJobDone(const Scheduler::Job& job, const JobOutcome& out) {
    const auto now = SteadyClock::now();
    scheduler_.Finished(job, out.result, now);
    spdlog::debug("run finished: {} in {} ms", Scope(job), out.duration_ms);

    if (out.error) {
      if (out.error->transient) {
        spdlog::warn("{}: {}; retrying with backoff", Scope(job), out.error->ToString());
      } else {
        spdlog::error("{}: {}", Scope(job), out.error->ToString());
      }
    } else {
      for (const auto& t : out.failed) failing_.insert(t);
      for (const auto& t : out.succeeded) failing_.erase(t);
      for (const auto& t : out.result.retry_tables) {
        spdlog::warn("table {}: transient failure; retrying with backoff", t);
      }
      for (const auto& t : out.result.deferred_tables) {
        spdlog::info("table {}: a file is still being written (no complete footer yet); "
                     "looking again shortly",
                     t);
      }
      if (job.full()) {
        tables_known_ = out.tables_known;
        const bool quiet = out.changed == 0 && out.catalog.quarantined == 0 && out.catalog.deferred == 0;
        auto level = (job.trigger == "scan" && quiet) ? spdlog::level::debug : spdlog::level::info;
        spdlog::log(level,
                    "{} ({}): {} tables, {} files ({} new), {} tables changed, {} failed, {} "
                    "quarantined, {} deferred in {} ms",
                    Scope(job), job.trigger, out.tables_known, out.catalog.files,
                    out.catalog.inspected, out.changed, out.failed.size(), out.catalog.quarantined,
                    out.catalog.deferred, out.duration_ms);
      }
    }

    // Ready once migrations, reconciliation and the first full scan are done.
    // A start-up scan that failed transiently is retried first.
    if (job.full() && !ready_ && !stopping_ &&
        !(out.error && out.error->transient)) {
      ready_ = true;
      first_scan_done_ = true;
      spdlog::info("ready: watching {} ({} tables) after {} ms", config_.landing.dir.string(),
                   tables_known_, ElapsedMs(started_at_));
      systemd::Notify("READY=1\nSTATUS=" + StatusLine());
    }

    if (stopping_) {
      MaybeFinishShutdown();
    } else {
      Pump();
    }
  }

  std::string StatusLine() const {
    if (stopping_) return "stopping";
    if (!ready_) return "starting: first scan";
    const auto stats = scheduler_.GetStats();
    std::string line = std::to_string(tables_known_) + " tables; " +
                       std::to_string(stats.running) + " running, " +
                       std::to_string(stats.waiting) + " waiting, " +
                       std::to_string(failing_.size()) + " failing";
    if (stats.retrying > 0) line += ", " + std::to_string(stats.retrying) + " retrying";
    if (degraded_) {
      line += "; degraded: scanning every " + std::to_string(ScanPeriod().count()) + " s";
    }
    return line;
  }

  void UpdateStatus() {
    if (!ready_) return;
    std::string line = StatusLine();
    if (line == last_status_) return;
    last_status_ = line;
    systemd::Notify("STATUS=" + line);
  }

  // ---- signals and shutdown ----

  void DoWaitSignal() {
    signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
      if (ec) return;
      OnSignal(signo);
      DoWaitSignal();
    });
  }

  void OnSignal(int signo) {
    if (signo == SIGHUP) {
      if (!stopping_) Reload();
      return;
    }
    if (stopping_) {
      // An impatient operator: stop now. The warehouse transactions in flight
      // roll back (the ledger commits with the data, so nothing is half-staged).
      spdlog::warn("second {}: exiting at once", SignalName(signo));
      std::_Exit(128 + signo);
    }
    BeginShutdown(signo);
  }

  void BeginShutdown(int signo) {
    stopping_ = true;
    // Stop accepting API requests; answers in flight are dropped.
    api_stopping_ = true;
    if (http_) http_->Stop();
    const auto running = scheduler_.GetStats().running;
    spdlog::info("{}: stopping; {} run(s) in flight get up to {} s to finish (send it again to "
                 "exit at once)",
                 SignalName(signo), running + (starting_ ? 1 : 0), config_.shutdown_timeout_s);
    systemd::Notify("STOPPING=1\nSTATUS=stopping");
    stop_.request_stop();
    scheduler_.Stop();
    // Stop watching: events from now on would only be dropped.
    if (watch_fd_) {
      boost::system::error_code ignored;
      watch_fd_->close(ignored);
      watch_fd_.reset();
    }
    watcher_.reset();
    wake_timer_.cancel();
    scan_timer_.cancel();
    rewatch_timer_.cancel();
    prune_timer_.cancel();
    lock_check_timer_.cancel();
    deadline_timer_.expires_after(seconds(config_.shutdown_timeout_s));
    deadline_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      spdlog::error("runs still in flight after shutdown_timeout_s = {} s; exiting now (their "
                    "warehouse transactions roll back; the next start reconciles)",
                    config_.shutdown_timeout_s);
      std::_Exit(kExitStopTimeout);
    });
    MaybeFinishShutdown();
  }

  void MaybeFinishShutdown() {
    if (!scheduler_.Idle() || starting_) return;
    deadline_timer_.cancel();
    watchdog_timer_.cancel();
    // Back to default dispositions: a signal during Close() ends the process.
    boost::system::error_code ignored;
    signals_.clear(ignored);
    signals_.cancel(ignored);
    io_.stop();
  }

  // ---- the HTTP API ----

  bool StartApi() {
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
  void StopApi() {
    api_stopping_ = true;
    if (http_) http_->Stop();
    api_pools_ = {};
    engine_ = nullptr;
  }

  // Runs a POST /v1/runs at once, if none of its tables is running.
  void StartApiRun(const api::RunTrigger& trigger, const std::shared_ptr<PendingReply>& pending) {
    if (stopping_ || !watcher_) {
      pending->Set(Fail("daemon_unavailable",
                        stopping_ ? "landfall is stopping" : "landfall is starting", true));
      return;
    }
    auto jobs = scheduler_.StartNow(trigger.tables, "api");
    if (jobs.empty()) {
      pending->Set(Fail("run_conflict", trigger.tables.empty()
                                            ? "a run is in progress; a run of every table waits for none"
                                            : "a run covering these tables is in progress"));
      return;
    }
    exec::RunRequest request;
    for (const auto& job : jobs) {
      if (!job.full()) request.tables.push_back(job.table);
    }
    request.full_refresh = trigger.full_refresh;
    request.trigger = "api";
    request.truncated_grace = kTruncatedGrace;
    auto run_id = std::make_shared<std::atomic<int64_t>>(0);
    request.on_run_started = [this, pending, run_id, tables = request.tables](int64_t id) {
      *run_id = id;
      RememberOutcome(id, std::nullopt);
      nlohmann::json body = {{"run_id", id}, {"status", "running"}, {"tables", tables}};
      pending->Set(api::Reply{202, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)});
    };
    spdlog::info("api: run of {} requested",
                 request.tables.empty() ? "every table" : std::to_string(request.tables.size()) + " table(s)");
    if (jobs.front().full() && metrics_) metrics_->OnWatcherRescan();
    coordinators_->Post([this, jobs = std::move(jobs), request = std::move(request), pending,
                         run_id] {
      const auto started = SteadyClock::now();
      auto outcome = CallCatching([&] { return rt_.engine->Run(request); }, "api run");
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
      JobOutcome out = Summarize(outcome);
      out.duration_ms = ElapsedMs(started);
      asio::post(io_, [this, jobs, out = std::move(out)] {
        for (const auto& job : jobs) OnJobDone(job, out);
      });
    });
    Pump();
  }

  // Ends the daemon after a fatal start-up error.
  void Exit(int code, const std::string& status = "start-up failed; see the log") {
    exit_code_ = code;
    stopping_ = true;
    systemd::Notify("STOPPING=1\nSTATUS=" + status);
    scheduler_.Stop();
    MaybeFinishShutdown();
  }

  // Closes in dependency order once nothing runs: coordinators, engine,
  // worker pool, warehouse (DuckDB checkpoints), state store.
  void Close() {
    coordinators_.reset();
    rt_.engine.reset();
    rt_.pool.reset();
    rt_.footers.reset();
    rt_.warehouse.reset();
    rt_.state.reset();
    if (exit_code_ == kExitOk) spdlog::info("stopped");
  }

  // ---- SIGHUP ----

  void Reload() {
    auto loaded = config::LoadConfig(config_path_);
    if (!loaded) {
      spdlog::error("SIGHUP: config not reloaded, keeping the running one: {}",
                    loaded.error().message);
      return;
    }
    const config::Config& next = *loaded;
    const ReloadDiff diff = DiffConfigs(config_, next);
    if (auto s = SetupLogging(next.log.level, next.log.format); !s) {
      spdlog::error("SIGHUP: {}", s.error().message);  // validated already; not expected
    }
    ApplyLiveKeys(config_, next);
    scheduler_.set_debounce(milliseconds(config_.landing.debounce_ms));
    ArmScanTimer();

    auto join = [](const std::vector<std::string>& keys) {
      std::string out;
      for (const auto& k : keys) out += (out.empty() ? "" : ", ") + k;
      return out.empty() ? std::string("none") : out;
    };
    spdlog::info("SIGHUP: config {} reloaded; applied: {}", config_path_.string(), join(diff.applied));
    if (!diff.need_restart.empty()) {
      spdlog::warn("SIGHUP: changed keys that need a restart to take effect (still using the old "
                   "values): {}",
                   join(diff.need_restart));
    }
  }

  // Constant after construction.
  const std::filesystem::path config_path_;

  // Owned by the io thread.
  config::Config config_;  // the running config (live keys follow SIGHUP)
  Scheduler scheduler_;
  asio::io_context io_;
  asio::signal_set signals_;
  asio::steady_timer wake_timer_;
  asio::steady_timer scan_timer_;
  asio::steady_timer rewatch_timer_;
  asio::steady_timer watchdog_timer_;
  asio::steady_timer prune_timer_;
  asio::steady_timer deadline_timer_;
  asio::steady_timer lock_check_timer_;
  milliseconds watchdog_period_{0};
  std::unique_ptr<landing::InotifyWatcher> watcher_;
  std::unique_ptr<asio::posix::stream_descriptor> watch_fd_;
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

}  // namespace

int Serve(const std::string& config_path) {
  auto config = config::LoadConfig(config_path);
  if (!config) {
    std::cerr << "landfall: " << config.error().message << "\n";
    return kExitUsage;
  }
  if (auto s = SetupLogging(config->log.level, config->log.format); !s) {
    std::cerr << "landfall: " << s.error().message << "\n";
    return kExitUsage;
  }
  Server server(config_path, std::move(*config));
  return server.Run();
}

}  // namespace landfall::daemon
