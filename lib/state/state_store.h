// The state store seam: what landfall remembers between runs, scoped by
// environment. PostgreSQL (OpenPostgres below, in pg_state_store.cpp) is the implementation.
//
// The state store is a record and a cache; the warehouse ledger is the truth
// about what is staged. Losing the state store loses history, never data.
#pragma once

#include <chrono>
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

// A model's status, stored in its row as the text ToString gives.
enum class ModelStatus {
  kNew,     // "new": known only from its files, never run
  kActive,  // "active": its last action succeeded
  kFailed,  // "failed": its last action failed (last_error says why)
  kReset,   // "reset": its state was deleted by an operator (DeleteModel); the next run rebuilds it
};
const char* ToString(ModelStatus status);
std::optional<ModelStatus> ModelStatusFromString(std::string_view text);

// A time-interval model's partition's status, stored as the text ToString gives.
enum class PartitionStatus {
  kComputed,  // "computed": its rows are the model's SQL over its window
  kFailed,    // "failed": its last computation failed (error says why); its old rows, if any, stay
  kInProgress,   // "in_progress": being computed now (a process that died leaves it so)
  kInterrupted,  // "interrupted": found in_progress at start-up; counts as missing
};
const char* ToString(PartitionStatus status);
std::optional<PartitionStatus> PartitionStatusFromString(std::string_view text);

// How one model's action in a run ended: the same two outcomes as a table's,
// stored as the same text.
using ModelRunStatus = TableRunStatus;

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

// What the model layer remembers of one model between runs. State knows no
// model types: strategy, watermark and columns are text as the model layer
// writes them.
struct ModelRecord {
  std::string name;
  std::string strategy;     // full_refresh, view, incremental, merge, ... (as configured)
  std::string sql_hash;     // of the model's SQL as last built
  std::string config_hash;  // of its YAML config as last built
  // The target's columns as last built, in schema::ToJson form; "" when unknown
  // (never built, or reset).
  std::string columns_json;
  std::string watermark;        // incremental by watermark: MAX(ts) as text; "" when none
  int64_t applied_batches = 0;  // staging batches applied so far (incremental, merge)
  // Whatever else a strategy keeps (partitions, ...), as JSON; "" when none.
  std::string strategy_state_json;
  ModelStatus status = ModelStatus::kActive;
  std::string last_error;
  int64_t updated_at_us = 0;  // 0 on save means "now"
};

struct ModelRunRecord {
  std::string model;
  std::string action;        // skip, run, rebuild, fail
  std::string reasons_json;  // [{"code": ..., "detail": ...}]
  ModelRunStatus status = ModelRunStatus::kSucceeded;
  int64_t rows_inserted = 0;
  int64_t rows_updated = 0;
  int64_t rows_deleted = 0;
  int64_t duration_us = 0;
  std::string error;
  // Filled by reads (ModelRuns, ModelHistory, LastModelRuns); ignored by writes.
  int64_t run_id = 0;
  int64_t recorded_at_us = 0;
};

// One partition of a time-interval model (README: "Time-interval models").
struct PartitionRecord {
  std::string model;
  std::string key;  // "2026-04-07T13", "2026-04-07", "2026-04", "2026": the model's granularity
  int64_t window_start_us = 0;  // UTC microseconds, included
  int64_t window_end_us = 0;    // UTC microseconds, excluded
  PartitionStatus status = PartitionStatus::kComputed;
  int64_t computed_at_us = 0;  // when it was last computed; 0: never
  bool window_closed = false;  // computed_at_us >= window_end_us: no later row can belong to it
  int64_t row_count = 0;       // rows the partition holds as last computed
  std::string checksum;        // of its rows as last computed ("<count>:<hash>"); "" when none
  int64_t duration_us = 0;     // of its last computation
  int64_t run_id = 0;          // the run that last touched it; 0: none
  std::string error;           // kFailed: why
  int64_t updated_at_us = 0;   // filled by reads; ignored by writes
};

// Which partitions Partitions() returns: every field empty = all of the model's.
struct PartitionFilter {
  std::string status;  // one PartitionStatus text; "" = any
  std::string from;    // keys >= from (keys of one granularity sort as text); "" = no bound
  std::string to;      // keys <= to; "" = no bound
  int limit = 0;       // <= 0: all
};

// One result of one model check in one run: the check history (README:
// "Data checks").
struct CheckRecord {
  std::string model;
  std::string check;     // model::CheckName, or "row_count_anomaly"
  std::string severity;  // "error" | "warn"
  bool passed = true;
  std::optional<double> observed;  // nullopt when the check observed nothing
  std::string detail;              // what the value was held against ("min 1", "mean 100 ± 3σ")
  // Filled by reads (ModelChecks); ignored by writes.
  int64_t run_id = 0;
  int64_t checked_at_us = 0;
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
  int64_t model_runs = 0;
  int64_t dag_snapshots = 0;
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
// JSON fields (schema_json, plan_json, reasons_json, columns_json,
// strategy_state_json, the DAG) are stored as jsonb: they must be valid JSON
// or "", and come back as equivalent JSON, not the same text (key order and
// spacing may differ).
class StateStore {
 public:
  virtual ~StateStore() = default;

  // Applies pending migrations under an advisory lock. A database migrated by a
  // newer landfall is an error ("state_too_new").
  virtual Status Migrate() = 0;

  // Everything stored for the environment, batches by path (bytewise).
  // Transient errors are marked so.
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
  // Marks every run of the environment still "running" as "interrupted" (in
  // a cluster, PgOptions::node: only those of members that are gone),
  // finished at the time it was last seen (its newest table record, model
  // record or DAG snapshot, else its start), with an error saying so. Only a
  // writer holding the environment's WriterLock (writer_lock.h) may call it:
  // then no such run can still be live, its process ended without finishing
  // it (crash, kill -9, power cut).
  // Returns the runs it marked, oldest first.
  virtual Result<std::vector<RunSummary>> MarkRunsInterrupted() = 0;
  // Newest first; limit <= 0 means all.
  virtual Result<std::vector<RunSummary>> ListRuns(int limit) = 0;
  // In the order recorded; empty for an unknown run.
  virtual Result<std::vector<TableRunRecord>> TableRuns(int64_t run_id) = 0;

  // Forgets history older than `retention_days`: run records (and their
  // per-table and per-model records), schema snapshots and DAG snapshots,
  // except each table's newest run record and newest snapshot, each model's
  // newest run record, the environment's newest DAG snapshot, the runs those
  // belong to, and runs still marked running. A deleted run takes its check
  // results with it. Deletes at most `chunk` rows per statement, so that no
  // statement holds locks for long.
  // Idempotent; a failure leaves whatever chunks committed deleted.
  virtual Result<PruneStats> PruneHistory(int retention_days, int chunk) = 0;

  // ---- Models ----
  //
  // The model layer's state is read with Models() rather than with Load():
  // Load carries every batch, which the API's model reads should not pay for,
  // and one writer per environment (WriterLock) means a writer's Load and
  // Models need no shared snapshot to agree.

  // Every model row of the environment (reset ones included), by name;
  // "state_invalid" when a row has a status this landfall does not know.
  virtual Result<std::vector<ModelRecord>> Models() = 0;
  // What one model's action leaves behind, in one transaction (one round
  // trip): its row (inserted or replaced whole, when given) and its run record
  // (when `run` is given and run_id > 0; "state_not_found" when run_id is not
  // a run of this environment: the row is written all the same, the record
  // is not).
  virtual Status RecordModelOutcome(const std::optional<ModelRecord>& model, int64_t run_id,
                                    const ModelRunRecord* run) = 0;
  // Forgets a model's state so that its next run rebuilds it, keeping its row
  // as a ModelStatus::kReset tombstone (strategy kept; hashes, columns,
  // watermark, applied batches, strategy state and error cleared) so the
  // planner can tell an operator's delete (state_deleted) from a new model.
  // Its run records stay; its partitions go, in the same transaction (also
  // when it has no row). Returns false when the model has no row.
  virtual Result<bool> DeleteModel(const std::string& model) = 0;
  // A model's run records, newest first; limit <= 0 means all.
  virtual Result<std::vector<ModelRunRecord>> ModelHistory(const std::string& model, int limit) = 0;
  // A run's model records in the order recorded; empty for an unknown run.
  virtual Result<std::vector<ModelRunRecord>> ModelRuns(int64_t run_id) = 0;
  // The newest run record of each model with a row and a record (the API's
  // "last run"), by model name.
  virtual Result<std::vector<ModelRunRecord>> LastModelRuns() = 0;
  // Stores `dag_json` (nodes and edges, valid JSON) as run `run_id`'s DAG
  // snapshot unless it equals the environment's newest snapshot; returns
  // whether it stored one. Equal means the same JSON value (key order and
  // spacing do not matter; array order does), compared by a hash of the
  // stored jsonb text. "state_not_found" when run_id is not a run of this
  // environment.
  virtual Result<bool> SaveDagSnapshot(int64_t run_id, const std::string& dag_json) = 0;
  // The environment's newest DAG snapshot (equivalent JSON); nullopt when none.
  virtual Result<std::optional<std::string>> LatestDag() = 0;
  // Appends `checks` to the check history of run `run_id`, in one
  // transaction. Nothing to append is Ok. "state_not_found" (and nothing
  // appended) when run_id is not a run of this environment.
  virtual Status RecordChecks(int64_t run_id, const std::vector<CheckRecord>& checks) = 0;
  // A model's check results, newest first; only those of `check` when not
  // ""; limit <= 0 means all.
  virtual Result<std::vector<CheckRecord>> ModelChecks(const std::string& model,
                                                       const std::string& check, int limit) = 0;

  // ---- Partitions of time-interval models ----
  //
  // Upserts each record by (model, key), all in one transaction.
  virtual Status SavePartitions(const std::vector<PartitionRecord>& partitions) = 0;
  // One model's partitions matching `filter`, by key ascending.
  virtual Result<std::vector<PartitionRecord>> Partitions(const std::string& model,
                                                          const PartitionFilter& filter) = 0;
  // Every in_progress partition of the environment becomes interrupted (a
  // process starting up: nothing of this environment is computing). Returns
  // how many did.
  virtual Result<int64_t> MarkPartitionsInterrupted() = 0;
  // Forgets a model's partitions (its target was rebuilt from scratch, or
  // its state deleted). DeleteModel does this too.
  virtual Status DeletePartitions(const std::string& model) = 0;

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
  // In a cluster (cluster_store.h): this member's node id, recorded with
  // each run it starts, and the lease TTL. MarkRunsInterrupted then marks
  // only the runs of members that are gone. "" outside a cluster.
  std::string node;
  std::chrono::seconds lease_ttl{15};
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
