#include "lib/exec/scheduler.h"

#include <algorithm>
#include <cassert>
#include <set>

namespace landfall::exec {

std::chrono::milliseconds BackoffDelay(int attempt, std::chrono::milliseconds initial,
                                       std::chrono::milliseconds max) {
  auto delay = initial;
  for (int i = 1; i < attempt && delay < max; ++i) delay *= 2;
  return std::min(delay, max);
}

Scheduler::Scheduler(Options options) : options_(options) { assert(options_.max_parallel >= 1); }

void Scheduler::WantAt(Entry& entry, TimePoint when, const std::string& trigger) {
  if (!entry.due || when < *entry.due) {
    if (!entry.due) entry.trigger = trigger;
    entry.due = when;
  }
}

void Scheduler::Hint(Entry& entry, TimePoint now, const std::string& trigger) {
  if (entry.running) {
    // The running job may have scanned before this change: one follow-up run,
    // however many hints arrive meanwhile.
    if (!entry.follow_up) {
      entry.follow_up = now;
      entry.follow_up_trigger = trigger;
    }
    return;
  }
  // The window opens at the first hint; later hints join it, they do not
  // extend it, so a steady stream of events cannot starve a table.
  WantAt(entry, now + options_.debounce, trigger);
}

void Scheduler::Touch(const std::string& table, TimePoint now, const std::string& trigger) {
  assert(!table.empty());
  Hint(tables_[table], now, trigger);
}

void Scheduler::TouchAll(TimePoint now, const std::string& trigger) { Hint(full_, now, trigger); }

void Scheduler::Start(Entry& entry, Job& job) {
  job.id = next_id_++;
  job.trigger = entry.trigger.empty() ? "watcher" : entry.trigger;
  entry.running = true;
  entry.due.reset();
  entry.trigger.clear();
  ++running_;
}

Scheduler::Job Scheduler::StartFull() {
  Job job;
  Start(full_, job);
  // The full job scans everything after this instant, so it covers every
  // hint received so far; hints from now on wait for it to finish.
  for (auto& [name, entry] : tables_) {
    entry.due.reset();
    entry.transient_failures = 0;
    entry.not_before = {};
  }
  return job;
}

std::vector<Scheduler::Job> Scheduler::TakeReady(TimePoint now) {
  std::vector<Job> jobs;
  if (stopped_ || full_.running) return jobs;

  if (auto start = full_.start(); start && *start <= now) {
    // Exclusive: wait for the running table jobs to drain, starting no new one.
    if (running_ > 0) return jobs;
    jobs.push_back(StartFull());
    return jobs;
  }

  std::vector<std::pair<TimePoint, std::string>> ready;
  for (const auto& [name, entry] : tables_) {
    if (entry.running) continue;
    if (auto start = entry.start(); start && *start <= now) ready.emplace_back(*start, name);
  }
  std::sort(ready.begin(), ready.end());  // longest waiting first
  for (const auto& [when, name] : ready) {
    if (running_ >= options_.max_parallel) break;
    Job job;
    job.table = name;
    Start(tables_[name], job);
    jobs.push_back(std::move(job));
  }
  return jobs;
}

std::vector<Scheduler::Job> Scheduler::StartNow(const std::vector<std::string>& tables,
                                                const std::string& trigger) {
  std::vector<Job> jobs;
  if (stopped_ || full_.running) return jobs;
  if (tables.empty()) {
    if (running_ > 0) return jobs;
    full_.trigger = trigger;
    jobs.push_back(StartFull());
    return jobs;
  }
  const std::set<std::string> unique(tables.begin(), tables.end());
  for (const auto& table : unique) {
    if (Running(table)) return jobs;
  }
  for (const auto& table : unique) {
    Entry& entry = tables_[table];
    // The job scans the table after this instant: it covers any hint so far.
    entry.trigger = trigger;
    entry.transient_failures = 0;
    entry.not_before = {};
    Job job;
    job.table = table;
    Start(entry, job);
    jobs.push_back(std::move(job));
  }
  return jobs;
}

bool Scheduler::Pending(const std::string& table) const {
  auto it = tables_.find(table);
  return it != tables_.end() && !it->second.running && it->second.due.has_value();
}

bool Scheduler::Running(const std::string& table) const {
  if (full_.running) return true;
  auto it = tables_.find(table);
  return it != tables_.end() && it->second.running;
}

void Scheduler::Settle(Entry& entry, bool transient, bool deferred, TimePoint now) {
  if (transient) {
    // Still wanted, but not before the backoff is over; hints cannot shorten it.
    ++entry.transient_failures;
    entry.not_before = now + BackoffDelay(entry.transient_failures, options_.backoff_initial,
                                          options_.backoff_max);
    WantAt(entry, now, "retry");
  } else {
    entry.transient_failures = 0;
    entry.not_before = {};
  }
  if (deferred) {
    if (entry.deferred_retries < options_.max_deferred_retries) {
      ++entry.deferred_retries;
      WantAt(entry, now + options_.deferred_retry, "deferred");
    }
  } else {
    entry.deferred_retries = 0;
  }
  if (entry.follow_up) {
    WantAt(entry, std::max(now, *entry.follow_up + options_.debounce), entry.follow_up_trigger);
    entry.follow_up.reset();
  }
}

void Scheduler::Finished(const Job& job, const Result& result, TimePoint now) {
  Entry& entry = job.full() ? full_ : tables_[job.table];
  assert(entry.running && running_ > 0);
  entry.running = false;
  --running_;

  auto contains = [](const std::vector<std::string>& v, const std::string& x) {
    return std::find(v.begin(), v.end(), x) != v.end();
  };
  const bool whole_transient = result.status == Result::kTransientError;
  if (job.full()) {
    Settle(full_, whole_transient, false, now);
    // A full job covers every table: per-table outcomes go to their entries.
    for (const auto& table : result.retry_tables) {
      Settle(tables_[table], true, contains(result.deferred_tables, table), now);
    }
    for (const auto& table : result.deferred_tables) {
      if (!contains(result.retry_tables, table)) Settle(tables_[table], false, true, now);
    }
  } else {
    Settle(entry, whole_transient || contains(result.retry_tables, job.table),
           contains(result.deferred_tables, job.table), now);
  }
}

std::optional<Scheduler::TimePoint> Scheduler::EarliestTableStart() const {
  std::optional<TimePoint> earliest;
  for (const auto& [name, entry] : tables_) {
    if (entry.running) continue;
    if (auto start = entry.start(); start && (!earliest || *start < *earliest)) earliest = start;
  }
  return earliest;
}

std::optional<Scheduler::TimePoint> Scheduler::NextWakeup() const {
  if (stopped_ || full_.running || running_ >= options_.max_parallel) return std::nullopt;
  const auto tables = EarliestTableStart();
  const auto full = full_.start();
  if (!full) return tables;
  if (running_ > 0) {
    // Once the full job is due, nothing starts before the running jobs finish
    // (and Finished() is followed by TakeReady()).
    if (tables && *tables < *full) return tables;
    return std::nullopt;
  }
  return tables && *tables < *full ? tables : full;
}

Scheduler::Stats Scheduler::GetStats() const {
  Stats stats;
  stats.running = running_;
  auto count = [&](const Entry& e) {
    if (e.due && !e.running) ++stats.waiting;
    if (e.transient_failures > 0) ++stats.retrying;
  };
  count(full_);
  for (const auto& [name, entry] : tables_) count(entry);
  return stats;
}

}  // namespace landfall::exec
