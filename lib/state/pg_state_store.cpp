// The PostgreSQL state store: one libpq connection, serialized by a mutex.
//
// Every value goes to the server as a text parameter of PQexecParams; no value
// is ever spliced into SQL text. Timestamps cross the wire as int64
// microseconds and are converted by landfall_ts()/landfall_us() (see
// migrations/0001_init.sql), so 0 on the C++ side is NULL in the database.
#include <libpq-fe.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "lib/common/pg.h"
#include "lib/state/state_store.h"

namespace landfall::state {
namespace {

using libpq::ConnTarget;
using libpq::DescribeTarget;
using libpq::IsConnectionSqlState;
using libpq::IsTransientSqlState;
using libpq::PgConn;
using libpq::PgResult;
using libpq::Redact;
using libpq::TrimMessage;

// Key of the session advisory lock that serializes migrations across
// processes: the ASCII bytes of "landfall".
constexpr int64_t kMigrationLockKey = 0x6c616e6466616c6cLL;

// Rows per INSERT statement in UpsertBatches: large enough that a full scan of
// thousands of files costs a handful of round trips, small enough to keep each
// parameter a few megabytes at most.
constexpr size_t kUpsertChunkRows = 5000;

// A PostgreSQL array literal of text elements, every element quoted so that
// commas, braces, quotes, backslashes and the word NULL are just characters.
class TextArray {
 public:
  void Add(std::string_view value) {
    out_ += out_.size() == 1 ? "\"" : ",\"";
    for (char c : value) {
      if (c == '"' || c == '\\') out_ += '\\';
      out_ += c;
    }
    out_ += '"';
  }
  void Add(int64_t value) {
    if (out_.size() > 1) out_ += ',';
    out_ += std::to_string(value);
  }
  std::string Finish() && { return std::move(out_) + "}"; }

 private:
  std::string out_ = "{";
};

std::string_view Text(const PGresult* result, int row, int column) {
  return {PQgetvalue(result, row, column), static_cast<size_t>(PQgetlength(result, row, column))};
}

int64_t Int(const PGresult* result, int row, int column) {
  std::string_view text = Text(result, row, column);
  int64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

// The columns ReadTableRun reads, from table_runs aliased tr.
#define TABLE_RUN_COLUMNS                                                        \
  "tr.table_name, tr.action, tr.reasons::text, tr.status, tr.rows, tr.batches, " \
  "tr.duration_us, COALESCE(tr.error, ''), tr.run_id, landfall_us(tr.recorded_at) "

// A TableRunRecord from TABLE_RUN_COLUMNS starting at `column`; an unknown
// status reads as failed (see Load, which refuses it).
TableRunRecord ReadTableRun(const PGresult* res, int row, int column) {
  TableRunRecord record;
  record.table = Text(res, row, column);
  record.action = Text(res, row, column + 1);
  record.reasons_json = Text(res, row, column + 2);
  record.status =
      TableRunStatusFromString(Text(res, row, column + 3)).value_or(TableRunStatus::kFailed);
  record.rows = Int(res, row, column + 4);
  record.batches = static_cast<int>(Int(res, row, column + 5));
  record.duration_us = Int(res, row, column + 6);
  record.error = Text(res, row, column + 7);
  record.run_id = Int(res, row, column + 8);
  record.recorded_at_us = Int(res, row, column + 9);
  return record;
}

// The columns ReadModelRun reads, from model_runs aliased mr.
#define MODEL_RUN_COLUMNS                                                                      \
  "mr.model_name, mr.action, mr.reasons::text, mr.status, mr.rows_inserted, mr.rows_updated, " \
  "mr.rows_deleted, mr.duration_us, COALESCE(mr.error, ''), mr.run_id, "                       \
  "landfall_us(mr.recorded_at) "

// A ModelRunRecord from MODEL_RUN_COLUMNS; an unknown status reads as failed.
ModelRunRecord ReadModelRun(const PGresult* res, int row) {
  ModelRunRecord record;
  record.model = Text(res, row, 0);
  record.action = Text(res, row, 1);
  record.reasons_json = Text(res, row, 2);
  record.status = TableRunStatusFromString(Text(res, row, 3)).value_or(ModelRunStatus::kFailed);
  record.rows_inserted = Int(res, row, 4);
  record.rows_updated = Int(res, row, 5);
  record.rows_deleted = Int(res, row, 6);
  record.duration_us = Int(res, row, 7);
  record.error = Text(res, row, 8);
  record.run_id = Int(res, row, 9);
  record.recorded_at_us = Int(res, row, 10);
  return record;
}

// The columns ReadBatch reads, from batches.
#define BATCH_COLUMNS_BEFORE_SCHEMA                                      \
  "path, table_name, fingerprint, size, mtime_ns, inode, rows, status, " \
  "COALESCE(error_code, ''), COALESCE(error_message, ''), "
#define BATCH_COLUMNS_AFTER_SCHEMA \
  ", COALESCE(duplicate_of, ''), landfall_us(discovered_at), landfall_us(staged_at), ctime_ns "
#define BATCH_COLUMNS \
  BATCH_COLUMNS_BEFORE_SCHEMA "COALESCE(schema_json::text, '')" BATCH_COLUMNS_AFTER_SCHEMA
// The same with the schema's key (migration 0008) in place of its text.
#define BATCH_COLUMNS_KEYED \
  BATCH_COLUMNS_BEFORE_SCHEMA "COALESCE(schema_key, '')" BATCH_COLUMNS_AFTER_SCHEMA

// A BatchRecord from BATCH_COLUMNS; an unknown status reads as pending (see
// Load, which refuses it).
BatchRecord ReadBatch(const PGresult* res, int row) {
  BatchRecord batch;
  batch.path = Text(res, row, 0);
  batch.table = Text(res, row, 1);
  batch.fingerprint = Text(res, row, 2);
  batch.size = Int(res, row, 3);
  batch.mtime_ns = Int(res, row, 4);
  batch.inode = Int(res, row, 5);
  batch.rows = Int(res, row, 6);
  batch.status = BatchStatusFromString(Text(res, row, 7)).value_or(BatchStatus::kPending);
  batch.error_code = Text(res, row, 8);
  batch.error_message = Text(res, row, 9);
  batch.schema_json = Text(res, row, 10);
  batch.duplicate_of = Text(res, row, 11);
  batch.discovered_at_us = Int(res, row, 12);
  batch.staged_at_us = Int(res, row, 13);
  batch.ctime_ns = Int(res, row, 14);
  return batch;
}

// The columns ReadRun reads, from runs; a query that wants the plan selects
// it after them.
#define RUN_COLUMNS \
  "id, trigger, status, landfall_us(started_at), landfall_us(finished_at), COALESCE(error, '') "

// A RunSummary from RUN_COLUMNS, and its plan when `with_plan` (the next column).
RunSummary ReadRun(const PGresult* res, int row, bool with_plan) {
  RunSummary run;
  run.id = Int(res, row, 0);
  run.trigger = Text(res, row, 1);
  run.status = Text(res, row, 2);
  run.started_at_us = Int(res, row, 3);
  run.finished_at_us = Int(res, row, 4);
  run.error = Text(res, row, 5);
  if (with_plan) run.plan_json = Text(res, row, 6);
  return run;
}

// The columns ReadPartition reads, from model_partitions.
#define PARTITION_COLUMNS                                                       \
  "model, key, landfall_us(window_start), landfall_us(window_end), status, "    \
  "landfall_us(computed_at), window_closed, row_count, checksum, duration_us, " \
  "COALESCE(run_id, 0), error, landfall_us(updated_at) "

// A PartitionRecord from PARTITION_COLUMNS; an unknown status reads as failed
// (a partition landfall cannot vouch for is recomputed).
PartitionRecord ReadPartition(const PGresult* res, int row) {
  PartitionRecord partition;
  partition.model = Text(res, row, 0);
  partition.key = Text(res, row, 1);
  partition.window_start_us = Int(res, row, 2);
  partition.window_end_us = Int(res, row, 3);
  partition.status =
      PartitionStatusFromString(Text(res, row, 4)).value_or(PartitionStatus::kFailed);
  partition.computed_at_us = Int(res, row, 5);
  partition.window_closed = Text(res, row, 6) == "t";
  partition.row_count = Int(res, row, 7);
  partition.checksum = Text(res, row, 8);
  partition.duration_us = Int(res, row, 9);
  partition.run_id = Int(res, row, 10);
  partition.error = Text(res, row, 11);
  partition.updated_at_us = Int(res, row, 12);
  return partition;
}

// Whether a failed operation may be redone after reconnecting.
enum class Retry {
  // Safe to redo whatever happened: reads, upserts, idempotent updates.
  kAlways,
  // Redo unless the connection was lost while COMMIT was in flight, when the
  // first attempt may have committed (inserting a run twice is worse than
  // reporting a transient error).
  kUnlessCommitInDoubt,
};

class PgStateStore final : public StateStore {
 public:
  PgStateStore(PgConn conn, const PgOptions& options, ConnTarget target)
      : environment_(options.environment),
        node_(options.node),
        lease_ttl_s_(std::to_string(options.lease_ttl.count())),
        target_(std::move(target)),
        conn_(std::move(conn)) {
    PQsetNoticeProcessor(conn_.get(), &PgStateStore::OnNotice, nullptr);
  }
  PgStateStore(const PgStateStore&) = delete;
  PgStateStore& operator=(const PgStateStore&) = delete;

  Status Migrate() override;
  Result<EnvironmentState> Load() override;
  Status SetFormatVersion(int version) override;
  Status UpsertBatches(const std::vector<BatchRecord>& batches) override;
  Status DeleteBatches(const std::vector<std::string>& paths) override;
  Status SaveTable(const TableRecord& table) override;
  Result<bool> DeleteTable(const std::string& table) override;
  Result<int64_t> StartRun(const std::string& trigger, const std::string& plan_json) override;
  Result<PruneStats> PruneHistory(int retention_days, int chunk) override;
  Status RecordTableOutcome(const std::vector<BatchRecord>& staged,
                            const std::optional<TableRecord>& table, int64_t run_id,
                            const TableRunRecord* run) override;
  Status FinishRun(int64_t run_id, const std::string& status, const std::string& error) override;
  Result<std::vector<RunSummary>> MarkRunsInterrupted() override;
  Result<std::vector<RunSummary>> ListRuns(int limit) override;
  Result<std::vector<TableRunRecord>> TableRuns(int64_t run_id) override;
  Result<std::vector<TableSummary>> TableSummaries(const std::string& table) override;
  Result<std::vector<SchemaVersion>> SchemaHistory(const std::string& table, int limit) override;
  Result<std::vector<BatchRecord>> FindBatches(const BatchFilter& filter) override;
  Result<std::vector<TableRunRecord>> TableHistory(const std::string& table, int limit) override;
  Result<std::optional<RunSummary>> GetRun(int64_t run_id) override;
  Result<std::vector<RunSummary>> FindRuns(int limit, const std::string& status) override;
  Result<std::vector<ModelRecord>> Models() override;
  Status RecordModelOutcome(const std::optional<ModelRecord>& model, int64_t run_id,
                            const ModelRunRecord* run) override;
  Result<bool> DeleteModel(const std::string& model) override;
  Result<std::vector<ModelRunRecord>> ModelHistory(const std::string& model, int limit) override;
  Result<std::vector<ModelRunRecord>> ModelRuns(int64_t run_id) override;
  Result<std::vector<ModelRunRecord>> LastModelRuns() override;
  Result<bool> SaveDagSnapshot(int64_t run_id, const std::string& dag_json) override;
  Result<std::optional<std::string>> LatestDag() override;
  Status SavePartitions(const std::vector<PartitionRecord>& partitions) override;
  Result<std::vector<PartitionRecord>> Partitions(const std::string& model,
                                                  const PartitionFilter& filter) override;
  Result<int64_t> MarkPartitionsInterrupted() override;
  Status DeletePartitions(const std::string& model) override;
  Status RecordChecks(int64_t run_id, const std::vector<CheckRecord>& checks) override;
  Result<std::vector<CheckRecord>> ModelChecks(const std::string& model, const std::string& check,
                                               int limit) override;

 private:
  // Rolls back on destruction unless committed. Used with mu_ held.
  class Transaction {
   public:
    Transaction(PgStateStore& store, std::string_view what) : store_(store), what_(what) {}
    ~Transaction() {
      if (open_ && PQstatus(store_.conn_.get()) == CONNECTION_OK) {
        PgResult(PQexec(store_.conn_.get(), "ROLLBACK"));
      }
    }
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;

    Status Begin(const char* sql = "BEGIN") {
      if (auto r = store_.ExecScript(what_, sql); !r) return Fail(r.error());
      open_ = true;
      return Ok();
    }
    Status Commit() {
      auto r = store_.ExecScript(what_, "COMMIT");
      open_ = false;
      if (!r && store_.connection_lost_) store_.commit_in_doubt_ = true;
      if (!r) return Fail(r.error());
      return Ok();
    }

   private:
    PgStateStore& store_;
    std::string_view what_;
    bool open_ = false;
  };

  static void OnNotice(void*, const char* message) {
    spdlog::debug("state store: postgres: {}", TrimMessage(message));
  }

  // Runs `op` with mu_ held on a live connection, reconnecting once and
  // redoing `op` when the connection was lost under it.
  template <typename Op>
  auto Run(std::string_view what, Retry retry, Op&& op) -> decltype(op());

  Status EnsureConnected(std::string_view what, bool force_reset);

  Result<PgResult> Exec(std::string_view what, const char* sql,
                        const std::vector<std::string>& params);
  // A read: `sql` with `params`, run (and retried) under Run, each row made a
  // T by `read(res, row)`.
  template <typename T, typename ReadRow>
  Result<std::vector<T>> ReadRows(std::string_view what, const char* sql,
                                  const std::vector<std::string>& params, ReadRow read) {
    return Run(what, Retry::kAlways, [&]() -> Result<std::vector<T>> {
      auto r = Exec(what, sql, params);
      if (!r) return Fail(r.error());
      const PGresult* res = r->get();
      std::vector<T> out;
      out.reserve(PQntuples(res));
      for (int i = 0; i < PQntuples(res); ++i) out.push_back(read(res, i));
      return out;
    });
  }
  // Runs SQL without parameters; may hold several statements (migrations).
  Result<PgResult> ExecScript(std::string_view what, const char* sql);

  struct Statement {
    std::string sql;
    std::vector<std::string> params;
  };
  // BEGIN, `statements`, COMMIT sent as one pipeline: one round trip instead
  // of one per statement. Returns the statements' results; the first failure
  // is the error (the server then rolls the rest back). A connection found
  // lost at BEGIN is taken to have run nothing (the session was gone before
  // the pipeline: redone by Run); lost later, the commit is in doubt
  // (commit_in_doubt_). Only for writes whose redo is harmless should the
  // server have died after its COMMIT but before sending any result.
  Result<std::vector<PgResult>> ExecTransaction(std::string_view what,
                                                const std::vector<Statement>& statements);
  // The statements of the writes, so that several can share a transaction.
  std::vector<Statement> UpsertStatements(const std::vector<BatchRecord>& batches) const;
  Statement SaveTableStatement(const TableRecord& table) const;
  Statement TableRunStatement(int64_t run_id, const TableRunRecord& record) const;
  Statement SaveModelStatement(const ModelRecord& model) const;
  Statement ModelRunStatement(int64_t run_id, const ModelRunRecord& record) const;
  // Runs an outcome's `statements` as one transaction. When `run_id` > 0 the
  // last statement is a run record inserted by selecting the run: no row
  // inserted means run_id is not this environment's ("state_not_found").
  Status RecordOutcome(const std::string& what, const std::vector<Statement>& statements,
                       int64_t run_id);
  Result<PgResult> Check(std::string_view what, PgResult result);

  Status ApplyMigrations();

  const std::string environment_;
  const std::string node_;         // PgOptions::node
  const std::string lease_ttl_s_;  // PgOptions::lease_ttl, as text for a parameter
  const ConnTarget target_;

  std::mutex mu_;  // guards everything below, and every use of the connection
  PgConn conn_;
  // Set by Exec when the last failure lost the session; read by Run.
  bool connection_lost_ = false;
  // Set by Transaction::Commit when the connection was lost during COMMIT.
  bool commit_in_doubt_ = false;
};

template <typename Op>
auto PgStateStore::Run(std::string_view what, Retry retry, Op&& op) -> decltype(op()) {
  std::lock_guard lock(mu_);
  bool force_reset = false;
  for (int attempt = 0;; ++attempt) {
    if (auto connected = EnsureConnected(what, force_reset); !connected) {
      return std::unexpected(connected.error());
    }
    connection_lost_ = false;
    commit_in_doubt_ = false;
    auto result = op();
    if (result.has_value() || !connection_lost_ || attempt > 0) return result;
    if (retry == Retry::kUnlessCommitInDoubt && commit_in_doubt_) return result;
    // The server restarted or the network dropped the session; nothing of the
    // failed attempt survives on the server except (for kAlways operations)
    // effects that redoing repeats harmlessly.
    spdlog::warn("state store: {}: connection lost ({}), reconnecting", what,
                 result.error().message);
    force_reset = true;
  }
}

Status PgStateStore::EnsureConnected(std::string_view what, bool force_reset) {
  PGconn* conn = conn_.get();
  if (!force_reset && PQstatus(conn) == CONNECTION_OK) {
    switch (PQtransactionStatus(conn)) {
      case PQTRANS_IDLE:
        return Ok();
      case PQTRANS_INTRANS:
      case PQTRANS_INERROR:
        // Left over from an operation that failed half-way; start clean.
        PgResult(PQexec(conn, "ROLLBACK"));
        if (PQtransactionStatus(conn) == PQTRANS_IDLE) return Ok();
        break;
      default:
        break;
    }
  }
  PQreset(conn);
  if (PQstatus(conn) == CONNECTION_OK) return Ok();
  return Fail("state_unavailable",
              Redact("state store: " + std::string(what) + ": cannot connect to PostgreSQL (" +
                         target_.description + "): " + TrimMessage(PQerrorMessage(conn)),
                     target_.secrets),
              /*transient=*/true);
}

Result<PgResult> PgStateStore::Check(std::string_view what, PgResult result) {
  ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return result;

  const char* sqlstate_field =
      result ? PQresultErrorField(result.get(), PG_DIAG_SQLSTATE) : nullptr;
  std::string_view sqlstate = sqlstate_field != nullptr ? sqlstate_field : "";
  std::string message =
      TrimMessage(result ? PQresultErrorMessage(result.get()) : PQerrorMessage(conn_.get()));
  if (message.empty()) message = TrimMessage(PQerrorMessage(conn_.get()));
  message = Redact("state store: " + std::string(what) + ": " + message, target_.secrets);

  if (PQstatus(conn_.get()) != CONNECTION_OK || IsConnectionSqlState(sqlstate)) {
    connection_lost_ = true;
    return Fail("state_unavailable", std::move(message), /*transient=*/true);
  }
  return Fail("state_query_failed", std::move(message), IsTransientSqlState(sqlstate));
}

Result<PgResult> PgStateStore::Exec(std::string_view what, const char* sql,
                                    const std::vector<std::string>& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& param : params) values.push_back(param.c_str());
  return Check(what, PgResult(PQexecParams(conn_.get(), sql, static_cast<int>(values.size()),
                                           /*paramTypes=*/nullptr, values.data(),
                                           /*paramLengths=*/nullptr, /*paramFormats=*/nullptr,
                                           /*resultFormat=*/0)));
}

Result<PgResult> PgStateStore::ExecScript(std::string_view what, const char* sql) {
  return Check(what, PgResult(PQexec(conn_.get(), sql)));
}

Result<std::vector<PgResult>> PgStateStore::ExecTransaction(
    std::string_view what, const std::vector<Statement>& statements) {
  PGconn* conn = conn_.get();
  std::vector<Statement> all;
  all.reserve(statements.size() + 2);
  all.push_back({"BEGIN", {}});
  all.insert(all.end(), statements.begin(), statements.end());
  all.push_back({"COMMIT", {}});

  if (PQenterPipelineMode(conn) != 1) return Fail(Check(what, PgResult(nullptr)).error());
  bool sent = true;
  size_t unsent = 0;  // the statement that could not be sent
  for (const auto& statement : all) {
    std::vector<const char*> values;
    for (const auto& param : statement.params) values.push_back(param.c_str());
    if (PQsendQueryParams(conn, statement.sql.c_str(), static_cast<int>(values.size()), nullptr,
                          values.data(), nullptr, nullptr, 0) != 1) {
      sent = false;
      break;
    }
    ++unsent;
  }
  if (sent) sent = PQpipelineSync(conn) == 1;

  // Every result, in order, up to the sync; the first failure is the answer.
  std::vector<PgResult> results;
  std::optional<Error> failure;
  bool lost_at_begin = false;
  if (!sent) {
    failure = Check(what, PgResult(nullptr)).error();
    lost_at_begin = unsent == 0 && connection_lost_;
  }
  for (size_t i = 0; sent && i <= all.size(); ++i) {
    PgResult result(PQgetResult(conn));
    if (!result) {
      if (!failure) {
        failure = Check(what, PgResult(nullptr)).error();
        lost_at_begin = i == 0 && connection_lost_;
      }
      break;
    }
    const ExecStatusType status = PQresultStatus(result.get());
    if (status == PGRES_PIPELINE_SYNC) break;
    // Each query's results end with a null.
    while (PGresult* extra = PQgetResult(conn)) PQclear(extra);
    if (status == PGRES_PIPELINE_ABORTED) continue;
    if (!failure) {
      auto checked = Check(what, std::move(result));
      if (!checked) {
        failure = checked.error();
        lost_at_begin = i == 0 && connection_lost_;
      } else if (i > 0 && i + 1 < all.size()) {
        results.push_back(std::move(*checked));
      }
    }
  }
  if (PQstatus(conn) == CONNECTION_OK) PQexitPipelineMode(conn);
  if (connection_lost_ && !lost_at_begin) commit_in_doubt_ = true;
  if (failure) return Fail(*failure);
  return results;
}

// --- migrations ---------------------------------------------------------------

Status PgStateStore::Migrate() {
  return Run("migrate", Retry::kAlways, [&]() -> Status {
    // A session lock, so that two daemons starting together apply each
    // migration once: the second waits, then finds nothing pending.
    auto locked = Exec("migrate: take advisory lock", "SELECT pg_advisory_lock($1::bigint)",
                       {std::to_string(kMigrationLockKey)});
    if (!locked) return Fail(locked.error());
    Status applied = ApplyMigrations();
    // A lost connection has released the lock with the session.
    if (PQstatus(conn_.get()) == CONNECTION_OK) {
      if (PQtransactionStatus(conn_.get()) != PQTRANS_IDLE) {
        PgResult(PQexec(conn_.get(), "ROLLBACK"));
      }
      auto unlocked =
          Exec("migrate: release advisory lock", "SELECT pg_advisory_unlock($1::bigint)",
               {std::to_string(kMigrationLockKey)});
      if (applied && !unlocked) return Fail(unlocked.error());
    }
    return applied;
  });
}

Status PgStateStore::ApplyMigrations() {
  const auto& migrations = EmbeddedMigrations();
  auto created = ExecScript("migrate: create schema_migrations",
                            "CREATE TABLE IF NOT EXISTS schema_migrations ("
                            "  version int PRIMARY KEY,"
                            "  name text NOT NULL,"
                            "  applied_at timestamptz NOT NULL DEFAULT now())");
  if (!created) return Fail(created.error());
  auto rows = ExecScript("migrate: read schema_migrations",
                         "SELECT version FROM schema_migrations ORDER BY version");
  if (!rows) return Fail(rows.error());

  std::vector<int> applied;
  for (int i = 0; i < PQntuples(rows->get()); ++i) {
    applied.push_back(static_cast<int>(Int(rows->get(), i, 0)));
  }
  int newest_known = migrations.empty() ? 0 : migrations.back().version;
  if (!applied.empty() && applied.back() > newest_known) {
    return Fail("state_too_new", "state store: the database (" + target_.description +
                                     ") is at schema version " + std::to_string(applied.back()) +
                                     ", newer than this landfall knows (" +
                                     std::to_string(newest_known) +
                                     "); upgrade landfall, or point it at another database");
  }

  for (const Migration& migration : migrations) {
    if (std::binary_search(applied.begin(), applied.end(), migration.version)) continue;
    std::string what = fmt::format("migration {:04}_{}", migration.version, migration.name);
    Transaction tx(*this, what);
    if (auto s = tx.Begin(); !s) return s;
    if (auto r = ExecScript(what, migration.sql.c_str()); !r) {
      Error error = r.error();
      if (error.code == "state_query_failed") error.code = "state_migration_failed";
      return Fail(std::move(error));
    }
    auto recorded = Exec(what, "INSERT INTO schema_migrations (version, name) VALUES ($1::int, $2)",
                         {std::to_string(migration.version), migration.name});
    if (!recorded) return Fail(recorded.error());
    if (auto s = tx.Commit(); !s) return s;
    spdlog::info("state store: applied {}", what);
  }
  return Ok();
}

// --- environment --------------------------------------------------------------

Result<EnvironmentState> PgStateStore::Load() {
  return Run("load", Retry::kAlways, [&]() -> Result<EnvironmentState> {
    EnvironmentState state;
    // One snapshot, so tables and batches agree with each other.
    Transaction tx(*this, "load");
    if (auto s = tx.Begin("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"); !s) {
      return Fail(s.error());
    }

    auto version =
        Exec("load: environment", "SELECT state_format_version FROM environments WHERE name = $1",
             {environment_});
    if (!version) return Fail(version.error());
    if (PQntuples(version->get()) > 0) {
      state.format_version = static_cast<int>(Int(version->get(), 0, 0));
    }

    auto tables = Exec("load: tables",
                       "SELECT name, COALESCE(schema_json::text, ''), schema_hash, status,"
                       "       last_error, policy, landfall_us(updated_at)"
                       "  FROM tables WHERE environment = $1 ORDER BY name",
                       {environment_});
    if (!tables) return Fail(tables.error());
    const PGresult* t = tables->get();
    state.tables.reserve(PQntuples(t));
    for (int i = 0; i < PQntuples(t); ++i) {
      TableRecord& table = state.tables.emplace_back();
      table.name = Text(t, i, 0);
      table.schema_json = Text(t, i, 1);
      table.schema_hash = Text(t, i, 2);
      auto status = TableStatusFromString(Text(t, i, 3));
      if (!status) {
        return Fail("state_invalid", "state store: load: table " + table.name +
                                         " has unknown status \"" + std::string(Text(t, i, 3)) +
                                         "\"");
      }
      table.status = *status;
      table.last_error = Text(t, i, 4);
      table.policy = Text(t, i, 5);
      table.updated_at_us = Int(t, i, 6);
    }

    // Each distinct footer schema once, by its key: one index probe per
    // distinct key (a loose index scan), however many batches share it.
    auto schemas =
        Exec("load: batch schemas",
             "WITH RECURSIVE keys (key) AS ("
             "  SELECT min(schema_key) FROM batches WHERE environment = $1"
             "  UNION ALL"
             "  SELECT (SELECT min(b.schema_key) FROM batches b"
             "           WHERE b.environment = $1 AND b.schema_key > keys.key)"
             "    FROM keys WHERE keys.key IS NOT NULL)"
             " SELECT key, (SELECT b.schema_json::text FROM batches b"
             "               WHERE b.environment = $1 AND b.schema_key = keys.key LIMIT 1)"
             "   FROM keys WHERE key IS NOT NULL",
             {environment_});
    if (!schemas) return Fail(schemas.error());
    std::unordered_map<std::string_view, std::string_view> schema_by_key;
    for (int i = 0; i < PQntuples(schemas->get()); ++i) {
      schema_by_key.emplace(Text(schemas->get(), i, 0), Text(schemas->get(), i, 1));
    }

    // Sorted here rather than by ORDER BY: at 100,000 batches the server
    // chose a parallel scan and a sort spilled to disk (~250 ms); sorting
    // the pointers here is ~10 ms, and bytewise (the catalog's order), not
    // by the database's collation.
    auto batches =
        Exec("load: batches", "SELECT " BATCH_COLUMNS_KEYED " FROM batches WHERE environment = $1",
             {environment_});
    if (!batches) return Fail(batches.error());
    const PGresult* b = batches->get();
    std::vector<std::pair<std::string_view, int>> by_path;
    by_path.reserve(PQntuples(b));
    for (int i = 0; i < PQntuples(b); ++i) {
      if (!BatchStatusFromString(Text(b, i, 7))) {
        return Fail("state_invalid", "state store: load: batch " + std::string(Text(b, i, 0)) +
                                         " has unknown status \"" + std::string(Text(b, i, 7)) +
                                         "\"");
      }
      by_path.emplace_back(Text(b, i, 0), i);
    }
    std::sort(by_path.begin(), by_path.end());
    state.batches.reserve(by_path.size());
    for (const auto& [path, row] : by_path) {
      BatchRecord& batch = state.batches.emplace_back(ReadBatch(b, row));
      if (batch.schema_json.empty()) continue;  // no schema: no key
      // Both queries read one snapshot, so every key has its schema.
      auto schema = schema_by_key.find(batch.schema_json);
      if (schema == schema_by_key.end()) {
        return Fail("state_invalid", "state store: load: batch " + batch.path +
                                         " has a schema key without a schema");
      }
      batch.schema_json.assign(schema->second);
    }

    // Per table row, through the (table_name, id DESC) index: the cost grows
    // with the tables, not with the run history. Every table with a run has a
    // row (a run saves the table with its record).
    auto last = Exec("load: last actions",
                     "SELECT last.* FROM tables t CROSS JOIN LATERAL ("
                     "  SELECT " TABLE_RUN_COLUMNS
                     "    FROM table_runs tr JOIN runs r ON r.id = tr.run_id"
                     "   WHERE tr.table_name = t.name AND r.environment = $1"
                     "   ORDER BY tr.id DESC LIMIT 1) last"
                     " WHERE t.environment = $1",
                     {environment_});
    if (!last) return Fail(last.error());
    for (int i = 0; i < PQntuples(last->get()); ++i) {
      if (!TableRunStatusFromString(Text(last->get(), i, 3))) {
        return Fail("state_invalid",
                    "state store: load: a run of table " + std::string(Text(last->get(), i, 0)) +
                        " has unknown status \"" + std::string(Text(last->get(), i, 3)) + "\"");
      }
      state.last_actions.push_back(ReadTableRun(last->get(), i, 0));
    }

    if (auto s = tx.Commit(); !s) return Fail(s.error());
    return state;
  });
}

Status PgStateStore::SetFormatVersion(int version) {
  return Run("set format version", Retry::kAlways, [&]() -> Status {
    auto r = Exec("set format version",
                  "INSERT INTO environments (name, state_format_version) VALUES ($1, $2::int)"
                  " ON CONFLICT (name) DO UPDATE"
                  " SET state_format_version = EXCLUDED.state_format_version",
                  {environment_, std::to_string(version)});
    if (!r) return Fail(r.error());
    return Ok();
  });
}

// --- batches ------------------------------------------------------------------

std::vector<PgStateStore::Statement> PgStateStore::UpsertStatements(
    const std::vector<BatchRecord>& batches) const {
  if (batches.empty()) return {};
  // ON CONFLICT cannot touch one row twice in a statement: the last record for
  // a path wins, as if the records had been written one after another.
  std::vector<const BatchRecord*> unique;
  unique.reserve(batches.size());
  {
    std::unordered_map<std::string_view, size_t> index;
    index.reserve(batches.size());
    for (const BatchRecord& batch : batches) {
      auto [it, inserted] = index.emplace(batch.path, unique.size());
      if (inserted) {
        unique.push_back(&batch);
      } else {
        unique[it->second] = &batch;
      }
    }
  }

  // All rows of a chunk travel as one array per column and are unnested on the
  // server: one round trip per chunk instead of per row. Unchanged rows are
  // not rewritten, so a rescan that finds nothing new writes nothing.
  static constexpr const char* kSql = R"sql(
INSERT INTO batches AS b (environment, path, table_name, fingerprint, size, mtime_ns, inode, rows,
                          status, error_code, error_message, schema_json, duplicate_of,
                          discovered_at, staged_at, updated_at, ctime_ns)
SELECT $1, u.path, u.table_name, u.fingerprint, u.size, u.mtime_ns, u.inode, u.rows, u.status,
       NULLIF(u.error_code, ''), NULLIF(u.error_message, ''), NULLIF(u.schema_json, '')::jsonb,
       NULLIF(u.duplicate_of, ''), COALESCE(landfall_ts(u.discovered_at), now()),
       landfall_ts(u.staged_at), now(), u.ctime_ns
  FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[],
              $8::bigint[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[],
              $14::bigint[], $15::bigint[], $16::bigint[])
       AS u(path, table_name, fingerprint, size, mtime_ns, inode, rows, status, error_code,
            error_message, schema_json, duplicate_of, discovered_at, staged_at, ctime_ns)
ON CONFLICT (environment, path) DO UPDATE SET
  table_name = EXCLUDED.table_name, fingerprint = EXCLUDED.fingerprint, size = EXCLUDED.size,
  mtime_ns = EXCLUDED.mtime_ns, ctime_ns = EXCLUDED.ctime_ns, inode = EXCLUDED.inode,
  rows = EXCLUDED.rows,
  status = EXCLUDED.status, error_code = EXCLUDED.error_code,
  error_message = EXCLUDED.error_message, schema_json = EXCLUDED.schema_json,
  duplicate_of = EXCLUDED.duplicate_of,
  discovered_at = LEAST(b.discovered_at, EXCLUDED.discovered_at),
  staged_at = EXCLUDED.staged_at, updated_at = now()
WHERE (b.table_name, b.fingerprint, b.size, b.mtime_ns, b.ctime_ns, b.inode, b.rows, b.status,
       b.error_code, b.error_message, b.schema_json, b.duplicate_of, b.staged_at)
      IS DISTINCT FROM
      (EXCLUDED.table_name, EXCLUDED.fingerprint, EXCLUDED.size, EXCLUDED.mtime_ns,
       EXCLUDED.ctime_ns, EXCLUDED.inode, EXCLUDED.rows, EXCLUDED.status, EXCLUDED.error_code,
       EXCLUDED.error_message, EXCLUDED.schema_json, EXCLUDED.duplicate_of, EXCLUDED.staged_at)
   OR EXCLUDED.discovered_at < b.discovered_at
)sql";

  std::vector<Statement> chunks;
  for (size_t start = 0; start < unique.size(); start += kUpsertChunkRows) {
    size_t end = std::min(unique.size(), start + kUpsertChunkRows);
    TextArray path, table, fingerprint, size, mtime, inode, rows, status, error_code, error_message,
        schema_json, duplicate_of, discovered_at, staged_at, ctime;
    for (size_t i = start; i < end; ++i) {
      const BatchRecord& batch = *unique[i];
      path.Add(batch.path);
      table.Add(batch.table);
      fingerprint.Add(batch.fingerprint);
      size.Add(batch.size);
      mtime.Add(batch.mtime_ns);
      inode.Add(batch.inode);
      rows.Add(batch.rows);
      status.Add(std::string_view(ToString(batch.status)));
      error_code.Add(batch.error_code);
      error_message.Add(batch.error_message);
      schema_json.Add(batch.schema_json);
      duplicate_of.Add(batch.duplicate_of);
      discovered_at.Add(batch.discovered_at_us);
      staged_at.Add(batch.staged_at_us);
      ctime.Add(batch.ctime_ns);
    }
    chunks.push_back(
        {kSql,
         {environment_, std::move(path).Finish(), std::move(table).Finish(),
          std::move(fingerprint).Finish(), std::move(size).Finish(), std::move(mtime).Finish(),
          std::move(inode).Finish(), std::move(rows).Finish(), std::move(status).Finish(),
          std::move(error_code).Finish(), std::move(error_message).Finish(),
          std::move(schema_json).Finish(), std::move(duplicate_of).Finish(),
          std::move(discovered_at).Finish(), std::move(staged_at).Finish(),
          std::move(ctime).Finish()}});
  }
  return chunks;
}

Status PgStateStore::UpsertBatches(const std::vector<BatchRecord>& batches) {
  const auto chunks = UpsertStatements(batches);
  if (chunks.empty()) return Ok();

  return Run("upsert batches", Retry::kAlways, [&]() -> Status {
    if (auto r = ExecTransaction("upsert batches", chunks); !r) return Fail(r.error());
    return Ok();
  });
}

Status PgStateStore::DeleteBatches(const std::vector<std::string>& paths) {
  if (paths.empty()) return Ok();
  TextArray array;
  for (const auto& path : paths) array.Add(path);
  std::vector<std::string> params = {environment_, std::move(array).Finish()};
  return Run("delete batches", Retry::kAlways, [&]() -> Status {
    auto r = Exec("delete batches",
                  "DELETE FROM batches WHERE environment = $1 AND path = ANY ($2::text[])", params);
    if (!r) return Fail(r.error());
    return Ok();
  });
}

// --- tables -------------------------------------------------------------------

PgStateStore::Statement PgStateStore::SaveTableStatement(const TableRecord& table) const {
  // One statement: `previous` sees the row as it was before the upsert (all
  // parts of a statement share one snapshot), and FOR UPDATE keeps a
  // concurrent save of the same table from slipping in between.
  static constexpr const char* kSql = R"sql(
WITH previous AS (
  SELECT schema_hash FROM tables WHERE environment = $1 AND name = $2 FOR UPDATE
), saved AS (
  INSERT INTO tables AS t (environment, name, schema_json, schema_hash, status, last_error,
                           policy, updated_at)
  VALUES ($1, $2, NULLIF($3::text, '')::jsonb, $4::text, $5, $6, $7,
          COALESCE(landfall_ts($8::bigint), now()))
  ON CONFLICT (environment, name) DO UPDATE SET
    schema_json = EXCLUDED.schema_json, schema_hash = EXCLUDED.schema_hash,
    status = EXCLUDED.status, last_error = EXCLUDED.last_error, policy = EXCLUDED.policy,
    updated_at = EXCLUDED.updated_at
)
INSERT INTO schema_history (environment, table_name, schema_hash, schema_json)
SELECT $1, $2, $4::text, NULLIF($3::text, '')::jsonb
 WHERE $4::text <> '' AND NOT EXISTS (SELECT 1 FROM previous WHERE schema_hash = $4::text)
)sql";
  return {kSql,
          {environment_, table.name, table.schema_json, table.schema_hash, ToString(table.status),
           table.last_error, table.policy, std::to_string(table.updated_at_us)}};
}

Status PgStateStore::SaveTable(const TableRecord& table) {
  const Statement save = SaveTableStatement(table);
  return Run("save table", Retry::kAlways, [&]() -> Status {
    auto r = Exec("save table " + table.name, save.sql.c_str(), save.params);
    if (!r) return Fail(r.error());
    return Ok();
  });
}

Result<bool> PgStateStore::DeleteTable(const std::string& table) {
  return Run("delete table", Retry::kAlways, [&]() -> Result<bool> {
    auto r = Exec("delete table " + table,
                  "DELETE FROM tables WHERE environment = $1 AND name = $2", {environment_, table});
    if (!r) return Fail(r.error());
    return std::string_view(PQcmdTuples(r->get())) != "0";
  });
}

// --- models -------------------------------------------------------------------

PgStateStore::Statement PgStateStore::SaveModelStatement(const ModelRecord& model) const {
  static constexpr const char* kSql = R"sql(
INSERT INTO models AS m (environment, name, strategy, sql_hash, config_hash, columns, watermark,
                         applied_batches, strategy_state, status, last_error, updated_at)
VALUES ($1, $2, $3, $4, $5, NULLIF($6::text, '')::jsonb, $7, $8::bigint,
        NULLIF($9::text, '')::jsonb, $10, $11, COALESCE(landfall_ts($12::bigint), now()))
ON CONFLICT (environment, name) DO UPDATE SET
  strategy = EXCLUDED.strategy, sql_hash = EXCLUDED.sql_hash, config_hash = EXCLUDED.config_hash,
  columns = EXCLUDED.columns, watermark = EXCLUDED.watermark,
  applied_batches = EXCLUDED.applied_batches, strategy_state = EXCLUDED.strategy_state,
  status = EXCLUDED.status, last_error = EXCLUDED.last_error, updated_at = EXCLUDED.updated_at
)sql";
  return {kSql,
          {environment_, model.name, model.strategy, model.sql_hash, model.config_hash,
           model.columns_json, model.watermark, std::to_string(model.applied_batches),
           model.strategy_state_json, ToString(model.status), model.last_error,
           std::to_string(model.updated_at_us)}};
}

PgStateStore::Statement PgStateStore::ModelRunStatement(int64_t run_id,
                                                        const ModelRunRecord& record) const {
  // Selecting from runs keeps one environment from writing into another's run.
  return {
      "INSERT INTO model_runs (run_id, model_name, action, reasons, status, rows_inserted,"
      "                        rows_updated, rows_deleted, duration_us, error)"
      " SELECT id, $3, $4, COALESCE(NULLIF($5::text, '')::jsonb, '[]'::jsonb), $6,"
      "        $7::bigint, $8::bigint, $9::bigint, $10::bigint, NULLIF($11::text, '')"
      "   FROM runs WHERE id = $2::bigint AND environment = $1",
      {environment_, std::to_string(run_id), record.model, record.action, record.reasons_json,
       ToString(record.status), std::to_string(record.rows_inserted),
       std::to_string(record.rows_updated), std::to_string(record.rows_deleted),
       std::to_string(record.duration_us), record.error}};
}

Result<std::vector<ModelRecord>> PgStateStore::Models() {
  return Run("models", Retry::kAlways, [&]() -> Result<std::vector<ModelRecord>> {
    auto r = Exec("models",
                  "SELECT name, strategy, sql_hash, config_hash, COALESCE(columns::text, ''),"
                  "       watermark, applied_batches, COALESCE(strategy_state::text, ''), status,"
                  "       last_error, landfall_us(updated_at)"
                  "  FROM models WHERE environment = $1 ORDER BY name",
                  {environment_});
    if (!r) return Fail(r.error());
    const PGresult* res = r->get();
    std::vector<ModelRecord> models;
    models.reserve(PQntuples(res));
    for (int i = 0; i < PQntuples(res); ++i) {
      ModelRecord& model = models.emplace_back();
      model.name = Text(res, i, 0);
      model.strategy = Text(res, i, 1);
      model.sql_hash = Text(res, i, 2);
      model.config_hash = Text(res, i, 3);
      model.columns_json = Text(res, i, 4);
      model.watermark = Text(res, i, 5);
      model.applied_batches = Int(res, i, 6);
      model.strategy_state_json = Text(res, i, 7);
      auto status = ModelStatusFromString(Text(res, i, 8));
      if (!status) {
        return Fail("state_invalid", "state store: models: model " + model.name +
                                         " has unknown status \"" + std::string(Text(res, i, 8)) +
                                         "\"");
      }
      model.status = *status;
      model.last_error = Text(res, i, 9);
      model.updated_at_us = Int(res, i, 10);
    }
    return models;
  });
}

Status PgStateStore::RecordModelOutcome(const std::optional<ModelRecord>& model, int64_t run_id,
                                        const ModelRunRecord* run) {
  std::vector<Statement> statements;
  if (model) statements.push_back(SaveModelStatement(*model));
  const bool with_run = run != nullptr && run_id > 0;
  if (with_run) statements.push_back(ModelRunStatement(run_id, *run));
  if (statements.empty()) return Ok();
  return RecordOutcome("record model " + (model ? model->name : run->model), statements,
                       with_run ? run_id : 0);
}

Result<bool> PgStateStore::DeleteModel(const std::string& model) {
  // A tombstone, not a delete: the planner tells an operator's reset
  // (state_deleted) from a model it has never seen (new_model) by it. The
  // partitions go with the rest of its state, in the same transaction.
  const std::vector<Statement> statements = {
      {"UPDATE models SET sql_hash = '', config_hash = '', columns = NULL,"
       "       watermark = '', applied_batches = 0, strategy_state = NULL,"
       "       status = 'reset', last_error = '', updated_at = now()"
       " WHERE environment = $1 AND name = $2",
       {environment_, model}},
      {"DELETE FROM model_partitions WHERE environment = $1 AND model = $2", {environment_, model}},
  };
  return Run("delete model", Retry::kAlways, [&]() -> Result<bool> {
    auto r = ExecTransaction("delete model " + model, statements);
    if (!r) return Fail(r.error());
    return std::string_view(PQcmdTuples(r->front().get())) != "0";
  });
}

Result<std::vector<ModelRunRecord>> PgStateStore::ModelHistory(const std::string& model,
                                                               int limit) {
  return ReadRows<ModelRunRecord>("model history",
                                  "SELECT " MODEL_RUN_COLUMNS
                                  "  FROM model_runs mr JOIN runs r ON r.id = mr.run_id"
                                  " WHERE r.environment = $1 AND mr.model_name = $2"
                                  " ORDER BY mr.id DESC LIMIT NULLIF($3::bigint, 0)",
                                  {environment_, model, std::to_string(std::max(limit, 0))},
                                  [&](const PGresult* res, int i) { return ReadModelRun(res, i); });
}

Result<std::vector<ModelRunRecord>> PgStateStore::ModelRuns(int64_t run_id) {
  return ReadRows<ModelRunRecord>("model runs",
                                  "SELECT " MODEL_RUN_COLUMNS
                                  "  FROM model_runs mr JOIN runs r ON r.id = mr.run_id"
                                  " WHERE r.environment = $1 AND mr.run_id = $2::bigint"
                                  " ORDER BY mr.id",
                                  {environment_, std::to_string(run_id)},
                                  [&](const PGresult* res, int i) { return ReadModelRun(res, i); });
}

Result<std::vector<ModelRunRecord>> PgStateStore::LastModelRuns() {
  return Run("last model runs", Retry::kAlways, [&]() -> Result<std::vector<ModelRunRecord>> {
    // Per model row, through the (model_name, id DESC) index: the cost grows
    // with the models, not with the run history.
    auto r = Exec("last model runs",
                  "SELECT last.* FROM models m CROSS JOIN LATERAL ("
                  "  SELECT " MODEL_RUN_COLUMNS
                  "    FROM model_runs mr JOIN runs r ON r.id = mr.run_id"
                  "   WHERE mr.model_name = m.name AND r.environment = $1"
                  "   ORDER BY mr.id DESC LIMIT 1) last"
                  " WHERE m.environment = $1 ORDER BY m.name",
                  {environment_});
    if (!r) return Fail(r.error());
    const PGresult* res = r->get();
    std::vector<ModelRunRecord> records;
    records.reserve(PQntuples(res));
    for (int i = 0; i < PQntuples(res); ++i) records.push_back(ReadModelRun(res, i));
    return records;
  });
}

Status PgStateStore::RecordChecks(int64_t run_id, const std::vector<CheckRecord>& checks) {
  if (checks.empty()) return Ok();
  // One INSERT per result, each selecting the run so that one environment
  // cannot write into another's; RecordOutcome reads the last one's count.
  std::vector<Statement> statements;
  for (const auto& c : checks) {
    statements.push_back(
        {"INSERT INTO check_results (run_id, model_name, check_name, severity, passed, observed, "
         "detail)"
         " SELECT id, $3, $4, $5, $6::boolean, NULLIF($7::text, '')::double precision, $8"
         "   FROM runs WHERE id = $2::bigint AND environment = $1",
         {environment_, std::to_string(run_id), c.model, c.check, c.severity,
          c.passed ? "true" : "false", c.observed ? fmt::format("{}", *c.observed) : "",
          c.detail}});
  }
  return RecordOutcome("record checks of model " + checks.front().model, statements, run_id);
}

Result<std::vector<CheckRecord>> PgStateStore::ModelChecks(const std::string& model,
                                                           const std::string& check, int limit) {
  return ReadRows<CheckRecord>(
      "model checks",
      "SELECT c.model_name, c.check_name, c.severity, c.passed, c.observed, c.detail, c.run_id,"
      "       landfall_us(c.checked_at)"
      "  FROM check_results c JOIN runs r ON r.id = c.run_id"
      " WHERE r.environment = $1 AND c.model_name = $2 AND ($3 = '' OR c.check_name = $3)"
      " ORDER BY c.id DESC LIMIT NULLIF($4::bigint, 0)",
      {environment_, model, check, std::to_string(std::max(limit, 0))},
      [](const PGresult* res, int i) {
        CheckRecord out;
        out.model = Text(res, i, 0);
        out.check = Text(res, i, 1);
        out.severity = Text(res, i, 2);
        out.passed = Text(res, i, 3) == "t";
        if (!PQgetisnull(res, i, 4)) out.observed = std::strtod(PQgetvalue(res, i, 4), nullptr);
        out.detail = Text(res, i, 5);
        out.run_id = Int(res, i, 6);
        out.checked_at_us = Int(res, i, 7);
        return out;
      });
}

Result<bool> PgStateStore::SaveDagSnapshot(int64_t run_id, const std::string& dag_json) {
  return Run("save dag snapshot", Retry::kAlways, [&]() -> Result<bool> {
    // One statement: the comparison with the newest snapshot and the insert
    // share a snapshot. The hash is of the jsonb text, so equal JSON values
    // hash alike however they were spelled. Redoing it after a lost
    // connection is harmless: an insert that did commit is then the newest
    // snapshot, equal to this one (and the redo reports false).
    auto r = Exec("save dag snapshot",
                  "WITH run AS (SELECT id FROM runs WHERE id = $2::bigint AND environment = $1),"
                  " dag AS (SELECT d, encode(sha256(convert_to(d::text, 'UTF8')), 'hex') AS hash"
                  "           FROM (SELECT $3::jsonb AS d) j),"
                  " saved AS ("
                  "  INSERT INTO dag_snapshots (environment, run_id, dag_hash, dag)"
                  "  SELECT $1, run.id, dag.hash, dag.d FROM run, dag"
                  "   WHERE dag.hash IS DISTINCT FROM (SELECT s.dag_hash FROM dag_snapshots s"
                  "                                     WHERE s.environment = $1"
                  "                                     ORDER BY s.id DESC LIMIT 1)"
                  "  RETURNING id)"
                  " SELECT (SELECT count(*) FROM run), (SELECT count(*) FROM saved)",
                  {environment_, std::to_string(run_id), dag_json});
    if (!r) return Fail(r.error());
    if (Int(r->get(), 0, 0) == 0) {
      return Fail("state_not_found", "state store: save dag snapshot: no run " +
                                         std::to_string(run_id) + " in environment " +
                                         environment_);
    }
    return Int(r->get(), 0, 1) > 0;
  });
}

Result<std::optional<std::string>> PgStateStore::LatestDag() {
  return Run("latest dag", Retry::kAlways, [&]() -> Result<std::optional<std::string>> {
    auto r = Exec("latest dag",
                  "SELECT dag::text FROM dag_snapshots WHERE environment = $1"
                  " ORDER BY id DESC LIMIT 1",
                  {environment_});
    if (!r) return Fail(r.error());
    if (PQntuples(r->get()) == 0) return std::optional<std::string>();
    return std::optional<std::string>(std::string(Text(r->get(), 0, 0)));
  });
}

// --- partitions ---------------------------------------------------------------

Status PgStateStore::SavePartitions(const std::vector<PartitionRecord>& partitions) {
  if (partitions.empty()) return Ok();
  // ON CONFLICT cannot touch a row twice in one statement: of two records of
  // one (model, key), the later wins, as two calls would have it.
  std::map<std::pair<std::string_view, std::string_view>, const PartitionRecord*> unique;
  for (const auto& partition : partitions) unique[{partition.model, partition.key}] = &partition;

  // Window bounds convert without landfall_ts: the epoch is a bound, not NULL.
  static constexpr const char* kSql = R"sql(
INSERT INTO model_partitions AS p (environment, model, key, window_start, window_end, status,
                                   computed_at, window_closed, row_count, checksum, duration_us,
                                   run_id, error, updated_at)
SELECT $1, u.model, u.key, timestamptz 'epoch' + u.window_start * interval '1 microsecond',
       timestamptz 'epoch' + u.window_end * interval '1 microsecond', u.status,
       landfall_ts(u.computed_at), u.window_closed, u.row_count, u.checksum, u.duration_us,
       NULLIF(u.run_id, 0), u.error, now()
  FROM unnest($2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::text[], $7::bigint[],
              $8::boolean[], $9::bigint[], $10::text[], $11::bigint[], $12::bigint[], $13::text[])
       AS u(model, key, window_start, window_end, status, computed_at, window_closed, row_count,
            checksum, duration_us, run_id, error)
ON CONFLICT (environment, model, key) DO UPDATE SET
  window_start = EXCLUDED.window_start, window_end = EXCLUDED.window_end,
  status = EXCLUDED.status, computed_at = EXCLUDED.computed_at,
  window_closed = EXCLUDED.window_closed, row_count = EXCLUDED.row_count,
  checksum = EXCLUDED.checksum, duration_us = EXCLUDED.duration_us, run_id = EXCLUDED.run_id,
  error = EXCLUDED.error, updated_at = EXCLUDED.updated_at
)sql";

  std::vector<Statement> chunks;
  std::vector<const PartitionRecord*> rows;
  rows.reserve(unique.size());
  for (const auto& [key, partition] : unique) rows.push_back(partition);
  for (size_t start = 0; start < rows.size(); start += kUpsertChunkRows) {
    size_t end = std::min(rows.size(), start + kUpsertChunkRows);
    TextArray model, key, window_start, window_end, status, computed_at, window_closed, row_count,
        checksum, duration, run_id, error;
    for (size_t i = start; i < end; ++i) {
      const PartitionRecord& partition = *rows[i];
      model.Add(partition.model);
      key.Add(partition.key);
      window_start.Add(partition.window_start_us);
      window_end.Add(partition.window_end_us);
      status.Add(std::string_view(ToString(partition.status)));
      computed_at.Add(partition.computed_at_us);
      window_closed.Add(std::string_view(partition.window_closed ? "true" : "false"));
      row_count.Add(partition.row_count);
      checksum.Add(partition.checksum);
      duration.Add(partition.duration_us);
      run_id.Add(partition.run_id);
      error.Add(partition.error);
    }
    chunks.push_back({kSql,
                      {environment_, std::move(model).Finish(), std::move(key).Finish(),
                       std::move(window_start).Finish(), std::move(window_end).Finish(),
                       std::move(status).Finish(), std::move(computed_at).Finish(),
                       std::move(window_closed).Finish(), std::move(row_count).Finish(),
                       std::move(checksum).Finish(), std::move(duration).Finish(),
                       std::move(run_id).Finish(), std::move(error).Finish()}});
  }
  // An upsert of the same values: redoing it after a lost connection is harmless.
  return Run("save partitions", Retry::kAlways, [&]() -> Status {
    if (auto r = ExecTransaction("save partitions", chunks); !r) return Fail(r.error());
    return Ok();
  });
}

Result<std::vector<PartitionRecord>> PgStateStore::Partitions(const std::string& model,
                                                              const PartitionFilter& filter) {
  return ReadRows<PartitionRecord>(
      "partitions",
      "SELECT " PARTITION_COLUMNS
      "  FROM model_partitions WHERE environment = $1 AND model = $2"
      "   AND ($3 = '' OR status = $3) AND ($4 = '' OR key >= $4) AND ($5 = '' OR key <= $5)"
      " ORDER BY key LIMIT NULLIF($6::bigint, 0)",
      {environment_, model, filter.status, filter.from, filter.to,
       std::to_string(std::max(filter.limit, 0))},
      [&](const PGresult* res, int i) { return ReadPartition(res, i); });
}

Result<int64_t> PgStateStore::MarkPartitionsInterrupted() {
  return Run("mark interrupted partitions", Retry::kAlways, [&]() -> Result<int64_t> {
    auto r = Exec("mark interrupted partitions",
                  "UPDATE model_partitions SET status = 'interrupted',"
                  "       error = 'interrupted: the process computing it ended before it finished"
                  " (crash, kill -9, power cut); marked by the next writer at its start',"
                  "       updated_at = now()"
                  " WHERE environment = $1 AND status = 'in_progress'",
                  {environment_});
    if (!r) return Fail(r.error());
    return std::stoll(PQcmdTuples(r->get()));
  });
}

Status PgStateStore::DeletePartitions(const std::string& model) {
  return Run("delete partitions", Retry::kAlways, [&]() -> Status {
    auto r = Exec("delete partitions " + model,
                  "DELETE FROM model_partitions WHERE environment = $1 AND model = $2",
                  {environment_, model});
    if (!r) return Fail(r.error());
    return Ok();
  });
}

// --- runs ---------------------------------------------------------------------

Result<PruneStats> PgStateStore::PruneHistory(int retention_days, int chunk) {
  // Each chunk is a statement of its own (autocommit): a large backlog is
  // deleted in short transactions that never block the engine's writes long.
  // Each table's newest run record and snapshot, each model's newest run
  // record and the newest DAG stay, however old: the API's "last action", a
  // table's current schema history and the DAG a run compares with need them.
  const std::string days = std::to_string(retention_days);
  const std::string limit = std::to_string(std::max(1, chunk));
  auto drain = [&](const char* what, const char* sql) -> Result<int64_t> {
    int64_t total = 0;
    for (;;) {
      auto deleted = Run(what, Retry::kAlways, [&]() -> Result<int64_t> {
        auto r = Exec(what, sql, {environment_, days, limit});
        if (!r) return Fail(r.error());
        return std::stoll(PQcmdTuples(r->get()));
      });
      if (!deleted) return Fail(deleted.error());
      total += *deleted;
      if (*deleted < std::stoll(limit)) return total;
    }
  };
  PruneStats stats;
  auto table_runs = drain(
      "prune table runs",
      "DELETE FROM table_runs WHERE id IN ("
      "  SELECT tr.id FROM table_runs tr JOIN runs r ON r.id = tr.run_id"
      "   WHERE r.environment = $1 AND r.status <> 'running'"
      "     AND r.started_at < now() - make_interval(days => $2::int)"
      "     AND tr.id < (SELECT max(t2.id) FROM table_runs t2 JOIN runs r2 ON r2.id = t2.run_id"
      "                   WHERE t2.table_name = tr.table_name AND r2.environment = $1)"
      "   ORDER BY tr.id LIMIT $3::int)");
  if (!table_runs) return Fail(table_runs.error());
  stats.table_runs = *table_runs;
  auto model_runs = drain(
      "prune model runs",
      "DELETE FROM model_runs WHERE id IN ("
      "  SELECT mr.id FROM model_runs mr JOIN runs r ON r.id = mr.run_id"
      "   WHERE r.environment = $1 AND r.status <> 'running'"
      "     AND r.started_at < now() - make_interval(days => $2::int)"
      "     AND mr.id < (SELECT max(m2.id) FROM model_runs m2 JOIN runs r2 ON r2.id = m2.run_id"
      "                   WHERE m2.model_name = mr.model_name AND r2.environment = $1)"
      "   ORDER BY mr.id LIMIT $3::int)");
  if (!model_runs) return Fail(model_runs.error());
  stats.model_runs = *model_runs;
  auto dags =
      drain("prune dag snapshots",
            "DELETE FROM dag_snapshots WHERE id IN ("
            "  SELECT d.id FROM dag_snapshots d"
            "   WHERE d.environment = $1 AND d.recorded_at < now() - make_interval(days => $2::int)"
            "     AND d.id < (SELECT max(d2.id) FROM dag_snapshots d2 WHERE d2.environment = $1)"
            "   ORDER BY d.id LIMIT $3::int)");
  if (!dags) return Fail(dags.error());
  stats.dag_snapshots = *dags;
  // A run holding a record or a snapshot that stays, stays with it.
  auto runs = drain("prune runs",
                    "DELETE FROM runs WHERE id IN ("
                    "  SELECT r.id FROM runs r"
                    "   WHERE r.environment = $1 AND r.status <> 'running'"
                    "     AND r.started_at < now() - make_interval(days => $2::int)"
                    "     AND NOT EXISTS (SELECT 1 FROM table_runs tr WHERE tr.run_id = r.id)"
                    "     AND NOT EXISTS (SELECT 1 FROM model_runs mr WHERE mr.run_id = r.id)"
                    "     AND NOT EXISTS (SELECT 1 FROM dag_snapshots d WHERE d.run_id = r.id)"
                    "   ORDER BY r.id LIMIT $3::int)");
  if (!runs) return Fail(runs.error());
  stats.runs = *runs;
  auto versions =
      drain("prune schema history",
            "DELETE FROM schema_history WHERE id IN ("
            "  SELECT h.id FROM schema_history h"
            "   WHERE h.environment = $1 AND h.recorded_at < now() - make_interval(days => $2::int)"
            "     AND h.id < (SELECT max(h2.id) FROM schema_history h2"
            "                  WHERE h2.environment = $1 AND h2.table_name = h.table_name)"
            "   ORDER BY h.id LIMIT $3::int)");
  if (!versions) return Fail(versions.error());
  stats.schema_versions = *versions;
  return stats;
}

Result<int64_t> PgStateStore::StartRun(const std::string& trigger, const std::string& plan_json) {
  return Run("start run", Retry::kUnlessCommitInDoubt, [&]() -> Result<int64_t> {
    // An explicit transaction, statement by statement, so that a lost
    // connection before COMMIT is known not to have inserted anything and the
    // insert can be redone (a pipeline could not tell).
    Transaction tx(*this, "start run");
    if (auto s = tx.Begin(); !s) return Fail(s.error());
    auto r = Exec("start run",
                  "INSERT INTO runs (environment, trigger, status, plan, node)"
                  " VALUES ($1, $2, 'running', NULLIF($3::text, '')::jsonb, NULLIF($4, ''))"
                  " RETURNING id",
                  {environment_, trigger, plan_json, node_});
    if (!r) return Fail(r.error());
    int64_t id = Int(r->get(), 0, 0);
    if (auto s = tx.Commit(); !s) return Fail(s.error());
    return id;
  });
}

PgStateStore::Statement PgStateStore::TableRunStatement(int64_t run_id,
                                                        const TableRunRecord& record) const {
  // Selecting from runs keeps one environment from writing into another's run.
  return {
      "INSERT INTO table_runs (run_id, table_name, action, reasons, status, rows,"
      "                        batches, duration_us, error)"
      " SELECT id, $3, $4, COALESCE(NULLIF($5::text, '')::jsonb, '[]'::jsonb), $6,"
      "        $7::bigint, $8::int, $9::bigint, NULLIF($10::text, '')"
      "   FROM runs WHERE id = $2::bigint AND environment = $1",
      {environment_, std::to_string(run_id), record.table, record.action, record.reasons_json,
       ToString(record.status), std::to_string(record.rows), std::to_string(record.batches),
       std::to_string(record.duration_us), record.error}};
}

Status PgStateStore::RecordTableOutcome(const std::vector<BatchRecord>& staged,
                                        const std::optional<TableRecord>& table, int64_t run_id,
                                        const TableRunRecord* run) {
  std::vector<Statement> statements = UpsertStatements(staged);
  if (table) statements.push_back(SaveTableStatement(*table));
  const bool with_run = run != nullptr && run_id > 0;
  if (with_run) statements.push_back(TableRunStatement(run_id, *run));
  if (statements.empty()) return Ok();
  return RecordOutcome("record table " + (table ? table->name
                                          : run ? run->table
                                                : ""),
                       statements, with_run ? run_id : 0);
}

Status PgStateStore::RecordOutcome(const std::string& what,
                                   const std::vector<Statement>& statements, int64_t run_id) {
  return Run(what, Retry::kUnlessCommitInDoubt, [&]() -> Status {
    auto r = ExecTransaction(what, statements);
    if (!r) return Fail(r.error());
    if (run_id > 0 && std::string_view(PQcmdTuples(r->back().get())) == "0") {
      return Fail("state_not_found", "state store: " + what + ": no run " + std::to_string(run_id) +
                                         " in environment " + environment_);
    }
    return Ok();
  });
}

Status PgStateStore::FinishRun(int64_t run_id, const std::string& status,
                               const std::string& error) {
  return Run("finish run", Retry::kAlways, [&]() -> Status {
    auto r = Exec("finish run",
                  "UPDATE runs SET status = $3, finished_at = now(), error = NULLIF($4::text, '')"
                  " WHERE id = $2::bigint AND environment = $1",
                  {environment_, std::to_string(run_id), status, error});
    if (!r) return Fail(r.error());
    if (std::string_view(PQcmdTuples(r->get())) == "0") {
      return Fail("state_not_found", "state store: finish run: no run " + std::to_string(run_id) +
                                         " in environment " + environment_);
    }
    return Ok();
  });
}

Result<std::vector<RunSummary>> PgStateStore::MarkRunsInterrupted() {
  return Run("mark interrupted runs", Retry::kAlways, [&]() -> Result<std::vector<RunSummary>> {
    // GREATEST ignores NULL: a run with no record was last seen starting.
    // In a cluster (node_ set) only the runs of members that are gone: no
    // heartbeat within the lease TTL, or left.
    auto r =
        Exec("mark interrupted runs",
             "UPDATE runs r SET status = 'interrupted',"
             "       finished_at = GREATEST(r.started_at,"
             "           (SELECT max(tr.recorded_at) FROM table_runs tr WHERE tr.run_id = r.id),"
             "           (SELECT max(mr.recorded_at) FROM model_runs mr WHERE mr.run_id = r.id),"
             "           (SELECT max(d.recorded_at) FROM dag_snapshots d WHERE d.run_id = r.id)),"
             "       error = 'interrupted: the process running it ended before it finished"
             " (crash, kill -9, power cut); marked by the next writer at its start'"
             " WHERE r.environment = $1 AND r.status = 'running'"
             "   AND ($2 = '' OR NOT EXISTS ("
             "        SELECT 1 FROM cluster_members m"
             "         WHERE m.environment = r.environment AND m.node = r.node"
             "           AND m.left_at IS NULL"
             "           AND m.heartbeat_at > now() - make_interval(secs => $3::int)))"
             " RETURNING " RUN_COLUMNS,
             {environment_, node_, lease_ttl_s_});
    if (!r) return Fail(r.error());
    const PGresult* res = r->get();
    std::vector<RunSummary> runs;
    for (int i = 0; i < PQntuples(res); ++i) runs.push_back(ReadRun(res, i, /*with_plan=*/false));
    std::sort(runs.begin(), runs.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    return runs;
  });
}

Result<std::vector<RunSummary>> PgStateStore::ListRuns(int limit) {
  return Run("list runs", Retry::kAlways, [&]() -> Result<std::vector<RunSummary>> {
    // LIMIT NULL is no limit.
    auto r = Exec("list runs",
                  "SELECT " RUN_COLUMNS
                  ", COALESCE(plan::text, '')"
                  "  FROM runs WHERE environment = $1"
                  " ORDER BY id DESC LIMIT NULLIF($2::bigint, 0)",
                  {environment_, std::to_string(std::max(limit, 0))});
    if (!r) return Fail(r.error());
    const PGresult* res = r->get();
    std::vector<RunSummary> runs;
    runs.reserve(PQntuples(res));
    for (int i = 0; i < PQntuples(res); ++i) runs.push_back(ReadRun(res, i, /*with_plan=*/true));
    return runs;
  });
}

Result<std::vector<TableRunRecord>> PgStateStore::TableRuns(int64_t run_id) {
  return ReadRows<TableRunRecord>(
      "table runs",
      "SELECT " TABLE_RUN_COLUMNS
      "  FROM table_runs tr JOIN runs r ON r.id = tr.run_id"
      " WHERE r.environment = $1 AND tr.run_id = $2::bigint"
      " ORDER BY tr.id",
      {environment_, std::to_string(run_id)},
      [&](const PGresult* res, int i) { return ReadTableRun(res, i, 0); });
}

Result<std::vector<TableSummary>> PgStateStore::TableSummaries(const std::string& table) {
  return Run("table summaries", Retry::kAlways, [&]() -> Result<std::vector<TableSummary>> {
    // Tables known by a row, by batches, or both; "" selects every table.
    auto r = Exec(
        "table summaries",
        "WITH t AS (SELECT * FROM tables WHERE environment = $1 AND ($2 = '' OR name = $2)),"
        " b AS (SELECT table_name,"
        "         COALESCE(sum(rows) FILTER (WHERE status = 'staged'), 0) AS rows_staged,"
        "         count(*) FILTER (WHERE status = 'staged') AS staged,"
        "         count(*) FILTER (WHERE status = 'pending') AS pending,"
        "         count(*) FILTER (WHERE status = 'quarantined') AS quarantined,"
        "         count(*) FILTER (WHERE status = 'duplicate') AS duplicate"
        "    FROM batches WHERE environment = $1 AND ($2 = '' OR table_name = $2)"
        "   GROUP BY table_name),"
        " n AS (SELECT COALESCE(t.name, b.table_name) AS name, t.schema_json, t.schema_hash,"
        "         t.status, t.last_error, t.policy, t.updated_at, b.rows_staged, b.staged,"
        "         b.pending, b.quarantined, b.duplicate"
        "    FROM t FULL JOIN b ON b.table_name = t.name)"
        " SELECT n.name, COALESCE(n.schema_json::text, ''), COALESCE(n.schema_hash, ''),"
        "        COALESCE(n.status, 'new'), COALESCE(n.last_error, ''), COALESCE(n.policy, ''),"
        "        landfall_us(n.updated_at), COALESCE(n.rows_staged, 0), COALESCE(n.staged, 0),"
        "        COALESCE(n.pending, 0), COALESCE(n.quarantined, 0), COALESCE(n.duplicate, 0),"
        "        last.* "
        "   FROM n LEFT JOIN LATERAL ("
        "     SELECT " TABLE_RUN_COLUMNS
        "       FROM table_runs tr JOIN runs r ON r.id = tr.run_id"
        "      WHERE tr.table_name = n.name AND r.environment = $1"
        "      ORDER BY tr.id DESC LIMIT 1) last ON true"
        "  ORDER BY n.name",
        {environment_, table});
    if (!r) return Fail(r.error());
    const PGresult* res = r->get();
    std::vector<TableSummary> out;
    out.reserve(PQntuples(res));
    for (int i = 0; i < PQntuples(res); ++i) {
      TableSummary& s = out.emplace_back();
      s.table.name = Text(res, i, 0);
      s.table.schema_json = Text(res, i, 1);
      s.table.schema_hash = Text(res, i, 2);
      auto status = TableStatusFromString(Text(res, i, 3));
      if (!status) {
        return Fail("state_invalid", "state store: table " + s.table.name +
                                         " has unknown status \"" + std::string(Text(res, i, 3)) +
                                         "\"");
      }
      s.table.status = *status;
      s.table.last_error = Text(res, i, 4);
      s.table.policy = Text(res, i, 5);
      s.table.updated_at_us = Int(res, i, 6);
      s.rows_staged = Int(res, i, 7);
      s.staged = static_cast<int>(Int(res, i, 8));
      s.pending = static_cast<int>(Int(res, i, 9));
      s.quarantined = static_cast<int>(Int(res, i, 10));
      s.duplicate = static_cast<int>(Int(res, i, 11));
      if (!PQgetisnull(res, i, 12)) s.last_action = ReadTableRun(res, i, 12);
    }
    return out;
  });
}

Result<std::vector<SchemaVersion>> PgStateStore::SchemaHistory(const std::string& table,
                                                               int limit) {
  return Run("schema history", Retry::kAlways, [&]() -> Result<std::vector<SchemaVersion>> {
    auto r = Exec("schema history",
                  "SELECT schema_hash, COALESCE(schema_json::text, ''), landfall_us(recorded_at)"
                  "  FROM schema_history WHERE environment = $1 AND table_name = $2"
                  " ORDER BY id DESC LIMIT NULLIF($3::bigint, 0)",
                  {environment_, table, std::to_string(std::max(limit, 0))});
    if (!r) return Fail(r.error());
    const PGresult* res = r->get();
    std::vector<SchemaVersion> out;
    for (int i = 0; i < PQntuples(res); ++i) {
      out.push_back({std::string(Text(res, i, 0)), std::string(Text(res, i, 1)), Int(res, i, 2)});
    }
    return out;
  });
}

Result<std::vector<BatchRecord>> PgStateStore::FindBatches(const BatchFilter& filter) {
  return Run("find batches", Retry::kAlways, [&]() -> Result<std::vector<BatchRecord>> {
    auto r =
        Exec("find batches",
             "SELECT " BATCH_COLUMNS
             "  FROM batches WHERE environment = $1 AND ($2 = '' OR table_name = $2)"
             "   AND ($3 = '' OR status = $3)"
             " ORDER BY CASE WHEN $5 THEN discovered_at END DESC, path"
             " LIMIT NULLIF($4::bigint, 0)",
             {environment_, filter.table, filter.status ? ToString(*filter.status) : "",
              std::to_string(std::max(filter.limit, 0)), filter.newest_first ? "true" : "false"});
    if (!r) return Fail(r.error());
    const PGresult* b = r->get();
    std::vector<BatchRecord> out;
    out.reserve(PQntuples(b));
    for (int i = 0; i < PQntuples(b); ++i) out.push_back(ReadBatch(b, i));
    return out;
  });
}

Result<std::vector<TableRunRecord>> PgStateStore::TableHistory(const std::string& table,
                                                               int limit) {
  return ReadRows<TableRunRecord>(
      "table history",
      "SELECT " TABLE_RUN_COLUMNS
      "  FROM table_runs tr JOIN runs r ON r.id = tr.run_id"
      " WHERE r.environment = $1 AND tr.table_name = $2"
      " ORDER BY tr.id DESC LIMIT NULLIF($3::bigint, 0)",
      {environment_, table, std::to_string(std::max(limit, 0))},
      [&](const PGresult* res, int i) { return ReadTableRun(res, i, 0); });
}

Result<std::optional<RunSummary>> PgStateStore::GetRun(int64_t run_id) {
  return Run("get run", Retry::kAlways, [&]() -> Result<std::optional<RunSummary>> {
    auto r = Exec("get run",
                  "SELECT " RUN_COLUMNS
                  ", COALESCE(plan::text, '')"
                  "  FROM runs WHERE environment = $1 AND id = $2::bigint",
                  {environment_, std::to_string(run_id)});
    if (!r) return Fail(r.error());
    const PGresult* res = r->get();
    if (PQntuples(res) == 0) return std::optional<RunSummary>();
    return std::optional<RunSummary>(ReadRun(res, 0, /*with_plan=*/true));
  });
}

Result<std::vector<RunSummary>> PgStateStore::FindRuns(int limit, const std::string& status) {
  return ReadRows<RunSummary>(
      "find runs",
      "SELECT " RUN_COLUMNS
      "  FROM runs WHERE environment = $1 AND ($2 = '' OR status = $2)"
      " ORDER BY id DESC LIMIT NULLIF($3::bigint, 0)",
      {environment_, status, std::to_string(std::max(limit, 0))},
      [&](const PGresult* res, int i) { return ReadRun(res, i, /*with_plan=*/false); });
}

}  // namespace

Result<std::unique_ptr<StateStore>> OpenPostgres(const PgOptions& options) {
  ConnTarget target = DescribeTarget(options.url);
  if (!target.parse_error.empty()) {
    return Fail("state_url_invalid",
                Redact("state store: invalid PostgreSQL connection string: " + target.parse_error,
                       target.secrets));
  }
  // Our defaults come before the expanded URL, so the URL may override them.
  const char* keywords[] = {"application_name", "connect_timeout", "client_encoding", "dbname",
                            nullptr};
  const char* values[] = {"landfall", "5", "UTF8", options.url.c_str(), nullptr};
  PgConn conn(PQconnectdbParams(keywords, values, /*expand_dbname=*/1));
  if (!conn) {
    return Fail("state_unavailable", "state store: out of memory connecting to PostgreSQL",
                /*transient=*/true);
  }
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    return Fail("state_unavailable",
                Redact("state store: cannot connect to PostgreSQL (" + target.description +
                           "): " + TrimMessage(PQerrorMessage(conn.get())),
                       target.secrets),
                /*transient=*/true);
  }
  return std::make_unique<PgStateStore>(std::move(conn), options, std::move(target));
}

}  // namespace landfall::state
