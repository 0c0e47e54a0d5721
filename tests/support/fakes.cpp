#include "tests/support/fakes.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>

namespace landfall::testing {

// ---- FakeFooterReader ----

void FakeFooterReader::Set(const std::filesystem::path& file, schema::FooterInfo info) {
  std::lock_guard lock(mu_);
  footers_.insert_or_assign(file, std::move(info));
}

void FakeFooterReader::SetError(const std::filesystem::path& file, const std::string& code) {
  std::lock_guard lock(mu_);
  footers_.insert_or_assign(file, Fail(code, "fake footer error: " + code));
}

Result<schema::FooterInfo> FakeFooterReader::Read(const std::filesystem::path& file) {
  ++reads_;
  std::lock_guard lock(mu_);
  auto it = footers_.find(file);
  if (it == footers_.end()) return Fail("not_parquet", file.string() + ": no footer set");
  return it->second;
}

// ---- FakeStateStore ----

Status FakeStateStore::Check() const {
  if (down.load()) return Fail("state_unavailable", "fake: PostgreSQL is down", /*transient=*/true);
  return Ok();
}

std::map<std::string, state::BatchRecord> FakeStateStore::Batches() const {
  std::lock_guard lock(mu_);
  return batches_;
}

std::map<std::string, state::TableRecord> FakeStateStore::Tables() const {
  std::lock_guard lock(mu_);
  return tables_;
}

std::map<int64_t, std::string> FakeStateStore::RunStatuses() const {
  std::lock_guard lock(mu_);
  std::map<int64_t, std::string> out;
  for (const auto& [id, run] : runs_) out[id] = run.status;
  return out;
}

Status FakeStateStore::Migrate() {
  std::lock_guard lock(mu_);
  return Check();
}

Result<state::EnvironmentState> FakeStateStore::Load() {
  if (on_load) on_load();
  std::lock_guard lock(mu_);
  if (auto s = Check(); !s) return Fail(s.error());
  state::EnvironmentState out;
  out.format_version = format_version_;
  for (const auto& [name, t] : tables_) out.tables.push_back(t);
  for (const auto& [path, b] : batches_) out.batches.push_back(b);
  return out;
}

Status FakeStateStore::SetFormatVersion(int version) {
  std::lock_guard lock(mu_);
  if (auto s = Check(); !s) return s;
  format_version_ = version;
  return Ok();
}

Status FakeStateStore::UpsertBatches(const std::vector<state::BatchRecord>& batches) {
  return RecordTableOutcome(batches, std::nullopt, 0, nullptr);
}

Status FakeStateStore::DeleteBatches(const std::vector<std::string>& paths) {
  std::lock_guard lock(mu_);
  if (auto s = Check(); !s) return s;
  for (const auto& p : paths) batches_.erase(p);
  return Ok();
}

Status FakeStateStore::SaveTable(const state::TableRecord& table) {
  return RecordTableOutcome({}, table, 0, nullptr);
}

Result<bool> FakeStateStore::DeleteTable(const std::string& table) {
  std::lock_guard lock(mu_);
  if (auto s = Check(); !s) return Fail(s.error());
  return tables_.erase(table) > 0;
}

Result<int64_t> FakeStateStore::StartRun(const std::string& trigger, const std::string& plan_json) {
  std::lock_guard lock(mu_);
  if (auto s = Check(); !s) return Fail(s.error());
  const int64_t id = next_run_id_++;
  runs_[id] = {id, trigger, "running", 0, 0, plan_json, ""};
  return id;
}

Status FakeStateStore::RecordTableOutcome(const std::vector<state::BatchRecord>& staged,
                                          const std::optional<state::TableRecord>& table,
                                          int64_t run_id, const state::TableRunRecord* run) {
  std::lock_guard lock(mu_);
  if (auto s = Check(); !s) return s;
  if (run && run_id > 0 && !runs_.contains(run_id)) return Fail("state_not_found", "no such run");
  for (const auto& b : staged) batches_[b.path] = b;
  if (table) tables_[table->name] = *table;
  if (run && run_id > 0) {
    table_runs_[run_id].push_back(*run);
    table_runs_[run_id].back().run_id = run_id;
  }
  return Ok();
}

Status FakeStateStore::FinishRun(int64_t run_id, const std::string& status, const std::string& error) {
  std::lock_guard lock(mu_);
  if (auto s = Check(); !s) return s;
  auto it = runs_.find(run_id);
  if (it == runs_.end()) return Fail("state_not_found", "no such run");
  it->second.status = status;
  it->second.error = error;
  return Ok();
}

Result<std::vector<state::RunSummary>> FakeStateStore::MarkRunsInterrupted() {
  std::lock_guard lock(mu_);
  if (auto s = Check(); !s) return Fail(s.error());
  std::vector<state::RunSummary> marked;
  for (auto& [id, run] : runs_) {
    if (run.status != "running") continue;
    run.status = "interrupted";
    marked.push_back(run);
  }
  return marked;
}

std::vector<state::RunSummary> FakeStateStore::RunsNewestFirst(int limit, const std::string& status) const {
  std::vector<state::RunSummary> out;
  for (auto it = runs_.rbegin(); it != runs_.rend(); ++it) {
    if (limit > 0 && static_cast<int>(out.size()) >= limit) break;
    if (status.empty() || it->second.status == status) out.push_back(it->second);
  }
  return out;
}

Result<std::vector<state::RunSummary>> FakeStateStore::ListRuns(int limit) {
  std::lock_guard lock(mu_);
  if (auto s = Check(); !s) return Fail(s.error());
  return RunsNewestFirst(limit, "");
}

Result<std::vector<state::RunSummary>> FakeStateStore::FindRuns(int limit, const std::string& status) {
  std::lock_guard lock(mu_);
  if (auto s = Check(); !s) return Fail(s.error());
  auto runs = RunsNewestFirst(limit, status);
  for (auto& r : runs) r.plan_json.clear();
  return runs;
}

Result<std::optional<state::RunSummary>> FakeStateStore::GetRun(int64_t run_id) {
  std::lock_guard lock(mu_);
  if (auto s = Check(); !s) return Fail(s.error());
  auto it = runs_.find(run_id);
  if (it == runs_.end()) return std::optional<state::RunSummary>();
  return std::optional<state::RunSummary>(it->second);
}

Result<std::vector<state::TableRunRecord>> FakeStateStore::TableRuns(int64_t run_id) {
  std::lock_guard lock(mu_);
  if (auto s = Check(); !s) return Fail(s.error());
  auto it = table_runs_.find(run_id);
  return it == table_runs_.end() ? std::vector<state::TableRunRecord>{} : it->second;
}

Result<std::vector<state::TableRunRecord>> FakeStateStore::TableHistory(const std::string& table,
                                                                        int limit) {
  std::lock_guard lock(mu_);
  if (auto s = Check(); !s) return Fail(s.error());
  std::vector<state::TableRunRecord> out;
  for (auto it = table_runs_.rbegin(); it != table_runs_.rend(); ++it) {
    for (const auto& r : it->second) {
      if (r.table == table && (limit <= 0 || static_cast<int>(out.size()) < limit)) out.push_back(r);
    }
  }
  return out;
}

Result<state::PruneStats> FakeStateStore::PruneHistory(int /*retention_days*/, int /*chunk*/) {
  std::lock_guard lock(mu_);
  if (auto s = Check(); !s) return Fail(s.error());
  return state::PruneStats{};  // keeps everything
}

Result<std::vector<state::TableSummary>> FakeStateStore::TableSummaries(const std::string& table) {
  std::lock_guard lock(mu_);
  if (auto s = Check(); !s) return Fail(s.error());
  std::map<std::string, state::TableSummary> by_name;
  for (const auto& [name, t] : tables_) by_name[name].table = t;
  for (const auto& [path, b] : batches_) {
    auto& s = by_name[b.table];
    s.table.name = b.table;
    if (b.status == state::BatchStatus::kStaged) ++s.staged, s.rows_staged += b.rows;
    if (b.status == state::BatchStatus::kPending) ++s.pending;
    if (b.status == state::BatchStatus::kQuarantined) ++s.quarantined;
    if (b.status == state::BatchStatus::kDuplicate) ++s.duplicate;
  }
  std::vector<state::TableSummary> out;
  for (auto& [name, s] : by_name) {
    if (table.empty() || name == table) out.push_back(std::move(s));
  }
  return out;
}

Result<std::vector<state::SchemaVersion>> FakeStateStore::SchemaHistory(const std::string& table,
                                                                        int /*limit*/) {
  std::lock_guard lock(mu_);
  if (auto s = Check(); !s) return Fail(s.error());
  std::vector<state::SchemaVersion> out;  // the current snapshot only
  if (auto it = tables_.find(table); it != tables_.end() && !it->second.schema_json.empty()) {
    out.push_back({it->second.schema_hash, it->second.schema_json, it->second.updated_at_us});
  }
  return out;
}

Result<std::vector<state::BatchRecord>> FakeStateStore::FindBatches(const state::BatchFilter& filter) {
  std::lock_guard lock(mu_);
  if (auto s = Check(); !s) return Fail(s.error());
  std::vector<state::BatchRecord> out;
  for (const auto& [path, b] : batches_) {
    if (!filter.table.empty() && b.table != filter.table) continue;
    if (filter.status && b.status != *filter.status) continue;
    out.push_back(b);
  }
  if (filter.newest_first) {
    std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
      return a.discovered_at_us > b.discovered_at_us;
    });
  }
  if (filter.limit > 0 && static_cast<int>(out.size()) > filter.limit) out.resize(filter.limit);
  return out;
}

Result<std::vector<state::ModelRecord>> FakeStateStore::Models() {
  std::lock_guard lock(mu_);
  if (auto s = Check(); !s) return Fail(s.error());
  std::vector<state::ModelRecord> out;
  for (const auto& [name, m] : models_) out.push_back(m);
  return out;
}

Status FakeStateStore::RecordModelOutcome(const std::optional<state::ModelRecord>& model,
                                          int64_t run_id, const state::ModelRunRecord* run) {
  std::lock_guard lock(mu_);
  if (auto s = Check(); !s) return s;
  if (model) models_[model->name] = *model;
  if (run && run_id > 0) {
    if (!runs_.contains(run_id)) return Fail("state_not_found", "no such run");
    model_runs_[run_id].push_back(*run);
    model_runs_[run_id].back().run_id = run_id;
  }
  return Ok();
}

Result<bool> FakeStateStore::DeleteModel(const std::string& model) {
  std::lock_guard lock(mu_);
  if (auto s = Check(); !s) return Fail(s.error());
  auto it = models_.find(model);
  if (it == models_.end()) return false;
  state::ModelRecord reset;
  reset.name = model;
  reset.strategy = it->second.strategy;
  reset.status = state::ModelStatus::kReset;
  it->second = reset;
  partitions_.erase(model);
  return true;
}

Result<std::vector<state::ModelRunRecord>> FakeStateStore::ModelHistory(const std::string& model,
                                                                        int limit) {
  std::lock_guard lock(mu_);
  if (auto s = Check(); !s) return Fail(s.error());
  std::vector<state::ModelRunRecord> out;
  for (auto it = model_runs_.rbegin(); it != model_runs_.rend(); ++it) {
    for (auto r = it->second.rbegin(); r != it->second.rend(); ++r) {
      if (r->model == model && (limit <= 0 || static_cast<int>(out.size()) < limit)) {
        out.push_back(*r);
      }
    }
  }
  return out;
}

Result<std::vector<state::ModelRunRecord>> FakeStateStore::ModelRuns(int64_t run_id) {
  std::lock_guard lock(mu_);
  if (auto s = Check(); !s) return Fail(s.error());
  auto it = model_runs_.find(run_id);
  return it == model_runs_.end() ? std::vector<state::ModelRunRecord>{} : it->second;
}

Result<std::vector<state::ModelRunRecord>> FakeStateStore::LastModelRuns() {
  std::lock_guard lock(mu_);
  if (auto s = Check(); !s) return Fail(s.error());
  std::map<std::string, state::ModelRunRecord> newest;  // runs and records in order: the last wins
  for (const auto& [id, records] : model_runs_) {
    for (const auto& r : records) {
      if (models_.contains(r.model)) newest[r.model] = r;
    }
  }
  std::vector<state::ModelRunRecord> out;
  for (auto& [name, r] : newest) out.push_back(std::move(r));
  return out;
}

Result<bool> FakeStateStore::SaveDagSnapshot(int64_t run_id, const std::string& dag_json) {
  std::lock_guard lock(mu_);
  if (auto s = Check(); !s) return Fail(s.error());
  if (!runs_.contains(run_id)) return Fail("state_not_found", "no such run");
  if (!dags_.empty() && dags_.back() == dag_json) return false;
  dags_.push_back(dag_json);
  return true;
}

Result<std::optional<std::string>> FakeStateStore::LatestDag() {
  std::lock_guard lock(mu_);
  if (auto s = Check(); !s) return Fail(s.error());
  if (dags_.empty()) return std::optional<std::string>();
  return std::optional<std::string>(dags_.back());
}

Status FakeStateStore::SavePartitions(const std::vector<state::PartitionRecord>& partitions) {
  std::lock_guard lock(mu_);
  if (auto s = Check(); !s) return s;
  for (const auto& partition : partitions) {
    partitions_[partition.model][partition.key] = partition;
  }
  return Ok();
}

Result<std::vector<state::PartitionRecord>> FakeStateStore::Partitions(
    const std::string& model, const state::PartitionFilter& filter) {
  std::lock_guard lock(mu_);
  if (auto s = Check(); !s) return Fail(s.error());
  std::vector<state::PartitionRecord> out;
  auto it = partitions_.find(model);
  if (it == partitions_.end()) return out;
  for (const auto& [key, partition] : it->second) {
    if (!filter.status.empty() && filter.status != state::ToString(partition.status)) continue;
    if (!filter.from.empty() && key < filter.from) continue;
    if (!filter.to.empty() && key > filter.to) continue;
    if (filter.limit > 0 && static_cast<int>(out.size()) >= filter.limit) break;
    out.push_back(partition);
  }
  return out;
}

Result<int64_t> FakeStateStore::MarkPartitionsInterrupted() {
  std::lock_guard lock(mu_);
  if (auto s = Check(); !s) return Fail(s.error());
  int64_t marked = 0;
  for (auto& [model, keys] : partitions_) {
    for (auto& [key, partition] : keys) {
      if (partition.status != state::PartitionStatus::kInProgress) continue;
      partition.status = state::PartitionStatus::kInterrupted;
      ++marked;
    }
  }
  return marked;
}

Status FakeStateStore::DeletePartitions(const std::string& model) {
  std::lock_guard lock(mu_);
  if (auto s = Check(); !s) return s;
  partitions_.erase(model);
  return Ok();
}

Status FakeStateStore::RecordChecks(int64_t run_id, const std::vector<state::CheckRecord>& checks) {
  std::lock_guard lock(mu_);
  if (auto s = Check(); !s) return s;
  if (checks.empty()) return Ok();
  if (!runs_.contains(run_id)) return Fail("state_not_found", "no such run");
  for (auto record : checks) {
    record.run_id = run_id;
    checks_.push_back(std::move(record));
  }
  return Ok();
}

Result<std::vector<state::CheckRecord>> FakeStateStore::ModelChecks(const std::string& model,
                                                                    const std::string& check, int limit) {
  std::lock_guard lock(mu_);
  if (auto s = Check(); !s) return Fail(s.error());
  std::vector<state::CheckRecord> out;
  for (auto it = checks_.rbegin(); it != checks_.rend(); ++it) {
    if (limit > 0 && static_cast<int>(out.size()) >= limit) break;
    if (it->model == model && (check.empty() || it->check == check)) out.push_back(*it);
  }
  return out;
}

// ---- FakeWarehouse ----

std::vector<std::string> FakeWarehouse::Loads() const {
  std::lock_guard lock(mu_);
  return loads_;
}

std::map<std::string, warehouse::TableContents> FakeWarehouse::Contents() const {
  std::lock_guard lock(mu_);
  return tables_;
}

Result<warehouse::ApplyStats> FakeWarehouse::Load(const std::string& table, const schema::Schema& target,
                                                  std::span<const warehouse::BatchFile> batches,
                                                  bool rebuild) {
  ++statements_;
  std::lock_guard lock(mu_);
  loads_.push_back(table);
  if (fail_tables.contains(table)) {
    return Fail("warehouse_error", "fake: loading " + table + " failed");
  }
  auto& contents = tables_[table];
  if (rebuild) {
    contents.ledger.clear();
    rows_[table] = 0;
  } else if (!contents.exists) {
    return Fail("warehouse_table_missing", "fake: no table " + table);
  }
  contents.exists = true;
  contents.columns = target;
  warehouse::ApplyStats stats;
  for (const auto& b : batches) {
    if (reject_paths.contains(b.rel_path)) {
      stats.rejected.push_back({b.batch_id, b.rel_path, "undecodable", "fake: cannot decode"});
      continue;
    }
    if (contents.ledger.contains(b.batch_id)) continue;
    contents.ledger[b.batch_id] = {b.batch_id, b.rel_path, b.rows, 1};
    rows_[table] += b.rows;
    stats.rows += b.rows;
    ++stats.batches;
  }
  return stats;
}

Result<warehouse::ApplyStats> FakeWarehouse::Append(const std::string& table, const schema::Schema& target,
                                                    std::span<const warehouse::BatchFile> batches) {
  return Load(table, target, batches, /*rebuild=*/false);
}

Result<warehouse::ApplyStats> FakeWarehouse::Evolve(const std::string& table, const schema::Schema& target,
                                                    std::span<const warehouse::ColumnRename> /*renames*/,
                                                    std::span<const warehouse::BatchFile> batches) {
  return Load(table, target, batches, /*rebuild=*/false);
}

Result<warehouse::ApplyStats> FakeWarehouse::Rebuild(const std::string& table, const schema::Schema& target,
                                                     std::span<const warehouse::BatchFile> batches,
                                                     std::span<const std::string> /*carry_over*/) {
  return Load(table, target, batches, /*rebuild=*/true);
}

Status FakeWarehouse::Drop(const std::string& table) {
  ++statements_;
  std::lock_guard lock(mu_);
  tables_.erase(table);
  rows_.erase(table);
  return Ok();
}

Result<std::string> FakeWarehouse::CommonSupertype(const std::string& a, const std::string& b) {
  if (a == b) return a;
  return Fail("no_common_supertype", "fake: no supertype of " + a + " and " + b);
}

Result<int64_t> FakeWarehouse::RowCount(const std::string& table) {
  std::lock_guard lock(mu_);
  auto it = rows_.find(table);
  if (it == rows_.end()) return Fail("warehouse_table_missing", "fake: no table " + table);
  return it->second;
}

// ---- FakeWatcher ----

FakeWatcher::FakeWatcher() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

FakeWatcher::~FakeWatcher() {
  if (fd_ >= 0) ::close(fd_);
}

void FakeWatcher::Push(landing::WatchEvent event) {
  queued_.push_back(std::move(event));
  const uint64_t one = 1;
  (void)!::write(fd_, &one, sizeof one);
}

std::vector<landing::WatchEvent> FakeWatcher::ReadEvents() {
  uint64_t count = 0;
  (void)!::read(fd_, &count, sizeof count);  // drained: not readable until the next Push
  return std::exchange(queued_, {});
}

void FakeWatcher::Rewatch() {
  ++rewatches;
  degraded = false;
}

}  // namespace landfall::testing
