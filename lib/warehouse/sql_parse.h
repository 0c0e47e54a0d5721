// Reading a SELECT without running it: which tables it names. DuckDB's own
// parser does the work (parse only, no binding, so the tables need not exist).
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "lib/common/result.h"

namespace landfall::warehouse {

// A table as a query names it; parts it does not write are "".
struct NamedTable {
  std::string catalog;
  std::string schema;
  std::string name;

  auto operator<=>(const NamedTable&) const = default;
  bool operator==(const NamedTable&) const = default;
};

// Every table `sql` reads — in FROM and JOIN clauses, subqueries, CTE bodies
// and each side of a set operation — sorted, without duplicates. A schema-less
// name that is one of the query's own CTEs (in scope where it is used) is not
// a table and is left out. Table functions (read_parquet(...)) are not tables.
//
// Fails with "model_sql_invalid" when `sql` does not parse, is not a SELECT,
// or is not exactly one statement. When DuckDB reports where the error is, the
// message starts with "line N: " (N counted from 1 in `sql`).
//
// Thread-safe. The first call opens an in-memory DuckDB kept for the process.
Result<std::vector<NamedTable>> TablesReadBy(const std::string& sql);

// Fingerprints of a SELECT's parse tree, to tell which output columns an
// edit of it touched: the tree without its select list (FROM, WHERE, GROUP
// BY, CTEs...: any edit there may change every column), and each output
// column's expression. Positions in the text are left out, so reformatting
// changes nothing.
struct SelectFingerprints {
  std::string rest;
  std::map<std::string, std::string> columns;  // by output name, lower case
};

// nullopt when the names of the output columns cannot be read from the text
// alone: a set operation (UNION...), `*` or COLUMNS(...), or an expression
// without an alias that is not a column. Errors as TablesReadBy. Thread-safe.
Result<std::optional<SelectFingerprints>> FingerprintSelect(const std::string& sql);

// Whether `sql` may run as a user's query (`landfall query`, POST /v1/query):
// OK when it is exactly one SELECT, WITH ... SELECT, DESCRIBE, SHOW or
// SUMMARIZE statement, by DuckDB's own parser, whose table functions are
// harmless ones (range, unnest, duckdb_tables(), ...) or file readers
// (read_parquet, read_csv, ...) whose paths are literals below
// `readable_dir`, and which names no file as a table (FROM 'x.parquet')
// outside it. Anything else fails with "query_refused" and the reason:
// another statement (DROP, COPY, ATTACH, INSTALL, SET, ...), more than one,
// a syntax error, any other table function, a path outside `readable_dir`
// or one that is not a literal. An empty `readable_dir` allows no file.
//
// This is the first of two guards; the query also runs in a READ ONLY
// transaction on a connection of its own (duckdb_query.cpp). Thread-safe.
Status CheckReadOnlyQuery(const std::string& sql, const std::filesystem::path& readable_dir);

}  // namespace landfall::warehouse
