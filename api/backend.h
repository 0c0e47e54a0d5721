// The daemon side of the HTTP API: what the server asks of landfall. The
// daemon implements it over the engine, the state store and the scheduler
// (daemon/api_backend.h); tests may fake it.
//
// Bodies cross this seam as JSON text, so neither side's headers need a JSON
// library. Every call may block (libpq, DuckDB, the file system): the server
// makes them on its worker executor, never on the I/O thread, and several may
// run at once, so implementations must be thread-safe.
//
// Errors become HTTP statuses by code (see StatusForError): "not_found" 404,
// "conflict" 409, "invalid_request", "partition_invalid" and
// "model_selection_invalid" (a bad --models spec) 400, any other "model_" code (the model files are
// invalid: model_cycle, model_unknown_table, model_sql_invalid, model_invalid) 422, "query_refused"
// and "query_failed" 400, "query_timeout" 504, "query_too_large" 413, "query_busy" (more than
// api.max_queries at once) 429, any transient error 503, anything else 500. The error's message is
// shown to the client: it must not hold secrets.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lib/common/result.h"
#include "lib/warehouse/query.h"

namespace landfall::api {

// An answer whose status is not implied: a JSON body and the HTTP status.
struct Reply {
  int status = 200;
  std::string json;
};

// Which partitions of the selected time-interval models a run computes
// (`landfall run --partition/--from/--to/--latest/--missing/--lookback`);
// all empty: those whose upstream rows changed.
struct PartitionFlags {
  std::string partition;
  std::string from;
  std::string to;
  bool latest = false;
  bool missing = false;
  int lookback = -1;  // < 0: the model's own
};

struct RunTrigger {
  std::vector<std::string> tables;  // empty: every table
  // With models: rebuild the selected models (not the tables); without:
  // rebuild the tables (and, when no table is named either, every model).
  bool full_refresh = false;
  // `landfall run --models`: "a,b+", "+a" ("": every model downstream of what changed).
  std::string models;
  PartitionFlags partitions;
};

// What GET /v1/plan asks for: the scope of `landfall plan`, and its format.
struct PlanQuery {
  std::vector<std::string> tables;  // empty: every table
  bool full_refresh = false;
  std::string models;  // `landfall plan --models` ("": every model)
  PartitionFlags partitions;
  bool text = false;  // {"text": "<landfall plan's text>"} instead of the plan's JSON
};

// What POST /v1/query asks (the handler has applied the default limit).
struct QueryAsk {
  std::string sql;
  warehouse::QueryFormat format = warehouse::QueryFormat::kJson;
  std::optional<int64_t> limit;  // none: every row
};

struct Readiness {
  bool ready = false;
  std::vector<std::string> reasons;  // why not, e.g. "state store unreachable: ..."
};

class ApiBackend {
 public:
  virtual ~ApiBackend() = default;

  // {"tables": [{"name", "status", "rows", "batches": {"staged", "pending",
  //   "quarantined", "duplicate"}, "schema_hash", "policy", "last_error",
  //   "last_run": {...} | null, "updated_at"}]}; in a cluster also "owner":
  //   the member holding the table's lease, or null.
  virtual Result<std::string> ListTables() = 0;
  // One table with "columns", "schema_history", "recent_batches" and
  // "recent_actions" (with reasons). Error "not_found" for an unknown table.
  virtual Result<std::string> GetTable(const std::string& name) = 0;
  // A dry run: the same JSON as `landfall plan --format json` with the same
  // --table, --models and --full-refresh (with "models": the models' steps
  // when the config has models), or {"text": ...} with its text output.
  virtual Result<std::string> Plan(const PlanQuery& query) = 0;
  // Who answers: {"environment", "pid", "host", "warehouse", "landing",
  // "writer"} (warehouse and landing as absolute paths; writer: how the
  // process holding the environment's writer lock names itself). The CLI
  // compares it with its config before it asks this daemon instead of
  // opening the warehouse itself.
  virtual Result<std::string> Info() = 0;
  // The daemons sharing this environment (config cluster.enabled):
  // {"enabled", "node" (this daemon), "lease_ttl_s", "members": [{"node",
  // "host", "pid", "api", "started_at", "heartbeat_at", "live", "tables"}]}
  // (every member seen in the last hour, oldest first); {"enabled": false,
  // "node": null, "lease_ttl_s": null, "members": []} for a single daemon.
  // Transient "daemon_unavailable" before this member has joined.
  virtual Result<std::string> Cluster() = 0;
  // How run `id`, started over this API by this process, ended: 200 with the
  // JSON of `landfall run --format json` once it has ended; 202 {"run_id",
  // "status": "running"} before. "run_not_found" when this process started
  // no such run or no longer remembers it (it keeps the newest 100).
  virtual Result<Reply> RunOutcome(int64_t id) = 0;
  // Starts a run in the background. 202 {"run_id": N, "status": "running"};
  // 200 {"run_id": null, "status": "nothing_to_do", "outcome": {...}} when
  // no table needs work (outcome: the JSON of `landfall run --format json`);
  // error "conflict" when any of the tables is already running; error
  // "not_found" when a named table is unknown.
  virtual Result<Reply> TriggerRun(const RunTrigger& trigger) = 0;
  // {"runs": [...]}, newest first; `status` "" means any.
  virtual Result<std::string> ListRuns(int limit, const std::string& status) = 0;
  // One run with its per-table records and, while running, its progress.
  virtual Result<std::string> GetRun(int64_t id) = 0;
  // {"batches": [...]}; "" filters mean any.
  virtual Result<std::string> ListBatches(const std::string& table, const std::string& status,
                                          int limit) = 0;
  // Retries a quarantined batch (by its path relative to the landing dir):
  // forgets the verdict and scans its table again: 202 {"batch", "table",
  // "scheduled": true}. "batch_not_found" for an unknown batch,
  // "batch_conflict" for one that is not quarantined, "batch_restore_failed"
  // when it cannot be moved back from the quarantine dir.
  virtual Result<Reply> RetryBatch(const std::string& path) = 0;
  // Forgets a table's state: its next run rebuilds it. "table_not_found" if
  // unknown, "table_conflict" while a run of it is in progress. In a cluster,
  // asked of the member holding the table.
  virtual Result<Reply> DeleteTableState(const std::string& table) = 0;
  // An upstream system announced `rel_path` (already resolved inside the
  // landing dir; "" when only the table was named) of `table`: scan that table
  // now. 202 {"table", "scheduled": true}.
  virtual Result<Reply> FileArrived(const std::string& table, const std::string& rel_path) = 0;
  // ---- Models (none when the config has no models.dir) ----
  //
  // The model files and their DAG are read again for each call (cheap: the
  // files are small; implementations may cache the DAG while no file changes).

  // {"models": [{"name", "strategy", "status", "file", "last_error",
  //   "last_run": {...} | null, "rows", "upstream", "downstream",
  //   "updated_at"}], "models_error": null | "<why the files cannot be read>"}
  // in DAG order; models known only to the state store (their files gone) last.
  virtual Result<std::string> ListModels() = 0;
  // One model with "sql", "config", "columns", "watermark",
  // "applied_batches" and "recent_runs" (with reasons). "model_not_found".
  virtual Result<std::string> GetModel(const std::string& name) = 0;
  // A model's check history, newest first (the newest 200 results):
  // {"model", "checks": [{"run_id", "check", "severity", "passed",
  // "observed" (number | null), "detail", "at"}]}. "model_not_found" when
  // neither the state store has a row for it nor any result.
  virtual Result<std::string> ModelChecks(const std::string& name) = 0;
  // The models' graph: {"nodes": [...], "edges": [...]} (exec::DagToJson),
  // built from the model files now.
  virtual Result<std::string> Dag() = 0;
  // A time-interval model's partitions, by key ascending: {"model",
  //   "partitions": [{"key", "status", "window_start", "window_end",
  //   "computed_at", "window_closed", "rows", "checksum", "duration_ms",
  //   "run_id", "error", "updated_at"}]}. `status` (one partition status) and
  // the inclusive key bounds `from`/`to` are "" for any; `limit` > 0.
  // "model_not_found" when the state store has no row for the model.
  virtual Result<std::string> ListPartitions(const std::string& model, const std::string& status,
                                             const std::string& from, const std::string& to,
                                             int limit) = 0;
  // Column lineage of every model (model::LineagesToJson): {"models": [{"model",
  // "known", "unknown_reason", "reads": {"schema.table": [columns]},
  // "columns": [{"name", "sources", "read_by"}], "columns_unknown_reason"}]},
  // bound from the model files now over the staging tables' current columns.
  virtual Result<std::string> Lineage() = 0;
  // One model's entry of Lineage(). "model_not_found".
  virtual Result<std::string> ModelLineage(const std::string& name) = 0;
  // Forgets a model's state: its next run rebuilds it (reason state_deleted).
  // "model_not_found" if it has no state, "model_conflict" while models run.
  // In a cluster, asked of the member holding the models lease.
  virtual Result<Reply> DeleteModelState(const std::string& model) = 0;

  // Runs a read-only query on the warehouse (Warehouse::Query), interrupted
  // after api.query_timeout_ms; the answer's bytes in ask.format. Errors:
  // "query_refused" (not one read-only statement: 400), "query_failed"
  // (DuckDB's error: 400), "query_timeout" (504), "query_too_large" (the
  // answer passed api.query_max_bytes: 413), or the warehouse's own
  // (transient while it cannot be opened: 503).
  virtual Result<warehouse::QueryAnswer> Query(const QueryAsk& ask) = 0;

  // State store and warehouse reachable and the first scan done; reasons
  // also name a process holding the warehouse file that runs wait for
  // (warehouse.hold_open: false: Warehouse::WaitingFor).
  virtual Readiness Ready() = 0;
};

// The HTTP status an error from the backend maps to.
int StatusForError(const Error& error);

}  // namespace landfall::api
