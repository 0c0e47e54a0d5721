// Batches and targets for tests of a Warehouse implementation (DuckDB's and
// PostgreSQL's): Parquet written with DuckDB, footers read as the engine does.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "lib/schema/footer.h"
#include "lib/warehouse/warehouse.h"
#include "tests/support/duckdb_testing.h"

namespace landfall::testing {

// Writes landing/`rel_path` from `select` and returns it as a batch with the
// footer `reader` reads and the id "fp-<rel_path>".
inline warehouse::BatchFile WriteBatch(schema::FooterReader& reader,
                                       const std::filesystem::path& landing,
                                       const std::string& rel_path, const std::string& select) {
  const std::filesystem::path file = landing / rel_path;
  WriteParquet(file, select);
  auto info = reader.Read(file);
  EXPECT_TRUE(info) << info.error().ToString();
  warehouse::BatchFile batch;
  batch.batch_id = "fp-" + rel_path;
  batch.rel_path = rel_path;
  batch.abs_path = file;
  if (info) {
    batch.rows = info->rows;
    batch.schema = info->schema;
  }
  return batch;
}

// A target schema from (name, staging type) pairs.
inline schema::Schema TargetOf(std::vector<std::pair<std::string, std::string>> columns) {
  schema::Schema schema;
  for (auto& [name, type] : columns) {
    schema.columns.push_back(schema::Column{.name = name, .type = type});
  }
  return schema;
}

}  // namespace landfall::testing
