#include "lib/exec/engine.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <future>

#include "lib/landing/catalog.h"

namespace landfall::exec {

namespace fs = std::filesystem;
using state::BatchStatus;

namespace {

// Calls fn(it) for every batch of `tables` in `batches` (keyed by rel path), or
// for every batch when `all`; fn returns the iterator to continue from (so it
// may erase). A table's rel paths all start with "<table>/", so its batches
// are one contiguous range of the map: a run of one table (the daemon's job
// for a watcher event) costs in proportion to that table, not to all tables.
template <typename BatchMap, typename Fn>
void ForEachBatch(BatchMap& batches, const std::set<std::string>& tables, bool all, Fn fn) {
  auto visit = [&](typename BatchMap::iterator it, const std::string& end_key) {
    while (it != batches.end() && (end_key.empty() || it->first < end_key)) it = fn(it);
  };
  if (all) {
    visit(batches.begin(), "");
    return;
  }
  for (const auto& table : tables) {
    visit(batches.lower_bound(table + '/'), table + static_cast<char>('/' + 1));
  }
}

}  // namespace

bool RunOutcome::ok() const {
  return std::all_of(tables.begin(), tables.end(),
                     [](const TableOutcome& t) { return t.status != "failed"; });
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
      footers_(footers),
      pool_(pool),
      clock_(clock) {}

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

Status Engine::Start() {
  if (auto s = state_.Migrate(); !s) return s;
  if (auto s = warehouse_.Init(); !s) return s;
  auto loaded = state_.Load();
  if (!loaded) return Fail(loaded.error());
  auto contents = warehouse_.Inspect();
  if (!contents) return Fail(contents.error());

  std::lock_guard lock(mu_);
  format_version_ = loaded->format_version;
  contents_ = std::move(*contents);
  for (auto& t : loaded->tables) tables_[t.name] = std::move(t);
  for (auto& a : loaded->last_actions) last_actions_[a.table] = std::move(a);
  for (auto& b : loaded->batches) {
    SchemaRef shared;
    if (b.status != BatchStatus::kQuarantined && !b.schema_json.empty()) {
      // Unparseable: the batch stays unplanned, as a batch without a footer.
      shared = Intern(b.schema_json);
      if (shared) std::string().swap(b.schema_json);  // clear() would keep its memory
    }
    std::string path = b.path;  // the right side of = is evaluated first
    batches_[std::move(path)] = Known{std::move(b), std::move(shared)};
  }
  generation_.fetch_add(1, std::memory_order_acq_rel);

  // Reconcile: the ledger says what is staged. A crash between a warehouse
  // commit and the state update leaves state behind; catch it up here. The
  // reverse (staged in state, not in the ledger) is no crash landfall can
  // cause: it is left for the planner, which rebuilds the table
  // (ledger_mismatch) instead of staging the batch a second time.
  std::vector<state::BatchRecord> changed;
  for (auto& [path, record] : batches_) {
    auto it = contents_.find(record.table);
    const bool in_ledger = it != contents_.end() && it->second.ledger.contains(record.fingerprint) &&
                           it->second.ledger.at(record.fingerprint).rel_path == record.path;
    if (in_ledger && record.status != BatchStatus::kStaged) {
      record.status = BatchStatus::kStaged;
      changed.push_back(ForStore(record));
    }
  }
  ReportPending(nullptr);
  if (!changed.empty()) {
    spdlog::info("reconcile: {} batch records brought in line with the warehouse ledger",
                 changed.size());
    if (auto s = state_.UpsertBatches(changed); !s) return s;
  }
  for (const auto& table : CatchUpSnapshots()) {
    if (auto s = state_.SaveTable(table); !s) return s;
  }
  return Ok();
}

std::vector<state::TableRecord> Engine::CatchUpSnapshots() {
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
  std::vector<state::TableRecord> caught_up;
  for (const auto& [name, contents] : contents_) {
    auto table = tables_.find(name);
    if (!contents.exists || table == tables_.end() || table->second.schema_json.empty() ||
        table->second.status == "reset") {
      continue;  // nothing to catch up, or the planner re-derives or rebuilds it
    }
    auto snapshot = schema::SchemaFromJson(table->second.schema_json);
    if (!snapshot || snapshot->SameStagingColumns(contents.columns)) continue;
    bool ledger_holds_staged = true;
    std::vector<const schema::Schema*> footers;  // of the ledger's batches, in path order
    std::set<std::string_view> seen;
    ForEachBatch(batches_, std::set<std::string>{name}, /*all=*/false, [&](auto it) {
      const Known& b = it->second;
      if (contents.ledger.contains(b.fingerprint)) {
        if (b.schema && seen.insert(b.fingerprint).second) footers.push_back(&b.schema->schema);
      } else if (b.status == BatchStatus::kStaged) {
        ledger_holds_staged = false;
      }
      return std::next(it);
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
    spdlog::warn("reconcile: table {}: state's schema snapshot lagged the warehouse; adopted the "
                 "warehouse's columns ({} columns)",
                 name, adopted->columns.size());
    table->second.schema_json = schema::ToJson(*adopted);
    table->second.schema_hash = adopted->Hash();
    table->second.updated_at_us = clock_.NowMicros();
    caught_up.push_back(table->second);
  }
  return caught_up;
}

void Engine::Quarantine(state::BatchRecord& record, const std::string& code,
                        const std::string& message) {
  record.status = BatchStatus::kQuarantined;
  record.error_code = code;
  record.error_message = message;
  spdlog::warn("quarantined {}: {}: {}", record.path, code, message);
  observer_->OnBatchQuarantined(record.table, code);
  if (!config_.landing.quarantine_dir) return;
  // Keep the relative layout so the same name in two tables cannot collide.
  fs::path target = *config_.landing.quarantine_dir / record.path;
  std::error_code ec;
  fs::create_directories(target.parent_path(), ec);
  fs::rename(config_.landing.dir / record.path, target, ec);
  if (ec) {
    spdlog::warn("could not move {} to {}: {}", record.path, target.string(), ec.message());
  } else {
    record.error_message += " (moved to " + target.string() + ")";
  }
}

Result<CatalogStats> Engine::RefreshCatalog(const std::vector<std::string>& tables, bool all_tables,
                                            std::chrono::seconds truncated_grace, Scanned& scanned) {
  auto& folders = scanned.folders;
  auto& present = scanned.present;
  auto& files = scanned.files;
  CatalogStats stats;
  if (all_tables) {
    auto scan = landing::Scan(config_.landing.dir, config_.landing.ignore);
    if (!scan) return Fail(scan.error());
    for (const auto& w : scan->warnings) spdlog::warn("landing: {}", w);
    folders.insert(scan->tables.begin(), scan->tables.end());
    files = std::move(scan->files);
  } else {
    for (const auto& table : tables) {
      auto found = landing::ScanTable(config_.landing.dir, table, config_.landing.ignore);
      if (!found) return Fail(found.error());
      std::error_code ec;
      if (fs::is_directory(config_.landing.dir / table, ec)) folders.insert(table);
      for (auto& f : *found) files.push_back(std::move(f));
    }
  }
  stats.files = static_cast<int>(files.size());

  // Which files are new or changed since we last looked? Size, mtime, ctime
  // and inode match: the content is the one we fingerprinted, no need to read
  // it again. ctime because a rewrite in place can restore size and mtime
  // (cp -p, rsync -t --inplace, touch -r), but nobody can set ctime.
  std::vector<const landing::LandedFile*> to_inspect;
  present.reserve(files.size());
  {
    std::lock_guard lock(mu_);
    for (const auto& f : files) {
      present.insert(f.rel_path);
      auto it = batches_.find(f.rel_path);
      if (it != batches_.end() && it->second.size == f.size && it->second.mtime_ns == f.mtime_ns &&
          it->second.ctime_ns == f.ctime_ns && it->second.inode == f.inode) {
        continue;
      }
      to_inspect.push_back(&f);
    }
  }

  // Fingerprint and read footers in parallel on the worker pool.
  struct Inspected {
    state::BatchRecord record;
    std::optional<schema::Schema> schema;
    bool deferred = false;  // still being written: not recorded this time
  };
  // A producer writing in place may close the file between pieces, and a scan
  // may catch it half-written: a cut-off footer on a file that was just
  // modified is more likely unfinished than broken, so it gets a grace period
  // before it is quarantined. A file that changed while we read it is
  // unfinished for sure (and its fingerprint would not match its content).
  const auto now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          clock_.Now().time_since_epoch())
                          .count();
  const int64_t grace_ns = std::chrono::nanoseconds(truncated_grace).count();
  auto still_being_written = [&](const landing::LandedFile& f, const std::string& code) {
    if (grace_ns <= 0) return false;
    const int64_t age = now_ns - f.mtime_ns;
    if ((code == "truncated" || code == "empty_file") && age < grace_ns && age > -grace_ns) {
      return true;
    }
    return !landing::Unchanged(config_.landing.dir, f);
  };
  // In chunks, so that the footer reader can read a chunk's footers in one go
  // (a query per file is most of a small file's cost), and enough chunks to
  // keep every worker busy.
  const size_t workers = static_cast<size_t>(std::max(1, pool_.size()));
  const size_t chunk = std::clamp<size_t>((to_inspect.size() + workers - 1) / workers, 1, 64);
  std::vector<std::future<std::vector<Inspected>>> futures;
  for (size_t begin = 0; begin < to_inspect.size(); begin += chunk) {
    const size_t end = std::min(to_inspect.size(), begin + chunk);
    futures.push_back(pool_.Submit([this, &to_inspect, begin, end, &still_being_written] {
      std::vector<Inspected> out(end - begin);
      std::vector<size_t> readable;  // indexes into out
      std::vector<std::filesystem::path> paths;
      for (size_t i = begin; i < end; ++i) {
        const auto* f = to_inspect[i];
        auto& r = out[i - begin].record;
        r.table = f->table;
        r.path = f->rel_path;
        r.size = f->size;
        r.mtime_ns = f->mtime_ns;
        r.ctime_ns = f->ctime_ns;
        r.inode = f->inode;
        r.discovered_at_us = clock_.NowMicros();
        if (f->kind != landing::FileKind::kRegular) {
          // Never opened: a link may lead outside the landing directory, and
          // a FIFO would block the reader.
          r.status = BatchStatus::kQuarantined;
          r.error_code = "not_a_regular_file";
          r.error_message = f->kind == landing::FileKind::kSymlink
                                ? "a symbolic link; landfall never follows links (move or copy the "
                                  "file itself into the landing directory)"
                                : "not a regular file (a FIFO, socket or device)";
          continue;
        }
        const std::string abs_path = landing::AbsPath(config_.landing.dir, *f);
        auto fp = landing::Fingerprint(abs_path);
        if (!fp) {
          r.status = BatchStatus::kQuarantined;
          r.error_code = fp.error().code;
          r.error_message = fp.error().message;
          continue;
        }
        r.fingerprint = *fp;
        readable.push_back(i - begin);
        paths.emplace_back(abs_path);
      }
      auto footers = footers_.ReadMany(paths);
      for (size_t k = 0; k < readable.size(); ++k) {
        auto& in = out[readable[k]];
        auto& r = in.record;
        auto& footer = footers[k];
        if (still_being_written(*to_inspect[begin + readable[k]],
                                footer ? std::string() : footer.error().code)) {
          in.deferred = true;
          continue;
        }
        if (!footer) {
          r.status = BatchStatus::kQuarantined;
          r.error_code = footer.error().code;
          r.error_message = footer.error().message;
          continue;
        }
        r.rows = footer->rows;
        r.schema_json = schema::ToJson(footer->schema);
        in.schema = std::move(footer->schema);
        r.status = BatchStatus::kPending;
      }
      return out;
    }));
  }

  // Wait for the inspections before taking the lock: the pool's threads may
  // be busy with another table's Execute, which needs the lock to finish.
  std::vector<Inspected> results;
  results.reserve(to_inspect.size());
  for (auto& future : futures) {
    for (auto& inspected : future.get()) results.push_back(std::move(inspected));
  }

  std::vector<state::BatchRecord> changed;
  std::vector<std::string> forgotten;
  std::lock_guard lock(mu_);
  for (auto& in : results) {
    auto& r = in.record;
    if (in.deferred) {
      // Not recorded, and not "present": an earlier pending record of it is
      // forgotten below rather than staged from a half-written file.
      spdlog::debug("deferred {}: still being written", r.path);
      ++stats.deferred;
      stats.deferred_tables.insert(r.table);
      present.erase(r.path);
      scanned.deferred.insert(r.path);
      continue;
    }
    ++stats.inspected;
    // Two refreshes may inspect the same new file at once (a table's run and
    // an API dry run over every table): the one merging last must not undo
    // what the other's run did with it meanwhile (staged it).
    if (auto known = batches_.find(r.path);
        known != batches_.end() && known->second.fingerprint == r.fingerprint &&
        known->second.size == r.size && known->second.mtime_ns == r.mtime_ns &&
        known->second.ctime_ns == r.ctime_ns && known->second.inode == r.inode) {
      continue;
    }
    auto old = batches_.find(r.path);
    if (old != batches_.end()) {
      r.discovered_at_us = old->second.discovered_at_us;
      // Inspected again for its new ctime or mtime alone (a chmod, a rename
      // away and back, a touch, or a record from before ctime was kept) with
      // the same content: still the staged batch it was.
      if (r.status == BatchStatus::kPending && old->second.status == BatchStatus::kStaged &&
          old->second.fingerprint == r.fingerprint) {
        r.status = BatchStatus::kStaged;
        r.staged_at_us = old->second.staged_at_us;
      }
    }
    SchemaRef shared;
    if (r.status == BatchStatus::kQuarantined) {
      Quarantine(r, r.error_code, r.error_message);
      ++stats.quarantined;
    } else {
      shared = Intern(r.schema_json, std::move(in.schema));
      observer_->OnBatchDiscovered(r.table);
    }
    changed.push_back(r);  // with its schema_json, for the state store
    std::string().swap(r.schema_json);
    std::string path = r.path;  // the right side of = is evaluated first
    batches_[std::move(path)] = Known{std::move(r), std::move(shared)};
  }

  // Tables where a batch appeared, changed or went: only there can the
  // duplicates below change.
  std::set<std::string> touched;
  for (const auto& r : changed) touched.insert(r.table);

  // Files that disappeared: forget those never staged, or no longer in the
  // ledger (rebuilt without them); staged ones stay known (the planner sees
  // them missing from the scan and applies the policy).
  std::set<std::string> scanned_tables(tables.begin(), tables.end());
  ForEachBatch(batches_, scanned_tables, all_tables, [&](auto it) {
    const auto& r = it->second;
    if (r.status == BatchStatus::kQuarantined || present.contains(r.path)) return std::next(it);
    auto contents = contents_.find(r.table);
    const bool in_ledger = contents != contents_.end() && contents->second.ledger.contains(r.fingerprint);
    touched.insert(r.table);
    if (r.status == BatchStatus::kPending || r.status == BatchStatus::kDuplicate ||
        (r.status == BatchStatus::kStaged && !in_ledger)) {
      forgotten.push_back(r.path);
      Changed(r.table);
      return batches_.erase(it);
    }
    // Staged and gone (kept per on_batch_removed): the planner must see it gone.
    quiet_plans_.erase(r.table);
    ++plan_epoch_;
    return std::next(it);
  });

  // Duplicates: per table, one batch per content fingerprint. The one the
  // ledger already holds wins, then the first path in sort order. Looked for
  // in every table once, then in the tables touched since.
  const bool recheck = !duplicates_checked_;
  if (all_tables) duplicates_checked_ = true;
  // One table at a time (a table's batches are contiguous), so that only one
  // table's groups are held: the first check covers every batch.
  std::map<std::string_view, std::vector<Known*>> by_content;  // fingerprint -> batches
  std::string table_of_groups;
  auto settle = [&] {
    auto contents = contents_.find(table_of_groups);
    for (auto& [fingerprint, group] : by_content) {
      if (group.size() < 2) {
        if (group[0]->status == BatchStatus::kDuplicate) {
          group[0]->status = BatchStatus::kPending;  // its twin is gone
          group[0]->duplicate_of.clear();
          changed.push_back(ForStore(*group[0]));
        }
        continue;
      }
      Known* keeper = group[0];
      for (auto* r : group) {
        if (contents != contents_.end() && contents->second.ledger.contains(r->fingerprint) &&
            contents->second.ledger.at(r->fingerprint).rel_path == r->path) {
          keeper = r;
        }
      }
      for (auto* r : group) {
        if (r == keeper) {
          if (r->status == BatchStatus::kDuplicate) {
            r->status = BatchStatus::kPending;
            r->duplicate_of.clear();
            changed.push_back(ForStore(*r));
          }
        } else if (r->status != BatchStatus::kDuplicate || r->duplicate_of != keeper->path) {
          r->status = BatchStatus::kDuplicate;
          r->duplicate_of = keeper->path;
          ++stats.duplicates;
          observer_->OnBatchDuplicate(r->table);
          spdlog::info("duplicate: {} has the same content as {}; not staged again", r->path,
                       keeper->path);
          changed.push_back(ForStore(*r));
        }
      }
    }
    by_content.clear();
  };
  ForEachBatch(batches_, recheck ? scanned_tables : touched, recheck && all_tables,
               [&](auto it) {
    auto& [path, r] = *it;
    if (present.contains(path) && r.status != BatchStatus::kQuarantined && !r.fingerprint.empty()) {
      if (r.table != table_of_groups) {
        settle();
        table_of_groups = r.table;
      }
      by_content[r.fingerprint].push_back(&r);
    }
    return std::next(it);
  });
  settle();

  for (const auto& r : changed) {
    Changed(r.table);
    touched.insert(r.table);
  }
  if (!touched.empty()) ReportPending(recheck && all_tables ? nullptr : &touched);
  if (!changed.empty()) {
    if (auto s = state_.UpsertBatches(changed); !s) return Fail(s.error());
  }
  if (!forgotten.empty()) {
    if (auto s = state_.DeleteBatches(forgotten); !s) return Fail(s.error());
  }
  return stats;
}

void Engine::Changed(const std::string& table) {
  quiet_plans_.erase(table);
  ++plan_epoch_;
  generation_.fetch_add(1, std::memory_order_acq_rel);
}

Engine::SchemaRef Engine::Intern(const std::string& json, std::optional<schema::Schema> parsed) {
  if (auto it = schema_pool_.find(json); it != schema_pool_.end()) {
    if (auto shared = it->second.lock()) return shared;
  }
  if (!parsed) {
    auto s = schema::SchemaFromJson(json);
    if (!s) return nullptr;
    parsed = std::move(*s);
  }
  auto shared = std::make_shared<const SharedSchema>(SharedSchema{json, std::move(*parsed)});
  schema_pool_[json] = shared;
  // Schemas no batch holds any more leave expired entries; sweep them once
  // the pool has doubled since the last sweep.
  if (schema_pool_.size() > 2 * std::max<size_t>(schema_pool_pruned_at_, 512)) {
    std::erase_if(schema_pool_, [](const auto& entry) { return entry.second.expired(); });
    schema_pool_pruned_at_ = schema_pool_.size();
  }
  return shared;
}

state::BatchRecord Engine::ForStore(const Known& batch) {
  state::BatchRecord out = batch;
  if (batch.schema) out.schema_json = batch.schema->json;
  return out;
}

std::vector<state::TableSummary> Engine::TableSummaries() {
  std::lock_guard lock(mu_);
  std::map<std::string, state::TableSummary> by_name;
  for (const auto& [name, t] : tables_) {
    auto& s = by_name[name].table;
    s = t;
    s.schema_json.clear();
  }
  for (const auto& [path, b] : batches_) {
    auto& s = by_name[b.table];
    if (s.table.name.empty()) {
      // Known only by its batches: no table row yet.
      s.table.name = b.table;
      s.table.status.clear();
      s.table.policy.clear();
    }
    switch (b.status) {
      case BatchStatus::kStaged:
        ++s.staged;
        s.rows_staged += b.rows;
        break;
      case BatchStatus::kPending: ++s.pending; break;
      case BatchStatus::kQuarantined: ++s.quarantined; break;
      case BatchStatus::kDuplicate: ++s.duplicate; break;
    }
  }
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
  ForEachBatch(batches_, tables ? *tables : kNone, !tables, [&](auto it) {
    if (it->second.status == BatchStatus::kPending) ++pending_by_table_[it->second.table];
    return std::next(it);
  });
  int64_t pending = 0;
  for (const auto& [table, count] : pending_by_table_) pending += count;
  observer_->OnPendingBatches(pending);
}

Result<Engine::Prepared> Engine::Prepare(const RunRequest& request, CatalogStats* stats) {
  const auto started = std::chrono::steady_clock::now();
  Scanned scanned;
  const auto& folders = scanned.folders;
  const bool all = request.tables.empty();
  auto refreshed = RefreshCatalog(request.tables, all, request.truncated_grace, scanned);
  if (!refreshed) return Fail(refreshed.error());
  if (stats) *stats = *refreshed;

  const auto planning = std::chrono::steady_clock::now();
  std::vector<plan::TablePlan> reused;
  std::vector<std::string> to_plan;
  std::map<std::string, std::string> collisions;  // plan::NameCollisions
  plan::PlanOptions options;
  options.full_refresh = request.full_refresh;
  {
    std::lock_guard lock(mu_);
    if (format_version_ && *format_version_ != state::kStateFormatVersion) {
      options.state_unusable = true;
      options.state_unusable_why = "stored state format version " +
                                   std::to_string(*format_version_) + ", this landfall uses " +
                                   std::to_string(state::kStateFormatVersion);
    }
    std::set<std::string> names;
    if (all) {
      names = folders;
      for (const auto& [name, c] : contents_) names.insert(name);
      for (const auto& [name, t] : tables_) {
        if (t.status != "dropped") names.insert(name);
      }
    } else {
      names.insert(request.tables.begin(), request.tables.end());
    }
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
    // The tables of the catalog's batches, one jump per table.
    for (auto it = batches_.begin(); it != batches_.end();
         it = batches_.lower_bound(it->second.table + static_cast<char>('/' + 1))) {
      hold(it->second.table);
    }
    collisions = plan::NameCollisions(holds);
    // Tables whose inputs did not change since a plan that skipped them are
    // not planned again: a cycle costs in proportion to what changed.
    const bool reuse = !options.full_refresh && !options.state_unusable;
    for (const auto& name : names) {
      auto quiet = quiet_plans_.find(name);
      if (reuse && quiet != quiet_plans_.end() && !collisions.contains(name) &&
          quiet->second.folder_exists == folders.contains(name)) {
        reused.push_back(quiet->second.plan);
      } else {
        to_plan.push_back(name);
      }
    }
  }

  // The rest in slices, so that the planner's inputs (copies of ledgers and
  // batch lists) are held for a slice of tables at a time, not for all.
  Prepared prepared;
  prepared.plan = plan::PlanAll({}, options, Supertype());
  prepared.replanned = static_cast<int>(to_plan.size());
  constexpr size_t kSlice = 64;
  for (size_t begin = 0; begin < to_plan.size(); begin += kSlice) {
    const std::set<std::string> slice(to_plan.begin() + begin,
                                      to_plan.begin() + std::min(to_plan.size(), begin + kSlice));
    std::vector<plan::TableInputs> inputs;
    uint64_t epoch = 0;  // plan_epoch_ when the inputs were taken
    {
      std::lock_guard lock(mu_);
      epoch = plan_epoch_;
      inputs = Inputs(slice, scanned);
    }
    for (auto& in : inputs) {
      if (auto it = collisions.find(in.table); it != collisions.end()) in.collides_with = it->second;
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
          quiet_plans_[tp.table] = {folders.contains(tp.table), tp};
        } else {
          quiet_plans_.erase(tp.table);
        }
      }
    }
    for (auto& tp : part.tables) prepared.plan.tables.push_back(std::move(tp));
  }
  for (auto& tp : reused) prepared.plan.tables.push_back(std::move(tp));
  std::sort(prepared.plan.tables.begin(), prepared.plan.tables.end(),
            [](const plan::TablePlan& a, const plan::TablePlan& b) { return a.table < b.table; });
  prepared.plan_us = std::chrono::duration_cast<std::chrono::microseconds>(
                         std::chrono::steady_clock::now() - planning)
                         .count();
  observer_->OnPlanned(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  return prepared;
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
  ForEachBatch(batches_, names, /*all=*/false, [&](auto batch) {
    const auto& [path, r] = *batch;
    auto next = std::next(batch);
    if (r.status != BatchStatus::kPending && r.status != BatchStatus::kStaged) return next;
    auto it = by_name.find(r.table);
    if (it == by_name.end() || !it->second->folder_exists) return next;
    if (!r.schema) return next;
    // A staged batch whose file is gone is not current (the planner sees it only in the ledger).
    if (r.status == BatchStatus::kStaged && !scanned.present.contains(path) &&
        !scanned.deferred.contains(path)) {
      return next;
    }
    it->second->batches.push_back({r.fingerprint, r.path, r.rows,
                                   std::shared_ptr<const schema::Schema>(r.schema, &r.schema->schema),
                                   r.status == BatchStatus::kStaged});
    return next;
  });
  return inputs;
}

Result<plan::ChangePlan> Engine::Plan(const RunRequest& request) {
  auto prepared = Prepare(request, nullptr);
  if (!prepared) return Fail(prepared.error());
  return std::move(prepared->plan);
}

TableOutcome Engine::Execute(const plan::TablePlan& tp, int64_t run_id) {
  TableOutcome out;
  out.table = tp.table;
  out.action = tp.action;
  const auto started = std::chrono::steady_clock::now();

  std::vector<warehouse::BatchFile> files;
  std::string vanished;  // a planned batch another refresh has forgotten since
  {
    std::lock_guard lock(mu_);
    for (const auto& path : tp.batches) {
      auto r = batches_.find(path);
      if (r == batches_.end() || !r->second.schema) {
        vanished = path;
        break;
      }
      // With the file's identity as fingerprinted: the warehouse checks it
      // right before the commit, so a file replaced since is not staged under
      // the old fingerprint.
      files.push_back({r->second.fingerprint, r->second.path, config_.landing.dir / path,
                       r->second.rows, r->second.schema->schema,
                       warehouse::FileIdentity{r->second.size, r->second.mtime_ns,
                                               r->second.ctime_ns, r->second.inode}});
    }
  }

  Result<warehouse::ApplyStats> applied = warehouse::ApplyStats{};
  std::string table_status = "active";
  // The file went away during the run: the next run plans without it.
  if (!vanished.empty()) {
    applied = Fail("batch_vanished", vanished + " disappeared during the run", /*transient=*/true);
  } else switch (tp.action) {
    case plan::Action::kCreate:
    case plan::Action::kRebuild:
      applied = warehouse_.Rebuild(tp.table, tp.target, files, tp.carry_over);
      break;
    case plan::Action::kAppend:
      applied = warehouse_.Append(tp.table, tp.target, files);
      break;
    case plan::Action::kEvolve:
      applied = warehouse_.Evolve(tp.table, tp.target, tp.renames, files);
      break;
    case plan::Action::kOrphan:
      table_status = "orphaned";
      break;
    case plan::Action::kDrop:
      if (auto s = warehouse_.Drop(tp.table); !s) applied = Fail(s.error());
      table_status = "dropped";
      break;
    case plan::Action::kFail: {
      std::string why;
      for (const auto& r : tp.reasons) why += (why.empty() ? "" : "; ") + r.code + ": " + r.detail;
      applied = Fail("table_failed", why);
      break;
    }
    case plan::Action::kSkip:
      break;
  }
  out.duration_us = std::chrono::duration_cast<std::chrono::microseconds>(
                        std::chrono::steady_clock::now() - started)
                        .count();

  state::TableRecord record;
  std::vector<state::BatchRecord> staged;
  TableActionReport report;
  report.table = tp.table;
  report.action = plan::ToString(tp.action);
  report.seconds = out.duration_us / 1e6;
  {
    std::lock_guard lock(mu_);
    auto existing = tables_.find(tp.table);
    if (existing != tables_.end()) record = existing->second;
    record.name = tp.table;
    record.updated_at_us = clock_.NowMicros();
    if (!applied) {
      out.status = "failed";
      out.error = applied.error().ToString();
      // A batch file changed under the load: the next run fingerprints it
      // again and stages what it holds then.
      out.transient =
          applied.error().transient || applied.error().code == warehouse::kBatchChanged;
      record.status = "failed";
      record.last_error = out.error;
      spdlog::error("table {}: {} failed: {}", tp.table, plan::ToString(tp.action), out.error);
      report.ok = false;
      if (tp.action != plan::Action::kFail) observer_->OnWarehouseError();
    } else {
      out.status = "succeeded";
      out.rows = applied->rows;
      out.batches = applied->batches;
      record.status = table_status;
      record.last_error.clear();
      auto& contents = contents_[tp.table];
      if (tp.action == plan::Action::kDrop) {
        contents_.erase(tp.table);
        record.schema_json.clear();
        record.schema_hash.clear();
      } else if (tp.action != plan::Action::kOrphan) {
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
        for (const auto& r : applied->rejected) {
          rejected.insert(r.rel_path);
          if (auto it = batches_.find(r.rel_path); it != batches_.end()) {
            Quarantine(it->second, r.code, r.message);
            staged.push_back(ForStore(it->second));
          }
        }
        for (const auto& f : files) {
          if (rejected.contains(f.rel_path)) continue;
          contents.ledger[f.batch_id] = {f.batch_id, f.rel_path, f.rows, now};
          auto& b = batches_.at(f.rel_path);
          b.status = BatchStatus::kStaged;
          b.staged_at_us = now;
          staged.push_back(ForStore(b));
          // Landed = the file's mtime; a clock step may make it negative.
          report.landed_to_staged_seconds.push_back(std::max(0.0, (now - b.mtime_ns / 1000) / 1e6));
        }
        record.schema_json = schema::ToJson(tp.target);
        record.schema_hash = tp.target.Hash();
      }
      spdlog::info("table {}: {} {} batches, {} rows in {} ms", tp.table, plan::ToString(tp.action),
                   out.batches, out.rows, out.duration_us / 1000);
    }
    tables_[tp.table] = record;
    if (run_id > 0) {
      auto& last = last_actions_[tp.table];
      last = {tp.table, plan::ToString(tp.action), "", out.status, out.rows, out.batches,
              out.duration_us, out.error, run_id, clock_.NowMicros()};
    }
    Changed(tp.table);
    if (!staged.empty()) {
      const std::set<std::string> table{tp.table};
      ReportPending(&table);
    }
  }
  report.rows = out.rows;
  report.batches = out.batches;
  observer_->OnTableAction(report);

  // The warehouse has committed; state is a record of it. If recording fails,
  // the next start reconciles from the ledger, so it is logged, not fatal.
  state::TableRunRecord tr{tp.table,
                           plan::ToString(tp.action),
                           plan::ReasonsToJson(tp.reasons),
                           out.status,
                           out.rows,
                           out.batches,
                           out.duration_us,
                           out.error};
  if (auto s = state_.RecordTableOutcome(staged, record, run_id, &tr); !s) {
    spdlog::warn("state: {}", s.error().ToString());
    observer_->OnStateError();
  }
  return out;
}

Result<RunOutcome> Engine::Run(const RunRequest& request) {
  const auto started = std::chrono::steady_clock::now();
  auto outcome = RunUnobserved(request);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (!outcome) {
    const auto& code = outcome.error().code;
    if (code.starts_with("state_")) observer_->OnStateError();
    if (code.starts_with("warehouse_")) observer_->OnWarehouseError();
    observer_->OnRunFinished("error", seconds);
  } else {
    observer_->OnRunFinished(outcome->run_id == 0 ? "noop" : outcome->ok() ? "succeeded" : "failed",
                             seconds);
  }
  return outcome;
}

Result<RunOutcome> Engine::RunUnobserved(const RunRequest& request) {
  RunOutcome outcome;
  const int64_t statements_before = warehouse_.StatementsExecuted();
  auto prepared = Prepare(request, &outcome.catalog);
  if (!prepared) return Fail(prepared.error());
  outcome.plan = std::move(prepared->plan);
  outcome.plan_us = prepared->plan_us;
  outcome.tables_replanned = prepared->replanned;

  // schema_evolution: freeze — batches the plan refuses are quarantined, not retried.
  std::vector<state::BatchRecord> frozen;
  {
    std::lock_guard lock(mu_);
    for (const auto& tp : outcome.plan.tables) {
      for (const auto& q : tp.quarantine) {
        auto it = batches_.find(q.rel_path);
        if (it == batches_.end()) continue;
        Quarantine(it->second, q.code, q.detail);
        ++outcome.catalog.quarantined;
        frozen.push_back(ForStore(it->second));
        Changed(tp.table);
      }
    }
  }
  if (!frozen.empty()) {
    if (auto s = state_.UpsertBatches(frozen); !s) return Fail(s.error());
  }

  if (outcome.plan.ActionableCount() == 0) {
    // A quiet cycle: nothing recorded, nothing sent to the warehouse.
    outcome.warehouse_statements = warehouse_.StatementsExecuted() - statements_before;
    return outcome;
  }

  auto run_id = state_.StartRun(request.trigger, plan::ToRunJson(outcome.plan));
  if (!run_id) return Fail(run_id.error());
  outcome.run_id = *run_id;
  if (request.on_run_started) request.on_run_started(outcome.run_id);

  // Tables run in parallel on the worker pool; each table is one job.
  std::vector<std::future<TableOutcome>> futures;
  for (const auto& tp : outcome.plan.tables) {
    if (tp.action == plan::Action::kSkip) continue;
    futures.push_back(pool_.Submit([this, &tp, id = outcome.run_id] { return Execute(tp, id); }));
  }
  for (auto& f : futures) outcome.tables.push_back(f.get());

  if (outcome.plan.full_rebuild && outcome.ok()) {
    if (auto s = state_.SetFormatVersion(state::kStateFormatVersion); !s) return Fail(s.error());
    std::lock_guard lock(mu_);
    format_version_ = state::kStateFormatVersion;
  }
  {
    std::lock_guard lock(mu_);
    if (!format_version_) {
      if (auto s = state_.SetFormatVersion(state::kStateFormatVersion); !s) return Fail(s.error());
      format_version_ = state::kStateFormatVersion;
    }
  }
  std::string error;
  for (const auto& t : outcome.tables) {
    if (t.status == "failed") error += (error.empty() ? "" : "; ") + t.table + ": " + t.error;
  }
  if (auto s = state_.FinishRun(outcome.run_id, outcome.ok() ? "succeeded" : "failed", error); !s) {
    spdlog::warn("state: {}", s.error().ToString());
    observer_->OnStateError();
  }
  outcome.warehouse_statements = warehouse_.StatementsExecuted() - statements_before;
  return outcome;
}

Result<bool> ResetTableState(state::StateStore& state, const std::string& table, const Clock& clock) {
  auto deleted = state.DeleteTable(table);
  if (!deleted || !*deleted) return deleted;
  // An explicit delete is not the same as lost state: it leaves a "reset"
  // marker so the next run rebuilds the table instead of re-deriving it.
  state::TableRecord reset;
  reset.name = table;
  reset.status = "reset";
  reset.updated_at_us = clock.NowMicros();
  if (auto s = state.SaveTable(reset); !s) return Fail(s.error());
  return true;
}

Result<bool> Engine::DeleteTableState(const std::string& table) {
  auto deleted = ResetTableState(state_, table, clock_);
  if (!deleted) return deleted;
  std::lock_guard lock(mu_);
  if (*deleted) {
    tables_[table].status = "reset";
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
    auto it = batches_.find(rel_path);
    if (it == batches_.end()) return Fail("batch_not_found", "no batch '" + rel_path + "'");
    if (it->second.status != BatchStatus::kQuarantined) {
      return Fail("batch_conflict", "batch '" + rel_path + "' is " + state::ToString(it->second.status) +
                                        ", not quarantined");
    }
    table = it->second.table;
    // A file moved aside when it was quarantined goes back where it landed,
    // unless a new file has taken its place meanwhile.
    std::error_code ec;
    const fs::path landed = config_.landing.dir / rel_path;
    if (config_.landing.quarantine_dir && !fs::exists(fs::symlink_status(landed, ec))) {
      const fs::path moved = *config_.landing.quarantine_dir / rel_path;
      if (fs::exists(fs::symlink_status(moved, ec))) {
        fs::create_directories(landed.parent_path(), ec);
        fs::rename(moved, landed, ec);
        if (ec) {
          return Fail("batch_restore_failed",
                      "cannot move " + moved.string() + " back to " + landed.string() + ": " + ec.message());
        }
      }
    }
    batches_.erase(it);
    Changed(table);
  }
  // Without a record, the next scan of the table inspects the file as new.
  if (auto s = state_.DeleteBatches({rel_path}); !s) return Fail(s.error());
  spdlog::info("retry: {} will be inspected again by the next run of {}", rel_path, table);
  return table;
}

}  // namespace landfall::exec
