// Reading a Parquet file's footer: its schema and row count, without its data.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

#include "lib/common/result.h"
#include "lib/schema/schema.h"

namespace landfall::schema {

struct FooterInfo {
  Schema schema;
  int64_t rows = 0;
};

// Error codes a reader returns for a bad file; each leads to quarantine:
//   "empty_file", "not_parquet", "encrypted", "truncated", "unreadable",
//   "reserved_column_name" (a column named _landfall_*, which staging reserves).
// Transient trouble (e.g. the reader's own resources) uses transient=true.
class FooterReader {
 public:
  virtual ~FooterReader() = default;
  // Thread-safe.
  virtual Result<FooterInfo> Read(const std::filesystem::path& file) = 0;
  // Several files, answers in the order of `files`, each as Read would give
  // it. A reader may read them in one go (fewer queries); this one reads them
  // one by one.
  virtual std::vector<Result<FooterInfo>> ReadMany(const std::vector<std::filesystem::path>& files);
};

// Checks the Parquet magic bytes at both ends of the file, cheaply, before a
// full footer read. Returns one of the codes above on failure.
Status CheckParquetMagic(const std::filesystem::path& file);

}  // namespace landfall::schema
