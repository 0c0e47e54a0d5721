// DuckDB implementation of Warehouse and of schema::FooterReader.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "lib/schema/footer.h"
#include "lib/warehouse/warehouse.h"

namespace landfall::warehouse {

struct DuckDbOptions {
  std::filesystem::path path;  // database file; ":memory:" for an in-memory database
  std::string staging_schema = "staging";
  int threads = 0;            // DuckDB threads; 0 = DuckDB's default
};

// Opens (creating if needed) the database file. Thread-safe: each calling
// thread uses its own connection to the one database.
Result<std::unique_ptr<Warehouse>> OpenDuckDb(const DuckDbOptions& options);

// A footer reader backed by an in-memory DuckDB (parquet_schema/parquet_metadata
// read only the footer). Thread-safe.
Result<std::unique_ptr<schema::FooterReader>> NewDuckDbFooterReader();

}  // namespace landfall::warehouse
