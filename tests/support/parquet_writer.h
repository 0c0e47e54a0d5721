// Parquet files DuckDB cannot write: a hand-built file whose INT32 columns are
// REQUIRED (DuckDB's COPY writes every column OPTIONAL). For everything else,
// write Parquet with DuckDB (WriteParquet in tests/support/testing.h).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace landfall::testing {

struct Int32Column {
  std::string name;
  std::vector<int32_t> values;
};

// Writes `file` (parent folders created): one row group, one uncompressed
// PLAIN data page per column, every column INT32 and REQUIRED. All columns
// must hold the same number of values. Fails the current test (ADD_FAILURE)
// when the file cannot be written.
void WriteRequiredInt32Parquet(const std::filesystem::path& file,
                               const std::vector<Int32Column>& columns);

}  // namespace landfall::testing
