// The watcher, the timers and the scheduling loop: hints go to the scheduler,
// Pump() starts what it hands out, and every run, whoever asked for it, goes
// through RunJobs. See daemon/server.h.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstring>

#include "daemon/server.h"
#include "lib/common/systemd_notify.h"

namespace landfall::daemon {

namespace asio = boost::asio;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

int64_t ElapsedMs(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace

bool Server::CreateWatcher() {
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

void Server::DoWatch() {
  if (!watch_fd_) return;
  watch_fd_->async_wait(asio::posix::stream_descriptor::wait_read,
                        [this](const boost::system::error_code& ec) { OnWatchReadable(ec); });
}

void Server::OnWatchReadable(const boost::system::error_code& ec) {
  if (ec || !watcher_ || stopping_) return;
  HandleEvents(watcher_->ReadEvents());
  DoWatch();
}

void Server::HandleEvents(const std::vector<landing::WatchEvent>& events) {
  using landing::WatchEvent;
  const auto now = SteadyClock::now();
  for (const auto& e : events) {
    switch (e.kind) {
      case WatchEvent::kOverflow:
        // The watcher is a hint; the scan is the truth.
        spdlog::warn("watch: {}", e.message);
        if (metrics_) metrics_->OnWatcherOverflow();
        scheduler_.TouchAll(now, "overflow");
        continue;
      case WatchEvent::kWatchLimit:
      case WatchEvent::kWatchError:
        // Said loudly once per degraded episode; each Rewatch() attempt
        // that fails again reports it anew, which would only be noise.
        spdlog::log(degraded_ ? spdlog::level::debug : spdlog::level::err, "watch: {}",
                    e.message);
        if (e.table.empty()) continue;
        break;
      case WatchEvent::kFileReady:
        spdlog::debug("event: {} is ready", e.rel_path);
        break;
      case WatchEvent::kDirectoryAdded:
        // Files may have landed before the watch existed: the table run scans it.
        spdlog::debug("event: folder {} added", e.rel_path);
        break;
      case WatchEvent::kFileRemoved:
      case WatchEvent::kDirectoryRemoved:
        spdlog::debug("event: {} removed", e.rel_path);
        break;
      case WatchEvent::kTableRemoved:
        spdlog::info("table folder {} removed", e.table);
        break;
    }
    // Every event but an overflow names one table, which runs soon.
    scheduler_.Touch(e.table, now, "watcher");
  }
  FollowDegraded();
  Pump();
}

// Folders the watcher cannot watch are scanned instead, more often.
void Server::FollowDegraded() {
  if (!watcher_ || watcher_->Degraded() == degraded_) return;
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

seconds Server::ScanPeriod() const {
  const seconds configured(config_.landing.scan_interval_s);
  if (!degraded_) return configured;  // 0: off
  return configured.count() > 0 ? std::min(configured, kDegradedScanInterval)
                                : kDegradedScanInterval;
}

void Server::ArmScanTimer() {
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

void Server::ArmRewatchTimer() {
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

// Starts what is ready and sets the wake-up timer for what is next.
void Server::Pump() {
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

void Server::Launch(Job job) {
  spdlog::debug("run started: {} ({})", Scope(job), job.trigger);
  std::vector<Job> jobs = {std::move(job)};
  auto request = RequestFor(jobs, jobs.front().trigger);
  RunJobs(std::move(jobs), std::move(request), Scope(jobs.front()));
}

// The one way a run starts: `jobs` are running in the scheduler already.
void Server::RunJobs(std::vector<Job> jobs, exec::RunRequest request, const std::string& what,
                     std::function<void(const Result<exec::RunOutcome>&)> on_outcome) {
  if (jobs.front().full() && metrics_) metrics_->OnWatcherRescan();
  coordinators_->Post([this, jobs = std::move(jobs), request = std::move(request), what,
                       on_outcome = std::move(on_outcome)] {
    const auto started = SteadyClock::now();
    // An exception (a bug) fails this run like an error, and the scheduler
    // goes on; escaping, it would end the process.
    auto outcome = CallCatching([&] { return rt_.engine->Run(request); }, what);
    if (on_outcome) on_outcome(outcome);
    JobOutcome out = Summarize(outcome);
    out.duration_ms = ElapsedMs(started);
    asio::post(io_, [this, jobs, out = std::move(out)] {
      for (const auto& job : jobs) OnJobDone(job, out);
    });
  });
}

// Ends a DeleteTableStateIfIdle hold on the io thread; a run the hold's job
// took from the table is asked for again.
void Server::ReleaseHold(const Job& job, bool hinted) {
  const auto now = SteadyClock::now();
  scheduler_.Finished(job, {}, now);
  if (hinted && !stopping_) scheduler_.Touch(job.table, now, "watcher");
  if (stopping_) {
    MaybeFinishShutdown();
  } else {
    Pump();
  }
}

void Server::OnJobDone(const Job& job, const JobOutcome& out) {
  const auto now = SteadyClock::now();
  scheduler_.Finished(job, out.result, now);
  LogJobOutcome(job, out);
  if (!out.error) {
    for (const auto& t : out.failed) failing_.insert(t);
    for (const auto& t : out.succeeded) failing_.erase(t);
    if (job.full()) tables_known_ = out.tables_known;
  }
  // Ready once migrations, reconciliation and the first full scan are done.
  if (!ready_ && !stopping_ && EndsStartUp(job, out)) {
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

std::string Server::StatusLine() const {
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

void Server::UpdateStatus() {
  if (!ready_) return;
  std::string line = StatusLine();
  if (line == last_status_) return;
  last_status_ = line;
  systemd::Notify("STATUS=" + line);
}

}  // namespace landfall::daemon
