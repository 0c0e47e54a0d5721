// In-memory fakes for the engine's seams, for unit tests of the decisions the
// catalog and the engine make themselves. Each is small, thread-safe (the
// engine calls the seams from worker threads) and records what it was asked;
// failures are injected by setting a field. The integration tests (tests/cli,
// tests/exec/engine_test.cpp) use the real PostgreSQL, DuckDB and inotify.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "lib/common/clock.h"
#include "lib/landing/watcher.h"
#include "lib/schema/footer.h"
#include "lib/state/state_store.h"
#include "lib/warehouse/warehouse.h"
#include "tests/support/fake_clock.h"

namespace landfall::testing {

// Footers by file path; a file with none set is "not_parquet". The files
// themselves need only exist (the catalog fingerprints them).
class FakeFooterReader final : public schema::FooterReader {
 public:
  void Set(const std::filesystem::path& file, schema::FooterInfo info);
  void SetError(const std::filesystem::path& file, const std::string& code);
  Result<schema::FooterInfo> Read(const std::filesystem::path& file) override;
  int reads() const { return reads_.load(); }

 private:
  std::mutex mu_;  // guards footers_
  std::map<std::filesystem::path, Result<schema::FooterInfo>> footers_;
  std::atomic<int> reads_{0};
};

// What the engine remembers, in maps. With `down` set every call fails as
// PostgreSQL being unreachable ("state_unavailable", transient).
class FakeStateStore final : public state::StateStore {
 public:
  std::atomic<bool> down{false};
  // Called at the start of every Load, outside the store's lock (set it
  // before the engine starts).
  std::function<void()> on_load;

  // What it holds (a copy, taken under its lock).
  std::map<std::string, state::BatchRecord> Batches() const;
  std::map<std::string, state::TableRecord> Tables() const;
  // Finished runs' statuses by id ("running" until FinishRun).
  std::map<int64_t, std::string> RunStatuses() const;

  Status Migrate() override;
  Result<state::EnvironmentState> Load() override;
  Status SetFormatVersion(int version) override;
  Status UpsertBatches(const std::vector<state::BatchRecord>& batches) override;
  Status DeleteBatches(const std::vector<std::string>& paths) override;
  Status SaveTable(const state::TableRecord& table) override;
  Result<bool> DeleteTable(const std::string& table) override;
  Result<int64_t> StartRun(const std::string& trigger, const std::string& plan_json) override;
  Status RecordTableOutcome(const std::vector<state::BatchRecord>& staged,
                            const std::optional<state::TableRecord>& table, int64_t run_id,
                            const state::TableRunRecord* run) override;
  Status FinishRun(int64_t run_id, const std::string& status, const std::string& error) override;
  Result<std::vector<state::RunSummary>> MarkRunsInterrupted() override;
  Result<std::vector<state::RunSummary>> ListRuns(int limit) override;
  Result<std::vector<state::TableRunRecord>> TableRuns(int64_t run_id) override;
  Result<state::PruneStats> PruneHistory(int retention_days, int chunk) override;
  Result<std::vector<state::TableSummary>> TableSummaries(const std::string& table) override;
  Result<std::vector<state::SchemaVersion>> SchemaHistory(const std::string& table, int limit) override;
  Result<std::vector<state::BatchRecord>> FindBatches(const state::BatchFilter& filter) override;
  Result<std::vector<state::TableRunRecord>> TableHistory(const std::string& table, int limit) override;
  Result<std::optional<state::RunSummary>> GetRun(int64_t run_id) override;
  Result<std::vector<state::RunSummary>> FindRuns(int limit, const std::string& status) override;
  Result<std::vector<state::ModelRecord>> Models() override;
  Status RecordModelOutcome(const std::optional<state::ModelRecord>& model, int64_t run_id,
                            const state::ModelRunRecord* run) override;
  Result<bool> DeleteModel(const std::string& model) override;
  Result<std::vector<state::ModelRunRecord>> ModelHistory(const std::string& model, int limit) override;
  Result<std::vector<state::ModelRunRecord>> ModelRuns(int64_t run_id) override;
  Result<std::vector<state::ModelRunRecord>> LastModelRuns() override;
  // Compares the text as given (the real store compares JSON values).
  Result<bool> SaveDagSnapshot(int64_t run_id, const std::string& dag_json) override;
  Result<std::optional<std::string>> LatestDag() override;
  Status SavePartitions(const std::vector<state::PartitionRecord>& partitions) override;
  Result<std::vector<state::PartitionRecord>> Partitions(const std::string& model,
                                                         const state::PartitionFilter& filter) override;
  Result<int64_t> MarkPartitionsInterrupted() override;
  Status DeletePartitions(const std::string& model) override;
  Status RecordChecks(int64_t run_id, const std::vector<state::CheckRecord>& checks) override;
  Result<std::vector<state::CheckRecord>> ModelChecks(const std::string& model, const std::string& check,
                                                      int limit) override;

 private:
  Status Check() const;  // the injected outage, if any; needs mu_
  std::vector<state::RunSummary> RunsNewestFirst(int limit, const std::string& status) const;

  mutable std::mutex mu_;  // guards the fields below
  std::optional<int> format_version_;
  std::map<std::string, state::BatchRecord> batches_;
  std::map<std::string, state::TableRecord> tables_;
  std::map<int64_t, state::RunSummary> runs_;
  std::map<int64_t, std::vector<state::TableRunRecord>> table_runs_;
  std::map<std::string, state::ModelRecord> models_;
  std::map<int64_t, std::vector<state::ModelRunRecord>> model_runs_;
  std::vector<std::string> dags_;  // DAG snapshots, oldest first
  // Partitions by model, then key (keys of one granularity sort as text).
  std::map<std::string, std::map<std::string, state::PartitionRecord>> partitions_;
  std::vector<state::CheckRecord> checks_;  // oldest first
  int64_t next_run_id_ = 1;
};

// Staging tables as their ledgers and row counts. Tables in `fail_tables`
// fail their load ("warehouse_error"); batches whose rel path is in
// `reject_paths` are left out as "undecodable" (ApplyStats::rejected).
class FakeWarehouse final : public warehouse::Warehouse {
 public:
  std::set<std::string> fail_tables;
  std::set<std::string> reject_paths;
  // Called at the start of every Inspect (set it before the engine starts).
  std::function<void()> on_inspect;

  // Tables loaded (Append, Evolve, Rebuild), in the order asked.
  std::vector<std::string> Loads() const;
  std::map<std::string, warehouse::TableContents> Contents() const;

  Status Init() override { return Ok(); }
  Result<std::map<std::string, warehouse::TableContents>> Inspect() override {
    if (on_inspect) on_inspect();
    return Contents();
  }
  Result<warehouse::ApplyStats> Append(const std::string& table, const schema::Schema& target,
                                       std::span<const warehouse::BatchFile> batches) override;
  Result<warehouse::ApplyStats> Evolve(const std::string& table, const schema::Schema& target,
                                       std::span<const warehouse::ColumnRename> renames,
                                       std::span<const warehouse::BatchFile> batches) override;
  using warehouse::Warehouse::Rebuild;
  Result<warehouse::ApplyStats> Rebuild(const std::string& table, const schema::Schema& target,
                                        std::span<const warehouse::BatchFile> batches,
                                        std::span<const std::string> carry_over) override;
  Status Drop(const std::string& table) override;
  // Equal types are their own supertype; any other pair has none.
  Result<std::string> CommonSupertype(const std::string& a, const std::string& b) override;
  int64_t StatementsExecuted() const override { return statements_.load(); }
  Result<int64_t> RowCount(const std::string& table) override;

 private:
  // Loads `batches` into `table` (replacing its ledger first when `rebuild`).
  Result<warehouse::ApplyStats> Load(const std::string& table, const schema::Schema& target,
                                     std::span<const warehouse::BatchFile> batches, bool rebuild);

  mutable std::mutex mu_;  // guards the fields below
  std::map<std::string, warehouse::TableContents> tables_;
  std::map<std::string, int64_t> rows_;
  std::vector<std::string> loads_;
  std::atomic<int64_t> statements_{0};
};

// Events queued by the test (Push), returned by ReadEvents; its handle (an
// eventfd) is readable while any are queued.
class FakeWatcher final : public landing::Watcher {
 public:
  FakeWatcher();
  ~FakeWatcher() override;
  FakeWatcher(const FakeWatcher&) = delete;
  FakeWatcher& operator=(const FakeWatcher&) = delete;

  void Push(landing::WatchEvent event);
  bool degraded = false;
  int rewatches = 0;

  int NativeHandle() const override { return fd_; }
  std::vector<landing::WatchEvent> ReadEvents() override;
  bool Degraded() const override { return degraded; }
  void Rewatch() override;

 private:
  int fd_ = -1;
  std::vector<landing::WatchEvent> queued_;
};

}  // namespace landfall::testing
