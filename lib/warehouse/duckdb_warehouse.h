// DuckDB implementation of Warehouse and of schema::FooterReader.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "lib/schema/footer.h"
#include "lib/warehouse/warehouse.h"

namespace landfall::warehouse {

struct DuckDbOptions {
  std::filesystem::path path;  // database file; ":memory:" for an in-memory database
  std::string staging_schema = "staging";
  int threads = 0;  // DuckDB threads; 0 = DuckDB's default (one per core)
  // DuckDB's memory_limit ("1GB"); "" = DuckDB's default (80 % of RAM).
  std::string memory_limit;
  // Opens an existing file for reading only (`landfall query` without a
  // daemon): any number of such processes may read it at once, but none
  // while a process has it open for writing. Only Query() and the reads
  // make sense then; Init() and the writes fail.
  bool read_only = false;
};

// Opens (creating if needed) the database file; call Init() before anything
// else. Thread-safe: concurrent calls each use their own connection to the one
// database (a pool), calls on different tables run in parallel, and calls that
// change one table are serialized (DuckDB does not conflict on concurrent
// appends, so two appends of one batch would otherwise both stage it). Table
// names are matched as DuckDB matches identifiers, ASCII-case-insensitively:
// "Orders" and "orders" are one table, so callers must use one spelling.
// Session time zone is UTC. Keep at most one open instance per file.
Result<std::unique_ptr<Warehouse>> OpenDuckDb(const DuckDbOptions& options);

// True when `what`, an exception's message, is a DuckDB I/O error (DuckDB
// writes its exceptions' messages as JSON naming their type). Only DuckDB's
// own failures that escape its C API (std::terminate) need this.
bool IsDuckDbIoError(std::string_view what);

// A footer reader backed by an in-memory DuckDB (parquet_schema/parquet_metadata
// read only the footer). Thread-safe.
Result<std::unique_ptr<schema::FooterReader>> NewDuckDbFooterReader();

}  // namespace landfall::warehouse
