// Private to lib/warehouse: the PostgreSQL implementation of ModelWarehouse,
// on the connections of a PgWarehouse (pg_warehouse.cpp owns them). Same
// contract as the DuckDB one (duckdb_models.h); the model's SQL is
// PostgreSQL's, and so is every statement built around it (pg_model_sql.h).
#pragma once

#include <libpq-fe.h>

#include <functional>
#include <memory>
#include <string>

#include "lib/common/pg.h"
#include "lib/common/result.h"
#include "lib/warehouse/model_warehouse.h"

namespace landfall::warehouse::internal {

// Runs one statement on `conn` (inside the transaction `PgTransactFn` opened);
// errors are "warehouse_error" with PostgreSQL's message after `context`,
// transient when the connection was lost or the SQLSTATE is worth a retry.
using PgExecFn = std::function<Result<libpq::PgResult>(PGconn* conn, const std::string& context,
                                                       const std::string& statement)>;
// Runs `body` between BEGIN and COMMIT on one connection, rolling back on any
// error and running it again on a transient one.
using PgTransactFn =
    std::function<Status(const std::string& what, const std::function<Status(PGconn*)>& body)>;

std::unique_ptr<ModelWarehouse> NewPgModels(PgTransactFn transact, PgExecFn exec,
                                            std::string staging_schema);

}  // namespace landfall::warehouse::internal
