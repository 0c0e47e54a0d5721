// Private to lib/warehouse: the small layer over DuckDB's C API shared by the
// warehouse and the footer reader. Never include it from a public header; it is
// the only place besides their .cpp files that sees duckdb.h.
#pragma once

#include <duckdb.h>

#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <mutex>
#include <random>
#include <thread>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lib/common/result.h"
#include "lib/warehouse/duckdb_warehouse.h"

namespace landfall::warehouse::internal {

// A failed DuckDB call: DuckDB's error class and its message (first part only,
// without the "LINE n:" excerpt of the statement).
struct DuckError {
  duckdb_error_type type = DUCKDB_ERROR_INVALID;
  std::string message;

  // Optimistic concurrency control lost a race; the transaction can be retried.
  // ("TransactionContext Error: Catalog write-write conflict on ...",
  // "Transaction conflict: cannot update a table that has been altered!")
  bool IsConflict() const {
    return (type == DUCKDB_ERROR_TRANSACTION && message.find("onflict") != std::string::npos) ||
           message.find("write-write conflict") != std::string::npos ||
           message.find("Transaction conflict") != std::string::npos;
  }
};

// Owns a materialized duckdb_result. Move-only.
//
// Callers cast what they read to VARCHAR or BIGINT in SQL: the C API's value
// accessors return NULL for TIMESTAMPTZ, UUID, STRUCT and LIST columns.
class DuckResult {
 public:
  DuckResult() = default;
  explicit DuckResult(duckdb_result result) : result_(result), valid_(true) {}
  ~DuckResult() {
    if (valid_) duckdb_destroy_result(&result_);
  }
  DuckResult(DuckResult&& other) noexcept : result_(other.result_), valid_(other.valid_) {
    other.valid_ = false;
  }
  DuckResult& operator=(DuckResult&& other) noexcept {
    if (this != &other) {
      if (valid_) duckdb_destroy_result(&result_);
      result_ = other.result_;
      valid_ = other.valid_;
      other.valid_ = false;
    }
    return *this;
  }
  DuckResult(const DuckResult&) = delete;
  DuckResult& operator=(const DuckResult&) = delete;

  int64_t RowCount() { return valid_ ? static_cast<int64_t>(duckdb_row_count(&result_)) : 0; }
  // Rows inserted, updated or deleted by the statement.
  int64_t RowsChanged() { return valid_ ? static_cast<int64_t>(duckdb_rows_changed(&result_)) : 0; }
  bool IsNull(int64_t col, int64_t row) {
    return duckdb_value_is_null(&result_, static_cast<idx_t>(col), static_cast<idx_t>(row));
  }
  std::optional<std::string> Text(int64_t col, int64_t row) {
    if (IsNull(col, row)) return std::nullopt;
    char* value = duckdb_value_varchar(&result_, static_cast<idx_t>(col), static_cast<idx_t>(row));
    if (value == nullptr) return std::nullopt;
    std::string out(value);
    duckdb_free(value);
    return out;
  }
  duckdb_type ColumnType(int64_t col) {
    return valid_ ? duckdb_column_type(&result_, static_cast<idx_t>(col)) : DUCKDB_TYPE_INVALID;
  }
  int64_t ColumnCount() { return valid_ ? static_cast<int64_t>(duckdb_column_count(&result_)) : 0; }
  std::string ColumnName(int64_t col) {
    const char* name = valid_ ? duckdb_column_name(&result_, static_cast<idx_t>(col)) : nullptr;
    return name != nullptr ? name : "";
  }
  std::optional<int64_t> Int(int64_t col, int64_t row) {
    if (IsNull(col, row)) return std::nullopt;
    return duckdb_value_int64(&result_, static_cast<idx_t>(col), static_cast<idx_t>(row));
  }

  // Calls fn(chunk) for each data chunk of the result, in order: for reading
  // many rows, where Text and Int (which convert each value on its own) cost
  // a call and an allocation per value. Read the chunk's vectors with
  // VarcharAt and BigintAt.
  template <typename Fn>
  void ForEachChunk(Fn fn) {
    if (!valid_) return;
    const idx_t chunks = duckdb_result_chunk_count(result_);
    for (idx_t i = 0; i < chunks; ++i) {
      duckdb_data_chunk chunk = duckdb_result_get_chunk(result_, i);
      if (chunk == nullptr) continue;
      fn(chunk);
      duckdb_destroy_data_chunk(&chunk);
    }
  }

 private:
  duckdb_result result_{};
  bool valid_ = false;
};

// Row `row` of a VARCHAR (or JSON) vector of a chunk (DuckResult::ForEachChunk,
// StreamingResult::Next);
// nullopt for NULL. Valid while the chunk lives.
inline std::optional<std::string_view> VarcharAt(duckdb_vector vector, idx_t row) {
  uint64_t* validity = duckdb_vector_get_validity(vector);
  if (validity != nullptr && !duckdb_validity_row_is_valid(validity, row)) return std::nullopt;
  auto* strings = static_cast<duckdb_string_t*>(duckdb_vector_get_data(vector));
  return std::string_view(duckdb_string_t_data(&strings[row]),
                          duckdb_string_t_length(strings[row]));
}

// Row `row` of a BIGINT vector of a chunk; nullopt for NULL.
inline std::optional<int64_t> BigintAt(duckdb_vector vector, idx_t row) {
  uint64_t* validity = duckdb_vector_get_validity(vector);
  if (validity != nullptr && !duckdb_validity_row_is_valid(validity, row)) return std::nullopt;
  return static_cast<const int64_t*>(duckdb_vector_get_data(vector))[row];
}

inline std::string CleanDuckDbMessage(const char* raw) {
  std::string message = raw ? raw : "unknown DuckDB error";
  if (auto line = message.find("\n\nLINE "); line != std::string::npos) message.resize(line);
  if (auto line = message.find("\nLINE "); line != std::string::npos) message.resize(line);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
    message.pop_back();
  }
  for (char& c : message) {
    if (c == '\n') c = ' ';
  }
  return message;
}

// Runs one SQL statement on `con`.
inline std::expected<DuckResult, DuckError> RunQuery(duckdb_connection con,
                                                     const std::string& sql) {
  duckdb_result result;
  if (duckdb_query(con, sql.c_str(), &result) != DuckDBSuccess) {
    DuckError error{duckdb_result_error_type(&result),
                    CleanDuckDbMessage(duckdb_result_error(&result))};
    duckdb_destroy_result(&result);
    return std::unexpected(std::move(error));
  }
  return DuckResult(result);
}

// A statement's result produced as it is fetched: DuckDB hands its rows over
// a chunk (2,048 rows) at a time, so the rows are never all held at once
// (what comes before the last pipeline, a sort or an aggregate, still runs
// whole first). Keeps the prepared statement and the pending result alive as
// long as the result, which may refer to them.
class StreamingResult {
 public:
  StreamingResult() = default;
  ~StreamingResult() {
    if (has_result_) duckdb_destroy_result(&result_);
    if (pending_ != nullptr) duckdb_destroy_pending(&pending_);
    if (prepared_ != nullptr) duckdb_destroy_prepare(&prepared_);
  }
  StreamingResult(const StreamingResult&) = delete;
  StreamingResult& operator=(const StreamingResult&) = delete;

  // Starts `statement` on `con`; DuckDB's error when it does not start.
  std::optional<DuckError> Start(duckdb_connection con, const std::string& statement) {
    if (duckdb_prepare(con, statement.c_str(), &prepared_) != DuckDBSuccess) {
      return DuckError{DUCKDB_ERROR_INVALID, CleanDuckDbMessage(duckdb_prepare_error(prepared_))};
    }
    if (duckdb_pending_prepared_streaming(prepared_, &pending_) != DuckDBSuccess) {
      return DuckError{DUCKDB_ERROR_INVALID, CleanDuckDbMessage(duckdb_pending_error(pending_))};
    }
    has_result_ = true;
    if (duckdb_execute_pending(pending_, &result_) != DuckDBSuccess) {
      return DuckError{duckdb_result_error_type(&result_), CleanDuckDbMessage(duckdb_result_error(&result_))};
    }
    return std::nullopt;
  }

  // The next chunk (destroy it with duckdb_destroy_data_chunk), or nullptr
  // at the end or on an error (then Error() says which).
  duckdb_data_chunk Next() { return duckdb_fetch_chunk(result_); }
  std::optional<DuckError> Error() {
    const char* message = duckdb_result_error(&result_);
    if (message == nullptr) return std::nullopt;
    return DuckError{duckdb_result_error_type(&result_), CleanDuckDbMessage(message)};
  }

 private:
  duckdb_prepared_statement prepared_ = nullptr;
  duckdb_pending_result pending_ = nullptr;
  duckdb_result result_{};
  bool has_result_ = false;
};

// Opens (or creates) the database at `path` (":memory:" for none) with
// landfall's settings: no extension downloads, options' threads and
// memory_limit, read-only when asked. Close it with duckdb_close.
Result<duckdb_database> OpenDatabase(const std::string& path, const DuckDbOptions& options);

// Connections to one database, handed out one caller at a time. DuckDB
// connections are not safe for concurrent use, but any number of them may work on
// one database at once; a pool (rather than thread_local connections) lets the
// owner close every connection before it closes the database.
class ConnectionPool {
 public:
  explicit ConnectionPool(duckdb_database db) : db_(db) {}
  // Every lease must have been returned.
  ~ConnectionPool() {
    for (auto& con : idle_) duckdb_disconnect(&con);
  }
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // Exclusive use of one connection until destruction. Move-only.
  class Lease {
   public:
    Lease(ConnectionPool* pool, duckdb_connection con) : pool_(pool), con_(con) {}
    ~Lease() {
      if (pool_) pool_->Return(con_);
    }
    Lease(Lease&& other) noexcept : pool_(std::exchange(other.pool_, nullptr)), con_(other.con_) {}
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    duckdb_connection get() const { return con_; }

   private:
    ConnectionPool* pool_;
    duckdb_connection con_;
  };

  // An idle connection, or a new one. Fails only when DuckDB cannot connect.
  std::optional<Lease> Acquire() {
    {
      std::lock_guard lock(mu_);
      if (!idle_.empty()) {
        duckdb_connection con = idle_.back();
        idle_.pop_back();
        return Lease(this, con);
      }
    }
    duckdb_connection con = nullptr;
    if (duckdb_connect(db_, &con) != DuckDBSuccess) return std::nullopt;
    return Lease(this, con);
  }

 private:
  void Return(duckdb_connection con) {
    std::lock_guard lock(mu_);
    idle_.push_back(con);
  }

  const duckdb_database db_;
  std::mutex mu_;
  std::vector<duckdb_connection> idle_;  // guarded by mu_
};

// Runs `body` between BEGIN and COMMIT on `con`, rolling back on any error.
// Transient errors (write-write conflicts) retry the whole body, at most
// kMaxTransactionAttempts times: optimistic concurrency in DuckDB aborts the
// later of two conflicting transactions, and a few retries with backoff make
// that invisible to callers. `exec` runs one statement (and counts it).
inline constexpr int kMaxTransactionAttempts = 5;
template <typename T>
Result<T> RunTransaction(
    const std::function<std::expected<DuckResult, DuckError>(duckdb_connection, const std::string&)>& exec,
    duckdb_connection con, const std::string& what,
    const std::function<Result<T>(duckdb_connection)>& body) {
  thread_local std::minstd_rand jitter(std::random_device{}());
  const auto failure = [&](const std::string& step, const DuckError& error) {
    return Error{"warehouse_error", what + ": " + step + ": " + error.message, error.IsConflict()};
  };
  for (int attempt = 1;; ++attempt) {
    Error error;
    if (auto begin = exec(con, "BEGIN TRANSACTION"); !begin) {
      error = failure("begin", begin.error());
    } else if (Result<T> result = body(con); !result) {
      error = std::move(result.error());
    } else if (auto commit = exec(con, "COMMIT"); !commit) {
      error = failure("commit", commit.error());
    } else {
      return result;
    }
    // After a failed COMMIT DuckDB has already rolled back, and this ROLLBACK
    // fails harmlessly; after any other failure it ends the transaction.
    (void)exec(con, "ROLLBACK");
    if (!error.transient || attempt == kMaxTransactionAttempts) return std::unexpected(std::move(error));
    std::this_thread::sleep_for(std::chrono::milliseconds((5 << attempt) + jitter() % 10));
  }
}

}  // namespace landfall::warehouse::internal
