// The catalog of batches: every Parquet file the engine knows, by rel path,
// with its record (as the state store keeps it) and its footer schema.
//
// A refresh brings it in line with the landing directory, in four steps the
// owner calls in turn (so that it can hold its lock only where the catalog is
// read or changed, never while files are read):
//   Scan       lists the landing directory (no catalog state: no lock needed);
//   ToInspect  picks the files that are new or changed since last looked at;
//   Inspect    fingerprints them and reads their footers on the worker pool
//              (no catalog state: no lock needed);
//   Merge      records what was found, forgets vanished files, finds
//              duplicate content and files moved within their table.
// Merge returns what changed (CatalogChanges) and leaves acting on it (state
// writes, plans, metrics of pending batches) to the owner.
//
// Thread-safety: none of its own. The owner serializes every call except Scan
// and Inspect, which touch no catalog state (the engine holds its mutex).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "lib/common/clock.h"
#include "lib/common/result.h"
#include "lib/common/thread_pool.h"
#include "lib/config/config.h"
#include "lib/exec/observer.h"
#include "lib/landing/catalog.h"
#include "lib/schema/footer.h"
#include "lib/schema/schema.h"
#include "lib/state/state_store.h"
#include "lib/warehouse/warehouse.h"

namespace landfall::exec {

struct CatalogStats {
  int files = 0;                          // candidate batch files seen by the scan
  int inspected = 0;                      // files fingerprinted and footer-read this time
  int quarantined = 0;                    // newly quarantined this time
  int duplicates = 0;                     // newly found duplicates this time
  int deferred = 0;                       // files left for later (see RunRequest::truncated_grace)
  std::set<std::string> deferred_tables;  // the tables those files belong to
};

// Quarantine reason of a file whose path is not valid UTF-8 (the state store
// and JSON hold text only): it is recorded under EscapeFileName(path).
inline constexpr const char* kInvalidFileName = "invalid_file_name";
bool IsValidUtf8(std::string_view text);
// A lossless text form of a path that is not valid UTF-8: each byte that is
// not part of a valid UTF-8 sequence becomes %XX (hex), and '%' becomes %25;
// UnescapeFileName maps it back to the bytes.
std::string EscapeFileName(std::string_view raw);
std::string UnescapeFileName(std::string_view escaped);

// What a refresh found in the landing directory (rel paths).
struct Scanned {
  std::vector<landing::LandedFile> files;
  std::set<std::string> folders;  // table folders
  // Rel paths of `files`, without those still being written (views into
  // `files`: filled by ToInspect, after which a Scanned must not move).
  std::unordered_set<std::string_view> present;
  std::set<std::string> deferred;  // files still being written
  // A path of `files` that is not valid UTF-8 is held escaped in `files`
  // (and `table` too when the folder name is the invalid part); this maps
  // each such rel path back to the bytes on disk.
  std::unordered_map<std::string, std::string> raw_names;
};

// What the warehouse holds, by table: its ledger says what is staged.
using WarehouseContents = std::map<std::string, warehouse::TableContents>;
// True when the ledger of `batch`'s table holds its content; with
// `same_path`, staged from `batch`'s path.
bool LedgerHolds(const WarehouseContents& contents, const state::BatchRecord& batch,
                 bool same_path);

// A footer schema, shared by every batch that has the same one (most of a
// table's batches): parsed once and held once, however many batches.
struct SharedSchema {
  std::string json;  // as stored in the state store
  schema::Schema schema;
};
using SchemaRef = std::shared_ptr<const SharedSchema>;

// A batch as the catalog holds it: its record, without schema_json, and its
// footer schema, shared (null when unknown: quarantined, unparseable).
struct KnownBatch : state::BatchRecord {
  SchemaRef schema;
};

// What a Merge changed, for the owner to follow up on.
struct CatalogChanges {
  CatalogStats stats;
  // Batch records changed, added or forgotten: the state store must follow
  // (a path the catalog no longer knows is to be deleted). May repeat.
  std::vector<std::string> written;
  // Tables whose batches changed: their plans are stale and the table list changed.
  std::set<std::string> changed_tables;
  // Tables with a staged batch whose file is gone: only their plans are stale.
  std::set<std::string> stale_plans;
  // Tables whose pending batches may have changed; every table when recount_all.
  std::set<std::string> recount;
  bool recount_all = false;
  // Batches newly quarantined (their record says why).
  std::vector<std::string> quarantined;
};

class BatchCatalog {
 public:
  // Files below `landing.dir`, read with `footers` on `pool`; `clock` dates
  // discoveries and tells a file still being written. All must outlive it.
  BatchCatalog(const config::LandingConfig& landing, schema::FooterReader& footers,
               ThreadPool& pool, const Clock& clock);
  BatchCatalog(const BatchCatalog&) = delete;
  BatchCatalog& operator=(const BatchCatalog&) = delete;

  // ---- Refresh, step by step (see the top of this file). ----

  // Lists every table folder when `all`, else the folders `tables`; a path
  // that is not valid UTF-8 is escaped (see Scanned). Errors: the landing
  // scan's ("landing_missing", ...).
  Result<Scanned> Scan(const std::vector<std::string>& tables, bool all) const;

  struct Candidates {
    std::vector<const landing::LandedFile*> to_inspect;     // into Scanned::files
    std::vector<const landing::LandedFile*> invalid_names;  // quarantined without a look inside
  };
  // The scanned files not known with their size, mtime, ctime and inode (the
  // content as fingerprinted); fills `scanned.present`.
  Candidates ToInspect(Scanned& scanned) const;

  struct Inspected {
    state::BatchRecord record;  // pending, or quarantined with the reason
    std::optional<schema::Schema> schema;
    bool deferred = false;  // still being written: not recorded this time
  };
  // Fingerprints and reads the footers of `candidates` on the pool, in
  // chunks. A truncated or empty file modified less than `truncated_grace`
  // ago, or one that changes while it is read, is deferred. Errors: a
  // footer reader's failure as a whole (not a bad file's: that is a record).
  Result<std::vector<Inspected>> Inspect(const Candidates& candidates,
                                         std::chrono::seconds truncated_grace) const;

  // Records `inspected` (a `dry_run` records no quarantine: such a file is
  // deferred), then, in the tables scanned (every table when `all`): forgets
  // files gone that were never staged or are no longer in the ledger
  // (`contents`), marks duplicate content (the ledger's batch, else the first
  // path, is kept), and lets a staged batch's content found under a new path
  // take it over. Reports discoveries and duplicates to `observer`.
  CatalogChanges Merge(std::vector<Inspected> inspected, Scanned& scanned,
                       const std::vector<std::string>& tables, bool all, bool dry_run,
                       const WarehouseContents& contents, EngineObserver& observer);

  // ---- The batches. ----

  // Replaces the catalog with `batches` as the state store keeps them.
  void Load(std::vector<state::BatchRecord> batches);
  // Replaces the batches of `tables` with those of `batches` that belong to
  // them (a cluster member taking tables over; the others are left alone).
  void ReplaceTables(const std::set<std::string>& tables, std::vector<state::BatchRecord> batches);
  // Null when `path` is unknown. Valid until the catalog changes.
  KnownBatch* Find(const std::string& path);
  const KnownBatch* Find(const std::string& path) const;
  bool Contains(const std::string& path) const { return batches_.contains(path); }
  // Adds or replaces the batch at `batch.path`.
  void Put(KnownBatch batch);
  // Forgets the batch at `path`; false when unknown.
  bool Erase(const std::string& path);
  // The batch as the state store keeps it (with its schema_json); nullopt
  // when unknown.
  std::optional<state::BatchRecord> ForStore(const std::string& path) const;

  // Calls fn(batch) for every batch of `tables`, or of every table when `all`,
  // in path order. A table's batches are contiguous (their paths start with
  // "<table>/"): a visit costs in proportion to the tables visited.
  template <typename Fn>
  void ForEach(const std::set<std::string>& tables, bool all, Fn fn) {
    Walk(batches_, tables, all, [&](auto it) {
      fn(it->second);
      return std::next(it);
    });
  }
  template <typename Fn>
  void ForEach(const std::set<std::string>& tables, bool all, Fn fn) const {
    Walk(batches_, tables, all, [&](auto it) {
      fn(it->second);
      return std::next(it);
    });
  }
  // Calls fn(table) once for each table with a batch, in order.
  template <typename Fn>
  void ForEachTable(Fn fn) const {
    for (auto it = batches_.begin(); it != batches_.end();
         it = batches_.lower_bound(it->second.table + static_cast<char>('/' + 1))) {
      fn(it->second.table);
    }
  }

 private:
  using Batches = std::map<std::string, KnownBatch>;
  struct Merging;
  // Adds `batches` as the state store keeps them (their schemas interned).
  void Add(std::vector<state::BatchRecord> batches);

  // Calls fn(it) for the batches of `tables` (or all) in `batches`; fn returns
  // the iterator to continue from, so it may erase.
  template <typename Map, typename Fn>
  static void Walk(Map& batches, const std::set<std::string>& tables, bool all, Fn fn) {
    auto visit = [&](auto it, const std::string& end_key) {
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

  // A record of `file` as scanned, discovered now, with no verdict yet.
  state::BatchRecord NewRecord(const landing::LandedFile& file) const;
  // Inspects to_inspect[begin, end) (one pool job).
  std::vector<Inspected> InspectChunk(const std::vector<const landing::LandedFile*>& to_inspect,
                                      size_t begin, size_t end,
                                      std::chrono::seconds truncated_grace) const;
  // True when `file`, whose footer read failed with `code` ("" when it did
  // not), is still being written.
  bool StillBeingWritten(const landing::LandedFile& file, const std::string& code,
                         std::chrono::seconds truncated_grace) const;

  // Merge's steps, in order.
  void Record(std::vector<Inspected>& inspected, Merging& m);
  void ForgetVanished(Merging& m);
  void FindDuplicates(Merging& m);
  // One table's batches grouped by content: marks duplicates, or clears the
  // mark of a batch whose twin is gone.
  void SettleDuplicates(std::map<std::string_view, std::vector<KnownBatch*>>& by_content,
                        Merging& m);
  void TakeOverMoved(Merging& m);

  // The shared schema for `json` (parsed unless `parsed` is given); null when
  // it cannot be parsed.
  SchemaRef Intern(const std::string& json, std::optional<schema::Schema> parsed = std::nullopt);

  const config::LandingConfig landing_;
  schema::FooterReader& footers_;
  ThreadPool& pool_;
  const Clock& clock_;

  Batches batches_;                                                                 // by rel path
  std::unordered_map<std::string, std::weak_ptr<const SharedSchema>> schema_pool_;  // by json
  size_t schema_pool_pruned_at_ = 0;  // pool size after the last sweep of expired entries
  bool duplicates_checked_ = false;   // duplicates were looked for across every table
};

}  // namespace landfall::exec
