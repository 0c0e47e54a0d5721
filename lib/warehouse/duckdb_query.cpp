#include "lib/warehouse/duckdb_query.h"

#include <stdlib.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "lib/warehouse/sql_parse.h"
#include "lib/warehouse/statements.h"

namespace landfall::warehouse::internal {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

using Exec = std::function<std::expected<DuckResult, DuckError>(duckdb_connection,
                                                                const std::string&)>;

// A connection of the query's own: nothing it does (a failed transaction, an
// interrupt) reaches the warehouse's pool.
class OwnConnection {
 public:
  explicit OwnConnection(duckdb_database db) {
    if (duckdb_connect(db, &con_) != DuckDBSuccess) con_ = nullptr;
  }
  ~OwnConnection() {
    if (con_ != nullptr) duckdb_disconnect(&con_);
  }
  OwnConnection(const OwnConnection&) = delete;
  OwnConnection& operator=(const OwnConnection&) = delete;
  duckdb_connection get() const { return con_; }

 private:
  duckdb_connection con_ = nullptr;
};

// Interrupts the statement running on `con` once `timeout` has passed,
// unless destroyed first. duckdb_interrupt stops the query where it is (the
// next vector it would process), so a timed-out query does not keep running
// after its caller gave up on it.
class Watchdog {
 public:
  Watchdog(duckdb_connection con, std::chrono::milliseconds timeout) {
    if (timeout.count() <= 0) return;
    thread_ = std::thread([this, con, timeout] {
      std::unique_lock lock(mu_);
      if (!cv_.wait_for(lock, timeout, [this] { return done_; })) {
        fired_ = true;
        duckdb_interrupt(con);
      }
    });
  }
  ~Watchdog() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  bool Fired() {
    std::lock_guard lock(mu_);
    return fired_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;   // guarded by mu_
  bool fired_ = false;  // guarded by mu_
  std::thread thread_;
};

// A private folder for the query's CSV or Parquet file, removed on destruction.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "landfall-query-XXXXXX").string();
    if (::mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// A JSON value DuckDB's to_json wrote, or the text as a JSON string when it
// is not JSON (to_json writes NaN and Infinity bare).
void AppendJsonValue(std::string& out, std::optional<std::string_view> text) {
  if (!text) {
    out += "null";
  } else if (*text == "NaN" || *text == "Infinity" || *text == "-Infinity") {
    out.append("\"").append(*text).append("\"");
  } else {
    out.append(*text);
  }
}

Error TooLarge(const QueryRequest& request, int64_t rows) {
  return Error{kQueryTooLarge,
               "the answer passed " + std::to_string(*request.max_bytes) +
                   " bytes (api.query_max_bytes) after " + std::to_string(rows) +
                   " rows; ask for fewer rows (limit) or columns",
               false};
}

Result<QueryAnswer> JsonAnswer(duckdb_connection con, const QueryRequest& request,
                               const Exec& exec, const std::function<void()>& counted,
                               const std::function<Error(const DuckError&)>& fail) {
  auto columns = exec(con, sql::QueryColumns(request.sql));
  if (!columns) return std::unexpected(fail(columns.error()));
  json names = json::array();
  for (int64_t c = 0; c < columns->RowCount(); ++c) {
    names.push_back({{"name", columns->Text(0, c).value_or("")},
                     {"type", columns->Text(1, c).value_or("")}});
  }
  std::string body = R"({"columns":)" + names.dump(-1, ' ', false, json::error_handler_t::replace) +
                     R"(,"rows":[)";

  // One row more than asked for says whether any were left out. Streamed, so
  // that the rows are never held twice and a too large answer stops early.
  const std::optional<int64_t> fetch =
      request.limit ? std::optional<int64_t>(*request.limit + 1) : std::nullopt;
  StreamingResult rows;
  counted();
  if (auto error = rows.Start(con, sql::QueryRowsAsJson(request.sql, fetch))) {
    return std::unexpected(fail(*error));
  }
  QueryAnswer answer;
  while (!answer.truncated) {
    duckdb_data_chunk chunk = rows.Next();
    if (chunk == nullptr) break;
    const idx_t size = duckdb_data_chunk_get_size(chunk);
    const idx_t width = duckdb_data_chunk_get_column_count(chunk);
    for (idx_t r = 0; r < size; ++r) {
      if (request.limit && answer.rows == *request.limit) {
        answer.truncated = true;
        break;
      }
      body += answer.rows == 0 ? "[" : ",[";
      for (idx_t c = 0; c < width; ++c) {
        if (c > 0) body += ',';
        AppendJsonValue(body, VarcharAt(duckdb_data_chunk_get_vector(chunk, c), r));
      }
      body += ']';
      ++answer.rows;
      if (request.max_bytes && static_cast<int64_t>(body.size()) > *request.max_bytes) {
        duckdb_destroy_data_chunk(&chunk);
        return Fail(TooLarge(request, answer.rows));
      }
    }
    duckdb_destroy_data_chunk(&chunk);
  }
  if (auto error = rows.Error()) return std::unexpected(fail(*error));
  body += R"(],"row_count":)" + std::to_string(answer.rows) +
          R"(,"truncated":)" + (answer.truncated ? "true" : "false") + "}";
  answer.body = std::move(body);
  return answer;
}

Result<QueryAnswer> FileAnswer(duckdb_connection con, const QueryRequest& request,
                               const Exec& exec, const std::function<Error(const DuckError&)>& fail) {
  TempDir dir;
  if (dir.path().empty()) return Fail(kQueryFailed, "cannot create a temporary folder");
  const bool csv = request.format == QueryFormat::kCsv;
  const fs::path file = dir.path() / (csv ? "answer.csv" : "answer.parquet");
  auto copied = exec(con, sql::CopyQueryTo(request.sql, file.string(),
                                           csv ? sql::CopyFormat::kCsv : sql::CopyFormat::kParquet,
                                           request.limit));
  if (!copied) return std::unexpected(fail(copied.error()));
  std::error_code ec;
  const auto bytes_on_disk = fs::file_size(file, ec);
  if (request.max_bytes && !ec && static_cast<int64_t>(bytes_on_disk) > *request.max_bytes) {
    return Fail(TooLarge(request, copied->RowsChanged()));
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) return Fail(kQueryFailed, "cannot read the answer file " + file.string());
  std::ostringstream bytes;
  bytes << in.rdbuf();
  QueryAnswer answer;
  answer.body = std::move(bytes).str();
  answer.rows = copied->RowsChanged();
  return answer;
}

}  // namespace

Result<QueryAnswer> RunReadOnlyQuery(duckdb_database db, const QueryRequest& request,
                                     const Exec& exec, const std::function<void()>& counted) {
  if (auto allowed = CheckReadOnlyQuery(request.sql, request.readable_dir); !allowed) {
    return Fail(allowed.error());
  }
  if (request.limit && *request.limit < 0) return Fail(kQueryRefused, "limit must be >= 0");
  if (request.max_bytes && *request.max_bytes <= 0) return Fail(kQueryRefused, "max_bytes must be > 0");
  OwnConnection con(db);
  if (con.get() == nullptr) return Fail("warehouse_error", "cannot connect to DuckDB", true);
  Watchdog watchdog(con.get(), request.timeout);
  const auto fail = [&](const DuckError& error) -> Error {
    if (watchdog.Fired()) {
      return Error{kQueryTimeout,
                   "query interrupted after " + std::to_string(request.timeout.count()) +
                       " ms (api.query_timeout_ms)",
                   false};
    }
    // The second guard: whatever the parse check let through cannot write.
    if (error.message.find("read-only mode") != std::string::npos) {
      return Error{kQueryRefused, "the query tried to write: " + error.message, false};
    }
    return Error{kQueryFailed, error.message, false};
  };
  // Every statement of the query reads one snapshot: the last committed
  // state when it began, never half of a run's transaction.
  if (auto begin = exec(con.get(), std::string(sql::kBeginReadOnly)); !begin) {
    return Fail(fail(begin.error()));
  }
  auto answer = request.format == QueryFormat::kJson ? JsonAnswer(con.get(), request, exec, counted, fail)
                                                     : FileAnswer(con.get(), request, exec, fail);
  // Nothing to commit: a read-only transaction ends the same either way.
  (void)exec(con.get(), "ROLLBACK");
  return answer;
}

}  // namespace landfall::warehouse::internal
