// The daemon's scheduler: decides which runs to start and when, from hints
// (watcher events, timers) and from how earlier runs ended. Pure logic: it
// never reads a clock, sleeps or runs anything; every call takes `now`, and the
// caller starts the jobs TakeReady() hands out and reports each back with
// Finished(). Not thread-safe: one thread (the daemon's io_context) owns it.
//
// Rules:
// - A table is "dirty" from its first hint until a run of it starts. Hints
//   within `debounce` of the first one coalesce into one run, due at first
//   hint + debounce (a steady stream of hints cannot postpone it further).
// - At most one job per table at a time; different tables run in parallel, up
//   to `max_parallel` jobs. A hint for a running table asks for ONE follow-up
//   run after it, however many hints arrive.
// - A full job (every table: start-up, inotify overflow, periodic scan) is
//   exclusive: once due, no new table job starts; it starts when the running
//   ones have finished, and covers every table dirty at that moment.
// - A job that failed transiently (state store down, warehouse busy) is
//   retried after a capped exponential backoff; new hints do not shorten it.
//   A job that failed otherwise is not retried until its next hint (the
//   engine records the table as failed).
// - A table with files still being written (deferred) is looked at again
//   after `deferred_retry`, at most `max_deferred_retries` times in a row.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace landfall::exec {

// min(initial * 2^(attempt-1), max) for attempt >= 1.
std::chrono::milliseconds BackoffDelay(int attempt, std::chrono::milliseconds initial,
                                       std::chrono::milliseconds max);

class Scheduler {
 public:
  using Clock = std::chrono::steady_clock;
  using TimePoint = Clock::time_point;

  struct Options {
    std::chrono::milliseconds debounce{200};
    int max_parallel = 4;
    std::chrono::milliseconds backoff_initial{500};
    std::chrono::milliseconds backoff_max{30'000};
    std::chrono::milliseconds deferred_retry{1000};
    int max_deferred_retries = 20;
  };

  struct Job {
    uint64_t id = 0;
    std::string table;    // empty: a full job (every table)
    std::string trigger;  // what asked for it first: "watcher", "startup", "scan", "retry", ...
    bool full() const { return table.empty(); }
  };

  struct Result {
    enum Status {
      kDone,            // the run happened (tables in it may still have failed)
      kTransientError,  // the run as a whole failed, retrying may help
      kError,           // the run as a whole failed; wait for the next hint
    };
    Status status = kDone;
    // Tables whose run failed transiently: retried with backoff.
    std::vector<std::string> retry_tables;
    // Tables with files still being written: looked at again shortly.
    std::vector<std::string> deferred_tables;
  };

  struct Stats {
    int running = 0;   // jobs in flight
    int waiting = 0;   // tables (and the full job) due or dirty, not running
    int retrying = 0;  // tables (and the full job) backing off after transient errors
  };

  explicit Scheduler(Options options);

  // A hint that `table` changed. `trigger` names the source for the run.
  void Touch(const std::string& table, TimePoint now, const std::string& trigger = "watcher");
  // A hint that anything may have changed: asks for a full job.
  void TouchAll(TimePoint now, const std::string& trigger = "scan");

  // The jobs to start now; each is marked running until Finished(). Empty
  // after Stop().
  std::vector<Job> TakeReady(TimePoint now);

  // Starts jobs at once, without waiting for hints or the debounce (an
  // operator asked, over the API): one per table in `tables`, or a full job
  // when `tables` is empty. All or nothing: empty when one of the tables or a
  // full job is running (for a full job: when any job is running), or after
  // Stop(). max_parallel does not apply. Each job is reported with Finished().
  std::vector<Job> StartNow(const std::vector<std::string>& tables, const std::string& trigger);
  // True when a job covering `table` (its own, or a full job) is running.
  bool Running(const std::string& table) const;
  // True when a run of `table` is wanted (hinted, due or backing off) and not
  // running; a StartNow() job of the table takes that want with it.
  bool Pending(const std::string& table) const;

  // Reports how a job from TakeReady() or StartNow() ended.
  void Finished(const Job& job, const Result& result, TimePoint now);

  // When TakeReady() may next return a job, if no event comes first;
  // nullopt when only a Touch or a Finished can make one ready. May be <= now.
  std::optional<TimePoint> NextWakeup() const;

  // Stops handing out jobs; running ones still report Finished().
  void Stop() { stopped_ = true; }
  // True when no job is running.
  bool Idle() const { return running_ == 0; }

  void set_debounce(std::chrono::milliseconds debounce) { options_.debounce = debounce; }
  const Options& options() const { return options_; }
  Stats GetStats() const;

 private:
  // One table, or the full job.
  struct Entry {
    std::optional<TimePoint> due;  // dirty: a run is wanted from this time on
    std::string trigger;           // what made it dirty
    TimePoint not_before{};        // backoff after a transient failure
    bool running = false;
    std::optional<TimePoint> follow_up;  // first hint while running
    std::string follow_up_trigger;
    int transient_failures = 0;  // in a row
    int deferred_retries = 0;    // in a row
    // When it may start, if dirty.
    std::optional<TimePoint> start() const {
      if (!due) return std::nullopt;
      return std::max(*due, not_before);
    }
  };

  void Hint(Entry& entry, TimePoint now, const std::string& trigger);
  // Makes `entry` dirty from `when` on, unless it already is from earlier.
  static void WantAt(Entry& entry, TimePoint when, const std::string& trigger);
  void Start(Entry& entry, Job& job);
  // Starts the full job; it covers every table hint so far.
  Job StartFull();
  void Settle(Entry& entry, bool transient, bool deferred, TimePoint now);
  std::optional<TimePoint> EarliestTableStart() const;

  Options options_;
  std::map<std::string, Entry> tables_;
  Entry full_;
  int running_ = 0;  // jobs in flight, the full job included
  uint64_t next_id_ = 1;
  bool stopped_ = false;
};

}  // namespace landfall::exec
