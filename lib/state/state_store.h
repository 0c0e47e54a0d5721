// The state store seam: what landfall remembers between runs, scoped by
// environment. PostgreSQL (OpenPostgres below, in pg_state_store.cpp) is the implementation.
//
// The state store is a record and a cache; the warehouse ledger is the truth
// about what is staged. Losing the state store loses history, never data.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lib/common/result.h"

namespace landfall::state {

// Current state format. A stored environment with another version is
// "unusable as a whole" and triggers a full rebuild.
inline constexpr int kStateFormatVersion = 1;

enum class BatchStatus { kPending, kStaged, kQuarantined, kDuplicate };
const char* ToString(BatchStatus status);
std::optional<BatchStatus> BatchStatusFromString(std::string_view text);

// A table's status, stored in its row as the text ToString gives.
enum class TableStatus {
  kNew,       // "new": known only by its batches, no row yet (reads only; never stored)
  kActive,    // "active": staged as its folder says
  kOrphaned,  // "orphaned": its folder is gone, its staging table kept
  kFailed,    // "failed": its last action failed (last_error says why)
  kDropped,   // "dropped": its folder is gone and its staging table dropped
  kReset,     // "reset": its state was deleted by an operator; the next run rebuilds it
};
const char* ToString(TableStatus status);
std::optional<TableStatus> TableStatusFromString(std::string_view text);

// How one table's action in a run ended (TableRunRecord, exec::TableOutcome);
// tables a plan skips get no record.
enum class TableRunStatus { kSucceeded, kFailed };
const char* ToString(TableRunStatus status);
std::optional<TableRunStatus> TableRunStatusFromString(std::string_view text);

struct BatchRecord {
  std::string table;
  std::string path;         // relative to the landing dir; unique per environment
  std::string fingerprint;  // sha-256 hex of the content ("" when unreadable)
  int64_t size = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;  // with size, mtime and inode: the file as fingerprinted
  int64_t inode = 0;
  int64_t rows = 0;
  BatchStatus status = BatchStatus::kPending;
  std::string error_code;     // quarantine reason code, e.g. "not_parquet"
  std::string error_message;  // quarantine reason, human-readable
  std::string schema_json;    // footer schema (schema::ToJson), "" when unknown
  std::string duplicate_of;   // path of the batch with the same content
  // 0 when unknown: an upsert then stores "now" for a new batch, and an
  // existing batch keeps the earliest discovery time it has seen.
  int64_t discovered_at_us = 0;
  int64_t staged_at_us = 0;  // 0 when not staged
};

struct TableRecord {
  std::string name;
  std::string schema_json;  // current snapshot (schema::ToJson); "" when none
  std::string schema_hash;
  TableStatus status = TableStatus::kActive;
  std::string last_error;
  // The schema_evolution policy as text (config::ToString); state does not
  // know config's types.
  std::string policy = "evolve";
  int64_t updated_at_us = 0;  // 0 on save means "now"
};

struct TableRunRecord {
  std::string table;
  std::string action;        // skip, create, append, evolve, rebuild, orphan, drop, fail
  std::string reasons_json;  // [{"code": ..., "detail": ...}]
  TableRunStatus status = TableRunStatus::kSucceeded;
  int64_t rows = 0;
  int batches = 0;
  int64_t duration_us = 0;
  std::string error;
  // Filled by reads (TableRuns, TableHistory, TableSummaries); ignored by writes.
  int64_t run_id = 0;
  int64_t recorded_at_us = 0;
};

struct EnvironmentState {
  // Missing means a new environment; a value other than kStateFormatVersion
  // means the stored state cannot be trusted as a whole.
  std::optional<int> format_version;
  std::vector<TableRecord> tables;
  std::vector<BatchRecord> batches;
  // Each table's newest table run record (run_id and recorded_at_us filled).
  std::vector<TableRunRecord> last_actions;
};

struct RunSummary {
  int64_t id = 0;
  std::string trigger;  // cli, watcher, api, schedule, ...
  std::string status;   // running | succeeded | failed | interrupted
  int64_t started_at_us = 0;
  int64_t finished_at_us = 0;
  std::string plan_json;
  std::string error;
};

// A table as the API lists it (TableSummaries).
struct TableSummary {
  // The table's row; only `name` (and status kNew) is set for a table known
  // only by its batches.
  TableRecord table;
  int64_t rows_staged = 0;  // rows of its staged batches
  int staged = 0;           // batches by status
  int pending = 0;
  int quarantined = 0;
  int duplicate = 0;
  std::optional<TableRunRecord> last_action;  // its newest table run record
};

struct SchemaVersion {
  std::string schema_hash;
  std::string schema_json;
  int64_t recorded_at_us = 0;
};

// What PruneHistory deleted.
struct PruneStats {
  int64_t runs = 0;
  int64_t table_runs = 0;
  int64_t schema_versions = 0;
};

struct BatchFilter {
  std::string table;                  // "" : every table
  std::optional<BatchStatus> status;  // nullopt: any status
  int limit = 100;                    // <= 0: all
  bool newest_first = false;          // by discovery time, newest first (else by path)
};

// Every call either succeeds or returns an Error: "state_unavailable"
// (transient) when PostgreSQL cannot be reached, "state_query_failed" when a
// statement fails (transient for serialization failures and deadlocks),
// "state_not_found" when a run id is not in this environment.
//
// JSON fields (schema_json, plan_json, reasons_json) are stored as jsonb: they
// must be valid JSON or "", and come back as equivalent JSON, not the same
// text (key order and spacing may differ).
class StateStore {
 public:
  virtual ~StateStore() = default;

  // Applies pending migrations under an advisory lock. A database migrated by a
  // newer landfall is an error ("state_too_new").
  virtual Status Migrate() = 0;

  // Everything stored for the environment. Transient errors are marked so.
  virtual Result<EnvironmentState> Load() = 0;

  // Records the environment's state format version.
  virtual Status SetFormatVersion(int version) = 0;

  // Inserts or updates batches by (environment, path), in one transaction.
  virtual Status UpsertBatches(const std::vector<BatchRecord>& batches) = 0;
  // Forgets batches by path (files that disappeared and were never staged).
  virtual Status DeleteBatches(const std::vector<std::string>& paths) = 0;

  // Inserts or updates a table; when its schema hash changed, also appends the
  // snapshot to the table's schema history.
  virtual Status SaveTable(const TableRecord& table) = 0;

  // Forgets a table's state (snapshot, history stays): its next run rebuilds it.
  // Returns false when there was no such table.
  virtual Result<bool> DeleteTable(const std::string& table) = 0;

  virtual Result<int64_t> StartRun(const std::string& trigger, const std::string& plan_json) = 0;
  // What one table's action leaves behind, in one transaction (one round
  // trip): its staged batches (as UpsertBatches), its row (as SaveTable, when
  // given) and its run record (when `run` is given and run_id > 0;
  // "state_not_found" when run_id is not a run of this environment).
  virtual Status RecordTableOutcome(const std::vector<BatchRecord>& staged,
                                    const std::optional<TableRecord>& table, int64_t run_id,
                                    const TableRunRecord* run) = 0;
  // A run record alone.
  Status RecordTableRun(int64_t run_id, const TableRunRecord& record) {
    return RecordTableOutcome({}, std::nullopt, run_id, &record);
  }
  virtual Status FinishRun(int64_t run_id, const std::string& status, const std::string& error) = 0;
  // Marks every run of the environment still "running" as "interrupted",
  // finished at the time it was last seen (its newest table record, else its
  // start), with an error saying so. Only a writer holding the environment's
  // WriterLock (writer_lock.h) may call it: then no such run can still be
  // live, its process ended without finishing it (crash, kill -9, power cut).
  // Returns the runs it marked, oldest first.
  virtual Result<std::vector<RunSummary>> MarkRunsInterrupted() = 0;
  // Newest first; limit <= 0 means all.
  virtual Result<std::vector<RunSummary>> ListRuns(int limit) = 0;
  // In the order recorded; empty for an unknown run.
  virtual Result<std::vector<TableRunRecord>> TableRuns(int64_t run_id) = 0;

  // Forgets history older than `retention_days`: run records (and their
  // per-table records) and schema snapshots, except each table's newest run
  // record and newest snapshot, and runs still marked running. Deletes at most
  // `chunk` rows per statement, so that no statement holds locks for long.
  // Idempotent; a failure leaves whatever chunks committed deleted.
  virtual Result<PruneStats> PruneHistory(int retention_days, int chunk) = 0;

  // ---- Reads for the HTTP API; none of them changes anything. ----

  // Tables with a table row or a batch, by name; only `table` when not "".
  virtual Result<std::vector<TableSummary>> TableSummaries(const std::string& table) = 0;
  // A table's schema snapshots, newest first; limit <= 0 means all.
  virtual Result<std::vector<SchemaVersion>> SchemaHistory(const std::string& table, int limit) = 0;
  // Batches matching `filter` (schema_json included).
  virtual Result<std::vector<BatchRecord>> FindBatches(const BatchFilter& filter) = 0;
  // A table's run records, newest first; limit <= 0 means all.
  virtual Result<std::vector<TableRunRecord>> TableHistory(const std::string& table, int limit) = 0;
  // One run; nullopt when this environment has no such run.
  virtual Result<std::optional<RunSummary>> GetRun(int64_t run_id) = 0;
  // Newest first, without their plans; `status` "" means any; limit <= 0 means all.
  virtual Result<std::vector<RunSummary>> FindRuns(int limit, const std::string& status) = 0;
};

struct PgOptions {
  std::string url;          // libpq connection string or URI
  std::string environment;  // scopes every row
};

// The migrations compiled into this binary (from migrations/NNNN_name.sql), in order.
struct Migration {
  int version;
  std::string name;
  std::string sql;
};
const std::vector<Migration>& EmbeddedMigrations();

// Connects (lazily reconnecting after a lost connection). Thread-safe: calls are
// serialized on one connection.
// Fails with "state_unavailable" (transient) when the server cannot be reached
// and "state_url_invalid" when the URL is malformed; the message names host and
// port, never the password. The URL may set application_name and
// connect_timeout; the defaults are "landfall" and 5 seconds.
Result<std::unique_ptr<StateStore>> OpenPostgres(const PgOptions& options);

}  // namespace landfall::state
