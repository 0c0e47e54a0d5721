#include "lib/state/writer_lock.h"

#include <libpq-fe.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include <ctime>
#include <sstream>
#include <string_view>
#include <vector>

namespace landfall::state {

struct WriterLock::Connection {
  explicit Connection(PGconn* c) : conn(c) {}
  ~Connection() {
    if (conn) PQfinish(conn);
  }
  PGconn* conn;
};

namespace {

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

std::string Trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

std::string Hostname() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) return "unknown";
  return host;
}

std::string UtcNow() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// The holder as it named itself: "landfall pid=123 since=... host=h".
struct Holder {
  std::string description;
  // A landfall process on this host that no longer exists: its session is
  // about to end (kill -9 a moment ago), so the lock is about to be free.
  bool gone = false;
};

Holder DescribeHolder(const std::string& application_name, const std::string& backend_pid,
                      const std::string& client) {
  std::string pid, since, host;
  std::istringstream words(application_name);
  std::string first;
  words >> first;
  for (std::string w; words >> w;) {
    if (w.starts_with("pid=")) pid = w.substr(4);
    if (w.starts_with("since=")) since = w.substr(6);
    if (w.starts_with("host=")) host = w.substr(5);
  }
  Holder holder;
  if (first == "landfall" && !pid.empty()) {
    holder.description = "landfall PID " + pid + " on host " + (host.empty() ? "(unknown)" : host);
    if (!since.empty()) holder.description += ", since " + since;
    // The name may have been cut to 63 bytes: compare what is left of the host.
    const bool same_host = !host.empty() && Hostname().substr(0, host.size()) == host;
    const long number = std::strtol(pid.c_str(), nullptr, 10);
    holder.gone = same_host && number > 0 && kill(static_cast<pid_t>(number), 0) != 0 &&
                  errno == ESRCH;
  } else {
    holder.description = "a session calling itself '" + application_name + "'";
  }
  holder.description += " (PostgreSQL backend " + backend_pid + ", client " + client + ")";
  return holder;
}

}  // namespace

int64_t WriterLockKey(const std::string& environment) {
  uint64_t hash = 14695981039346656037ULL;
  for (unsigned char c : "landfall writer:" + environment) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  return static_cast<int64_t>(hash);
}

WriterLock::WriterLock(std::unique_ptr<Connection> conn, std::string identity)
    : conn_(std::move(conn)), identity_(std::move(identity)) {}

WriterLock::~WriterLock() {
  // Closing the connection frees the lock once the server has ended the
  // session, a moment later; unlocking first frees it before this returns, so
  // a writer started right after this one exits is not refused.
  if (conn_ && conn_->conn && PQstatus(conn_->conn) == CONNECTION_OK) {
    PQclear(PQexec(conn_->conn, "SELECT pg_advisory_unlock_all()"));
  }
}

Status WriterLock::StillHeld() {
  // A session-level lock lives exactly as long as its session: a live
  // session still holds it. (No reconnect: a new session would not.)
  PgResult r(PQexec(conn_->conn, "SELECT 1"));
  if (PQstatus(conn_->conn) == CONNECTION_OK && PQresultStatus(r.get()) == PGRES_TUPLES_OK) {
    return Ok();
  }
  return Fail("writer_lock_lost",
              "the writer lock's PostgreSQL session ended (" +
                  Trim(PQerrorMessage(conn_->conn)) +
                  "), and the lock with it: another writer may start now");
}

Result<std::unique_ptr<WriterLock>> WriterLock::Acquire(const PgOptions& options) {
  // PostgreSQL keeps 63 bytes of an application_name: the host goes last, so
  // a long one is what gets cut.
  std::string identity =
      "landfall pid=" + std::to_string(getpid()) + " since=" + UtcNow() + " host=" + Hostname();
  char* error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(options.url.c_str(), &error);
  if (parsed == nullptr) {
    std::string message = error ? Trim(error) : "cannot parse connection string";
    PQfreemem(error);
    return Fail("state_url_invalid", "writer lock: invalid PostgreSQL connection string: " + message);
  }
  PQconninfoFree(parsed);
  // application_name comes after the expanded URL, so it wins over one set there:
  // it is how a refused writer finds this one.
  const char* keywords[] = {"connect_timeout", "client_encoding", "dbname", "application_name",
                            nullptr};
  const char* values[] = {"5", "UTF8", options.url.c_str(), identity.c_str(), nullptr};
  auto conn = std::make_unique<Connection>(PQconnectdbParams(keywords, values, 1));
  if (!conn->conn || PQstatus(conn->conn) != CONNECTION_OK) {
    return Fail("state_unavailable",
                "writer lock: cannot connect to PostgreSQL: " +
                    Trim(conn->conn ? PQerrorMessage(conn->conn) : "out of memory"),
                /*transient=*/true);
  }
  const uint64_t key = static_cast<uint64_t>(WriterLockKey(options.environment));
  const std::string key_text = std::to_string(static_cast<int64_t>(key));
  const char* lock_params[] = {key_text.c_str()};
  PgResult locked(PQexecParams(conn->conn, "SELECT pg_try_advisory_lock($1::bigint)", 1, nullptr,
                               lock_params, nullptr, nullptr, 0));
  if (PQresultStatus(locked.get()) != PGRES_TUPLES_OK) {
    const bool lost = PQstatus(conn->conn) != CONNECTION_OK;
    return Fail(lost ? "state_unavailable" : "state_query_failed",
                "writer lock: " + Trim(PQerrorMessage(conn->conn)), lost);
  }
  if (std::string_view(PQgetvalue(locked.get(), 0, 0)) == "t") {
    return std::unique_ptr<WriterLock>(new WriterLock(std::move(conn), std::move(identity)));
  }

  // Who holds it: pg_locks shows a bigint key as classid (high 32 bits) and
  // objid (low 32 bits) with objsubid 1.
  const std::string hi = std::to_string(key >> 32);
  const std::string lo = std::to_string(key & 0xffffffffULL);
  const char* holder_params[] = {hi.c_str(), lo.c_str()};
  PgResult holder(PQexecParams(
      conn->conn,
      "SELECT a.application_name, a.pid::text, COALESCE(host(a.client_addr), 'local socket')"
      "  FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
      " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
      "   AND l.classid = $1::oid AND l.objid = $2::oid"
      "   AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
      2, nullptr, holder_params, nullptr, nullptr, 0));
  // Not found: the holder let go between the two queries; trying again is right.
  Holder who{"another session, which has just let go", true};
  if (PQresultStatus(holder.get()) == PGRES_TUPLES_OK && PQntuples(holder.get()) > 0) {
    who = DescribeHolder(PQgetvalue(holder.get(), 0, 0), PQgetvalue(holder.get(), 0, 1),
                         PQgetvalue(holder.get(), 0, 2));
  }
  if (who.gone) {
    return Fail("writer_conflict",
                "environment '" + options.environment + "': the writer lock is still held by " +
                    who.description + ", which has ended; its session is closing",
                /*transient=*/true);
  }
  return Fail("writer_conflict",
              "environment '" + options.environment + "' already has a writer: " +
                  who.description +
                  ". Only one `landfall serve` or `landfall run` may write an environment at a "
                  "time: let the running daemon do it (the CLI asks it over its API when "
                  "api.listen reaches it), or stop that process first");
}

}  // namespace landfall::state
