// The daemon's lifecycle: start-up (the engine starts on a coordinator, with
// retries), signals and SIGHUP, the watchdog and writer lock checks, and the
// staged shutdown. See daemon/server.h.
#include "daemon/server.h"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <cstdlib>

#include "daemon/reload.h"
#include "daemon/retry.h"
#include "lib/common/logging.h"
#include "lib/common/systemd_notify.h"

namespace landfall::daemon {

namespace asio = boost::asio;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

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

// How the other members reach this daemon's API: its host name when it
// listens on every address.
std::string ReachableHost(const std::string& listen_host) {
  if (listen_host != "0.0.0.0" && listen_host != "::" && !listen_host.empty()) return listen_host;
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  return host;
}

}  // namespace

Server::Server(std::filesystem::path config_path, config::Config config)
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

Phase Server::phase() const {
  if (stopping_) return Phase::kStopping;
  return watcher_ ? Phase::kServing : Phase::kStarting;
}

exec::Scheduler::Options Server::SchedulerOptions(const config::Config& config) {
  exec::Scheduler::Options o;
  o.debounce = milliseconds(config.landing.debounce_ms);
  o.max_parallel = config.workers;
  o.backoff_initial = kRunBackoff.initial;
  o.backoff_max = kRunBackoff.max;
  o.deferred_retry = milliseconds(1000);
  // Enough to outlast the grace, after which the engine quarantines.
  o.max_deferred_retries = static_cast<int>(kTruncatedGrace.count()) * 2;
  return o;
}

int Server::Run() {
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
               config_.environment, config_.landing.dir.string(), config_.warehouse.Describe(),
               config_.workers);
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

// Opens the state store and the warehouse and starts the engine (migrations,
// reconciliation with the warehouse ledger). Transient failures (PostgreSQL
// not up yet) are retried with backoff until stopped.
Status Server::StartEngine(std::stop_token stop) {
  rt_.config = config_;
  const bool cluster = config_.cluster.enabled;
  const std::string node = cluster ? state::ClusterNodeId() : "";
  auto state = OpenStateWithRetry(rt_.config, SteadyClock::time_point::max(), stop, node);
  if (!state) return Fail(state.error());
  rt_.state = std::move(*state);
  // Before the engine touches the warehouse or the state: one writer per
  // environment, or one member per table in a cluster.
  if (cluster) {
    if (auto s = JoinCluster(node, stop); !s) return s;
  } else if (auto s = BecomeWriter(rt_, SteadyClock::time_point::max(), stop); !s) {
    return s;
  }
  {
    std::lock_guard lock(outcomes_mu_);
    writer_identity_ = cluster ? node : rt_.writer->identity();
  }
  if (auto s = OpenEngine(rt_); !s) return s;
  rt_.engine->SetObserver(metrics_.get());
  bool first = true;
  Status started = RetryTransient(
      [&] {
        if (!first) {
          // A fresh engine: Start() is meant to run once per engine.
          rt_.engine =
              std::make_unique<exec::Engine>(rt_.config, *rt_.state, *rt_.warehouse, *rt_.footers,
                                             *rt_.pool, SystemClock::Instance());
          rt_.engine->SetObserver(metrics_.get());
        }
        first = false;
        return rt_.engine->Start(std::move(rt_.state_read));
      },
      kRunBackoff, SteadyClock::time_point::max(), stop,
      [](const Error& error, milliseconds delay) {
        spdlog::warn("start: {}; retrying in {} ms", error.ToString(), delay.count());
      });
  if (!started || !cluster) return started;
  // The first share of the tables is claimed before the first scan, so that
  // the scan covers them.
  cluster_ =
      std::make_unique<ClusterMember>(rt_.config, *rt_.engine, *cluster_store_, *rt_.state,
                                      [this](const std::set<std::string>& tables) {
                                        asio::post(io_, [this, tables] {
                                          if (stopping_) return;
                                          for (const auto& t : tables)
                                            scheduler_.Touch(t, SteadyClock::now(), "takeover");
                                          Pump();
                                        });
                                      },
                                      [this] {
                                        asio::post(io_, [this] {
                                          if (stopping_) return;
                                          scheduler_.TouchAll(SteadyClock::now(), "models");
                                          Pump();
                                        });
                                      });
  cluster_->Tick();
  cluster_->Start();
  return started;
}

// Joins the cluster: migrations, this member's first heartbeat, and the runs
// of members that are gone marked interrupted. Transient failures are
// retried like BecomeWriter's.
Status Server::JoinCluster(const std::string& node, std::stop_token stop) {
  auto step = [&]() -> Status {
    if (auto s = rt_.state->Migrate(); !s) return s;
    if (!cluster_store_) {
      auto opened =
          state::ClusterStore::Open({.url = config_.state.postgres_url,
                                     .environment = config_.environment,
                                     .node = node,
                                     .api = http_ ? ReachableHost(config_.api.listen_host) + ":" +
                                                        std::to_string(http_->port())
                                                  : "",
                                     .lease_ttl = seconds(config_.cluster.lease_ttl_s)});
      if (!opened) return Fail(opened.error());
      cluster_store_ = std::move(*opened);
    }
    if (auto held = cluster_store_->Heartbeat(); !held) return Fail(held.error());
    spdlog::info("cluster: joined environment {} as {} (lease TTL {} s)", config_.environment, node,
                 config_.cluster.lease_ttl_s);
    return Ok();
  };
  return RetryTransient(step, kConnectBackoff, SteadyClock::time_point::max(), stop,
                        [](const Error& error, milliseconds delay) {
                          spdlog::warn("cluster: {}; retrying in {} ms", error.message,
                                       delay.count());
                        });
}

void Server::OnEngineStarted(const Status& started) {
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
  if (!config_.cluster.enabled) ArmWriterLockCheck();
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

// History is pruned once at start and then every kPruneInterval, on a
// coordinator: it talks to PostgreSQL, which the io thread never does.
void Server::ArmPruneTimer(seconds after) {
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

// Every kWriterLockCheckInterval, asks (on a coordinator: libpq blocks)
// whether the writer lock's session is still alive. When PostgreSQL restarted
// or ended it, the lock went with it: take it again on a new session,
// retrying every kWriterLockRetakeInterval while PostgreSQL is unreachable
// (nobody else can take it then either). If another writer took it
// meanwhile, stop, so that only one writes.
void Server::ArmWriterLockCheck(std::chrono::milliseconds after) {
  lock_check_timer_.expires_after(after);
  lock_check_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopping_) return;
    coordinators_->Post([this] {
      auto retaken = std::make_shared<std::unique_ptr<state::WriterLock>>();
      Status status = writer_lost_ ? Status(Fail("writer_lock_lost", "")) : rt_.writer->StillHeld();
      if (!status) {
        if (!writer_lost_) spdlog::warn("{}; taking it again", status.error().ToString());
        auto lock = state::WriterLock::Acquire({config_.state.postgres_url, config_.environment});
        if (lock) *retaken = std::move(*lock);
        status = lock ? Ok() : Status(Fail(lock.error()));
      }
      asio::post(io_, [this, status, retaken] {
        if (stopping_) return;
        if (*retaken) {
          rt_.writer = std::move(*retaken);
          spdlog::info("writer lock of environment {} taken again as '{}'", config_.environment,
                       rt_.writer->identity());
        }
        writer_lost_ = !status;
        if (status) return ArmWriterLockCheck();
        if (status.error().transient) return ArmWriterLockCheck(kWriterLockRetakeInterval);
        spdlog::error("writer_lock_lost: {}; stopping (exit {}) so that only one writer writes",
                      status.error().ToString(), kExitUnavailable);
        Exit(kExitUnavailable, "writer lock lost; see the log");
      });
    });
  });
}

void Server::PingWatchdog() {
  systemd::Notify("WATCHDOG=1");
  watchdog_timer_.expires_after(watchdog_period_);
  watchdog_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) PingWatchdog();
  });
}

void Server::DoWaitSignal() {
  signals_.async_wait([this](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    OnSignal(signo);
    DoWaitSignal();
  });
}

void Server::OnSignal(int signo) {
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

void Server::Reload() {
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
  spdlog::info("SIGHUP: config {} reloaded; applied: {}", config_path_.string(),
               join(diff.applied));
  if (!diff.need_restart.empty()) {
    spdlog::warn(
        "SIGHUP: changed keys that need a restart to take effect (still using the old "
        "values): {}",
        join(diff.need_restart));
  }
}

void Server::BeginShutdown(int signo) {
  stopping_ = true;
  // Stop accepting API requests; answers in flight are dropped.
  api_stopping_ = true;
  if (http_) http_->Stop();
  const auto running = scheduler_.GetStats().running;
  spdlog::info(
      "{}: stopping; {} run(s) in flight get up to {} s to finish (send it again to "
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
    spdlog::error(
        "runs still in flight after shutdown_timeout_s = {} s; exiting now (their "
        "warehouse transactions roll back; the next start reconciles)",
        config_.shutdown_timeout_s);
    std::_Exit(kExitStopTimeout);
  });
  MaybeFinishShutdown();
}

void Server::MaybeFinishShutdown() {
  if (!scheduler_.Idle() || starting_) return;
  deadline_timer_.cancel();
  watchdog_timer_.cancel();
  // Back to default dispositions: a signal during Close() ends the process.
  boost::system::error_code ignored;
  signals_.clear(ignored);
  signals_.cancel(ignored);
  io_.stop();
}

// Ends the daemon after a fatal start-up error.
void Server::Exit(int code, const std::string& status) {
  exit_code_ = code;
  stopping_ = true;
  systemd::Notify("STOPPING=1\nSTATUS=" + status);
  scheduler_.Stop();
  MaybeFinishShutdown();
}

// Closes in dependency order once nothing runs: coordinators, engine,
// worker pool, warehouse (DuckDB checkpoints), state store.
void Server::Close() {
  // Runs have ended: the leases go back at once, before the engine does.
  if (cluster_) cluster_->Stop();
  cluster_.reset();
  coordinators_.reset();
  rt_.engine.reset();
  rt_.pool.reset();
  rt_.footers.reset();
  rt_.warehouse.reset();
  rt_.state.reset();
  cluster_store_.reset();
  if (exit_code_ == kExitOk) spdlog::info("stopped");
}

std::string Server::WriterIdentity() {
  std::lock_guard lock(outcomes_mu_);
  return writer_identity_;
}

}  // namespace landfall::daemon
