// Read-only queries over the warehouse (`landfall query`, POST /v1/query):
// what is asked and what comes back. No DuckDB or JSON header here.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace landfall::warehouse {

// How the answer is written.
enum class QueryFormat {
  kJson,     // {"columns": [{"name", "type"}], "rows": [[...]], "row_count", "truncated"}
  kCsv,      // a header line, then one line per row (DuckDB's CSV writer)
  kParquet,  // one Parquet file (DuckDB's Parquet writer)
};

// The row limit of a JSON answer when the caller sets none (CSV and Parquet
// answers have none).
inline constexpr int64_t kDefaultJsonRowLimit = 10'000;

// Error codes of a query.
// The statement is not one read-only statement (CheckReadOnlyQuery's reasons).
inline constexpr const char* kQueryRefused = "query_refused";
// The statement ran longer than its timeout and was interrupted.
inline constexpr const char* kQueryTimeout = "query_timeout";
// DuckDB could not run it (an unknown table, a type error, ...).
inline constexpr const char* kQueryFailed = "query_failed";
// The answer would pass QueryRequest::max_bytes.
inline constexpr const char* kQueryTooLarge = "query_too_large";

struct QueryRequest {
  std::string sql;
  QueryFormat format = QueryFormat::kJson;
  // At most this many rows; nullopt: all of them. JSON answers say whether
  // rows were left out ("truncated").
  std::optional<int64_t> limit;
  // Interrupted (kQueryTimeout) after this long; zero: never.
  std::chrono::milliseconds timeout{0};
  // At most this many bytes of answer (kQueryTooLarge beyond); nullopt: no
  // cap. It bounds the memory the answer takes, since an answer is held in
  // full before it is sent: JSON rows are fetched from DuckDB a chunk at a
  // time and stop at the cap; a CSV or Parquet file is written to a
  // temporary file first and refused before it is read when it is larger.
  std::optional<int64_t> max_bytes;
  // File-reading table functions may read only below this folder (the
  // landing directory); empty: they may read nothing.
  std::filesystem::path readable_dir;
};

struct QueryAnswer {
  std::string body;  // the JSON, CSV or Parquet bytes
  int64_t rows = 0;  // rows in `body`
  bool truncated = false;  // more rows than `limit` existed
};

}  // namespace landfall::warehouse
