// Writes the footer fuzzer's seed corpus: a few small Parquet files, made by
// DuckDB, covering the shapes the reader handles (plain, nested, field ids,
// required columns, decimals, several row groups, no rows).
//   fuzz_footer_seeds DIR
#include <duckdb.h>

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  duckdb_database db = nullptr;
  duckdb_connection con = nullptr;
  if (duckdb_open(nullptr, &db) != DuckDBSuccess || duckdb_connect(db, &con) != DuckDBSuccess) {
    std::fprintf(stderr, "cannot open DuckDB\n");
    return 1;
  }
  const std::vector<std::pair<std::string, std::string>> seeds = {
      {"plain", "SELECT i AS id, 'n' || i AS name, i * 1.5 AS price FROM range(3) t(i)"},
      {"types",
       "SELECT 1::TINYINT a, 2::UINTEGER b, 3.25::DECIMAL(9,2) c, DATE '2026-01-01' d, "
       "TIMESTAMPTZ '2026-01-01 00:00:00+00' e, true f, 'x'::BLOB g, 1.5::FLOAT h, "
       "uuid() AS u, INTERVAL 1 DAY AS iv"},
      {"nested",
       "SELECT {'a': 1, 'b': [1, 2]} s, [1, 2, 3] l, MAP {'k': 1} m, [{'x': 1}] ls "
       "FROM range(2)"},
      {"empty", "SELECT 1 AS id WHERE false"},
      {"groups", "SELECT i AS id, i % 7 AS k FROM range(5000) t(i)"},
  };
  int failures = 0;
  auto run = [&](const std::string& sql) {
    duckdb_result result;
    const bool ok = duckdb_query(con, sql.c_str(), &result) == DuckDBSuccess;
    if (!ok) {
      std::fprintf(stderr, "%s: %s\n", sql.c_str(), duckdb_result_error(&result));
      ++failures;
    }
    duckdb_destroy_result(&result);
  };
  for (const auto& [name, select] : seeds) {
    run("COPY (" + select + ") TO '" + dir + "/" + name + ".parquet' (FORMAT parquet)");
  }
  run("COPY (SELECT 1::INTEGER id, 'a' cust) TO '" + dir +
      "/field_ids.parquet' (FORMAT parquet, FIELD_IDS {id: 1, cust: 2})");
  run("COPY (SELECT i AS id FROM range(300) t(i)) TO '" + dir +
      "/small_groups.parquet' (FORMAT parquet, ROW_GROUP_SIZE 100, COMPRESSION zstd)");
  run("COPY (SELECT 'x' AS v) TO '" + dir + "/uncompressed.parquet' (FORMAT parquet, "
      "COMPRESSION uncompressed)");
  duckdb_disconnect(&con);
  duckdb_close(&db);
  return failures == 0 ? 0 : 1;
}
