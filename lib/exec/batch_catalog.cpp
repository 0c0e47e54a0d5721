#include "lib/exec/batch_catalog.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <future>

namespace landfall::exec {

namespace fs = std::filesystem;
using state::BatchStatus;

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

bool LedgerHolds(const WarehouseContents& contents, const state::BatchRecord& batch,
                 bool same_path) {
  auto it = contents.find(batch.table);
  if (it == contents.end()) return false;
  auto entry = it->second.ledger.find(batch.fingerprint);
  return entry != it->second.ledger.end() && (!same_path || entry->second.rel_path == batch.path);
}

BatchCatalog::BatchCatalog(const config::LandingConfig& landing, schema::FooterReader& footers,
                           ThreadPool& pool, const Clock& clock)
    : landing_(landing), footers_(footers), pool_(pool), clock_(clock) {}

Result<Scanned> BatchCatalog::Scan(const std::vector<std::string>& tables, bool all) const {
  Scanned scanned;
  auto& folders = scanned.folders;
  auto& files = scanned.files;
  if (all) {
    auto scan = landing::Scan(landing_.dir, landing_.ignore);
    if (!scan) return Fail(scan.error());
    for (const auto& w : scan->warnings) spdlog::warn("landing: {}", w);
    folders.insert(scan->tables.begin(), scan->tables.end());
    files = std::move(scan->files);
  } else {
    for (const auto& table : tables) {
      auto found = landing::ScanTable(landing_.dir, table, landing_.ignore);
      if (!found) return Fail(found.error());
      std::error_code ec;
      if (fs::is_directory(landing_.dir / table, ec)) folders.insert(table);
      for (auto& f : *found) files.push_back(std::move(f));
    }
  }

  // A path that is not valid UTF-8 cannot be stored (PostgreSQL and JSON
  // hold text) nor be a staging table's name: such a file is quarantined
  // under an escaped name, and such a folder is no table.
  std::erase_if(folders, [](const std::string& f) { return !IsValidUtf8(f); });
  for (auto& f : files) {
    if (IsValidUtf8(f.rel_path)) continue;
    std::string escaped = EscapeFileName(f.rel_path);
    f.table = escaped.substr(0, escaped.find('/'));
    scanned.raw_names[escaped] = std::move(f.rel_path);
    f.rel_path = std::move(escaped);
  }
  return scanned;
}

BatchCatalog::Candidates BatchCatalog::ToInspect(Scanned& scanned) const {
  // Which files are new or changed since we last looked? Size, mtime, ctime
  // and inode match: the content is the one we fingerprinted, no need to read
  // it again. ctime because a rewrite in place can restore size and mtime
  // (cp -p, rsync -t --inplace, touch -r), but nobody can set ctime.
  Candidates out;
  scanned.present.reserve(scanned.files.size());
  for (const auto& f : scanned.files) {
    scanned.present.insert(f.rel_path);
    auto it = batches_.find(f.rel_path);
    if (it != batches_.end() && it->second.size == f.size && it->second.mtime_ns == f.mtime_ns &&
        it->second.ctime_ns == f.ctime_ns && it->second.inode == f.inode) {
      continue;
    }
    (scanned.raw_names.contains(f.rel_path) ? out.invalid_names : out.to_inspect).push_back(&f);
  }
  return out;
}

state::BatchRecord BatchCatalog::NewRecord(const landing::LandedFile& f) const {
  state::BatchRecord r;
  r.table = f.table;
  r.path = f.rel_path;
  r.size = f.size;
  r.mtime_ns = f.mtime_ns;
  r.ctime_ns = f.ctime_ns;
  r.inode = f.inode;
  r.discovered_at_us = clock_.NowMicros();
  return r;
}

bool BatchCatalog::StillBeingWritten(const landing::LandedFile& f, const std::string& code,
                                     std::chrono::seconds truncated_grace) const {
  // A producer writing in place may close the file between pieces, and a scan
  // may catch it half-written: a cut-off footer on a file that was just
  // modified is more likely unfinished than broken, so it gets a grace period
  // before it is quarantined. A file that changed while we read it is
  // unfinished for sure (and its fingerprint would not match its content).
  const int64_t grace_ns = std::chrono::nanoseconds(truncated_grace).count();
  if (grace_ns <= 0) return false;
  const auto now_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(clock_.Now().time_since_epoch()).count();
  const int64_t age = now_ns - f.mtime_ns;
  if ((code == "truncated" || code == "empty_file") && age < grace_ns && age > -grace_ns) {
    return true;
  }
  return !landing::Unchanged(landing_.dir, f);
}

std::vector<BatchCatalog::Inspected> BatchCatalog::InspectChunk(
    const std::vector<const landing::LandedFile*>& to_inspect, size_t begin, size_t end,
    std::chrono::seconds truncated_grace) const {
  std::vector<Inspected> out(end - begin);
  std::vector<size_t> readable;  // indexes into out
  std::vector<fs::path> paths;
  for (size_t i = begin; i < end; ++i) {
    const auto* f = to_inspect[i];
    auto& r = out[i - begin].record;
    r = NewRecord(*f);
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
    const std::string abs_path = landing::AbsPath(landing_.dir, *f);
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
    if (StillBeingWritten(*to_inspect[begin + readable[k]],
                          footer ? std::string() : footer.error().code, truncated_grace)) {
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
}

Result<std::vector<BatchCatalog::Inspected>> BatchCatalog::Inspect(
    const Candidates& candidates, std::chrono::seconds truncated_grace) const {
  // In chunks, so that the footer reader can read a chunk's footers in one go
  // (a query per file is most of a small file's cost), and enough chunks to
  // keep every worker busy.
  const auto& to_inspect = candidates.to_inspect;
  const size_t workers = static_cast<size_t>(std::max(1, pool_.size()));
  const size_t chunk = std::clamp<size_t>((to_inspect.size() + workers - 1) / workers, 1, 64);
  std::vector<std::future<Result<std::vector<Inspected>>>> futures;
  for (size_t begin = 0; begin < to_inspect.size(); begin += chunk) {
    const size_t end = std::min(to_inspect.size(), begin + chunk);
    futures.push_back(pool_.Submit(
        [this, &to_inspect, begin, end, truncated_grace]() -> Result<std::vector<Inspected>> {
          return InspectChunk(to_inspect, begin, end, truncated_grace);
        }));
  }

  std::vector<Inspected> results;
  results.reserve(to_inspect.size() + candidates.invalid_names.size());
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
  for (const auto* f : candidates.invalid_names) {
    Inspected in;
    in.record = NewRecord(*f);
    in.record.status = BatchStatus::kQuarantined;
    in.record.error_code = kInvalidFileName;
    in.record.error_message =
        "the file name is not valid UTF-8; recorded with each byte that is not UTF-8 as %XX "
        "(and % as %25); rename the file to stage it";
    results.push_back(std::move(in));
  }
  return results;
}

// What Merge's steps share.
struct BatchCatalog::Merging {
  Scanned& scanned;
  std::set<std::string> scanned_tables;
  bool all;
  const WarehouseContents& contents;
  EngineObserver& observer;
  CatalogChanges changes;
  // Tables where a batch appeared, changed or went: only there can the
  // duplicates change.
  std::set<std::string> touched;

  // The record at `path` of `table` changed: it is written, its table replanned.
  void Changed(const std::string& table, const std::string& path) {
    changes.written.push_back(path);
    changes.changed_tables.insert(table);
  }
};

CatalogChanges BatchCatalog::Merge(std::vector<Inspected> inspected, Scanned& scanned,
                                   const std::vector<std::string>& tables, bool all, bool dry_run,
                                   const WarehouseContents& contents, EngineObserver& observer) {
  Merging m{.scanned = scanned,
            .scanned_tables = {tables.begin(), tables.end()},
            .all = all,
            .contents = contents,
            .observer = observer,
            .changes = {},
            .touched = {}};
  m.changes.stats.files = static_cast<int>(scanned.files.size());
  // A dry run (plan) quarantines nothing: a run decides that, with the
  // grace it gives files still being written. Left out like a deferred file.
  if (dry_run) {
    for (auto& in : inspected) {
      if (in.record.status == BatchStatus::kQuarantined) in.deferred = true;
    }
  }
  Record(inspected, m);
  m.touched = m.changes.changed_tables;
  ForgetVanished(m);
  FindDuplicates(m);
  TakeOverMoved(m);
  m.changes.recount = std::move(m.touched);
  m.changes.recount.insert(m.changes.changed_tables.begin(), m.changes.changed_tables.end());
  return std::move(m.changes);
}

void BatchCatalog::Record(std::vector<Inspected>& inspected, Merging& m) {
  auto& stats = m.changes.stats;
  for (auto& in : inspected) {
    auto& r = in.record;
    if (in.deferred) {
      // Not recorded, and not "present": an earlier pending record of it is
      // forgotten below rather than staged from a half-written file.
      spdlog::debug("deferred {}: still being written", r.path);
      ++stats.deferred;
      stats.deferred_tables.insert(r.table);
      m.scanned.present.erase(r.path);
      m.scanned.deferred.insert(r.path);
      continue;
    }
    ++stats.inspected;
    // Two refreshes may inspect the same new file at once (a table's run and
    // an API dry run over every table): the one merging last must not undo
    // what the other's run did with it meanwhile (staged it).
    auto old = batches_.find(r.path);
    if (old != batches_.end() && old->second.fingerprint == r.fingerprint &&
        old->second.size == r.size && old->second.mtime_ns == r.mtime_ns &&
        old->second.ctime_ns == r.ctime_ns && old->second.inode == r.inode) {
      continue;
    }
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
      m.changes.quarantined.push_back(r.path);
      ++stats.quarantined;
    } else {
      shared = Intern(r.schema_json, std::move(in.schema));
      m.observer.OnBatchDiscovered(r.table);
    }
    m.Changed(r.table, r.path);
    std::string().swap(r.schema_json);
    std::string path = r.path;  // the right side of = is evaluated first
    batches_[std::move(path)] = KnownBatch{std::move(r), std::move(shared)};
  }
}

void BatchCatalog::ForgetVanished(Merging& m) {
  // Files that disappeared: forget those never staged, or no longer in the
  // ledger (rebuilt without them); staged ones stay known (the planner sees
  // them missing from the scan and applies the policy).
  Walk(batches_, m.scanned_tables, m.all, [&](auto it) {
    const auto& r = it->second;
    if (r.status == BatchStatus::kQuarantined || m.scanned.present.contains(r.path)) {
      return std::next(it);
    }
    m.touched.insert(r.table);
    if (r.status == BatchStatus::kPending || r.status == BatchStatus::kDuplicate ||
        (r.status == BatchStatus::kStaged && !LedgerHolds(m.contents, r, /*same_path=*/false))) {
      m.Changed(r.table, r.path);  // not known any more: deleted from the state store
      return batches_.erase(it);
    }
    // Staged and gone (kept per on_batch_removed): the planner must see it gone.
    m.changes.stale_plans.insert(r.table);
    return std::next(it);
  });
}

void BatchCatalog::FindDuplicates(Merging& m) {
  // Duplicates: per table, one batch per content fingerprint. Looked for in
  // every table once, then in the tables touched since.
  const bool recheck = !duplicates_checked_;
  if (m.all) duplicates_checked_ = true;
  m.changes.recount_all = recheck && m.all;
  // One table at a time (a table's batches are contiguous), so that only one
  // table's groups are held: the first check covers every batch.
  std::map<std::string_view, std::vector<KnownBatch*>> by_content;  // fingerprint -> batches
  std::string table_of_groups;
  Walk(batches_, recheck ? m.scanned_tables : m.touched, recheck && m.all, [&](auto it) {
    auto& [path, r] = *it;
    if (m.scanned.present.contains(path) && r.status != BatchStatus::kQuarantined &&
        !r.fingerprint.empty()) {
      if (r.table != table_of_groups) {
        SettleDuplicates(by_content, m);
        table_of_groups = r.table;
      }
      by_content[r.fingerprint].push_back(&r);
    }
    return std::next(it);
  });
  SettleDuplicates(by_content, m);
}

void BatchCatalog::SettleDuplicates(
    std::map<std::string_view, std::vector<KnownBatch*>>& by_content, Merging& m) {
  auto not_duplicate = [&](KnownBatch* r) {
    if (r->status != BatchStatus::kDuplicate) return;
    r->status = BatchStatus::kPending;  // its twin is gone, or it is the one kept
    r->duplicate_of.clear();
    m.Changed(r->table, r->path);
  };
  for (auto& [fingerprint, group] : by_content) {
    // The one the ledger already holds (from its path) wins, then the first path.
    KnownBatch* keeper = group[0];
    for (auto* r : group) {
      if (group.size() == 1) break;  // nothing to choose between (most contents)
      if (LedgerHolds(m.contents, *r, /*same_path=*/true)) keeper = r;
    }
    for (auto* r : group) {
      if (r == keeper) {
        not_duplicate(r);
      } else if (r->status != BatchStatus::kDuplicate || r->duplicate_of != keeper->path) {
        r->status = BatchStatus::kDuplicate;
        r->duplicate_of = keeper->path;
        ++m.changes.stats.duplicates;
        m.observer.OnBatchDuplicate(r->table);
        spdlog::info("duplicate: {} has the same content as {}; not staged again", r->path,
                     keeper->path);
        m.Changed(r->table, r->path);
      }
    }
  }
  by_content.clear();
}

void BatchCatalog::TakeOverMoved(Merging& m) {
  // A staged batch's content under a new path (its file was moved within
  // its table): the new path takes the batch over, staged, and nothing is
  // staged twice; the old path's record, whose file is gone, is forgotten.
  const auto& present = m.scanned.present;
  Walk(batches_, m.touched, /*all=*/false, [&](auto it) {
    auto& [path, r] = *it;
    if (r.status != BatchStatus::kPending || !present.contains(path)) return std::next(it);
    auto contents = m.contents.find(r.table);
    if (contents == m.contents.end()) return std::next(it);
    auto entry = contents->second.ledger.find(r.fingerprint);
    if (entry == contents->second.ledger.end()) return std::next(it);
    r.status = BatchStatus::kStaged;
    r.staged_at_us = entry->second.loaded_at_us;
    m.Changed(r.table, path);
    Walk(batches_, std::set<std::string>{r.table}, /*all=*/false, [&](auto old) {
      const auto& [old_path, o] = *old;
      if (old_path == path || o.status != BatchStatus::kStaged || o.fingerprint != r.fingerprint ||
          present.contains(old_path) || m.scanned.deferred.contains(old_path)) {
        return std::next(old);
      }
      spdlog::info("moved: {} is {} (already staged) under a new path", path, old_path);
      m.changes.written.push_back(old_path);
      return batches_.erase(old);
    });
    return std::next(it);
  });
}

void BatchCatalog::Load(std::vector<state::BatchRecord> batches) {
  batches_.clear();
  Add(std::move(batches));
}

void BatchCatalog::ReplaceTables(const std::set<std::string>& tables,
                                 std::vector<state::BatchRecord> batches) {
  for (const auto& table : tables) {
    batches_.erase(batches_.lower_bound(table + '/'),
                   batches_.lower_bound(table + static_cast<char>('/' + 1)));
  }
  std::erase_if(batches, [&](const state::BatchRecord& b) { return !tables.contains(b.table); });
  Add(std::move(batches));
}

void BatchCatalog::Add(std::vector<state::BatchRecord> batches) {
  for (auto& b : batches) {
    SchemaRef shared;
    if (b.status != BatchStatus::kQuarantined && !b.schema_json.empty()) {
      // Unparseable: the batch stays unplanned, as a batch without a footer.
      shared = Intern(b.schema_json);
      if (shared) std::string().swap(b.schema_json);  // clear() would keep its memory
    }
    std::string path = b.path;  // the arguments below may be evaluated in any order
    // The state store hands the records over sorted by path: hinted at the
    // end, each lands in constant time instead of after a search of the
    // whole tree. Unsorted input is still correct, only slower.
    batches_.insert_or_assign(batches_.end(), std::move(path),
                              KnownBatch{std::move(b), std::move(shared)});
  }
}

KnownBatch* BatchCatalog::Find(const std::string& path) {
  auto it = batches_.find(path);
  return it == batches_.end() ? nullptr : &it->second;
}

const KnownBatch* BatchCatalog::Find(const std::string& path) const {
  auto it = batches_.find(path);
  return it == batches_.end() ? nullptr : &it->second;
}

void BatchCatalog::Put(KnownBatch batch) {
  std::string path = batch.path;
  batches_[std::move(path)] = std::move(batch);
}

bool BatchCatalog::Erase(const std::string& path) { return batches_.erase(path) > 0; }

std::optional<state::BatchRecord> BatchCatalog::ForStore(const std::string& path) const {
  const KnownBatch* batch = Find(path);
  if (!batch) return std::nullopt;
  state::BatchRecord out = *batch;
  if (batch->schema) out.schema_json = batch->schema->json;
  return out;
}

SchemaRef BatchCatalog::Intern(const std::string& json, std::optional<schema::Schema> parsed) {
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

}  // namespace landfall::exec
