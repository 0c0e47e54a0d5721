// Test helpers that use DuckDB itself: Parquet fixtures written by DuckDB, and
// reading or altering a warehouse file by hand. In their own library
// (landfall_duckdb_testing), so that tests of code without DuckDB link none.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace landfall::testing {

// Runs SQL in an in-memory DuckDB (e.g. "COPY (SELECT ...) TO 'f.parquet'").
// Fails the current test (ADD_FAILURE) on error.
void DuckDbExec(const std::string& sql);

// Writes a Parquet file at `file` (parent folders created) from a SELECT.
void WriteParquet(const std::filesystem::path& file, const std::string& select_sql);

// Runs a query against a DuckDB database file and returns the first column of
// every row as text ("NULL" for NULL). Opens the file read-only; ":memory:"
// queries an empty in-memory database (to read Parquet files).
std::vector<std::string> QueryDuckDb(const std::filesystem::path& db, const std::string& sql);
// First row, first column as int64 (-1 on error, with ADD_FAILURE).
long long QueryDuckDbInt(const std::filesystem::path& db, const std::string& sql);
// Runs statements against a DuckDB database file opened read-write (to alter a
// warehouse by hand between runs). Fails the current test on error.
void ExecDuckDb(const std::filesystem::path& db, const std::string& sql);

}  // namespace landfall::testing
