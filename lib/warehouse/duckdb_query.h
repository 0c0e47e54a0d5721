// Private to lib/warehouse: a user's read-only query on a DuckDB database
// (Warehouse::Query of the DuckDB warehouse).
#pragma once

#include <duckdb.h>

#include <functional>

#include "lib/warehouse/duckdb_connection.h"
#include "lib/warehouse/query.h"

namespace landfall::warehouse::internal {

// Runs `request` on `db` (query.h): CheckReadOnlyQuery first, then, on a
// connection of its own that is closed afterwards, in one READ ONLY
// transaction, so it sees the last committed state and can write nothing.
// Interrupted with duckdb_interrupt when it outlives request.timeout.
// `exec` runs one statement (and counts it); `counted` counts a statement
// run otherwise (a JSON answer's rows are streamed). Thread-safe.
Result<QueryAnswer> RunReadOnlyQuery(
    duckdb_database db, const QueryRequest& request,
    const std::function<std::expected<DuckResult, DuckError>(duckdb_connection,
                                                             const std::string&)>& exec,
    const std::function<void()>& counted);

}  // namespace landfall::warehouse::internal
