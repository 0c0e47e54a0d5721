#include "tests/support/testing.h"

#include "tests/support/spawn_args.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <postgresql/libpq-fe.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

extern char** environ;

namespace landfall::testing {

namespace fs = std::filesystem;

TempDir::TempDir() {
  std::random_device rd;
  auto base = fs::temp_directory_path();
  for (;;) {
    path_ = base / ("landfall-test-" + std::to_string(rd()));
    if (fs::create_directory(path_)) break;
  }
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string ReadFile(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool PollUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

PgSession::PgSession(const std::string& url) : conn_(PQconnectdb(url.c_str())) {
  if (PQstatus(conn_) != CONNECTION_OK) ADD_FAILURE() << "PostgreSQL: " << PQerrorMessage(conn_);
}

PgSession::~PgSession() { PQfinish(conn_); }

std::vector<std::string> PgSession::Query(const std::string& sql,
                                          const std::vector<std::string>& params) {
  std::vector<std::string> rows;
  if (PQstatus(conn_) != CONNECTION_OK) return rows;
  std::vector<const char*> values;
  for (const auto& p : params) values.push_back(p.c_str());
  PGresult* r = PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                             values.data(), nullptr, nullptr, 0);
  const auto status = PQresultStatus(r);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    ADD_FAILURE() << "PostgreSQL: " << PQresultErrorMessage(r) << "\nSQL: " << sql;
  } else {
    for (int i = 0; i < PQntuples(r); ++i) {
      rows.emplace_back(PQgetisnull(r, i, 0) ? "NULL" : PQgetvalue(r, i, 0));
    }
  }
  PQclear(r);
  return rows;
}

void PgSession::Script(const std::string& sql) {
  PGresult* result = PQexec(conn_, sql.c_str());
  if (PQresultStatus(result) != PGRES_COMMAND_OK && PQresultStatus(result) != PGRES_TUPLES_OK) {
    ADD_FAILURE() << "SQL failed: " << PQresultErrorMessage(result) << "\n" << sql;
  }
  PQclear(result);
}

std::string PgSession::QueryOne(const std::string& sql, const std::vector<std::string>& params) {
  auto rows = Query(sql, params);
  return rows.empty() ? "<no rows>" : rows[0];
}

std::string PgSession::UrlFor(const std::string& dbname) {
  // A key='value' conninfo string quotes with ' and escapes ' and \ with \.
  auto quoted = [](const std::string& value) {
    std::string out = "'";
    for (char c : value) {
      if (c == '\'' || c == '\\') out += '\\';
      out += c;
    }
    return out + "'";
  };
  PQconninfoOption* options = PQconninfo(conn_);
  std::string conninfo;
  for (PQconninfoOption* o = options; o != nullptr && o->keyword != nullptr; ++o) {
    const std::string keyword = o->keyword;
    if (o->val == nullptr || keyword == "dbname") continue;
    conninfo += keyword + "=" + quoted(o->val) + " ";
  }
  PQconninfoFree(options);
  return conninfo + "dbname=" + quoted(dbname);
}

std::vector<std::string> PgQuery(const std::string& sql, const std::string& environment) {
  // $1 is bound only when the SQL uses it: PostgreSQL refuses a parameter
  // that no placeholder takes.
  if (sql.find("$1") == std::string::npos) return PgSession().Query(sql);
  return PgSession().Query(sql, {environment});
}

std::string PostgresUrl() {
  const char* url = std::getenv("LANDFALL_TEST_PG_URL");
  return url ? url : "";
}

bool InCi() {
  const char* ci = std::getenv("CI");
  return ci && std::string(ci) == "true";
}

std::string UniqueEnvironment(const std::string& prefix) {
  static std::atomic<int> counter{0};
  std::random_device rd;
  return prefix + "_" + std::to_string(getpid()) + "_" + std::to_string(rd() % 100000) + "_" +
         std::to_string(counter++);
}

CommandResult RunCommand(const std::vector<std::string>& args, const std::vector<std::string>& env) {
  CommandResult result;
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) return result;

  CStringArray envp = EnvironWith(env);
  CStringArray argv(args);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  pid_t pid;
  int rc = posix_spawn(&pid, argv.data()[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (rc != 0) {
    close(out_pipe[0]);
    close(err_pipe[0]);
    result.err = "spawn failed";
    return result;
  }
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  char buf[8192];
  while (open_fds > 0) {
    if (poll(fds, 2, -1) < 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd >= 0 && (fds[i].revents & (POLLIN | POLLHUP))) {
        ssize_t n = read(fds[i].fd, buf, sizeof buf);
        if (n <= 0) {
          close(fds[i].fd);
          fds[i].fd = -1;
          --open_fds;
        } else {
          (i == 0 ? result.out : result.err).append(buf, n);
        }
      }
    }
  }
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

std::string LandfallBinary() { return LANDFALL_BINARY; }

std::vector<std::string> StatementsAQueryRefuses(const std::filesystem::path& dir) {
  return {
      "DROP TABLE staging.orders",
      "COPY staging.orders TO '" + (dir / "out.csv").string() + "'",
      "ATTACH '" + (dir / "other.duckdb").string() + "' AS other",
      "INSTALL httpfs",
      "SET threads = 1",
      "SELECT 1; DROP TABLE staging.orders",
      "SELECT * FROM read_text('/etc/passwd')",
      "SELECT * FROM read_parquet('/some/other/path')",
  };
}

}  // namespace landfall::testing
