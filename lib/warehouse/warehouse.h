// The warehouse seam. DuckDB (duckdb_warehouse.h) is the default implementation;
// server warehouses implement the same interface.
//
// The warehouse holds, besides the staging tables, a ledger (schema `_landfall`)
// of every batch applied to every staging table. Batch rows and their ledger
// row commit in one warehouse transaction, so the ledger is the truth about what
// the warehouse holds, whatever happened to the process or the state store.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/common/result.h"
#include "lib/schema/schema.h"
#include "lib/warehouse/model_warehouse.h"
#include "lib/warehouse/query.h"

namespace landfall::warehouse {

// A file's identity as lstat reports it. Any rewrite changes one of these:
// ctime even when size and mtime are restored, the inode on a rename over it.
struct FileIdentity {
  int64_t size = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  int64_t inode = 0;
  bool operator==(const FileIdentity&) const = default;
};

// One batch to load: a Parquet file and its footer schema.
struct BatchFile {
  std::string batch_id;  // content fingerprint; the value of _landfall_batch
  std::string rel_path;  // relative to the landing dir
  std::filesystem::path abs_path;
  int64_t rows = 0;
  schema::Schema schema;
  // The file's identity when it was fingerprinted. When set, the file is
  // checked again right before the commit, so that `batch_id` always names
  // the content that was loaded; nullopt: not checked.
  std::optional<FileIdentity> identity;
};

// Error code: a batch's file no longer has the identity it was fingerprinted
// with (rewritten, replaced, deleted) when its rows were about to commit.
inline constexpr const char* kBatchChanged = "batch_changed";

// Checks every batch that carries an identity against its file now (lstat, so
// a symlink swapped in is a change too). OK when all match; otherwise
// kBatchChanged naming the first batch that differs. Not transient: redoing the
// same transaction would read the same changed file; the file must be
// fingerprinted again first (the engine's next run of the table does).
Status CheckBatchFilesUnchanged(std::span<const BatchFile> batches);

struct ApplyStats;
// The last step of a load transaction, right before its COMMIT: `loaded`
// unless a batch's file changed since it was fingerprinted
// (CheckBatchFilesUnchanged), or the ledger would name content that was not
// what got loaded; then kBatchChanged naming `table`, and the caller rolls back.
Result<ApplyStats> CheckedBeforeCommit(std::string_view table, Result<ApplyStats> loaded,
                                       std::span<const BatchFile> batches);

struct LedgerEntry {
  std::string batch_id;
  std::string rel_path;
  int64_t rows = 0;
  int64_t loaded_at_us = 0;
};

// What the warehouse holds for one staging table.
struct TableContents {
  bool exists = false;                        // the staging table exists
  schema::Schema columns;                     // its columns, without _landfall_ columns
  std::map<std::string, LedgerEntry> ledger;  // by batch_id
};

// A staging column renamed in place (a rename proven by Parquet field_id).
struct ColumnRename {
  std::string from;
  std::string to;
};

// A batch the warehouse left out because its own content cannot be staged:
// DuckDB cannot decode it (a corrupt page behind a valid footer, an unsupported
// codec) or a value cannot take its column's type (a TIMESTAMP beyond the range
// of a TIMESTAMP_NS column). Retrying it cannot help until the file changes.
struct RejectedBatch {
  std::string batch_id;
  std::string rel_path;
  std::string code;     // "undecodable"
  std::string message;  // DuckDB's error
};

struct ApplyStats {
  int64_t rows = 0;
  int batches = 0;  // applied; `rejected` batches not counted
  std::vector<RejectedBatch> rejected;
};

// Keeps a warehouse's file open while it lives (Warehouse::Hold). Move-only;
// an empty hold keeps nothing.
class WarehouseHold {
 public:
  WarehouseHold() = default;
  explicit WarehouseHold(std::function<void()> release) : release_(std::move(release)) {}
  ~WarehouseHold() {
    if (release_) release_();
  }
  WarehouseHold(WarehouseHold&& other) noexcept
      : release_(std::exchange(other.release_, nullptr)) {}
  WarehouseHold& operator=(WarehouseHold&&) = delete;
  WarehouseHold(const WarehouseHold&) = delete;
  WarehouseHold& operator=(const WarehouseHold&) = delete;

 private:
  std::function<void()> release_;
};

class Warehouse {
 public:
  virtual ~Warehouse() = default;

  // Creates the staging schema and the ledger if missing. Idempotent.
  virtual Status Init() = 0;

  // Everything the warehouse holds: every staging table and every table with
  // ledger entries, by table name. Cheap: a constant number of statements.
  virtual Result<std::map<std::string, TableContents>> Inspect() = 0;

  // Applies `batches` to `table` in one transaction, together with their ledger
  // rows. Idempotent: batches already in the ledger (or repeated in `batches`)
  // are skipped. In the same transaction the table is first brought to `target`
  // in place: columns it lacks are added (old rows NULL), columns whose type
  // differs are altered to the target type (whether that is lossless is the
  // planner's call), columns `target` lacks are kept. Rows are inserted by column
  // name, case-insensitively; columns a batch lacks are NULL; nested values are
  // stored as JSON. With no batches it does nothing and runs no statement.
  // A batch whose file fails to load while reading it alone succeeds neither
  // (see RejectedBatch) is left out and reported in ApplyStats::rejected; the
  // other batches still apply, in the same transaction.
  // Errors: "warehouse_table_missing" when the table does not exist,
  // "batch_unreadable" when a batch's file is missing, kBatchChanged when a
  // batch's file changed after it was fingerprinted (CheckBatchFilesUnchanged,
  // right before the commit), "warehouse_error" otherwise (transient=true for a
  // write conflict that outlived the retries); the message names the table and
  // the batch. On error nothing is applied.
  virtual Result<ApplyStats> Append(const std::string& table, const schema::Schema& target,
                                    std::span<const BatchFile> batches) = 0;

  // Append, after first renaming columns in place (`renames`, in order), in the
  // same transaction. Batch columns map to target columns by field_id when both
  // carry one, so batches written before a rename still load into the right column.
  virtual Result<ApplyStats> Evolve(const std::string& table, const schema::Schema& target,
                                    std::span<const ColumnRename> renames,
                                    std::span<const BatchFile> batches) = 0;

  // Builds a shadow table with `target` columns from all of `batches`, then in
  // the same transaction replaces the table (creating it if absent) and its
  // ledger entries. Readers never see a half-built table. Rejected batches and
  // errors as for Append; on error the old table and ledger are untouched.
  //
  // `carry_over` names batches (ids in the table's ledger) whose rows are
  // copied from the old table into the new one, in the same transaction, with
  // their ledger rows kept: batches whose files are gone but whose rows are to
  // be kept. Their columns match `target`'s by name (case-insensitively) and
  // are cast to the target type; old columns `target` lacks are not copied,
  // so `target` should hold them all. Ids the ledger lacks, and every id when
  // the table does not exist, carry nothing. Carried rows are not counted in
  // the returned stats.
  virtual Result<ApplyStats> Rebuild(const std::string& table, const schema::Schema& target,
                                     std::span<const BatchFile> batches,
                                     std::span<const std::string> carry_over) = 0;
  // A rebuild that carries nothing over.
  Result<ApplyStats> Rebuild(const std::string& table, const schema::Schema& target,
                             std::span<const BatchFile> batches) {
    return Rebuild(table, target, batches, {});
  }

  // Drops the staging table and its ledger entries.
  virtual Status Drop(const std::string& table) = 0;

  // The common supertype of two staging types, as the warehouse computes it,
  // or an error when there is none. Cached; may run a statement the first time.
  virtual Result<std::string> CommonSupertype(const std::string& a, const std::string& b) = 0;

  // Staging types this warehouse stores less precisely than they are, with
  // what it stores instead, for the plan's reasons (none by default).
  virtual std::map<std::string, std::string> LossyTypes() const { return {}; }

  // Number of SQL statements executed so far (all connections). Tests use the
  // difference across a run to prove a quiet run touches nothing.
  virtual int64_t StatementsExecuted() const = 0;

  // Row count of a staging table (for checks and the API); error if missing.
  virtual Result<int64_t> RowCount(const std::string& table) = 0;

  // Runs a user's read-only query (query.h: `landfall query`, POST
  // /v1/query). Refused ("query_refused", nothing run) unless it is one
  // SELECT, WITH, DESCRIBE, SHOW or SUMMARIZE statement whose file reads stay
  // below request.readable_dir (CheckReadOnlyQuery); it then runs on a
  // connection of its own in a READ ONLY transaction, so it sees the last
  // committed state (never half of a run) and changes nothing. Errors:
  // "query_refused", "query_timeout" (interrupted after request.timeout),
  // "query_failed" (DuckDB's error: an unknown table, ...). Thread-safe;
  // queries run beside the warehouse's writes. The default refuses every
  // query ("query_unsupported").
  virtual Result<QueryAnswer> Query(const QueryRequest& request) {
    (void)request;
    return Fail("query_unsupported", "this warehouse does not answer queries");
  }

  // Why writes wait now, for /readyz and `landfall status` ("" when they
  // need not): with warehouse.hold_open: false, another process holding the
  // file (on_demand_warehouse.h).
  virtual std::string WaitingFor() { return ""; }

  // Keeps the file open until the hold is destroyed, for a span of many
  // calls (a run's model phase): they share one open, and no other process
  // takes the file between two of them. A warehouse that is always open
  // returns an empty hold. Errors: those of opening the file (with
  // warehouse.hold_open: false, "warehouse_busy", transient, while a reader
  // has it).
  virtual Result<WarehouseHold> Hold() { return WarehouseHold(); }

  // The model side of this warehouse (model_warehouse.h), on the same
  // database; nullptr when this warehouse cannot build models.
  virtual ModelWarehouse* Models() { return nullptr; }
};

}  // namespace landfall::warehouse
