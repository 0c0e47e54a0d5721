// Shared test helpers: temp dirs, the test PostgreSQL URL, and running the
// landfall binary. Parquet fixtures and DuckDB files: duckdb_testing.h.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

struct pg_conn;  // libpq's PGconn

namespace landfall::testing {

// A fresh directory under $TMPDIR, removed at destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& rel) const { return path_ / rel; }

 private:
  std::filesystem::path path_;
};

// The test PostgreSQL URL from $LANDFALL_TEST_PG_URL, or "" when unset.
std::string PostgresUrl();
// Runs `sql` on the test PostgreSQL, with $1 bound to `environment` when the
// SQL uses it; the first column of every row ("NULL" for NULL). Fails the
// current test (ADD_FAILURE) on error.
std::vector<std::string> PgQuery(const std::string& sql, const std::string& environment);
// A connection to the test PostgreSQL that lives as long as the object, for
// session state a test holds across its steps (an advisory lock, say).
class PgSession {
 public:
  PgSession();
  ~PgSession();
  PgSession(const PgSession&) = delete;
  PgSession& operator=(const PgSession&) = delete;
  // As PgQuery, on this session.
  std::vector<std::string> Query(const std::string& sql, const std::string& environment = "");

 private:
  ::pg_conn* conn_;
};
// Call first in a test that needs PostgreSQL: skips it when none is configured,
// but fails it when CI=true, so CI never silently skips.
#define LANDFALL_REQUIRE_POSTGRES()                                                \
  do {                                                                             \
    if (::landfall::testing::PostgresUrl().empty()) {                              \
      if (::landfall::testing::InCi()) FAIL() << "LANDFALL_TEST_PG_URL unset in CI"; \
      GTEST_SKIP() << "LANDFALL_TEST_PG_URL unset";                                \
    }                                                                              \
  } while (0)
bool InCi();

// A unique environment name, so tests sharing one PostgreSQL share nothing.
std::string UniqueEnvironment(const std::string& prefix = "t");

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};
// Runs `args` (args[0] is the program) with extra environment variables,
// capturing output. Blocks until it exits.
CommandResult RunCommand(const std::vector<std::string>& args,
                         const std::vector<std::string>& env = {});
// Path of the landfall binary under test (set by CMake).
std::string LandfallBinary();

}  // namespace landfall::testing
