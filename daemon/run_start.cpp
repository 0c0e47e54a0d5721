#include "daemon/run_start.h"

#include <spdlog/spdlog.h>

namespace landfall::daemon {

Status CheckServing(Phase phase) {
  switch (phase) {
    case Phase::kServing:
      return Ok();
    case Phase::kStarting:
      return Fail("daemon_unavailable", "landfall is starting", true);
    case Phase::kStopping:
      return Fail("daemon_unavailable", "landfall is stopping", true);
  }
  return Fail("daemon_unavailable", "landfall is stopping", true);
}

Result<std::vector<exec::Scheduler::Job>> StartApiJobs(exec::Scheduler& scheduler, Phase phase,
                                                       const std::vector<std::string>& tables) {
  if (auto serving = CheckServing(phase); !serving) return Fail(serving.error());
  auto jobs = scheduler.StartNow(tables, "api");
  if (jobs.empty()) {
    return Fail("run_conflict", tables.empty()
                                    ? "a run is in progress; a run of every table waits for none"
                                    : "a run covering these tables is in progress");
  }
  return jobs;
}

Result<exec::Scheduler::Job> HoldTable(exec::Scheduler& scheduler, Phase phase,
                                       const std::string& table) {
  if (auto serving = CheckServing(phase); !serving) return Fail(serving.error());
  auto jobs = scheduler.StartNow({table}, "api");
  if (jobs.empty()) {
    return Fail("table_conflict",
                "table '" + table + "' is running; delete its state when the run ends");
  }
  return jobs.front();
}

exec::RunRequest RequestFor(const std::vector<exec::Scheduler::Job>& jobs,
                            const std::string& trigger) {
  exec::RunRequest request;
  for (const auto& job : jobs) {
    if (!job.full()) request.tables.push_back(job.table);
  }
  request.trigger = trigger;
  request.truncated_grace = kTruncatedGrace;
  return request;
}

JobOutcome Summarize(const Result<exec::RunOutcome>& outcome) {
  using SchedulerResult = exec::Scheduler::Result;
  JobOutcome out;
  if (!outcome) {
    out.error = outcome.error();
    out.result.status =
        outcome.error().transient ? SchedulerResult::kTransientError : SchedulerResult::kError;
    return out;
  }
  out.catalog = outcome->catalog;
  out.tables_known = static_cast<int>(outcome->plan.tables.size());
  out.changed = static_cast<int>(outcome->tables.size());
  for (const auto& t : outcome->tables) {
    if (t.status == state::TableRunStatus::kFailed) {
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

bool EndsStartUp(const exec::Scheduler::Job& job, const JobOutcome& out) {
  // A start-up scan that failed transiently is retried first.
  return job.full() && !(out.error && out.error->transient);
}

void LogJobOutcome(const exec::Scheduler::Job& job, const JobOutcome& out) {
  spdlog::debug("run finished: {} in {} ms", Scope(job), out.duration_ms);
  if (out.error) {
    if (out.error->transient) {
      spdlog::warn("{}: {}; retrying with backoff", Scope(job), out.error->ToString());
    } else {
      spdlog::error("{}: {}", Scope(job), out.error->ToString());
    }
    return;
  }
  for (const auto& t : out.result.retry_tables) {
    spdlog::warn("table {}: transient failure; retrying with backoff", t);
  }
  for (const auto& t : out.result.deferred_tables) {
    spdlog::info(
        "table {}: a file is still being written (no complete footer yet); "
        "looking again shortly",
        t);
  }
  if (job.full()) {
    // Periodic scans that found nothing to do are not worth an info line.
    const bool quiet =
        out.changed == 0 && out.catalog.quarantined == 0 && out.catalog.deferred == 0;
    auto level = (job.trigger == "scan" && quiet) ? spdlog::level::debug : spdlog::level::info;
    spdlog::log(level,
                "{} ({}): {} tables, {} files ({} new), {} tables changed, {} failed, {} "
                "quarantined, {} deferred in {} ms",
                Scope(job), job.trigger, out.tables_known, out.catalog.files, out.catalog.inspected,
                out.changed, out.failed.size(), out.catalog.quarantined, out.catalog.deferred,
                out.duration_ms);
  }
}

std::string Scope(const exec::Scheduler::Job& job) {
  return job.full() ? "full scan" : "table " + job.table;
}

}  // namespace landfall::daemon
