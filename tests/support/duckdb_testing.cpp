#include "tests/support/duckdb_testing.h"

#include <duckdb.h>
#include <gtest/gtest.h>

namespace landfall::testing {

namespace fs = std::filesystem;

namespace {

bool Exec(duckdb_connection con, const std::string& sql, duckdb_result* out = nullptr) {
  duckdb_result result;
  bool ok = duckdb_query(con, sql.c_str(), &result) == DuckDBSuccess;
  if (!ok) ADD_FAILURE() << "DuckDB: " << duckdb_result_error(&result) << "\nSQL: " << sql;
  if (out && ok) {
    *out = result;
  } else {
    duckdb_destroy_result(&result);
  }
  return ok;
}

}  // namespace

void DuckDbExec(const std::string& sql) {
  duckdb_database db;
  duckdb_connection con;
  ASSERT_EQ(duckdb_open(nullptr, &db), DuckDBSuccess);
  ASSERT_EQ(duckdb_connect(db, &con), DuckDBSuccess);
  Exec(con, sql);
  duckdb_disconnect(&con);
  duckdb_close(&db);
}

void WriteParquet(const fs::path& file, const std::string& select_sql) {
  fs::create_directories(file.parent_path());
  std::string path = file.string();
  std::string quoted;
  for (char c : path) {
    quoted += c;
    if (c == '\'') quoted += '\'';
  }
  DuckDbExec("COPY (" + select_sql + ") TO '" + quoted + "' (FORMAT parquet)");
}

std::vector<std::string> QueryDuckDb(const fs::path& db_file, const std::string& sql) {
  std::vector<std::string> rows;
  duckdb_database db;
  duckdb_connection con;
  duckdb_config config;
  duckdb_create_config(&config);
  if (db_file != ":memory:") duckdb_set_config(config, "access_mode", "READ_ONLY");
  char* error = nullptr;
  if (duckdb_open_ext(db_file.c_str(), &db, config, &error) != DuckDBSuccess) {
    ADD_FAILURE() << "open " << db_file << ": " << (error ? error : "?");
    duckdb_free(error);
    duckdb_destroy_config(&config);
    return rows;
  }
  duckdb_destroy_config(&config);
  duckdb_connect(db, &con);
  duckdb_result result;
  if (Exec(con, sql, &result)) {
    idx_t n = duckdb_row_count(&result);
    for (idx_t i = 0; i < n; ++i) {
      if (duckdb_value_is_null(&result, 0, i)) {
        rows.push_back("NULL");
      } else {
        char* v = duckdb_value_varchar(&result, 0, i);
        rows.emplace_back(v);
        duckdb_free(v);
      }
    }
    duckdb_destroy_result(&result);
  }
  duckdb_disconnect(&con);
  duckdb_close(&db);
  return rows;
}

long long QueryDuckDbInt(const fs::path& db, const std::string& sql) {
  auto rows = QueryDuckDb(db, sql);
  if (rows.empty() || rows[0] == "NULL") {
    ADD_FAILURE() << "no value for: " << sql;
    return -1;
  }
  return std::stoll(rows[0]);
}

void ExecDuckDb(const fs::path& db_file, const std::string& sql) {
  duckdb_database db;
  duckdb_connection con;
  char* error = nullptr;
  if (duckdb_open_ext(db_file.c_str(), &db, nullptr, &error) != DuckDBSuccess) {
    ADD_FAILURE() << "open " << db_file << ": " << (error ? error : "?");
    duckdb_free(error);
    return;
  }
  duckdb_connect(db, &con);
  Exec(con, sql);
  duckdb_disconnect(&con);
  duckdb_close(&db);
}

}  // namespace landfall::testing
