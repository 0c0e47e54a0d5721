#include "lib/exec/engine.h"

#include <spdlog/spdlog.h>

#include <sys/stat.h>

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

bool IsValidUtf8(std::string_view text) {
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    int extra = 0;
    uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      extra = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + static_cast<size_t>(extra) >= n) return false;  // cut off
    for (int k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are
    // not UTF-8 either (PostgreSQL refuses them).
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[extra] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return false;
    i += extra + 1;
  }
  return true;
}

namespace {

// Length of the valid UTF-8 sequence at text[i], or 0.
size_t Utf8SequenceAt(std::string_view text, size_t i) {
  for (size_t len = 1; len <= 4 && i + len <= text.size(); ++len) {
    if (IsValidUtf8(text.substr(i, len))) return len;
  }
  return 0;
}

}  // namespace

std::string EscapeFileName(std::string_view raw) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(raw.size() + 8);
  for (size_t i = 0; i < raw.size();) {
    if (raw[i] == '%') {
      out += "%25";
      ++i;
      continue;
    }
    if (size_t len = Utf8SequenceAt(raw, i); len > 0) {
      out.append(raw.substr(i, len));
      i += len;
      continue;
    }
    const auto c = static_cast<unsigned char>(raw[i]);
    out += '%';
    out += kHex[c >> 4];
    out += kHex[c & 0xF];
    ++i;
  }
  return out;
}

std::string UnescapeFileName(std::string_view escaped) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  out.reserve(escaped.size());
  for (size_t i = 0; i < escaped.size(); ++i) {
    if (escaped[i] == '%' && i + 2 < escaped.size() && hex(escaped[i + 1]) >= 0 &&
        hex(escaped[i + 2]) >= 0) {
      out += static_cast<char>(hex(escaped[i + 1]) * 16 + hex(escaped[i + 2]));
      i += 2;
    } else {
      out += escaped[i];
    }
  }
  return out;
}

bool RunOutcome::ok() const {
  return std::all_of(tables.begin(), tables.end(),
                     [](const TableOutcome& t) { return t.status != state::TableRunStatus::kFailed; });
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

  std::unique_lock lock(mu_);
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
  int reconciled = 0;
  for (auto& [path, record] : batches_) {
    auto it = contents_.find(record.table);
    const bool in_ledger = it != contents_.end() && it->second.ledger.contains(record.fingerprint) &&
                           it->second.ledger.at(record.fingerprint).rel_path == record.path;
    if (in_ledger && record.status != BatchStatus::kStaged) {
      record.status = BatchStatus::kStaged;
      MarkBatch(path);
      ++reconciled;
    }
    // Recorded but not moved yet (landfall stopped in between): the next
    // run moves it, if it is still the file that was quarantined.
    if (record.status == BatchStatus::kQuarantined && config_.landing.quarantine_dir) {
      unmoved_.insert(path);
    }
  }
  if (reconciled > 0) {
    spdlog::info("reconcile: {} batch records brought in line with the warehouse ledger",
                 reconciled);
  }
  CatchUpSnapshots();
  RecordUnlistedQuarantine();
  ReportPending(nullptr);
  lock.unlock();
  return FlushState();
}

void Engine::RecordUnlistedQuarantine() {
  if (!config_.landing.quarantine_dir) return;
  const fs::path& root = *config_.landing.quarantine_dir;
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return;
  // A file moved aside by an older landfall that stopped before recording it
  // (or moved there by hand): listed, so it can be seen and retried.
  int found = 0;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (!it->is_regular_file(ec) || it->is_symlink(ec)) continue;
    const std::string raw = it->path().lexically_relative(root).generic_string();
    const auto slash = raw.find('/');
    if (slash == std::string::npos || slash == 0) continue;  // not under a table folder
    const bool valid = IsValidUtf8(raw);
    const std::string path = valid ? raw : EscapeFileName(raw);
    if (batches_.contains(path)) continue;
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0) continue;
    Known r;
    r.table = path.substr(0, path.find('/'));
    r.path = path;
    r.size = st.st_size;
    r.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    r.inode = static_cast<int64_t>(st.st_ino);
    r.discovered_at_us = clock_.NowMicros();
    r.status = BatchStatus::kQuarantined;
    if (valid) {
      r.error_code = "unrecorded";
      r.error_message = "found in the quarantine dir without a record; retry it to inspect it again";
    } else {
      r.error_code = kInvalidFileName;
      r.error_message = "the file name is not valid UTF-8; found in the quarantine dir";
    }
    spdlog::warn("quarantine: {} was in {} without a record; recorded as {}", path, root.string(),
                 r.error_code);
    batches_[path] = std::move(r);
    MarkBatch(path);
    Changed(path.substr(0, path.find('/')));
    ++found;
  }
  if (ec) spdlog::warn("quarantine: cannot list {}: {}", root.string(), ec.message());
  if (found > 0) spdlog::info("quarantine: {} unrecorded files recorded", found);
}

void Engine::CatchUpSnapshots() {
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
    MarkTable(name);
  }
}

void Engine::Quarantine(state::BatchRecord& record, const std::string& code,
                        const std::string& message) {
  record.status = BatchStatus::kQuarantined;
  record.error_code = code;
  record.error_message = message;
  spdlog::warn("quarantined {}: {}: {}", record.path, code, message);
  observer_->OnBatchQuarantined(record.table, code);
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
    auto batch = batches_.find(path);
    if (batch != batches_.end() && batch->second.status == BatchStatus::kQuarantined &&
        unsaved_batches_.contains(path)) {
      ++it;  // its record first
      continue;
    }
    if (batch == batches_.end() || batch->second.status != BatchStatus::kQuarantined) {
      it = unmoved_.erase(it);
      continue;
    }
    auto& record = batch->second;
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

Status Engine::FlushState() {
  std::lock_guard flushing(flush_mu_);
  std::vector<state::BatchRecord> upserts;
  std::vector<std::string> deletes;
  std::vector<std::pair<std::string, uint64_t>> upsert_marks, delete_marks;
  std::vector<std::pair<state::TableRecord, uint64_t>> tables;
  std::vector<UnsavedRun> runs;
  {
    std::lock_guard lock(mu_);
    if (unsaved_batches_.empty() && unsaved_tables_.empty() && unsaved_runs_.empty()) return Ok();
    for (const auto& [path, seq] : unsaved_batches_) {
      if (auto it = batches_.find(path); it != batches_.end()) {
        upserts.push_back(ForStore(it->second));
        upsert_marks.emplace_back(path, seq);
      } else {
        deletes.push_back(path);
        delete_marks.emplace_back(path, seq);
      }
    }
    for (const auto& [name, seq] : unsaved_tables_) {
      if (auto it = tables_.find(name); it != tables_.end()) tables.emplace_back(it->second, seq);
    }
    runs = unsaved_runs_;
  }
  // Clears the marks of what was just written, unless changed again since.
  auto clear_batches = [&](const std::vector<std::pair<std::string, uint64_t>>& marks) {
    std::lock_guard lock(mu_);
    for (const auto& [path, seq] : marks) {
      if (auto it = unsaved_batches_.find(path); it != unsaved_batches_.end() && it->second == seq) {
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
  // A transient failure keeps the marks for the next flush; a permanent one
  // would fail the same way forever, so it is logged and given up.
  auto failed = [&](const Error& error, const char* what) {
    observer_->OnStateError();
    if (error.transient) return true;
    spdlog::error("state: {} not recorded, given up: {}", what, error.ToString());
    return false;
  };

  // The usual case, one table's outcome (its staged batches, its row and its
  // run record), is one transaction and one round trip.
  {
    std::optional<state::TableRecord> table;
    if (!tables.empty()) table = tables.front().first;
    const UnsavedRun* run = nullptr;
    for (const auto& r : runs) {
      if (!r.finish) {
        run = &r;
        break;
      }
    }
    if (!upserts.empty() || table || run) {
      auto s = state_.RecordTableOutcome(upserts, table, run ? run->run_id : 0, run ? &run->record : nullptr);
      if (!s && failed(s.error(), "batch, table and run records")) return s;
      clear_batches(upsert_marks);
      if (table) clear_table(table->name, tables.front().second);
      if (run) clear_run(run->seq);
      if (!tables.empty()) tables.erase(tables.begin());
      if (run) std::erase_if(runs, [seq = run->seq](const UnsavedRun& r) { return r.seq == seq; });
    }
  }
  if (!deletes.empty()) {
    auto s = state_.DeleteBatches(deletes);
    if (!s && failed(s.error(), "forgotten batches")) return s;
    clear_batches(delete_marks);
  }
  for (const auto& [table, seq] : tables) {
    auto s = state_.SaveTable(table);
    if (!s && failed(s.error(), "table record")) return s;
    clear_table(table.name, seq);
  }
  for (const auto& r : runs) {
    auto s = r.finish ? state_.FinishRun(r.run_id, r.status, r.error) : state_.RecordTableRun(r.run_id, r.record);
    if (!s && failed(s.error(), "run record")) return s;
    clear_run(r.seq);
  }
  return Ok();
}

Result<CatalogStats> Engine::RefreshCatalog(const std::vector<std::string>& tables, bool all_tables,
                                            std::chrono::seconds truncated_grace, bool dry_run,
                                            Scanned& scanned) {
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

  // A path that is not valid UTF-8 cannot be stored (PostgreSQL and JSON
  // hold text) nor be a staging table's name: such a file is quarantined
  // under an escaped name, and such a folder is no table.
  RawNames raw_names;
  std::erase_if(folders, [](const std::string& f) { return !IsValidUtf8(f); });
  for (auto& f : files) {
    if (IsValidUtf8(f.rel_path)) continue;
    std::string escaped = EscapeFileName(f.rel_path);
    f.table = escaped.substr(0, escaped.find('/'));
    raw_names[escaped] = std::move(f.rel_path);
    f.rel_path = std::move(escaped);
  }

  // Which files are new or changed since we last looked? Size, mtime, ctime
  // and inode match: the content is the one we fingerprinted, no need to read
  // it again. ctime because a rewrite in place can restore size and mtime
  // (cp -p, rsync -t --inplace, touch -r), but nobody can set ctime.
  std::vector<const landing::LandedFile*> to_inspect;
  std::vector<const landing::LandedFile*> invalid_names;  // quarantined without a look inside
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
      if (raw_names.contains(f.rel_path)) {
        invalid_names.push_back(&f);
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
  std::vector<std::future<Result<std::vector<Inspected>>>> futures;
  for (size_t begin = 0; begin < to_inspect.size(); begin += chunk) {
    const size_t end = std::min(to_inspect.size(), begin + chunk);
    futures.push_back(pool_.Submit([this, &to_inspect, begin, end,
                                    &still_being_written]() -> Result<std::vector<Inspected>> {
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
  results.reserve(to_inspect.size() + invalid_names.size());
  std::optional<Error> inspect_error;
  for (auto& future : futures) {
    auto chunk = future.get();
    if (!chunk) {
      if (!inspect_error) inspect_error = chunk.error();
      continue;
    }
    for (auto& inspected : *chunk) results.push_back(std::move(inspected));
  }
  if (inspect_error) return Fail(*inspect_error);
  for (const auto* f : invalid_names) {
    Inspected in;
    auto& r = in.record;
    r.table = f->table;
    r.path = f->rel_path;
    r.size = f->size;
    r.mtime_ns = f->mtime_ns;
    r.ctime_ns = f->ctime_ns;
    r.inode = f->inode;
    r.discovered_at_us = clock_.NowMicros();
    r.status = BatchStatus::kQuarantined;
    r.error_code = kInvalidFileName;
    r.error_message =
        "the file name is not valid UTF-8; recorded with each byte that is not UTF-8 as %XX "
        "(and % as %25); rename the file to stage it";
    results.push_back(std::move(in));
  }

  // Tables with a batch record changed (and marked for the state store).
  std::set<std::string> changed_tables;
  auto note_changed = [&](const std::string& table, const std::string& path) {
    MarkBatch(path);
    changed_tables.insert(table);
  };
  std::unique_lock lock(mu_);
  for (auto& in : results) {
    auto& r = in.record;
    // A dry run (plan) quarantines nothing: a run decides that, with the
    // grace it gives files still being written. Left out like a deferred file.
    if (dry_run && r.status == BatchStatus::kQuarantined) in.deferred = true;
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
    note_changed(r.table, r.path);
    std::string().swap(r.schema_json);
    std::string path = r.path;  // the right side of = is evaluated first
    batches_[std::move(path)] = Known{std::move(r), std::move(shared)};
  }

  // Tables where a batch appeared, changed or went: only there can the
  // duplicates below change.
  std::set<std::string> touched = changed_tables;

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
      MarkBatch(r.path);  // not known any more: deleted from the state store
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
          note_changed(group[0]->table, group[0]->path);
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
            note_changed(r->table, r->path);
          }
        } else if (r->status != BatchStatus::kDuplicate || r->duplicate_of != keeper->path) {
          r->status = BatchStatus::kDuplicate;
          r->duplicate_of = keeper->path;
          ++stats.duplicates;
          observer_->OnBatchDuplicate(r->table);
          spdlog::info("duplicate: {} has the same content as {}; not staged again", r->path,
                       keeper->path);
          note_changed(r->table, r->path);
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

  // A staged batch's content under a new path (its file was moved within
  // its table): the new path takes the batch over, staged, and nothing is
  // staged twice; the old path's record, whose file is gone, is forgotten.
  ForEachBatch(batches_, touched, /*all=*/false, [&](auto it) {
    auto& [path, r] = *it;
    if (r.status != BatchStatus::kPending || !present.contains(path)) return std::next(it);
    auto contents = contents_.find(r.table);
    if (contents == contents_.end()) return std::next(it);
    auto entry = contents->second.ledger.find(r.fingerprint);
    if (entry == contents->second.ledger.end()) return std::next(it);
    r.status = BatchStatus::kStaged;
    r.staged_at_us = entry->second.loaded_at_us;
    note_changed(r.table, path);
    const std::set<std::string> table{r.table};
    ForEachBatch(batches_, table, /*all=*/false, [&](auto old) {
      const auto& [old_path, o] = *old;
      if (old_path == path || o.status != BatchStatus::kStaged || o.fingerprint != r.fingerprint ||
          present.contains(old_path) || scanned.deferred.contains(old_path)) {
        return std::next(old);
      }
      spdlog::info("moved: {} is {} (already staged) under a new path", path, old_path);
      MarkBatch(old_path);
      return batches_.erase(old);
    });
    return std::next(it);
  });

  for (const auto& table : changed_tables) {
    Changed(table);
    touched.insert(table);
  }
  if (!touched.empty()) ReportPending(recheck && all_tables ? nullptr : &touched);
  lock.unlock();
  // Memory has moved on (so the catalog takes on new files even while the
  // state store is down); what this and earlier refreshes could not write
  // is written here, or stays marked for the next flush.
  if (auto s = FlushState(); !s) return Fail(s.error());
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
      s.table.status = state::TableStatus::kNew;
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

Result<Engine::Prepared> Engine::Prepare(const RunRequest& request, CatalogStats* stats,
                                         bool dry_run) {
  const auto started = std::chrono::steady_clock::now();
  Scanned scanned;
  const auto& folders = scanned.folders;
  const bool all = request.tables.empty();
  auto refreshed = RefreshCatalog(request.tables, all, request.truncated_grace, dry_run, scanned);
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
        if (t.status != state::TableStatus::kDropped) names.insert(name);
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
  auto prepared = Prepare(request, nullptr, /*dry_run=*/true);
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
  state::TableStatus table_status = state::TableStatus::kActive;
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
      table_status = state::TableStatus::kOrphaned;
      break;
    case plan::Action::kDrop:
      if (auto s = warehouse_.Drop(tp.table); !s) applied = Fail(s.error());
      table_status = state::TableStatus::kDropped;
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
  int staged = 0;  // batch records now staged
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
      out.status = state::TableRunStatus::kFailed;
      out.error = applied.error().ToString();
      // A batch file changed under the load: the next run fingerprints it
      // again and stages what it holds then.
      out.transient =
          applied.error().transient || applied.error().code == warehouse::kBatchChanged;
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
            MarkBatch(r.rel_path);
          }
        }
        for (const auto& f : files) {
          if (rejected.contains(f.rel_path)) continue;
          contents.ledger[f.batch_id] = {f.batch_id, f.rel_path, f.rows, now};
          // A refresh running meanwhile may have forgotten the batch (its file
          // changed or went while the warehouse read it). The ledger has it,
          // which is the truth; the next scan of the file (if it is still
          // there) finds its content already staged.
          auto b = batches_.find(f.rel_path);
          if (b == batches_.end() || b->second.fingerprint != f.batch_id) {
            spdlog::warn("table {}: {} was staged but has changed or gone since it was planned",
                         tp.table, f.rel_path);
            continue;
          }
          b->second.status = BatchStatus::kStaged;
          b->second.staged_at_us = now;
          MarkBatch(f.rel_path);
          ++staged;
          // Landed = the file's mtime; a clock step may make it negative.
          report.landed_to_staged_seconds.push_back(
              std::max(0.0, (now - b->second.mtime_ns / 1000) / 1e6));
        }
        record.schema_json = schema::ToJson(tp.target);
        record.schema_hash = tp.target.Hash();
      }
      spdlog::info("table {}: {} {} batches, {} rows in {} ms", tp.table, plan::ToString(tp.action),
                   out.batches, out.rows, out.duration_us / 1000);
    }
    tables_[tp.table] = record;
    MarkTable(tp.table);
    if (run_id > 0) {
      auto& last = last_actions_[tp.table];
      last = {tp.table, plan::ToString(tp.action), "", out.status, out.rows, out.batches,
              out.duration_us, out.error, run_id, clock_.NowMicros()};
      UnsavedRun run;
      run.seq = ++write_seq_;
      run.run_id = run_id;
      run.record = {tp.table,   plan::ToString(tp.action), plan::ReasonsToJson(tp.reasons),
                    out.status, out.rows,                  out.batches,
                    out.duration_us, out.error};
      unsaved_runs_.push_back(std::move(run));
    }
    Changed(tp.table);
    if (staged > 0) {
      const std::set<std::string> table{tp.table};
      ReportPending(&table);
    }
  }
  report.rows = out.rows;
  report.batches = out.batches;
  observer_->OnTableAction(report);

  // The warehouse has committed; state is a record of it. If recording fails
  // it stays marked: the run's last flush, or the next refresh, writes it.
  if (auto s = FlushState(); !s) spdlog::warn("state: {}; written later", s.error().ToString());
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
  auto prepared = Prepare(request, &outcome.catalog, /*dry_run=*/false);
  if (!prepared) return Fail(prepared.error());
  outcome.plan = std::move(prepared->plan);
  outcome.plan_us = prepared->plan_us;
  outcome.tables_replanned = prepared->replanned;

  // schema_evolution: freeze — batches the plan refuses are quarantined, not retried.
  {
    std::lock_guard lock(mu_);
    for (const auto& tp : outcome.plan.tables) {
      for (const auto& q : tp.quarantine) {
        auto it = batches_.find(q.rel_path);
        if (it == batches_.end()) continue;
        Quarantine(it->second, q.code, q.detail);
        ++outcome.catalog.quarantined;
        MarkBatch(q.rel_path);
        Changed(tp.table);
      }
    }
  }
  // Quarantined files are recorded first, then moved aside: a crash or an
  // outage in between leaves a recorded file in place, which the next run
  // moves (never a moved file without a record).
  if (auto s = FlushState(); !s) return Fail(s.error());
  MoveQuarantined();

  if (outcome.plan.ActionableCount() == 0) {
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

  // Tables run in parallel on the worker pool; each table is one job.
  std::vector<std::future<Result<TableOutcome>>> futures;
  std::vector<const plan::TablePlan*> submitted;
  for (const auto& tp : outcome.plan.tables) {
    if (tp.action == plan::Action::kSkip) continue;
    submitted.push_back(&tp);
    futures.push_back(pool_.Submit(
        [this, &tp, id = outcome.run_id]() -> Result<TableOutcome> { return Execute(tp, id); }));
  }
  for (size_t i = 0; i < futures.size(); ++i) {
    auto table = futures[i].get();
    if (table) {
      outcome.tables.push_back(std::move(*table));
      continue;
    }
    // A bug (an exception) in one table's job fails that table, not the run.
    spdlog::error("table {}: {}", submitted[i]->table, table.error().ToString());
    TableOutcome failed;
    failed.table = submitted[i]->table;
    failed.action = submitted[i]->action;
    failed.status = state::TableRunStatus::kFailed;
    failed.error = table.error().ToString();
    outcome.tables.push_back(std::move(failed));
  }

  std::string error;
  for (const auto& t : outcome.tables) {
    if (t.status == state::TableRunStatus::kFailed) error += (error.empty() ? "" : "; ") + t.table + ": " + t.error;
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
  if (auto s = FlushState(); !s) return Fail(s.error());
  if (version_error) return Fail(*version_error);
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
    const std::string on_disk = OnDiskPath(it->second);
    const fs::path landed = config_.landing.dir / on_disk;
    if (config_.landing.quarantine_dir && !fs::exists(fs::symlink_status(landed, ec))) {
      const fs::path moved = *config_.landing.quarantine_dir / on_disk;
      if (fs::exists(fs::symlink_status(moved, ec))) {
        fs::create_directories(landed.parent_path(), ec);
        fs::rename(moved, landed, ec);
        if (ec) {
          return Fail("batch_restore_failed",
                      "cannot move " + moved.string() + " back to " + landed.string() + ": " + ec.message());
        }
      }
    }
    // Without a record, the next scan of the table inspects the file as new.
    batches_.erase(it);
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
