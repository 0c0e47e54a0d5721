// Reading a SELECT without running it: which tables it names. DuckDB's own
// parser does the work (parse only, no binding, so the tables need not exist).
#pragma once

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

}  // namespace landfall::warehouse
