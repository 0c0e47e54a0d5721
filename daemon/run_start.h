// How the daemon starts a run, whoever asked for it (the scheduler's timers
// and hints, or POST /v1/runs): which jobs the scheduler hands out or refuses,
// the engine request they make, and what the scheduler is told when it ends.
// Pure but for logging: no clock, no thread, no engine.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "lib/common/result.h"
#include "lib/exec/engine.h"
#include "lib/exec/scheduler.h"

namespace landfall::daemon {

// A truncated file younger than this is taken to be still being written.
inline constexpr std::chrono::seconds kTruncatedGrace{10};

// Where the daemon is in its life, as the API sees it.
enum class Phase {
  kStarting,  // the engine starts, or the watcher does not exist yet
  kServing,
  kStopping,
};

// Ok while serving; else a transient "daemon_unavailable" saying why.
Status CheckServing(Phase phase);

// The jobs of a run an operator asked for (POST /v1/runs): one per table of
// `tables`, or a full job when it is empty, taken from `scheduler` with
// StartNow, so they are running when this returns. Errors: "run_conflict"
// when a job covering one of the tables (or, for every table, any job) is
// running; "daemon_unavailable" unless `phase` is kServing. Nothing is
// taken on error.
Result<std::vector<exec::Scheduler::Job>> StartApiJobs(exec::Scheduler& scheduler, Phase phase,
                                                       const std::vector<std::string>& tables);

// A job that holds `table` (no run of it starts until it is Finished), for a
// change of the table's state that must not race a run. Errors:
// "table_conflict" while a job covering the table runs; "daemon_unavailable"
// unless `phase` is kServing.
Result<exec::Scheduler::Job> HoldTable(exec::Scheduler& scheduler, Phase phase,
                                       const std::string& table);

// The engine request of `jobs` (from one TakeReady or StartNow): their
// tables, or every table when one is a full job; `trigger` names the asker.
exec::RunRequest RequestFor(const std::vector<exec::Scheduler::Job>& jobs,
                            const std::string& trigger);

// How one engine run ended, carried from a coordinator thread to the io thread.
struct JobOutcome {
  exec::Scheduler::Result result;  // what the scheduler is told
  std::optional<Error> error;      // the run as a whole failed
  exec::CatalogStats catalog;
  int tables_known = 0;  // tables in the plan
  int changed = 0;       // tables with an action other than skip
  std::vector<std::string> succeeded;
  std::vector<std::string> failed;
  int64_t duration_ms = 0;
};

// The JobOutcome of an engine run: a failed run is a transient or permanent
// error for the scheduler; tables that failed transiently are retried, tables
// with files still being written are deferred.
JobOutcome Summarize(const Result<exec::RunOutcome>& outcome);

// True when `job` ending with `out` completes start-up (migrations and
// reconciliation are done before any job): a full scan that did not fail
// transiently (that one is retried first).
bool EndsStartUp(const exec::Scheduler::Job& job, const JobOutcome& out);

// Logs how `job` ended: errors, tables retried or deferred, and a full
// scan's summary (at debug level for a periodic scan that changed nothing).
void LogJobOutcome(const exec::Scheduler::Job& job, const JobOutcome& out);

// "full scan" or "table <name>", for log lines.
std::string Scope(const exec::Scheduler::Job& job);

}  // namespace landfall::daemon
