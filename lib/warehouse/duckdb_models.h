// Private to lib/warehouse: the DuckDB implementation of ModelWarehouse, on the
// connections of a DuckDbWarehouse (duckdb_warehouse.cpp owns the database).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "lib/warehouse/duckdb_connection.h"
#include "lib/warehouse/model_warehouse.h"

namespace landfall::warehouse::internal {

// Runs one statement, counted by the owning warehouse.
using ExecFn = std::function<std::expected<DuckResult, DuckError>(duckdb_connection, const std::string&)>;

std::unique_ptr<ModelWarehouse> NewDuckDbModels(ConnectionPool* pool, ExecFn exec,
                                                std::string staging_schema);

// `select` with every reference to staging table `table` (schema-qualified
// with `staging_schema`, compared case-insensitively) pointing at temp.main
// instead, where a restricted view of the same name stands. Parses with
// DuckDB (json_serialize_sql) and prints the tree back (json_deserialize_sql).
Result<std::string> PointAtTemp(const ExecFn& exec, duckdb_connection con, const std::string& select,
                                const std::string& staging_schema, const std::string& table);

}  // namespace landfall::warehouse::internal
