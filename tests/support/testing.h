// Shared test helpers: temp dirs, files and polling, the test PostgreSQL, and
// running the landfall binary. Parquet fixtures and DuckDB files: duckdb_testing.h.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
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

// The whole of `file` ("" when it cannot be read).
std::string ReadFile(const std::filesystem::path& file);

// Calls `done` every 20 ms until it returns true (then true) or `timeout` has
// passed (then false).
bool PollUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout);

// The test PostgreSQL URL from $LANDFALL_TEST_PG_URL, or "" when unset.
std::string PostgresUrl();
// Runs `sql` on the test PostgreSQL, with $1 bound to `environment` when the
// SQL uses it; the first column of every row ("NULL" for NULL). Fails the
// current test (ADD_FAILURE) on error.
std::vector<std::string> PgQuery(const std::string& sql, const std::string& environment);
// A libpq connection that lives as long as the object: for SQL a test runs
// behind the code under test's back, and for session state it holds across
// its steps (an advisory lock, say). Fails the current test (ADD_FAILURE)
// when it cannot connect; its queries then return no rows.
class PgSession {
 public:
  // Connects to `url`: the test PostgreSQL unless told otherwise.
  explicit PgSession(const std::string& url = PostgresUrl());
  ~PgSession();
  PgSession(const PgSession&) = delete;
  PgSession& operator=(const PgSession&) = delete;
  // Runs `sql` with `params` bound as text to $1, $2, ...; the first column
  // of every row ("NULL" for NULL). Fails the current test on error.
  std::vector<std::string> Query(const std::string& sql,
                                 const std::vector<std::string>& params = {});
  // As Query, the first row only; "<no rows>" when there is none.
  std::string QueryOne(const std::string& sql, const std::vector<std::string>& params = {});
  // Runs SQL without parameters that may hold several statements (a
  // migration). Fails the current test on error.
  void Script(const std::string& sql);
  // A connection string for database `dbname` on this session's server, with
  // this session's user, password and other options.
  std::string UrlFor(const std::string& dbname);

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

// Statements `landfall query` and POST /v1/query must refuse, and that would
// change something or read outside the landing directory if they ran:
// DROP TABLE, COPY ... TO and ATTACH (writing below `dir`), INSTALL, SET, two
// statements, read_text('/etc/passwd'), read_parquet('/some/other/path').
// They name staging.orders.
std::vector<std::string> StatementsAQueryRefuses(const std::filesystem::path& dir);

}  // namespace landfall::testing
