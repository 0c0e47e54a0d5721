#include "lib/warehouse/pg_warehouse.h"

#include <duckdb.h>
#include <libpq-fe.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "lib/common/clock.h"
#include "lib/common/pg.h"
#include "lib/warehouse/duckdb_connection.h"
#include "lib/warehouse/pg_binary_copy.h"
#include "lib/warehouse/pg_models.h"
#include "lib/warehouse/pg_statements.h"
#include "lib/warehouse/sql.h"
#include "lib/warehouse/statements.h"

namespace landfall::warehouse {

namespace {

using internal::ConnectionPool;
using internal::DuckError;
using libpq::PgConn;
using libpq::PgResult;
using sql::TableColumn;
// A table's columns' PostgreSQL types as they are, by folded column name
// (format_type's spelling, or PgType's for a table landfall just created).
using PgTypes = std::map<std::string, std::string>;

constexpr int kMaxAttempts = 5;
// COPY data is handed to libpq in pieces of about this size.
constexpr size_t kCopyBufferBytes = 1 << 20;

bool HasNul(std::string_view text) { return text.find('\0') != std::string_view::npos; }

// A failed PostgreSQL statement: its SQLSTATE and message.
struct PgFailure {
  std::string sqlstate;
  std::string message;
  bool connection_lost = false;
};

// Data exceptions (class 22: a value PostgreSQL's input function refuses, a
// NUL byte in text, a number out of range) and not-null violations: the
// batch's own content cannot take its columns' types here.
bool IsValueRefused(const PgFailure& failure) {
  return failure.sqlstate.starts_with("22") || failure.sqlstate == "23502";
}

// Appends `chunk`'s rows to `out` in COPY's text format, each row's first
// `width` values (VARCHAR) then `suffix` (the metadata fields and the newline).
void AppendTextRows(std::string& out, duckdb_data_chunk chunk, size_t width,
                    std::string_view suffix) {
  const idx_t size = duckdb_data_chunk_get_size(chunk);
  std::vector<duckdb_vector> vectors;
  for (size_t c = 0; c < width; ++c) vectors.push_back(duckdb_data_chunk_get_vector(chunk, c));
  for (idx_t row = 0; row < size; ++row) {
    for (size_t c = 0; c < vectors.size(); ++c) {
      if (c > 0) out += '\t';
      if (auto text = internal::VarcharAt(vectors[c], row)) {
        pg::AppendCopyField(out, *text);
      } else {
        out += pg::kCopyNull;
      }
    }
    out += suffix;
  }
}

// The DuckDB type a binary encoding reads its values as.
duckdb_type DuckTypeOf(pg::BinaryEncoding encoding) {
  using enum pg::BinaryEncoding;
  switch (encoding) {
    case kBool:
      return DUCKDB_TYPE_BOOLEAN;
    case kInt2:
      return DUCKDB_TYPE_SMALLINT;
    case kInt4:
      return DUCKDB_TYPE_INTEGER;
    case kInt8:
      return DUCKDB_TYPE_BIGINT;
    case kFloat4:
      return DUCKDB_TYPE_FLOAT;
    case kFloat8:
      return DUCKDB_TYPE_DOUBLE;
    case kDate:
      return DUCKDB_TYPE_DATE;
    case kTime:
      return DUCKDB_TYPE_TIME;
    case kTimestamp:
      return DUCKDB_TYPE_TIMESTAMP;
    case kTimestampTz:
      return DUCKDB_TYPE_TIMESTAMP_TZ;
    case kInterval:
      return DUCKDB_TYPE_INTERVAL;
    case kUuid:
      return DUCKDB_TYPE_UUID;
    case kBytea:
      return DUCKDB_TYPE_BLOB;
    case kText:
    case kJsonb:
    case kNumericText:
      return DUCKDB_TYPE_VARCHAR;
  }
  return DUCKDB_TYPE_INVALID;
}

std::string_view StringAt(void* data, idx_t row) {
  auto* strings = static_cast<duckdb_string_t*>(data);
  return {duckdb_string_t_data(&strings[row]), duckdb_string_t_length(strings[row])};
}

// Appends `chunk`'s rows to `out` in COPY's binary format: each row's values
// of `columns` (the chunk's first vectors, in order) then `suffix` (the
// metadata fields). An error when a vector is not of the type its encoding
// reads or a number's text is not one (neither is the batch's fault).
std::optional<std::string> AppendBinaryRows(std::string& out, duckdb_data_chunk chunk,
                                            std::span<const pg::BinaryColumn> columns,
                                            std::string_view suffix) {
  struct Source {
    pg::BinaryEncoding encoding;
    void* data;
    uint64_t* validity;
  };
  std::vector<Source> sources;
  sources.reserve(columns.size());
  for (size_t c = 0; c < columns.size(); ++c) {
    duckdb_vector vector = duckdb_data_chunk_get_vector(chunk, c);
    duckdb_logical_type type = duckdb_vector_get_column_type(vector);
    const duckdb_type id = duckdb_get_type_id(type);
    duckdb_destroy_logical_type(&type);
    if (id != DuckTypeOf(columns[c].encoding)) {
      return "column " + std::to_string(c + 1) + " was read as DuckDB type " +
             std::to_string(static_cast<int>(id)) + ", not the one its binary form takes";
    }
    sources.push_back(
        {columns[c].encoding, duckdb_vector_get_data(vector), duckdb_vector_get_validity(vector)});
  }
  const auto fields = static_cast<int16_t>(columns.size() + 2);
  const idx_t size = duckdb_data_chunk_get_size(chunk);
  for (idx_t row = 0; row < size; ++row) {
    pg::AppendTupleStart(out, fields);
    for (const Source& s : sources) {
      if (s.validity != nullptr && !duckdb_validity_row_is_valid(s.validity, row)) {
        pg::AppendNullField(out);
        continue;
      }
      using enum pg::BinaryEncoding;
      switch (s.encoding) {
        case kBool:
          pg::AppendBoolField(out, static_cast<const bool*>(s.data)[row]);
          break;
        case kInt2:
          pg::AppendInt2Field(out, static_cast<const int16_t*>(s.data)[row]);
          break;
        case kInt4:
          pg::AppendInt4Field(out, static_cast<const int32_t*>(s.data)[row]);
          break;
        case kInt8:
          pg::AppendInt8Field(out, static_cast<const int64_t*>(s.data)[row]);
          break;
        case kFloat4:
          pg::AppendFloat4Field(out, static_cast<const float*>(s.data)[row]);
          break;
        case kFloat8:
          pg::AppendFloat8Field(out, static_cast<const double*>(s.data)[row]);
          break;
        case kDate:
          pg::AppendDateField(out, static_cast<const duckdb_date*>(s.data)[row].days);
          break;
        case kTime:
          pg::AppendTimeField(out, static_cast<const duckdb_time*>(s.data)[row].micros);
          break;
        case kTimestamp:
        case kTimestampTz:
          pg::AppendTimestampField(out, static_cast<const duckdb_timestamp*>(s.data)[row].micros);
          break;
        case kInterval: {
          const duckdb_interval& v = static_cast<const duckdb_interval*>(s.data)[row];
          pg::AppendIntervalField(out, v.months, v.days, v.micros);
          break;
        }
        case kUuid: {
          const duckdb_hugeint& v = static_cast<const duckdb_hugeint*>(s.data)[row];
          pg::AppendUuidField(out, v.lower, v.upper);
          break;
        }
        case kText:
        case kBytea:
          pg::AppendBytesField(out, StringAt(s.data, row));
          break;
        case kJsonb:
          pg::AppendJsonbField(out, StringAt(s.data, row));
          break;
        case kNumericText:
          if (!pg::AppendNumericField(out, StringAt(s.data, row))) {
            return "DuckDB's text of a number is not one: " + std::string(StringAt(s.data, row));
          }
          break;
      }
    }
    out += suffix;
  }
  return std::nullopt;
}

// Why a batch is left out: its content cannot be staged whatever is retried.
struct Verdict {
  const BatchFile* batch = nullptr;
  std::string message;
};

class PgWarehouse final : public Warehouse {
 public:
  PgWarehouse(PostgresWarehouseOptions options, libpq::ConnTarget target, duckdb_database reader,
              std::unique_ptr<Warehouse> types)
      : options_(std::move(options)),
        target_(std::move(target)),
        reader_db_(reader),
        readers_(std::make_unique<ConnectionPool>(reader)),
        types_(std::move(types)),
        models_(internal::NewPgModels(
            [this](const std::string& what, const std::function<Status(PGconn*)>& body) -> Status {
              auto done = Transact<bool>(what, [&](PGconn* conn) -> Result<bool> {
                if (auto s = body(conn); !s) return Fail(s.error());
                return true;
              });
              return done ? Ok() : Fail(done.error());
            },
            [this](PGconn* conn, const std::string& context, const std::string& statement) {
              return Exec(conn, context, statement);
            },
            options_.staging_schema)) {}

  ~PgWarehouse() override {
    readers_.reset();
    duckdb_close(&reader_db_);
  }

  PgWarehouse(const PgWarehouse&) = delete;
  PgWarehouse& operator=(const PgWarehouse&) = delete;

  Status Init() override {
    auto done = Transact<bool>("init", [&](PGconn* conn) -> Result<bool> {
      if (auto r = Exec(conn, "init", pg::LockTransaction("init")); !r) return Fail(r.error());
      for (const auto& statement : pg::InitStatements(options_.staging_schema)) {
        if (auto r = Exec(conn, "init", statement); !r) return Fail(r.error());
      }
      return true;
    });
    if (!done) return Fail(done.error());
    return Ok();
  }

  Result<std::map<std::string, TableContents>> Inspect() override {
    return Transact<std::map<std::string, TableContents>>(
        "inspect", [&](PGconn* conn) -> Result<std::map<std::string, TableContents>> {
          // One snapshot for the columns and the ledger.
          if (auto r = Exec(conn, "inspect", "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ");
              !r) {
            return Fail(r.error());
          }
          std::map<std::string, TableContents> out;
          auto columns = Exec(conn, "inspect: staging columns",
                              pg::SelectStagingColumns(options_.staging_schema));
          if (!columns) return Fail(columns.error());
          PGresult* c = columns->get();
          for (int row = 0; row < PQntuples(c); ++row) {
            std::string table = PQgetvalue(c, row, 0);
            if (table.starts_with(sql::kMetaPrefix)) continue;  // a rebuild's shadow
            TableContents& contents = out[table];
            contents.exists = true;
            std::string name = PQgetvalue(c, row, 1);
            if (schema::FoldName(name).starts_with(sql::kMetaPrefix)) continue;
            schema::Column column;
            column.name = std::move(name);
            column.type = pg::StagingTypeOf(PQgetvalue(c, row, 2), PQgetvalue(c, row, 4));
            column.nullable = std::string_view(PQgetvalue(c, row, 3)) != "0";
            contents.columns.columns.push_back(std::move(column));
          }
          auto ledger = Exec(conn, "inspect: ledger", pg::SelectLedger(options_.staging_schema));
          if (!ledger) return Fail(ledger.error());
          PGresult* l = ledger->get();
          for (int row = 0; row < PQntuples(l); ++row) {
            LedgerEntry entry;
            entry.batch_id = PQgetvalue(l, row, 1);
            entry.rel_path = PQgetvalue(l, row, 2);
            entry.rows = std::atoll(PQgetvalue(l, row, 3));
            entry.loaded_at_us = std::atoll(PQgetvalue(l, row, 4));
            out[PQgetvalue(l, row, 0)].ledger[entry.batch_id] = std::move(entry);
          }
          return out;
        });
  }

  Result<ApplyStats> Append(const std::string& table, const schema::Schema& target,
                            std::span<const BatchFile> batches) override {
    return Evolve(table, target, {}, batches);
  }

  Result<ApplyStats> Evolve(const std::string& table, const schema::Schema& target,
                            std::span<const ColumnRename> renames,
                            std::span<const BatchFile> batches) override {
    if (auto valid = ValidateTarget(table, target); !valid) return Fail(valid.error());
    if (batches.empty() && renames.empty()) return ApplyStats{};
    const std::string qualified = sql::Qualified(options_.staging_schema, table);
    std::vector<BatchFile> kept(batches.begin(), batches.end());
    std::optional<Verdict> verdict;
    auto body = [&](PGconn* conn) -> Result<ApplyStats> {
      const std::string where = "table " + sql::Ident(table);
      PgTypes pg_types;
      auto columns = LockTable(conn, table, &pg_types);
      if (!columns) return Fail(columns.error());
      if (columns->empty()) {
        return Fail("warehouse_table_missing",
                    "staging table " + qualified + " does not exist; append needs it");
      }
      for (const auto& statement : sql::RenameColumns(qualified, renames)) {
        if (auto r = Exec(conn, where + ": rename", statement); !r) return Fail(r.error());
      }
      if (!renames.empty()) {
        columns = TableColumns(conn, table, &pg_types);
        if (!columns) return Fail(columns.error());
      }
      auto evolve = pg::EvolveColumns(qualified, *columns, target);
      if (!evolve.empty()) {
        if (auto r = Exec(conn, where + ": evolve", Join(evolve)); !r) return Fail(r.error());
        WarnOfPrecision(table, target, *columns);
        if (auto now = TableColumns(conn, table, &pg_types); !now) return Fail(now.error());
      }
      auto applied = LedgerBatchIds(conn, table, kept);
      if (!applied) return Fail(applied.error());
      return CheckedBeforeCommit(
          table,
          LoadBatches(conn, table, qualified, target, *columns, pg_types, kept, std::move(*applied),
                      sql::LedgerWrite::kInsert, verdict),
          kept);
    };
    return ApplyRejecting("append to " + sql::Ident(table), kept, verdict, body);
  }

  using Warehouse::Rebuild;
  Result<ApplyStats> Rebuild(const std::string& table, const schema::Schema& target,
                             std::span<const BatchFile> batches,
                             std::span<const std::string> carry_over) override {
    if (auto valid = ValidateTarget(table, target); !valid) return Fail(valid.error());
    for (const auto& id : carry_over) {
      if (HasNul(id)) return Fail("warehouse_invalid_target", "batch id with a NUL byte");
    }
    const std::string qualified = sql::Qualified(options_.staging_schema, table);
    const std::string shadow = pg::ShadowName(table);
    const std::string shadow_qualified = sql::Qualified(options_.staging_schema, shadow);
    std::vector<BatchFile> kept(batches.begin(), batches.end());
    std::optional<Verdict> verdict;
    auto body = [&](PGconn* conn) -> Result<ApplyStats> {
      const std::string where = "table " + sql::Ident(table);
      auto old = LockTable(conn, table);
      if (!old) return Fail(old.error());
      // Built under another name while readers keep the old table, then
      // swapped in by rename in the same transaction: readers see the old
      // table or the new one, never neither and never half of it.
      if (auto r = Exec(conn, where + ": create", Join(pg::CreateTable(shadow_qualified, target)));
          !r) {
        return Fail(r.error());
      }
      WarnOfPrecision(table, target, *old);
      std::set<std::string> skip;
      if (!carry_over.empty() && !old->empty()) {
        auto r = Exec(conn, where + ": keep rows of batches whose files are gone",
                      pg::CarryOverRows(qualified, *old, shadow_qualified, target, carry_over));
        if (!r) return Fail(r.error());
        skip.insert(carry_over.begin(), carry_over.end());
      }
      std::vector<std::string> staying(skip.begin(), skip.end());
      for (const auto& batch : kept) staying.push_back(batch.batch_id);
      if (auto r = Exec(conn, where + ": clear ledger",
                        pg::DeleteLedgerRows(options_.staging_schema, table, staying));
          !r) {
        return Fail(r.error());
      }
      std::vector<TableColumn> fresh;
      PgTypes pg_types;
      for (const auto& c : target.columns) {
        fresh.push_back({c.name, sql::NormalizeType(c.type)});
        pg_types[schema::FoldName(c.name)] = pg::PgType(c.type);
      }
      auto loaded = LoadBatches(conn, table, shadow_qualified, target, fresh, pg_types, kept,
                                std::move(skip), sql::LedgerWrite::kReplace, verdict);
      if (!loaded) return loaded;
      if (auto r = Exec(conn, where + ": swap in",
                        Join(pg::SwapIn(options_.staging_schema, table, shadow)));
          !r) {
        return Fail(r.error());
      }
      return CheckedBeforeCommit(table, std::move(loaded), kept);
    };
    return ApplyRejecting("rebuild of " + sql::Ident(table), kept, verdict, body);
  }

  Status Drop(const std::string& table) override {
    if (table.empty() || HasNul(table)) return Fail("warehouse_error", "invalid table name");
    auto done = Transact<bool>("drop " + sql::Ident(table), [&](PGconn* conn) -> Result<bool> {
      const std::string where = "drop of " + sql::Ident(table);
      if (auto r = Exec(conn, where, pg::LockTransaction(TableKey(table))); !r)
        return Fail(r.error());
      if (auto r = Exec(conn, where, Join(pg::DropTable(options_.staging_schema, table))); !r) {
        return Fail(r.error());
      }
      return true;
    });
    if (!done) return Fail(done.error());
    return Ok();
  }

  std::map<std::string, std::string> LossyTypes() const override {
    return {{"TIMESTAMP_NS",
             "PostgreSQL " + pg::PgType("TIMESTAMP_NS") + ": nanoseconds are cut to microseconds"}};
  }

  // Staging types are DuckDB's, so DuckDB answers (an in-memory one).
  Result<std::string> CommonSupertype(const std::string& a, const std::string& b) override {
    return types_->CommonSupertype(a, b);
  }

  ModelWarehouse* Models() override { return models_.get(); }

  int64_t StatementsExecuted() const override {
    return statements_.load(std::memory_order_relaxed);
  }

  Result<int64_t> RowCount(const std::string& table) override {
    if (table.empty() || HasNul(table)) return Fail("warehouse_error", "invalid table name");
    const std::string qualified = sql::Qualified(options_.staging_schema, table);
    auto conn = Acquire();
    if (!conn) return Fail(conn.error());
    PgFailure failure;
    auto r = Run(conn->get(), sql::CountRows(qualified), &failure);
    if (!r) {
      Release(std::move(*conn), !failure.connection_lost);
      if (failure.sqlstate == "42P01") {
        return Fail("warehouse_table_missing", qualified + ": " + failure.message);
      }
      return Fail(Failed("row count of " + qualified, failure));
    }
    Release(std::move(*conn), true);
    return std::atoll(PQgetvalue(r->get(), 0, 0));
  }

 private:
  // --- Connections ---

  Result<PgConn> Acquire() {
    {
      std::lock_guard lock(idle_mu_);
      if (!idle_.empty()) {
        PgConn conn = std::move(idle_.back());
        idle_.pop_back();
        return conn;
      }
    }
    PgConn conn(PQconnectdb(options_.url.c_str()));
    if (PQstatus(conn.get()) != CONNECTION_OK) {
      return Fail("warehouse_unavailable",
                  libpq::Redact("warehouse: cannot connect to PostgreSQL (" + target_.description +
                                    "): " + libpq::TrimMessage(PQerrorMessage(conn.get())),
                                target_.secrets),
                  /*transient=*/true);
    }
    // Notices ("table ... does not exist, skipping") are not for the log.
    PQsetNoticeProcessor(
        conn.get(), [](void*, const char*) {}, nullptr);
    // Timestamps without a zone are UTC, as in DuckDB; text is UTF-8.
    PgResult set(PQexec(conn.get(), "SET TimeZone = 'UTC'; SET client_encoding = 'UTF8'"));
    if (PQresultStatus(set.get()) != PGRES_COMMAND_OK) {
      return Fail("warehouse_unavailable",
                  "warehouse: " + libpq::TrimMessage(PQresultErrorMessage(set.get())), true);
    }
    return conn;
  }

  void Release(PgConn conn, bool healthy) {
    if (!healthy || PQstatus(conn.get()) != CONNECTION_OK ||
        PQtransactionStatus(conn.get()) != PQTRANS_IDLE) {
      return;  // closed
    }
    std::lock_guard lock(idle_mu_);
    idle_.push_back(std::move(conn));
  }

  // Runs `statement` (one or several, without parameters); the failure in `*failure`.
  std::optional<PgResult> Run(PGconn* conn, const std::string& statement, PgFailure* failure) {
    statements_.fetch_add(1, std::memory_order_relaxed);
    PgResult result(PQexec(conn, statement.c_str()));
    const ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_COPY_IN) {
      return result;
    }
    Describe(conn, result.get(), failure);
    return std::nullopt;
  }

  void Describe(PGconn* conn, const PGresult* result, PgFailure* failure) const {
    const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
    failure->sqlstate = state ? state : "";
    failure->message =
        libpq::TrimMessage(result ? PQresultErrorMessage(result) : PQerrorMessage(conn));
    if (failure->message.empty()) failure->message = libpq::TrimMessage(PQerrorMessage(conn));
    failure->message = libpq::Redact(failure->message, target_.secrets);
    failure->connection_lost =
        PQstatus(conn) != CONNECTION_OK || libpq::IsConnectionSqlState(failure->sqlstate);
  }

  static Error Failed(const std::string& context, const PgFailure& failure) {
    return Error{"warehouse_error", context + ": " + failure.message,
                 failure.connection_lost || libpq::IsTransientSqlState(failure.sqlstate)};
  }

  // One statement inside a transaction; errors as Failed.
  Result<PgResult> Exec(PGconn* conn, const std::string& context, const std::string& statement) {
    PgFailure failure;
    auto r = Run(conn, statement, &failure);
    if (!r) return Fail(Failed(context, failure));
    return std::move(*r);
  }

  static std::string Join(const std::vector<std::string>& statements) {
    std::string joined;
    for (const auto& s : statements) joined += s + ";\n";
    return joined;
  }

  std::string TableKey(const std::string& table) const {
    return "table:" + options_.staging_schema + "." + table;
  }

  // Runs `body` between BEGIN and COMMIT on one connection, rolling back on
  // any error; transient errors (a lost connection, a deadlock, a
  // serialization failure) run it again on a fresh connection.
  template <typename T>
  Result<T> Transact(const std::string& what, const std::function<Result<T>(PGconn*)>& body) {
    for (int attempt = 1;; ++attempt) {
      auto conn = Acquire();
      if (!conn) {
        if (attempt == kMaxAttempts) return Fail(conn.error());
        std::this_thread::sleep_for(std::chrono::milliseconds(50 << attempt));
        continue;
      }
      Error error;
      if (auto begin = Exec(conn->get(), what + ": begin", "BEGIN"); !begin) {
        error = begin.error();
      } else if (Result<T> result = body(conn->get()); !result) {
        error = std::move(result.error());
      } else if (auto commit = Exec(conn->get(), what + ": commit", "COMMIT"); !commit) {
        error = commit.error();
      } else {
        Release(std::move(*conn), true);
        return result;
      }
      PgResult(PQexec(conn->get(), "ROLLBACK"));
      const bool idle = PQtransactionStatus(conn->get()) == PQTRANS_IDLE;
      Release(std::move(*conn), idle);
      if (!error.transient || attempt == kMaxAttempts) return Fail(std::move(error));
      std::this_thread::sleep_for(std::chrono::milliseconds((5 << attempt) + attempt));
    }
  }

  // Runs `body` until it commits or fails on something other than one
  // batch's content; a batch with a verdict is left out, reported as
  // rejected, and the transaction runs again with the others.
  Result<ApplyStats> ApplyRejecting(const std::string& context, std::vector<BatchFile>& kept,
                                    std::optional<Verdict>& verdict,
                                    const std::function<Result<ApplyStats>(PGconn*)>& body) {
    std::vector<RejectedBatch> rejected;
    for (;;) {
      verdict.reset();
      auto result = Transact<ApplyStats>(context, body);
      if (!result && verdict) {
        const BatchFile& bad = *verdict->batch;
        rejected.push_back({bad.batch_id, bad.rel_path, "undecodable", verdict->message});
        kept.erase(kept.begin() + (verdict->batch - kept.data()));
        continue;
      }
      if (result) result->rejected = std::move(rejected);
      return result;
    }
  }

  Status ValidateTarget(const std::string& table, const schema::Schema& target) const {
    if (table.empty() || HasNul(table) || table.size() > pg::kMaxIdentifierBytes) {
      return Fail("warehouse_invalid_target",
                  "invalid table name " + sql::Ident(table) + " (PostgreSQL takes names of 1 to " +
                      std::to_string(pg::kMaxIdentifierBytes) + " bytes)");
    }
    if (schema::FoldName(table).starts_with(sql::kMetaPrefix)) {
      return Fail("warehouse_invalid_target", "table name " + sql::Ident(table) + " starts with " +
                                                  std::string(sql::kMetaPrefix) +
                                                  ", which is reserved");
    }
    for (const auto& column : target.columns) {
      if (column.name.empty() || HasNul(column.name) ||
          column.name.size() > pg::kMaxIdentifierBytes) {
        return Fail("warehouse_invalid_target",
                    "table " + sql::Ident(table) + ": invalid column name " +
                        sql::Ident(column.name) + " (PostgreSQL takes names of 1 to " +
                        std::to_string(pg::kMaxIdentifierBytes) + " bytes)");
      }
      if (!sql::IsSafeTypeName(column.type)) {
        return Fail("warehouse_invalid_target", "table " + sql::Ident(table) + ", column " +
                                                    sql::Ident(column.name) + ": invalid type " +
                                                    column.type);
      }
    }
    return Ok();
  }

  // Says which columns of `target` PostgreSQL keeps less precisely than their
  // staging type (TIMESTAMP_NS: microseconds), unless `existing` had them so.
  static void WarnOfPrecision(const std::string& table, const schema::Schema& target,
                              std::span<const TableColumn> existing) {
    for (const auto& column : target.columns) {
      if (!pg::LosesPrecision(column.type)) continue;
      bool already = false;
      for (const auto& c : existing) {
        already |=
            schema::FoldName(c.name) == schema::FoldName(column.name) && c.type == column.type;
      }
      if (already) continue;
      spdlog::warn(
          "table {}, column {}: {} is stored as PostgreSQL {}; values lose their "
          "nanoseconds (microseconds kept)",
          table, column.name, column.type, pg::PgType(column.type));
    }
  }

  // Takes the table's lock for the transaction (TableKey), then reads its
  // columns: what every change of a table starts with.
  Result<std::vector<TableColumn>> LockTable(PGconn* conn, const std::string& table,
                                             PgTypes* pg_types = nullptr) {
    if (auto r = Exec(conn, "table " + sql::Ident(table), pg::LockTransaction(TableKey(table)));
        !r) {
      return Fail(r.error());
    }
    return TableColumns(conn, table, pg_types);
  }

  // The table's columns with their staging types; empty when it does not
  // exist. Their PostgreSQL types in `*pg_types` when given (replaced).
  Result<std::vector<TableColumn>> TableColumns(PGconn* conn, const std::string& table,
                                                PgTypes* pg_types = nullptr) {
    auto r = Exec(conn, "table " + sql::Ident(table) + ": columns",
                  pg::SelectTableColumns(options_.staging_schema, table));
    if (!r) return Fail(r.error());
    std::vector<TableColumn> columns;
    if (pg_types != nullptr) pg_types->clear();
    for (int row = 0; row < PQntuples(r->get()); ++row) {
      std::string name = PQgetvalue(r->get(), row, 1);
      if (schema::FoldName(name).starts_with(sql::kMetaPrefix)) continue;
      if (pg_types != nullptr) (*pg_types)[schema::FoldName(name)] = PQgetvalue(r->get(), row, 2);
      columns.push_back({std::move(name), pg::StagingTypeOf(PQgetvalue(r->get(), row, 2),
                                                            PQgetvalue(r->get(), row, 4))});
    }
    return columns;
  }

  // As DuckDbWarehouse's: the ids among `batches` the ledger holds, by key.
  Result<std::set<std::string>> LedgerBatchIds(PGconn* conn, const std::string& table,
                                               std::span<const BatchFile> batches) {
    auto r = Exec(conn, "table " + sql::Ident(table) + ": ledger",
                  pg::SelectLedgerBatchIds(options_.staging_schema, table) +
                      sql::LedgerLookupFilter(batches));
    if (!r) return Fail(r.error());
    std::set<std::string> ids;
    for (int row = 0; row < PQntuples(r->get()); ++row) ids.insert(PQgetvalue(r->get(), row, 0));
    return ids;
  }

  // Copies every batch not in `skip` into `into` (whose columns are `columns`
  // once evolved to `target`, of PostgreSQL types `pg_types` then) and writes
  // their ledger rows, inside the caller's transaction. A batch whose content
  // cannot be staged sets `verdict` and fails the transaction.
  Result<ApplyStats> LoadBatches(PGconn* conn, const std::string& table, const std::string& into,
                                 const schema::Schema& target, std::span<const TableColumn> columns,
                                 const PgTypes& pg_types, std::span<const BatchFile> batches,
                                 std::set<std::string> skip, sql::LedgerWrite ledger_write,
                                 std::optional<Verdict>& verdict) {
    ApplyStats stats;
    const int64_t loaded_at_us = SystemClock::Instance().NowMicros();
    std::vector<LedgerEntry> ledger_rows;
    for (const auto& batch : batches) {
      if (!skip.insert(batch.batch_id).second) continue;
      auto rows =
          CopyBatch(conn, table, into, target, columns, pg_types, batch, loaded_at_us, verdict);
      if (!rows) return Fail(rows.error());
      stats.rows += *rows;
      stats.batches += 1;
      ledger_rows.push_back({batch.batch_id, batch.rel_path, *rows, loaded_at_us});
    }
    if (!ledger_rows.empty()) {
      auto r =
          Exec(conn, "table " + sql::Ident(table) + ": ledger",
               pg::InsertLedgerRows(options_.staging_schema, table, ledger_rows, ledger_write));
      if (!r) return Fail(r.error());
    }
    return stats;
  }

  // One batch's rows into `into` with COPY, streamed from an in-process
  // DuckDB read of the file a chunk at a time. The number of rows copied.
  Result<int64_t> CopyBatch(PGconn* conn, const std::string& table, const std::string& into,
                            const schema::Schema& target, std::span<const TableColumn> columns,
                            const PgTypes& pg_types, const BatchFile& batch, int64_t loaded_at_us,
                            std::optional<Verdict>& verdict) {
    const std::string where = "table " + sql::Ident(table) + ", batch " + batch.rel_path + " (" +
                              batch.abs_path.string() + ")";
    auto projected = sql::ProjectedColumns(target, batch, "");
    if (!projected) {
      verdict = Verdict{&batch, projected.error().message};
      return Fail(projected.error().code, where + ": " + projected.error().message);
    }
    // Binary when every column has a binary form that its column as it is
    // takes (a column altered by hand may not be of the type landfall made):
    // DuckDB's values go out as they are held, where text would have DuckDB
    // format each (most of the CPU a load took) and PostgreSQL parse it back.
    std::vector<pg::BinaryColumn> binary;
    for (const auto& p : *projected) {
      auto column = pg::BinaryColumnFor(p.column->type, p.expression);
      auto pg_type = pg_types.find(schema::FoldName(p.column->name));
      if (!column || pg_type == pg_types.end() ||
          !pg::TakesBinary(pg_type->second, column->encoding)) {
        break;
      }
      binary.push_back(std::move(*column));
    }
    const pg::CopyFormat format =
        binary.size() == projected->size() ? pg::CopyFormat::kBinary : pg::CopyFormat::kText;
    // The table's own spelling of each column (PostgreSQL names are
    // case-sensitive; landfall matches them as DuckDB does, without case).
    std::vector<std::string> names;
    std::string select;
    for (size_t i = 0; i < projected->size(); ++i) {
      const sql::ProjectedColumn& p = (*projected)[i];
      std::string name = p.column->name;
      for (const auto& c : columns) {
        if (schema::FoldName(c.name) == schema::FoldName(name)) name = c.name;
      }
      names.push_back(std::move(name));
      select +=
          (format == pg::CopyFormat::kBinary ? binary[i].expression
                                             : pg::TextForPostgres(p.column->type, p.expression)) +
          ", ";
    }
    select += "NULL";  // so the list is never empty; not copied
    const std::string read = "SELECT " + select + " FROM read_parquet(" +
                             sql::PathLiteral(batch.abs_path.native()) +
                             ", hive_partitioning = false)";

    auto lease = readers_->Acquire();
    if (!lease) return Fail("warehouse_error", where + ": cannot connect to DuckDB", true);
    internal::StreamingResult rows;
    statements_.fetch_add(1, std::memory_order_relaxed);
    if (auto error = rows.Start(lease->get(), read))
      return ReadFailed(where, batch, *error, verdict);

    if (auto r = Exec(conn, where + ": copy", pg::CopyFrom(into, names, format)); !r)
      return Fail(r.error());
    // The metadata columns end every row.
    std::string suffix;
    if (format == pg::CopyFormat::kBinary) {
      pg::AppendBytesField(suffix, batch.batch_id);
      pg::AppendTimestampField(suffix, loaded_at_us);
    } else {
      if (!names.empty()) suffix += "\t";
      pg::AppendCopyField(suffix, batch.batch_id);
      suffix += "\t" + pg::TimestampText(loaded_at_us) + "\n";
    }

    std::string buffer;
    buffer.reserve(kCopyBufferBytes + 4096);
    if (format == pg::CopyFormat::kBinary) pg::AppendBinaryHeader(buffer);
    int64_t copied = 0;
    std::optional<DuckError> read_error;
    std::optional<std::string> encode_error;
    bool sent = true;
    while (sent) {
      duckdb_data_chunk chunk = rows.Next();
      if (chunk == nullptr) {
        read_error = rows.Error();
        break;
      }
      const idx_t size = duckdb_data_chunk_get_size(chunk);
      if (format == pg::CopyFormat::kBinary) {
        encode_error = AppendBinaryRows(buffer, chunk, binary, suffix);
      } else {
        AppendTextRows(buffer, chunk, names.size(), suffix);
      }
      copied += static_cast<int64_t>(size);
      duckdb_destroy_data_chunk(&chunk);
      if (encode_error) break;
      if (buffer.size() >= kCopyBufferBytes) {
        sent = PQputCopyData(conn, buffer.data(), static_cast<int>(buffer.size())) == 1;
        buffer.clear();
      }
    }
    const bool failed_here = read_error || encode_error;
    if (sent && !failed_here) {
      if (format == pg::CopyFormat::kBinary) pg::AppendBinaryTrailer(buffer);
      if (!buffer.empty())
        sent = PQputCopyData(conn, buffer.data(), static_cast<int>(buffer.size())) == 1;
    }
    // Ending the COPY with an error message makes PostgreSQL fail it (and the transaction).
    PQputCopyEnd(conn, failed_here ? "landfall: the batch could not be read" : nullptr);
    PgFailure failure;
    bool copy_ok = true;
    while (PGresult* raw = PQgetResult(conn)) {
      PgResult result(raw);
      if (PQresultStatus(raw) != PGRES_COMMAND_OK && copy_ok) {
        Describe(conn, raw, &failure);
        copy_ok = false;
      }
    }
    if (read_error) return ReadFailed(where, batch, *read_error, verdict);
    if (encode_error) return Fail("warehouse_error", where + ": copy: " + *encode_error);
    if (!sent && copy_ok) {
      Describe(conn, nullptr, &failure);
      copy_ok = false;
    }
    if (!copy_ok) {
      if (IsValueRefused(failure)) {
        verdict = Verdict{&batch, "PostgreSQL refuses a value of this batch: " + failure.message};
      }
      return Fail(Failed(where + ": copy", failure));
    }
    return copied;
  }

  // A DuckDB read of a batch failed: the batch's content cannot be read
  // (a verdict), unless its file is gone or DuckDB ran short of memory.
  static Error ReadFailedError(const std::string& where, const DuckError& error, std::string code) {
    return Error{std::move(code), where + ": " + error.message, false};
  }
  Result<int64_t> ReadFailed(const std::string& where, const BatchFile& batch,
                             const DuckError& error, std::optional<Verdict>& verdict) {
    std::error_code ec;
    if (!std::filesystem::exists(batch.abs_path, ec)) {
      return Fail(ReadFailedError(where, error, "batch_unreadable"));
    }
    if (error.type == DUCKDB_ERROR_OUT_OF_MEMORY || error.type == DUCKDB_ERROR_INTERRUPT) {
      return Fail(Error{"warehouse_error", where + ": " + error.message, true});
    }
    verdict = Verdict{&batch, error.message};
    return Fail(ReadFailedError(where, error, "warehouse_error"));
  }

  const PostgresWarehouseOptions options_;
  const libpq::ConnTarget target_;
  duckdb_database reader_db_;
  std::unique_ptr<ConnectionPool> readers_;  // on reader_db_
  std::unique_ptr<Warehouse> types_;         // an in-memory DuckDB, for CommonSupertype

  std::atomic<int64_t> statements_{0};
  std::unique_ptr<ModelWarehouse> models_;  // on this warehouse's connections
  std::mutex idle_mu_;
  std::vector<PgConn> idle_;  // guarded by idle_mu_
};

}  // namespace

Result<std::unique_ptr<Warehouse>> OpenPostgresWarehouse(const PostgresWarehouseOptions& options) {
  if (options.staging_schema.empty() || HasNul(options.staging_schema) ||
      schema::FoldName(options.staging_schema).starts_with(sql::kLedgerSchema)) {
    return Fail("config_invalid",
                "staging schema " + sql::Ident(options.staging_schema) + " is empty or reserved");
  }
  libpq::ConnTarget target = libpq::DescribeTarget(options.url);
  if (!target.parse_error.empty()) {
    return Fail(
        "config_invalid",
        libpq::Redact("warehouse: invalid PostgreSQL connection string: " + target.parse_error,
                      target.secrets));
  }
  const DuckDbOptions duck{.path = ":memory:",
                           .staging_schema = options.staging_schema,
                           .threads = options.threads,
                           .memory_limit = options.memory_limit};
  auto types = OpenDuckDb(duck);
  if (!types) return Fail(types.error());
  auto reader = internal::OpenDatabase(":memory:", duck);
  if (!reader) return Fail(reader.error());
  {
    // Casts to text as the DuckDB warehouse's: UTC, json loaded.
    duckdb_connection con = nullptr;
    bool ready = duckdb_connect(*reader, &con) == DuckDBSuccess &&
                 internal::RunQuery(con, std::string(sql::kSetTimeZoneUtc)).has_value() &&
                 internal::RunQuery(con, std::string(sql::kLoadJson)).has_value();
    if (con != nullptr) duckdb_disconnect(&con);
    if (!ready) {
      duckdb_close(&*reader);
      return Fail("warehouse_error",
                  "warehouse: cannot set up the in-process DuckDB that reads Parquet");
    }
  }
  auto warehouse =
      std::make_unique<PgWarehouse>(options, std::move(target), *reader, std::move(*types));
  return warehouse;
}

}  // namespace landfall::warehouse
