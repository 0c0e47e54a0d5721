// PostgreSQL as the warehouse (warehouse.type: postgres): the Warehouse seam
// with the DuckDB warehouse's contract. Staging tables live in a schema of a
// PostgreSQL database, the ledger in "_landfall"."ledger" there, and a
// batch's rows commit in the same PostgreSQL transaction as its ledger row.
//
// Parquet is still read in process, by an in-memory DuckDB: each batch's rows
// are cast to their staging types, turned into the text PostgreSQL reads
// (pg_statements.h) and streamed into COPY ... FROM STDIN a DuckDB chunk
// (2,048 rows) at a time, so a file of any size needs no more memory than a
// chunk. Staging types stay landfall's (DuckDB's); each column's PostgreSQL
// type comes from the type map in pg_statements.h, and its comment keeps the
// staging type.
//
// Models() builds models here too (pg_models.h), in PostgreSQL's SQL, on
// this warehouse's connections. Read-only queries are not served yet.
#pragma once

#include <memory>
#include <string>

#include "lib/warehouse/warehouse.h"

namespace landfall::warehouse {

struct PostgresWarehouseOptions {
  std::string url;  // libpq connection string or postgres:// URL
  std::string staging_schema = "staging";
  // The in-process DuckDB that reads Parquet: its threads (0 = one per core)
  // and memory_limit ("" = DuckDB's default).
  int threads = 0;
  std::string memory_limit;
};

// Returns the warehouse (connections are made as calls need them); call
// Init() before anything else. Thread-safe: each call works on a connection of its own from
// a pool. Calls that change one table are serialized by a transaction-scoped
// advisory lock on the table's name, so they are one after the other across
// processes too. Errors: "warehouse_unavailable" (transient) when PostgreSQL
// cannot be reached, "config_invalid" for a reserved staging schema.
Result<std::unique_ptr<Warehouse>> OpenPostgresWarehouse(const PostgresWarehouseOptions& options);

}  // namespace landfall::warehouse
