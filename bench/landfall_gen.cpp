// landfall-gen: writes Parquet batches into a landing directory with DuckDB,
// for the demo and the benchmarks.
//
//   landfall-gen --dir D [--tables N] [--batches M] [--rows R] [--prefix P] [--start K]
//   landfall-gen --dir D --table NAME [--table NAME]... [--batches M] [--rows R] [--start K]
//
// Writes D/<P><i>/part-<k>.parquet for i < N (or D/<NAME>/part-<k>.parquet for
// each --table) and K <= k < K+M, R rows each, with columns id, customer,
// amount, created_at; ids are k*R .. k*R+R-1, so batches never repeat content. Files are written
// under a temporary name and renamed into place, as a careful producer would.
// --variant changes the schema, for the schema-change benchmarks: added_column
// adds a VARCHAR column `channel`; string_amount writes `amount` as VARCHAR
// instead of DOUBLE (a change with no lossless widening: the table is rebuilt).
#include <duckdb.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "lib/warehouse/sql.h"

namespace {

using landfall::warehouse::sql::Literal;

int Usage() {
  std::fprintf(
      stderr,
      "usage: landfall-gen --dir D [--tables N | --table NAME...] [--batches M] [--rows R] "
      "[--prefix P] [--start K] [--variant base|added_column|string_amount]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir, prefix = "table_", variant = "base";
  long tables = 3, batches = 2, rows = 1000, start = 0;
  std::vector<std::string> names;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) return Usage();
    std::string v = argv[++i];
    if (a == "--dir")
      dir = v;
    else if (a == "--tables")
      tables = std::atol(v.c_str());
    else if (a == "--batches")
      batches = std::atol(v.c_str());
    else if (a == "--rows")
      rows = std::atol(v.c_str());
    else if (a == "--prefix")
      prefix = v;
    else if (a == "--table")
      names.push_back(v);
    else if (a == "--start")
      start = std::atol(v.c_str());
    else if (a == "--variant")
      variant = v;
    else
      return Usage();
  }
  if (dir.empty() || tables < 0 || batches < 0 || rows < 0) return Usage();
  std::string amount = "round(random() * 1000, 2)";
  std::string extra;
  if (variant == "added_column") {
    extra = ", 'channel_' || (i % 7) AS channel";
  } else if (variant == "string_amount") {
    amount = "CAST(round(random() * 1000, 2) AS VARCHAR)";
  } else if (variant != "base") {
    return Usage();
  }
  if (names.empty()) {
    for (long t = 0; t < tables; ++t) names.push_back(prefix + std::to_string(t));
  }
  tables = static_cast<long>(names.size());

  duckdb_database db;
  duckdb_connection con;
  if (duckdb_open(nullptr, &db) != DuckDBSuccess || duckdb_connect(db, &con) != DuckDBSuccess) {
    std::fprintf(stderr, "landfall-gen: cannot open DuckDB\n");
    return 1;
  }
  for (long t = 0; t < tables; ++t) {
    auto folder = std::filesystem::path(dir) / names[t];
    std::filesystem::create_directories(folder);
    for (long b = start; b < start + batches; ++b) {
      auto final_path = folder / ("part-" + std::to_string(b) + ".parquet");
      auto tmp_path = folder / (".part-" + std::to_string(b) + ".parquet.tmp");
      std::string sql = "COPY (SELECT (" + std::to_string(b) + " * " + std::to_string(rows) +
                        " + i)::BIGINT AS id, 'customer_' || (i % 97) AS customer, " + amount +
                        " AS amount, TIMESTAMP '2026-11-01' + to_seconds(i) AS created_at" + extra +
                        " FROM range(" + std::to_string(rows) + ") t(i)) TO " +
                        Literal(tmp_path.string()) + " (FORMAT parquet)";
      duckdb_result result;
      if (duckdb_query(con, sql.c_str(), &result) != DuckDBSuccess) {
        std::fprintf(stderr, "landfall-gen: %s\n", duckdb_result_error(&result));
        duckdb_destroy_result(&result);
        return 1;
      }
      duckdb_destroy_result(&result);
      std::filesystem::rename(tmp_path, final_path);
    }
  }
  duckdb_disconnect(&con);
  duckdb_close(&db);
  std::printf("landfall-gen: wrote %ld tables x %ld batches x %ld rows into %s\n", tables, batches,
              rows, dir.c_str());
  return 0;
}
