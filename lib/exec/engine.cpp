#include "lib/exec/engine.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <future>

#include "lib/exec/model_checks.h"
#include "lib/landing/catalog.h"

namespace landfall::exec {

namespace fs = std::filesystem;
using state::BatchStatus;

namespace {

std::vector<double> PartitionSeconds(const std::vector<PartitionOutcome>& partitions) {
  std::vector<double> out;
  for (const auto& p : partitions) {
    if (p.ok) out.push_back(p.duration_us / 1e6);
  }
  return out;
}

int PartitionsFailed(const std::vector<PartitionOutcome>& partitions) {
  int n = 0;
  for (const auto& p : partitions) n += !p.ok;
  return n;
}

}  // namespace

bool RunOutcome::ok() const {
  return !models_error && std::all_of(tables.begin(), tables.end(), [](const TableOutcome& t) {
    return t.status != state::TableRunStatus::kFailed;
  }) && std::none_of(models.begin(), models.end(), [](const ModelOutcome& m) {
    return m.failed();
  });
}

struct Engine::Prepared {
  plan::ChangePlan plan;
  int64_t plan_us = 0;  // see RunOutcome
  int replanned = 0;
};

Engine::Engine(config::Config config, state::StateStore& state, warehouse::Warehouse& warehouse,
               schema::FooterReader& footers, ThreadPool& pool, const Clock& clock)
    : config_(std::move(config)),
      state_(state),
      warehouse_(warehouse),
      pool_(pool),
      clock_(clock),
      models_(config_, state, warehouse, pool, clock),
      catalog_(config_.landing, footers, pool, clock) {}

schema::SupertypeFn Engine::Supertype() {
  return [this](const std::string& a, const std::string& b) {
    // Numbers are landfall's to widen, not the warehouse's: DuckDB's answer
    // for DECIMAL(38,2) and DECIMAL(38,4) is DECIMAL(38,2), and for BIGINT and
    // FLOAT it is FLOAT, both of which round values as they are cast. Where no
    // type holds both exactly the answer is DOUBLE, and the planner says so.
    if (auto numeric = schema::NumericSupertypeOf(a, b)) return Result<std::string>(numeric->type);
    auto common = warehouse_.CommonSupertype(a, b);
    // A warehouse that could not answer (a conflict, no connection) is not a
    // warehouse without a supertype: the error fails the table, and a later
    // run asks again, rather than turning the column into text for good.
    if (common || common.error().code != "no_common_supertype") return common;
    // No implicit cast between them (string and int, scalar and struct): the
    // column becomes text, or JSON when one side is nested, so no value is lost.
    return Result<std::string>(a == "JSON" || b == "JSON" ? "JSON" : "VARCHAR");
  };
}

StateReadAhead ReadStateAhead(state::StateStore& state) {
  return std::async(std::launch::async, [&state]() -> Result<state::EnvironmentState> {
    if (auto s = state.Migrate(); !s) return Fail(s.error());
    return state.Load();
  });
}

Status Engine::Start(StateReadAhead ahead) {
  if (!ahead.valid()) {
    if (auto s = state_.Migrate(); !s) return s;
  }
  // A cluster member knows no table until it holds its lease (Adopt).
  if (config_.cluster.enabled) {
    if (ahead.valid()) {
      if (auto read = ahead.get(); !read) return Fail(read.error());
    }
    if (auto s = warehouse_.Init(); !s) return s;
    return models_.Start();
  }
  // The state store's records are read, and the catalog built from them,
  // while the warehouse opens and is inspected: at 100,000 batches the first
  // is ~1 G instructions in this process (libpq's parsing, the catalog's
  // tree), the second ~1.4 G (DuckDB opening its file, the ledger), and
  // neither needs the other. The models start after both: they use the state
  // store, which serves one call at a time.
  auto loading =
      std::async(std::launch::async, [this, &ahead]() -> Result<state::EnvironmentState> {
        auto loaded = ahead.valid() ? ahead.get() : state_.Load();
        if (!loaded) return loaded;
        std::lock_guard lock(mu_);
        catalog_.Load(std::move(loaded->batches));
        return loaded;
      });
  Status init = warehouse_.Init();
  Result<WarehouseContents> contents = WarehouseContents{};
  if (init) contents = warehouse_.Inspect();
  auto loaded = loading.get();  // whatever failed, the read ends before the engine does
  if (!init) return init;
  if (!loaded) return Fail(loaded.error());
  if (!contents) return Fail(contents.error());
  if (auto s = models_.Start(); !s) return s;

  std::unique_lock lock(mu_);
  format_version_ = loaded->format_version;
  contents_ = std::move(*contents);
  for (auto& t : loaded->tables) tables_[t.name] = std::move(t);
  for (auto& a : loaded->last_actions) last_actions_[a.table] = std::move(a);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  ReconcileWithLedger({}, /*all=*/true);
  CatchUpSnapshots({}, /*all=*/true);
  RecordUnlistedQuarantine();
  ReportPending(nullptr);
  lock.unlock();
  return FlushState();
}

Status Engine::Adopt(const std::set<std::string>& names) {
  if (names.empty()) return Ok();
  // What the previous holder left, read afresh: memory may hold what this
  // member knew when it last held a table, long out of date.
  auto loaded = state_.Load();
  if (!loaded) return Fail(loaded.error());
  auto contents = warehouse_.Inspect();
  if (!contents) return Fail(contents.error());

  std::unique_lock lock(mu_);
  format_version_ = loaded->format_version;
  for (const auto& name : names) {
    tables_.erase(name);
    last_actions_.erase(name);
    contents_.erase(name);
    unsaved_tables_.erase(name);
    std::erase_if(unsaved_batches_, [&](const auto& mark) { return TableOf(mark.first) == name; });
    std::erase_if(unmoved_, [&](const std::string& path) { return TableOf(path) == name; });
  }
  for (auto& t : loaded->tables) {
    if (names.contains(t.name)) tables_[t.name] = std::move(t);
  }
  for (auto& a : loaded->last_actions) {
    if (names.contains(a.table)) last_actions_[a.table] = std::move(a);
  }
  for (auto& [name, c] : *contents) {
    if (names.contains(name)) contents_[name] = std::move(c);
  }
  catalog_.ReplaceTables(names, std::move(loaded->batches));
  owned_.insert(names.begin(), names.end());
  ReconcileWithLedger(names, /*all=*/false);
  CatchUpSnapshots(names, /*all=*/false);
  for (const auto& name : names) Changed(name);
  ReportPending(nullptr);
  lock.unlock();
  return FlushState();
}

std::set<std::string> Engine::Release(const std::set<std::string>& names, bool force) {
  // What is owed for them is written first, while they are still held.
  if (!force) (void)FlushState();
  std::lock_guard lock(mu_);
  std::set<std::string> released;
  for (const auto& name : names) {
    if (!force && busy_.contains(name)) continue;
    if (owned_.erase(name) > 0) released.insert(name);
    quiet_plans_.erase(name);
  }
  generation_.fetch_add(1, std::memory_order_acq_rel);
  return released;
}

std::set<std::string> Engine::Owned() {
  std::lock_guard lock(mu_);
  return owned_;
}

Status Engine::HoldModels(bool held) {
  if (held && !models_held_) {
    if (auto s = models_.TakeOver(); !s) return s;
  }
  if (held) models_.Dirty();
  models_held_ = held;
  return Ok();
}

bool Engine::HoldsModels() const { return models_held_; }

// Whether this engine runs the model phase: it has models and, in a
// cluster, holds their lease.
bool Engine::RunsModels() const {
  return models_.enabled() && (!config_.cluster.enabled || models_held_);
}

std::string Engine::TableOf(std::string_view path) {
  return std::string(path.substr(0, path.find('/')));
}

// A cluster member's run covers only the tables it holds; they count as
// busy (Release leaves them) until the run ends. The member holding the
// models lease runs the model phase in a run of all its tables or one that
// names models, even when it holds no table.
class Engine::Holding {
 public:
  Holding(Engine& engine, RunRequest& request) : engine_(engine) {
    if (!engine.config_.cluster.enabled) return;
    const bool models = engine.models_held_ && (request.tables.empty() || !request.models.empty());
    std::lock_guard lock(engine.mu_);
    std::vector<std::string> tables;
    for (const auto& t : request.tables.empty()
                             ? std::vector<std::string>(engine.owned_.begin(), engine.owned_.end())
                             : request.tables) {
      if (engine.owned_.contains(t)) tables.push_back(t);
    }
    for (const auto& t : tables) ++engine.busy_[t];
    request.tables = tables;
    tables_ = std::move(tables);
    none_ = tables_.empty() && !models;
  }
  ~Holding() {
    std::lock_guard lock(engine_.mu_);
    for (const auto& t : tables_) {
      if (--engine_.busy_[t] == 0) engine_.busy_.erase(t);
    }
  }
  // True when the request names no table this member holds: nothing to do.
  bool none() const { return none_; }

 private:
  Engine& engine_;
  std::vector<std::string> tables_;
  bool none_ = false;
};

void Engine::ReconcileWithLedger(const std::set<std::string>& tables, bool all) {
  // The ledger says what is staged. A crash between a warehouse commit and
  // the state update leaves state behind; catch it up here. The reverse
  // (staged in state, not in the ledger) is no crash landfall can cause: it
  // is left for the planner, which rebuilds the table (ledger_mismatch)
  // instead of staging the batch a second time.
  int reconciled = 0;
  // The batches come table by table: each table's ledger is looked up once.
  std::string_view table;
  const std::map<std::string, warehouse::LedgerEntry>* ledger = nullptr;
  catalog_.ForEach(tables, all, [&](KnownBatch& record) {
    if (record.table != table || ledger == nullptr) {
      table = record.table;
      auto contents = contents_.find(record.table);
      static const std::map<std::string, warehouse::LedgerEntry> kNone;
      ledger = contents == contents_.end() ? &kNone : &contents->second.ledger;
    }
    // Only a record not staged yet can lag the ledger: at 100,000 batches,
    // looking every staged one up too was a twentieth of start-up's CPU.
    if (record.status != BatchStatus::kStaged) {
      auto entry = ledger->find(record.fingerprint);
      if (entry != ledger->end() && entry->second.rel_path == record.path) {
        record.status = BatchStatus::kStaged;
        MarkBatch(record.path);
        ++reconciled;
      }
    }
    // Recorded but not moved yet (landfall stopped in between): the next
    // run moves it, if it is still the file that was quarantined.
    if (record.status == BatchStatus::kQuarantined && config_.landing.quarantine_dir) {
      unmoved_.insert(record.path);
    }
  });
  if (reconciled > 0) {
    spdlog::info("reconcile: {} batch records brought in line with the warehouse ledger",
                 reconciled);
  }
}

void Engine::RecordUnlistedQuarantine() {
  if (!config_.landing.quarantine_dir) return;
  const fs::path& root = *config_.landing.quarantine_dir;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return;
  // A file moved aside by an older landfall that stopped before recording it
  // (or moved there by hand): listed, so it can be seen and retried.
  int found = 0;
  for (auto it = fs::recursive_directory_iterator(root, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file(ec) || it->is_symlink(ec)) continue;
    const std::string raw = it->path().lexically_relative(root).generic_string();
    const auto slash = raw.find('/');
    if (slash == std::string::npos || slash == 0) continue;  // not under a table folder
    const bool valid = IsValidUtf8(raw);
    const std::string path = valid ? raw : EscapeFileName(raw);
    if (catalog_.Contains(path)) continue;
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0) continue;
    KnownBatch r;
    r.table = path.substr(0, path.find('/'));
    r.path = path;
    r.size = st.st_size;
    r.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    r.inode = static_cast<int64_t>(st.st_ino);
    r.discovered_at_us = clock_.NowMicros();
    r.status = BatchStatus::kQuarantined;
    if (valid) {
      r.error_code = "unrecorded";
      r.error_message =
          "found in the quarantine dir without a record; retry it to inspect it again";
    } else {
      r.error_code = kInvalidFileName;
      r.error_message = "the file name is not valid UTF-8; found in the quarantine dir";
    }
    spdlog::warn("quarantine: {} was in {} without a record; recorded as {}", path, root.string(),
                 r.error_code);
    catalog_.Put(std::move(r));
    MarkBatch(path);
    Changed(path.substr(0, path.find('/')));
    ++found;
  }
  if (ec) spdlog::warn("quarantine: cannot list {}: {}", root.string(), ec.message());
  if (found > 0) spdlog::info("quarantine: {} unrecorded files recorded", found);
}

void Engine::CatchUpSnapshots(const std::set<std::string>& tables, bool all) {
  // The same crash leaves the table's schema snapshot behind the warehouse's
  // columns (an evolve added a column, a rebuild changed a type). The planner
  // would take that for a table changed behind landfall's back and rebuild it
  // from the files present now, dropping the rows of batches kept without
  // their files. The warehouse is the truth about what was committed, so the
  // snapshot is caught up instead, when the warehouse is what such a commit
  // leaves: its ledger holds every batch state has staged (or more), and its
  // columns are those the ledger's batches' footers make, unified with the
  // old snapshot (an evolve) or alone (a rebuild). Anything else (a column
  // added or dropped by hand, a ledger row deleted) is left to the planner.
  const auto supertype = Supertype();
  for (const auto& [name, contents] : contents_) {
    if (!all && !tables.contains(name)) continue;
    auto table = tables_.find(name);
    if (!contents.exists || table == tables_.end() || table->second.schema_json.empty() ||
        table->second.status == state::TableStatus::kReset) {
      continue;  // nothing to catch up, or the planner re-derives or rebuilds it
    }
    auto snapshot = schema::SchemaFromJson(table->second.schema_json);
    if (!snapshot || snapshot->SameStagingColumns(contents.columns)) continue;
    bool ledger_holds_staged = true;
    std::vector<const schema::Schema*> footers;  // of the ledger's batches, in path order
    std::set<std::string_view> seen;
    catalog_.ForEach({name}, /*all=*/false, [&](const KnownBatch& b) {
      if (contents.ledger.contains(b.fingerprint)) {
        if (b.schema && seen.insert(b.fingerprint).second) footers.push_back(&b.schema->schema);
      } else if (b.status == BatchStatus::kStaged) {
        ledger_holds_staged = false;
      }
    });
    if (!ledger_holds_staged) continue;
    std::optional<schema::Schema> adopted;
    for (const schema::Schema& base : {*snapshot, schema::Schema{}}) {
      auto derived = schema::Unify(base, footers, supertype);
      if (derived && derived->SameStagingColumns(contents.columns)) {
        adopted = std::move(*derived);
        break;
      }
    }
    if (!adopted) continue;
    spdlog::warn(
        "reconcile: table {}: state's schema snapshot lagged the warehouse; adopted the "
        "warehouse's columns ({} columns)",
        name, adopted->columns.size());
    table->second.schema_json = schema::ToJson(*adopted);
    table->second.schema_hash = adopted->Hash();
    table->second.updated_at_us = clock_.NowMicros();
    MarkTable(name);
  }
}

void Engine::Quarantine(state::BatchRecord& record, const std::string& code,
                        const std::string& message) {
  record.status = BatchStatus::kQuarantined;
  record.error_code = code;
  record.error_message = message;
  NoteQuarantined(record);
}

void Engine::NoteQuarantined(const state::BatchRecord& record) {
  spdlog::warn("quarantined {}: {}: {}", record.path, record.error_code, record.error_message);
  observer_->OnBatchQuarantined(record.table, record.error_code);
  if (config_.landing.quarantine_dir) unmoved_.insert(record.path);
}

std::string Engine::OnDiskPath(const state::BatchRecord& record) {
  return record.error_code == kInvalidFileName ? UnescapeFileName(record.path) : record.path;
}

void Engine::MoveQuarantined() {
  if (!config_.landing.quarantine_dir) return;
  std::lock_guard lock(mu_);
  for (auto it = unmoved_.begin(); it != unmoved_.end();) {
    const std::string& path = *it;
    KnownBatch* batch = catalog_.Find(path);
    if (batch && batch->status == BatchStatus::kQuarantined && unsaved_batches_.contains(path)) {
      ++it;  // its record first
      continue;
    }
    if (!batch || batch->status != BatchStatus::kQuarantined) {
      it = unmoved_.erase(it);
      continue;
    }
    auto& record = *batch;
    const std::string on_disk = OnDiskPath(record);
    // Only the file that was quarantined: not one that replaced it since (the
    // next scan inspects that one), nor one already moved.
    const landing::LandedFile landed{.table = record.table,
                                     .rel_path = on_disk,
                                     .size = record.size,
                                     .mtime_ns = record.mtime_ns,
                                     .ctime_ns = record.ctime_ns,
                                     .inode = record.inode};
    if (landing::Unchanged(config_.landing.dir, landed)) {
      // Keep the relative layout so the same name in two tables cannot collide.
      const fs::path target = *config_.landing.quarantine_dir / on_disk;
      std::error_code ec;
      fs::create_directories(target.parent_path(), ec);
      fs::rename(config_.landing.dir / on_disk, target, ec);
      if (ec) {
        spdlog::warn("could not move {} to {}: {}", record.path, target.string(), ec.message());
      } else {
        record.error_message += " (moved to " + target.string() + ")";
        MarkBatch(path);
      }
    }
    it = unmoved_.erase(it);
  }
}

void Engine::MarkBatch(const std::string& path) { unsaved_batches_[path] = ++write_seq_; }
void Engine::MarkTable(const std::string& table) { unsaved_tables_[table] = ++write_seq_; }

// Everything marked, copied out under mu_, each with the mark it clears.
struct Engine::Owed {
  std::vector<state::BatchRecord> upserts;
  std::vector<std::string> deletes;
  std::vector<std::pair<std::string, uint64_t>> upsert_marks, delete_marks;
  std::vector<std::pair<state::TableRecord, uint64_t>> tables;
  std::vector<UnsavedRun> runs;
  bool empty() const {
    return upserts.empty() && deletes.empty() && tables.empty() && runs.empty();
  }
};

Status Engine::FlushState() {
  std::lock_guard flushing(flush_mu_);
  Owed owed;
  {
    std::lock_guard lock(mu_);
    if (unsaved_batches_.empty() && unsaved_tables_.empty() && unsaved_runs_.empty()) return Ok();
    owed = TakeOwed();
  }
  return WriteOwed(owed);
}

Engine::Owed Engine::TakeOwed() {
  Owed owed;
  if (config_.cluster.enabled) {
    // A table whose lease this member lost is its new holder's to write
    // (it reads the ledger afresh): what is owed for it is dropped.
    std::erase_if(unsaved_batches_,
                  [&](const auto& mark) { return !owned_.contains(TableOf(mark.first)); });
    std::erase_if(unsaved_tables_, [&](const auto& mark) { return !owned_.contains(mark.first); });
  }
  for (const auto& [path, seq] : unsaved_batches_) {
    if (auto record = catalog_.ForStore(path)) {
      owed.upserts.push_back(std::move(*record));
      owed.upsert_marks.emplace_back(path, seq);
    } else {
      owed.deletes.push_back(path);
      owed.delete_marks.emplace_back(path, seq);
    }
  }
  for (const auto& [name, seq] : unsaved_tables_) {
    if (auto it = tables_.find(name); it != tables_.end())
      owed.tables.emplace_back(it->second, seq);
  }
  owed.runs = unsaved_runs_;
  return owed;
}

bool Engine::KeepAfter(const Error& error, const char* what) {
  // A transient failure keeps the marks for the next flush; a permanent one
  // would fail the same way forever, so it is logged and given up.
  observer_->OnStateError();
  if (error.transient) return true;
  spdlog::error("state: {} not recorded, given up: {}", what, error.ToString());
  return false;
}

Status Engine::WriteOwed(Owed& owed) {
  // Clears the marks of what was just written, unless changed again since.
  auto clear_batches = [&](const std::vector<std::pair<std::string, uint64_t>>& marks) {
    std::lock_guard lock(mu_);
    for (const auto& [path, seq] : marks) {
      if (auto it = unsaved_batches_.find(path);
          it != unsaved_batches_.end() && it->second == seq) {
        unsaved_batches_.erase(it);
      }
    }
  };
  auto clear_table = [&](const std::string& name, uint64_t seq) {
    std::lock_guard lock(mu_);
    if (auto it = unsaved_tables_.find(name); it != unsaved_tables_.end() && it->second == seq) {
      unsaved_tables_.erase(it);
    }
  };
  auto clear_run = [&](uint64_t seq) {
    std::lock_guard lock(mu_);
    std::erase_if(unsaved_runs_, [&](const UnsavedRun& r) { return r.seq == seq; });
  };
  auto& [upserts, deletes, upsert_marks, delete_marks, tables, runs] = owed;

  // The usual case, one table's outcome (its staged batches, its row and its
  // run record), is one transaction and one round trip.
  std::optional<state::TableRecord> table;
  if (!tables.empty()) table = tables.front().first;
  auto run = std::find_if(runs.begin(), runs.end(), [](const UnsavedRun& r) { return !r.finish; });
  const bool has_run = run != runs.end();
  if (!upserts.empty() || table || has_run) {
    auto s = state_.RecordTableOutcome(upserts, table, has_run ? run->run_id : 0,
                                       has_run ? &run->record : nullptr);
    if (!s && KeepAfter(s.error(), "batch, table and run records")) return s;
    clear_batches(upsert_marks);
    if (table) {
      clear_table(table->name, tables.front().second);
      tables.erase(tables.begin());
    }
    if (has_run) {
      clear_run(run->seq);
      runs.erase(run);
    }
  }
  if (!deletes.empty()) {
    auto s = state_.DeleteBatches(deletes);
    if (!s && KeepAfter(s.error(), "forgotten batches")) return s;
    clear_batches(delete_marks);
  }
  for (const auto& [record, seq] : tables) {
    auto s = state_.SaveTable(record);
    if (!s && KeepAfter(s.error(), "table record")) return s;
    clear_table(record.name, seq);
  }
  for (const auto& r : runs) {
    auto s = r.finish ? state_.FinishRun(r.run_id, r.status, r.error)
                      : state_.RecordTableRun(r.run_id, r.record);
    if (!s && KeepAfter(s.error(), "run record")) return s;
    clear_run(r.seq);
  }
  return Ok();
}

Result<CatalogStats> Engine::RefreshCatalog(const RunRequest& request, bool dry_run,
                                            Scanned& scanned) {
  const bool all = request.tables.empty();
  auto found = catalog_.Scan(request.tables, all);
  if (!found) return Fail(found.error());
  scanned = std::move(*found);
  BatchCatalog::Candidates candidates;
  {
    std::lock_guard lock(mu_);
    candidates = catalog_.ToInspect(scanned);
  }
  // Inspected before taking the lock again: the pool's threads may be busy
  // with another table's Execute, which needs the lock to finish.
  auto inspected = catalog_.Inspect(candidates, request.truncated_grace);
  if (!inspected) return Fail(inspected.error());
  CatalogStats stats;
  {
    std::lock_guard lock(mu_);
    auto changes = catalog_.Merge(std::move(*inspected), scanned, request.tables, all, dry_run,
                                  contents_, *observer_);
    FollowCatalog(changes);
    stats = std::move(changes.stats);
  }
  // Memory has moved on (so the catalog takes on new files even while the
  // state store is down); what this and earlier refreshes could not write
  // is written here, or stays marked for the next flush.
  if (auto s = FlushState(); !s) return Fail(s.error());
  return stats;
}

void Engine::FollowCatalog(const CatalogChanges& changes) {
  for (const auto& path : changes.quarantined) {
    if (const KnownBatch* batch = catalog_.Find(path)) NoteQuarantined(*batch);
  }
  for (const auto& path : changes.written) MarkBatch(path);
  for (const auto& table : changes.stale_plans) {
    // A staged batch's file is gone: the planner must see it gone.
    quiet_plans_.erase(table);
    ++plan_epoch_;
  }
  for (const auto& table : changes.changed_tables) Changed(table);
  if (!changes.recount.empty()) ReportPending(changes.recount_all ? nullptr : &changes.recount);
}

void Engine::Changed(const std::string& table) {
  quiet_plans_.erase(table);
  ++plan_epoch_;
  generation_.fetch_add(1, std::memory_order_acq_rel);
}

std::vector<state::TableSummary> Engine::TableSummaries() {
  std::lock_guard lock(mu_);
  std::map<std::string, state::TableSummary> by_name;
  for (const auto& [name, t] : tables_) {
    auto& s = by_name[name].table;
    s = t;
    s.schema_json.clear();
  }
  catalog_.ForEach({}, /*all=*/true, [&](const KnownBatch& b) {
    auto& s = by_name[b.table];
    if (s.table.name.empty()) {
      // Known only by its batches: no table row yet.
      s.table.name = b.table;
      s.table.status = state::TableStatus::kNew;
      s.table.policy.clear();
    }
    switch (b.status) {
      case BatchStatus::kStaged:
        ++s.staged;
        s.rows_staged += b.rows;
        break;
      case BatchStatus::kPending:
        ++s.pending;
        break;
      case BatchStatus::kQuarantined:
        ++s.quarantined;
        break;
      case BatchStatus::kDuplicate:
        ++s.duplicate;
        break;
    }
  });
  std::vector<state::TableSummary> out;
  out.reserve(by_name.size());
  for (auto& [name, s] : by_name) {
    if (auto it = last_actions_.find(name); it != last_actions_.end()) s.last_action = it->second;
    out.push_back(std::move(s));
  }
  return out;
}

void Engine::ReportPending(const std::set<std::string>* tables) {
  static const std::set<std::string> kNone;
  if (tables) {
    for (const auto& table : *tables) pending_by_table_.erase(table);
  } else {
    pending_by_table_.clear();
  }
  catalog_.ForEach(tables ? *tables : kNone, !tables, [&](const KnownBatch& b) {
    if (b.status == BatchStatus::kPending) ++pending_by_table_[b.table];
  });
  int64_t pending = 0;
  for (const auto& [table, count] : pending_by_table_) pending += count;
  observer_->OnPendingBatches(pending);
}

Result<Engine::Prepared> Engine::Prepare(const RunRequest& request, CatalogStats* stats,
                                         bool dry_run) {
  const auto started = std::chrono::steady_clock::now();
  Scanned scanned;
  auto refreshed = RefreshCatalog(request, dry_run, scanned);
  if (!refreshed) return Fail(refreshed.error());
  if (stats) *stats = *refreshed;

  const auto planning = std::chrono::steady_clock::now();
  plan::PlanOptions options;
  Selection selection;
  {
    std::lock_guard lock(mu_);
    options = PlanOptionsFor(request);
    selection = SelectTables(request, scanned, options);
  }
  // The rest in slices, so that the planner's inputs (copies of ledgers and
  // batch lists) are held for a slice of tables at a time, not for all.
  Prepared prepared;
  prepared.plan = plan::PlanAll({}, options, Supertype());
  prepared.replanned = static_cast<int>(selection.to_plan.size());
  constexpr size_t kSlice = 64;
  const auto& to_plan = selection.to_plan;
  for (size_t begin = 0; begin < to_plan.size(); begin += kSlice) {
    const std::set<std::string> slice(to_plan.begin() + begin,
                                      to_plan.begin() + std::min(to_plan.size(), begin + kSlice));
    PlanSlice(slice, scanned, options, selection, prepared.plan);
  }
  for (auto& tp : selection.reused) prepared.plan.tables.push_back(std::move(tp));
  std::sort(prepared.plan.tables.begin(), prepared.plan.tables.end(),
            [](const plan::TablePlan& a, const plan::TablePlan& b) { return a.table < b.table; });
  prepared.plan_us = std::chrono::duration_cast<std::chrono::microseconds>(
                         std::chrono::steady_clock::now() - planning)
                         .count();
  observer_->OnPlanned(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  return prepared;
}

plan::PlanOptions Engine::PlanOptionsFor(const RunRequest& request) {
  plan::PlanOptions options;
  options.full_refresh = request.full_refresh && request.models.empty();
  options.lossy_types = warehouse_.LossyTypes();
  if (format_version_ && *format_version_ != state::kStateFormatVersion) {
    options.state_unusable = true;
    options.state_unusable_why = "stored state format version " + std::to_string(*format_version_) +
                                 ", this landfall uses " +
                                 std::to_string(state::kStateFormatVersion);
  }
  return options;
}

Engine::Selection Engine::SelectTables(const RunRequest& request, const Scanned& scanned,
                                       const plan::PlanOptions& options) {
  const auto& folders = scanned.folders;
  std::set<std::string> names;
  if (request.tables.empty()) {
    names = folders;
    for (const auto& [name, c] : contents_) names.insert(name);
    for (const auto& [name, t] : tables_) {
      if (t.status != state::TableStatus::kDropped) names.insert(name);
    }
  } else {
    names.insert(request.tables.begin(), request.tables.end());
  }
  Selection selection;
  selection.collisions = NameCollisions(folders);
  // Tables whose inputs did not change since a plan that skipped them are
  // not planned again: a cycle costs in proportion to what changed.
  const bool reuse = !options.full_refresh && !options.state_unusable;
  for (const auto& name : names) {
    auto quiet = quiet_plans_.find(name);
    if (reuse && quiet != quiet_plans_.end() && !selection.collisions.contains(name) &&
        quiet->second.folder_exists == folders.contains(name)) {
      selection.reused.push_back(quiet->second.plan);
    } else {
      selection.to_plan.push_back(name);
    }
  }
  return selection;
}

std::map<std::string, std::string> Engine::NameCollisions(const std::set<std::string>& folders) {
  // Names differing only in case would be one warehouse table: the planner
  // fails all but one of them. Every name with a folder, batches, a
  // warehouse table, ledger rows or a snapshot takes part, not only those
  // planned now, so that a run of one table sees the table it would replace.
  std::map<std::string, plan::NameHold> holds;
  auto hold = [&](const std::string& name) {
    auto& h = holds.try_emplace(name, plan::NameHold::kNew).first->second;
    auto c = contents_.find(name);
    auto t = tables_.find(name);
    if (c != contents_.end() && c->second.exists) {
      h = plan::NameHold::kStaged;
    } else if ((c != contents_.end() && !c->second.ledger.empty()) ||
               (t != tables_.end() && !t->second.schema_json.empty())) {
      h = plan::NameHold::kKnown;
    }
  };
  for (const auto& name : folders) hold(name);
  for (const auto& [name, c] : contents_) hold(name);
  for (const auto& [name, t] : tables_) {
    if (!t.schema_json.empty()) hold(name);
  }
  catalog_.ForEachTable(hold);  // the tables of the catalog's batches
  return plan::NameCollisions(holds);
}

void Engine::PlanSlice(const std::set<std::string>& slice, const Scanned& scanned,
                       const plan::PlanOptions& options, const Selection& selection,
                       plan::ChangePlan& plan) {
  std::vector<plan::TableInputs> inputs;
  uint64_t epoch = 0;  // plan_epoch_ when the inputs were taken
  {
    std::lock_guard lock(mu_);
    epoch = plan_epoch_;
    inputs = Inputs(slice, scanned);
  }
  for (auto& in : inputs) {
    if (auto it = selection.collisions.find(in.table); it != selection.collisions.end()) {
      in.collides_with = it->second;
    }
  }
  auto part = plan::PlanAll(inputs, options, Supertype());
  inputs.clear();
  // Remembered only if nothing changed while planning without the lock.
  if (std::lock_guard lock(mu_); epoch == plan_epoch_) {
    for (const auto& tp : part.tables) {
      // A removed batch may come back unchanged, without a catalog change.
      const bool removed = std::any_of(tp.reasons.begin(), tp.reasons.end(), [](const auto& r) {
        return r.code == plan::reason::kBatchRemoved;
      });
      if (tp.action == plan::Action::kSkip && tp.quarantine.empty() && !removed &&
          !options.full_refresh && !options.state_unusable) {
        quiet_plans_[tp.table] = {scanned.folders.contains(tp.table), tp};
      } else {
        quiet_plans_.erase(tp.table);
      }
    }
  }
  for (auto& tp : part.tables) plan.tables.push_back(std::move(tp));
}

std::vector<plan::TableInputs> Engine::Inputs(const std::set<std::string>& names,
                                              const Scanned& scanned) {
  std::vector<plan::TableInputs> inputs;
  std::map<std::string, plan::TableInputs*> by_name;
  inputs.reserve(names.size());
  for (const auto& name : names) {
    plan::TableInputs in;
    in.table = name;
    in.folder_exists = scanned.folders.contains(name);
    in.policy = config_.PolicyFor(name);
    if (auto it = contents_.find(name); it != contents_.end()) in.warehouse = it->second;
    if (auto it = tables_.find(name); it != tables_.end()) {
      plan::RememberedTable remembered;
      remembered.status = it->second.status;
      if (!it->second.schema_json.empty()) {
        auto parsed = schema::SchemaFromJson(it->second.schema_json);
        if (parsed) {
          remembered.snapshot = std::move(*parsed);
        } else {
          remembered.unreadable = true;
        }
      }
      in.remembered = std::move(remembered);
    }
    inputs.push_back(std::move(in));
    by_name[name] = &inputs.back();
  }
  catalog_.ForEach(names, /*all=*/false, [&](const KnownBatch& r) {
    if (r.status != BatchStatus::kPending && r.status != BatchStatus::kStaged) return;
    auto it = by_name.find(r.table);
    if (it == by_name.end() || !it->second->folder_exists) return;
    if (!r.schema) return;
    // A staged batch whose file is gone is not current (the planner sees it only in the ledger).
    if (r.status == BatchStatus::kStaged && !scanned.present.contains(r.path) &&
        !scanned.deferred.contains(r.path)) {
      return;
    }
    it->second->batches.push_back(
        {r.fingerprint, r.path, r.rows,
         std::shared_ptr<const schema::Schema>(r.schema, &r.schema->schema),
         r.status == BatchStatus::kStaged});
  });
  return inputs;
}

Result<plan::ChangePlan> Engine::Plan(const RunRequest& asked) {
  RunRequest request = asked;
  Holding holding(*this, request);
  if (holding.none()) return plan::ChangePlan{};
  auto prepared = Prepare(request, nullptr, /*dry_run=*/true);
  if (!prepared) return Fail(prepared.error());
  return std::move(prepared->plan);
}

TableOutcome Engine::Execute(const plan::TablePlan& tp, int64_t run_id) {
  TableOutcome out;
  out.table = tp.table;
  out.action = tp.action;
  const auto started = std::chrono::steady_clock::now();
  std::string vanished;  // a planned batch another refresh has forgotten since
  const std::vector<warehouse::BatchFile> files = BatchFiles(tp, vanished);
  state::TableStatus table_status = state::TableStatus::kActive;
  // The file went away during the run: the next run plans without it.
  const Result<warehouse::ApplyStats> applied =
      vanished.empty()
          ? Apply(tp, files, table_status)
          : Fail("batch_vanished", vanished + " disappeared during the run", /*transient=*/true);
  out.duration_us = std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::steady_clock::now() - started)
                        .count();
  TableActionReport report;
  {
    std::lock_guard lock(mu_);
    RecordOutcome(tp, applied, files, table_status, run_id, out, report);
  }
  observer_->OnTableAction(report);

  // The warehouse has committed; state is a record of it. If recording fails
  // it stays marked: the run's last flush, or the next refresh, writes it.
  if (auto s = FlushState(); !s) spdlog::warn("state: {}; written later", s.error().ToString());
  return out;
}

std::vector<warehouse::BatchFile> Engine::BatchFiles(const plan::TablePlan& tp,
                                                     std::string& vanished) {
  std::vector<warehouse::BatchFile> files;
  std::lock_guard lock(mu_);
  for (const auto& path : tp.batches) {
    const KnownBatch* r = catalog_.Find(path);
    if (!r || !r->schema) {
      vanished = path;
      break;
    }
    // With the file's identity as fingerprinted: the warehouse checks it
    // right before the commit, so a file replaced since is not staged under
    // the old fingerprint.
    files.push_back({r->fingerprint, r->path, config_.landing.dir / path, r->rows,
                     r->schema->schema,
                     warehouse::FileIdentity{r->size, r->mtime_ns, r->ctime_ns, r->inode}});
  }
  return files;
}

Result<warehouse::ApplyStats> Engine::Apply(const plan::TablePlan& tp,
                                            const std::vector<warehouse::BatchFile>& files,
                                            state::TableStatus& table_status) {
  switch (tp.action) {
    case plan::Action::kCreate:
    case plan::Action::kRebuild:
      return warehouse_.Rebuild(tp.table, tp.target, files, tp.carry_over);
    case plan::Action::kAppend:
      return warehouse_.Append(tp.table, tp.target, files);
    case plan::Action::kEvolve:
      return warehouse_.Evolve(tp.table, tp.target, tp.renames, files);
    case plan::Action::kOrphan:
      table_status = state::TableStatus::kOrphaned;
      break;
    case plan::Action::kDrop:
      table_status = state::TableStatus::kDropped;
      if (auto s = warehouse_.Drop(tp.table); !s) return Fail(s.error());
      break;
    case plan::Action::kFail: {
      std::string why;
      for (const auto& r : tp.reasons) why += (why.empty() ? "" : "; ") + r.code + ": " + r.detail;
      return Fail("table_failed", why);
    }
    case plan::Action::kSkip:
      break;
  }
  return warehouse::ApplyStats{};
}

void Engine::RecordOutcome(const plan::TablePlan& tp, const Result<warehouse::ApplyStats>& applied,
                           const std::vector<warehouse::BatchFile>& files,
                           state::TableStatus table_status, int64_t run_id, TableOutcome& out,
                           TableActionReport& report) {
  report.table = tp.table;
  report.action = plan::ToString(tp.action);
  report.seconds = out.duration_us / 1e6;
  state::TableRecord record;
  if (auto existing = tables_.find(tp.table); existing != tables_.end()) record = existing->second;
  record.name = tp.table;
  record.policy = config::ToString(config_.PolicyFor(tp.table).schema_evolution);
  record.updated_at_us = clock_.NowMicros();
  int staged = 0;  // batch records now staged
  if (!applied) {
    out.status = state::TableRunStatus::kFailed;
    out.error = applied.error().ToString();
    // A batch file changed under the load: the next run fingerprints it
    // again and stages what it holds then.
    out.transient = applied.error().transient || applied.error().code == warehouse::kBatchChanged;
    record.status = state::TableStatus::kFailed;
    record.last_error = out.error;
    spdlog::error("table {}: {} failed: {}", tp.table, plan::ToString(tp.action), out.error);
    report.ok = false;
    if (tp.action != plan::Action::kFail) observer_->OnWarehouseError();
  } else {
    out.status = state::TableRunStatus::kSucceeded;
    out.rows = applied->rows;
    out.batches = applied->batches;
    record.status = table_status;
    record.last_error.clear();
    staged = RecordApplied(tp, *applied, files, record, report);
    spdlog::info("table {}: {} {} batches, {} rows in {} ms", tp.table, plan::ToString(tp.action),
                 out.batches, out.rows, out.duration_us / 1000);
  }
  tables_[tp.table] = record;
  MarkTable(tp.table);
  if (run_id > 0) {
    auto& last = last_actions_[tp.table];
    last = {tp.table,    plan::ToString(tp.action), "",        out.status, out.rows,
            out.batches, out.duration_us,           out.error, run_id,     clock_.NowMicros()};
    UnsavedRun run;
    run.seq = ++write_seq_;
    run.run_id = run_id;
    run.record = {tp.table,
                  plan::ToString(tp.action),
                  plan::ReasonsToJson(tp.reasons),
                  out.status,
                  out.rows,
                  out.batches,
                  out.duration_us,
                  out.error};
    unsaved_runs_.push_back(std::move(run));
  }
  Changed(tp.table);
  if (staged > 0) {
    const std::set<std::string> table{tp.table};
    ReportPending(&table);
  }
  report.rows = out.rows;
  report.batches = out.batches;
}

int Engine::RecordApplied(const plan::TablePlan& tp, const warehouse::ApplyStats& applied,
                          const std::vector<warehouse::BatchFile>& files,
                          state::TableRecord& record, TableActionReport& report) {
  auto& contents = contents_[tp.table];
  if (tp.action == plan::Action::kDrop) {
    contents_.erase(tp.table);
    record.schema_json.clear();
    record.schema_hash.clear();
    return 0;
  }
  if (tp.action == plan::Action::kOrphan) return 0;
  if (tp.action == plan::Action::kCreate || tp.action == plan::Action::kRebuild) {
    // Batches carried over keep their ledger rows.
    const std::set<std::string_view> kept(tp.carry_over.begin(), tp.carry_over.end());
    std::erase_if(contents.ledger, [&](const auto& entry) { return !kept.contains(entry.first); });
  }
  contents.exists = true;
  contents.columns = tp.target;
  const int64_t now = clock_.NowMicros();
  // Batches the warehouse could not decode are quarantined, not staged:
  // the rest of the table went in without them.
  std::set<std::string> rejected;
  for (const auto& r : applied.rejected) {
    rejected.insert(r.rel_path);
    if (KnownBatch* batch = catalog_.Find(r.rel_path)) {
      Quarantine(*batch, r.code, r.message);
      MarkBatch(r.rel_path);
    }
  }
  int staged = 0;
  for (const auto& f : files) {
    if (rejected.contains(f.rel_path)) continue;
    contents.ledger[f.batch_id] = {f.batch_id, f.rel_path, f.rows, now};
    // A refresh running meanwhile may have forgotten the batch (its file
    // changed or went while the warehouse read it). The ledger has it,
    // which is the truth; the next scan of the file (if it is still
    // there) finds its content already staged.
    KnownBatch* b = catalog_.Find(f.rel_path);
    if (!b || b->fingerprint != f.batch_id) {
      spdlog::warn("table {}: {} was staged but has changed or gone since it was planned", tp.table,
                   f.rel_path);
      continue;
    }
    b->status = BatchStatus::kStaged;
    b->staged_at_us = now;
    MarkBatch(f.rel_path);
    ++staged;
    // Landed = the file's mtime; a clock step may make it negative.
    report.landed_to_staged_seconds.push_back(std::max(0.0, (now - b->mtime_ns / 1000) / 1e6));
  }
  record.schema_json = schema::ToJson(tp.target);
  record.schema_hash = tp.target.Hash();
  return staged;
}

Result<RunOutcome> Engine::Run(const RunRequest& asked) {
  RunRequest request = asked;
  Holding holding(*this, request);
  if (holding.none()) return RunOutcome{};
  const auto started = std::chrono::steady_clock::now();
  auto outcome = RunUnobserved(request);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (!outcome) {
    const auto& code = outcome.error().code;
    if (code.starts_with("state_")) observer_->OnStateError();
    if (code.starts_with("warehouse_")) observer_->OnWarehouseError();
    observer_->OnRunFinished("error", seconds);
  } else {
    observer_->OnRunFinished(outcome->run_id == 0 ? "noop"
                             : outcome->ok()      ? "succeeded"
                                                  : "failed",
                             seconds);
  }
  return outcome;
}

// --full-refresh rebuilds the selected models, or every model when neither
// models nor tables are selected.
ModelRunRequest Engine::ModelRequestFor(const RunRequest& request) {
  ModelRunRequest out{
      .selection = request.models,
      .full_refresh = request.full_refresh && (!request.models.empty() || request.tables.empty()),
      .partitions = request.partitions};
  std::lock_guard lock(mu_);
  catalog_.ForEachTable([&](const std::string& table) { out.landing_tables.insert(table); });
  return out;
}

Result<RunOutcome> Engine::RunUnobserved(const RunRequest& request) {
  RunOutcome outcome;
  const int64_t statements_before = warehouse_.StatementsExecuted();
  // A cluster member's request names the tables it holds (Holding): none
  // means only the model phase runs.
  const bool no_tables = config_.cluster.enabled && request.tables.empty();
  if (!no_tables) {
    auto prepared = Prepare(request, &outcome.catalog, /*dry_run=*/false);
    if (!prepared) return Fail(prepared.error());
    outcome.plan = std::move(prepared->plan);
    outcome.plan_us = prepared->plan_us;
    outcome.tables_replanned = prepared->replanned;

    QuarantineRefused(outcome.plan, outcome.catalog);
    // Quarantined files are recorded first, then moved aside: a crash or an
    // outage in between leaves a recorded file in place, which the next run
    // moves (never a moved file without a record).
    if (auto s = FlushState(); !s) return Fail(s.error());
    MoveQuarantined();
  }

  std::vector<model::ModelStep> quiet_models;
  if (outcome.plan.ActionableCount() == 0 &&
      (!RunsModels() || !models_.HasWork(ModelRequestFor(request), quiet_models).value_or(true))) {
    for (auto& step : quiet_models) outcome.models.push_back({.step = std::move(step)});
    // A quiet cycle: nothing sent to the warehouse (and, unless a file was
    // just moved aside, nothing recorded).
    if (auto s = FlushState(); !s) return Fail(s.error());
    outcome.warehouse_statements = warehouse_.StatementsExecuted() - statements_before;
    return outcome;
  }

  auto run_id = state_.StartRun(request.trigger, plan::ToRunJson(outcome.plan));
  if (!run_id) return Fail(run_id.error());
  outcome.run_id = *run_id;
  if (request.on_run_started) request.on_run_started(outcome.run_id);
  outcome.tables = ExecuteTables(outcome.plan, outcome.run_id);
  RunModels(request, outcome);
  if (auto s = RecordRunEnd(outcome); !s) return Fail(s.error());
  outcome.warehouse_statements = warehouse_.StatementsExecuted() - statements_before;
  return outcome;
}

void Engine::RunModels(const RunRequest& request, RunOutcome& outcome) {
  if (!RunsModels()) return;
  ModelRunRequest model_request = ModelRequestFor(request);
  for (const auto& t : outcome.tables) {
    if (t.status == state::TableRunStatus::kFailed) model_request.failed_tables.insert(t.table);
  }
  if (!outcome.tables.empty()) models_.Dirty();
  const auto started = std::chrono::steady_clock::now();
  // One open of the file for the whole phase (warehouse.hold_open: false),
  // so that no reader takes it between two models of one run.
  auto hold = warehouse_.Hold();
  if (!hold) {
    // The warehouse logged why (a reader has the file: once, at warn).
    spdlog::debug("models: {}", hold.error().ToString());
    outcome.models_error = hold.error();
    return;
  }
  auto models = models_.PlanAndExecute(model_request, outcome.run_id);
  outcome.models_us = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::steady_clock::now() - started)
                          .count();
  if (!models) {
    spdlog::error("models: {}", models.error().ToString());
    outcome.models_error = models.error();
    return;
  }
  outcome.models = std::move(*models);
  for (const auto& m : outcome.models) {
    for (const auto& check : m.checks) observer_->OnCheck(CheckResultLabel(check));
    if (m.step.action == model::ModelAction::kSkip) continue;
    observer_->OnModelFinished({.model = m.step.model,
                                .strategy = model::ToString(m.step.strategy),
                                .action = model::ToString(m.step.action),
                                .ok = !m.failed(),
                                .rows_written = m.stats.inserted + m.stats.updated,
                                .seconds = m.duration_us / 1e6,
                                .partition_seconds = PartitionSeconds(m.partitions),
                                .partitions_failed = PartitionsFailed(m.partitions)});
  }
}

Result<ModelPlan> Engine::PlanModels(const RunRequest& request, const plan::ChangePlan& tables) {
  ModelRunRequest model_request = ModelRequestFor(request);
  for (const auto& t : tables.tables) {
    if (t.action != plan::Action::kSkip)
      model_request.planned_tables[t.table] = plan::ToString(t.action);
  }
  auto plan = models_.Plan(model_request);
  if (plan) models_.ResolvePartitions(*plan);
  return plan;
}

Result<bool> Engine::DeleteModelState(const std::string& model) {
  return models_.DeleteState(model);
}

Result<std::map<std::string, int64_t>> Engine::ModelTargetRows() {
  warehouse::ModelWarehouse* models = warehouse_.Models();
  if (!models_.enabled() || models == nullptr) return std::map<std::string, int64_t>{};
  return models->TargetRows(config_.models.schema);
}

void Engine::QuarantineRefused(const plan::ChangePlan& plan, CatalogStats& stats) {
  // schema_evolution: freeze — batches the plan refuses are quarantined, not retried.
  std::lock_guard lock(mu_);
  for (const auto& tp : plan.tables) {
    for (const auto& q : tp.quarantine) {
      KnownBatch* batch = catalog_.Find(q.rel_path);
      if (!batch) continue;
      Quarantine(*batch, q.code, q.detail);
      ++stats.quarantined;
      MarkBatch(q.rel_path);
      Changed(tp.table);
    }
  }
}

std::vector<TableOutcome> Engine::ExecuteTables(const plan::ChangePlan& plan, int64_t run_id) {
  // Tables run in parallel on the worker pool; each table is one job.
  std::vector<std::future<Result<TableOutcome>>> futures;
  std::vector<const plan::TablePlan*> submitted;
  for (const auto& tp : plan.tables) {
    if (tp.action == plan::Action::kSkip) continue;
    submitted.push_back(&tp);
    futures.push_back(pool_.Submit(
        [this, &tp, run_id]() -> Result<TableOutcome> { return Execute(tp, run_id); }));
  }
  std::vector<TableOutcome> outcomes;
  for (size_t i = 0; i < futures.size(); ++i) {
    auto table = futures[i].get();
    if (table) {
      outcomes.push_back(std::move(*table));
      continue;
    }
    // A bug (an exception) in one table's job fails that table, not the run.
    spdlog::error("table {}: {}", submitted[i]->table, table.error().ToString());
    TableOutcome failed;
    failed.table = submitted[i]->table;
    failed.action = submitted[i]->action;
    failed.status = state::TableRunStatus::kFailed;
    failed.error = table.error().ToString();
    outcomes.push_back(std::move(failed));
  }
  return outcomes;
}

Status Engine::RecordRunEnd(const RunOutcome& outcome) {
  std::string error;
  for (const auto& t : outcome.tables) {
    if (t.status == state::TableRunStatus::kFailed)
      error += (error.empty() ? "" : "; ") + t.table + ": " + t.error;
  }
  bool needs_version = false;
  {
    std::lock_guard lock(mu_);
    // The run's end is owed to the state store whatever fails below.
    UnsavedRun finish;
    finish.seq = ++write_seq_;
    finish.run_id = outcome.run_id;
    finish.finish = true;
    finish.status = outcome.ok() ? "succeeded" : "failed";
    finish.error = error;
    unsaved_runs_.push_back(std::move(finish));
    needs_version = !format_version_ || (outcome.plan.full_rebuild && outcome.ok());
  }
  // Not marked for a flush: a version that could not be written leaves memory
  // without one, and the next run writes it again.
  std::optional<Error> version_error;
  if (needs_version) {
    if (auto s = state_.SetFormatVersion(state::kStateFormatVersion); !s) {
      version_error = s.error();
    } else {
      std::lock_guard lock(mu_);
      format_version_ = state::kStateFormatVersion;
    }
  }
  // Everything this run owes the state store. Still unwritable: the run
  // fails (transiently), so the daemon runs again with backoff, and its first
  // flush writes what is owed.
  if (auto s = FlushState(); !s) return s;
  if (version_error) return Fail(*version_error);
  return Ok();
}

Result<bool> ResetTableState(state::StateStore& state, const std::string& table,
                             const Clock& clock) {
  auto deleted = state.DeleteTable(table);
  if (!deleted || !*deleted) return deleted;
  // An explicit delete is not the same as lost state: it leaves a "reset"
  // marker so the next run rebuilds the table instead of re-deriving it.
  state::TableRecord reset;
  reset.name = table;
  reset.status = state::TableStatus::kReset;
  reset.updated_at_us = clock.NowMicros();
  if (auto s = state.SaveTable(reset); !s) return Fail(s.error());
  return true;
}

Result<bool> Engine::DeleteTableState(const std::string& table) {
  auto deleted = ResetTableState(state_, table, clock_);
  if (!deleted) return deleted;
  std::lock_guard lock(mu_);
  if (*deleted) {
    tables_[table].status = state::TableStatus::kReset;
    tables_[table].schema_json.clear();
    tables_[table].schema_hash.clear();
    Changed(table);
  }
  return deleted;
}

Result<std::string> Engine::RetryQuarantined(const std::string& rel_path) {
  std::string table;
  {
    std::lock_guard lock(mu_);
    KnownBatch* batch = catalog_.Find(rel_path);
    if (!batch) return Fail("batch_not_found", "no batch '" + rel_path + "'");
    if (batch->status != BatchStatus::kQuarantined) {
      return Fail("batch_conflict", "batch '" + rel_path + "' is " +
                                        state::ToString(batch->status) + ", not quarantined");
    }
    table = batch->table;
    // A file moved aside when it was quarantined goes back where it landed,
    // unless a new file has taken its place meanwhile.
    std::error_code ec;
    const std::string on_disk = OnDiskPath(*batch);
    const fs::path landed = config_.landing.dir / on_disk;
    if (config_.landing.quarantine_dir && !fs::exists(fs::symlink_status(landed, ec))) {
      const fs::path moved = *config_.landing.quarantine_dir / on_disk;
      if (fs::exists(fs::symlink_status(moved, ec))) {
        fs::create_directories(landed.parent_path(), ec);
        fs::rename(moved, landed, ec);
        if (ec) {
          return Fail("batch_restore_failed", "cannot move " + moved.string() + " back to " +
                                                  landed.string() + ": " + ec.message());
        }
      }
    }
    // Without a record, the next scan of the table inspects the file as new.
    catalog_.Erase(rel_path);
    unmoved_.erase(rel_path);
    MarkBatch(rel_path);
    Changed(table);
  }
  // Memory has forgotten it: a failed delete stays marked and is repeated by
  // the next flush (a later scan records the file afresh in any case).
  if (auto s = FlushState(); !s) spdlog::warn("state: {}; written later", s.error().ToString());
  spdlog::info("retry: {} will be inspected again by the next run of {}", rel_path, table);
  return table;
}

}  // namespace landfall::exec
